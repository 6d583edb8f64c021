//! Batching: which pairs run together, and the padded id/mask matrices for each batch.
//!
//! Pairs are sorted by length (longest first) and cut into runs of similar length, so each
//! batch, padded to its own longest member, wastes little compute on padding; results are put
//! back in input order by the engine. Where the cuts go depends on the backend ([`BatchSplit`]).

/// One padded batch, row-major `[rows, width]`, ready to become tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddedBatch {
    /// Token ids; padding positions hold the pad id.
    pub input_ids: Vec<i32>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<i32>,
    /// Number of rows (pairs).
    pub rows: usize,
    /// Length of the longest row.
    pub width: usize,
}

impl PaddedBatch {
    /// Right-pads `rows` to the longest of them.
    pub fn new(rows: &[&[u32]], pad_id: u32) -> Self {
        Self::with_width_multiple(rows, pad_id, 1, usize::MAX)
    }

    /// Right-pads `rows` to the longest of them rounded up to a multiple of `multiple`, but not
    /// past `limit` (the model's longest sequence) unless a row is longer (see
    /// [`bucketed_width`]).
    pub fn with_width_multiple(
        rows: &[&[u32]],
        pad_id: u32,
        multiple: usize,
        limit: usize,
    ) -> Self {
        let longest = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let width = bucketed_width(longest, multiple, limit);
        let mut input_ids = vec![pad_id as i32; rows.len() * width];
        let mut attention_mask = vec![0; rows.len() * width];
        for (r, row) in rows.iter().enumerate() {
            let start = r * width;
            for (c, &id) in row.iter().enumerate() {
                input_ids[start + c] = id as i32;
                attention_mask[start + c] = 1;
            }
        }
        Self {
            input_ids,
            attention_mask,
            rows: rows.len(),
            width,
        }
    }

    /// Padding positions over all positions (0 for an empty batch).
    pub fn padding_fraction(&self) -> f64 {
        let total = self.input_ids.len();
        if total == 0 {
            return 0.0;
        }
        let real: usize = self.attention_mask.iter().map(|&m| m as usize).sum();
        (total - real) as f64 / total as f64
    }
}

/// `longest` rounded up to a multiple of `multiple` (0 counts as 1), at most `limit`, and never
/// below `longest`.
///
/// NOTE: on WebGPU burn's ops are compiled for classes of shapes, and a batch of a width not seen
/// before could compile new pipelines on its first call (0.5–1.9 s each on an H200, measured when
/// burn's ops ran the whole model). Our kernels compile none per width (BENCHMARKS.md, section
/// 3), but the ops left to burn (embeddings, mask) still do: fewer distinct widths, fewer compiles.
pub fn bucketed_width(longest: usize, multiple: usize, limit: usize) -> usize {
    let multiple = multiple.max(1);
    longest
        .div_ceil(multiple)
        .saturating_mul(multiple)
        .min(limit)
        .max(longest)
}

/// How sorted pairs are cut into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSplit {
    /// Full batches of `batch_size` (the last one shorter): the fewest batches, and so the fewest
    /// distinct tensor shapes. For WebGPU, where a new shape can mean new pipelines.
    Fill,
    /// The cuts that minimise the padded work plus a fixed cost per batch (see
    /// [`padded_cost`]). For the CPU, where a padded token costs as much as a real one and a
    /// batch's own overhead is small.
    LeastPadding,
}

/// What one batch costs beyond its tokens, in tokens: the per-operator overhead of running the
/// model once.
pub const BATCH_OVERHEAD_TOKENS: f64 = 64.0;

/// The length at which a row's attention costs as much as its linear layers: per token and
/// layer, about `2·(4·h² + 2·h·ffn)` flops for the projections and `4·h·width` for the two
/// attention products (h = 384, ffn = 1536: 2304 tokens).
pub const ATTENTION_EQUAL_WIDTH: f64 = 2304.0;

/// The modelled cost of a batch of `rows` pairs padded to `width` tokens, in token units.
pub fn padded_cost(rows: usize, width: usize) -> f64 {
    let width = width as f64;
    rows as f64 * width * (1.0 + width / ATTENTION_EQUAL_WIDTH) + BATCH_OVERHEAD_TOKENS
}

/// Splits pair indices into batches, longest pairs first, so that pairs of similar length share
/// a batch. A batch holds at most `batch_size` rows, and at most `rows_for_width(width)` where
/// `width` is its longest pair (a memory bound; at least one row is always allowed). Every index
/// in `0..lengths.len()` appears exactly once.
pub fn plan_batches(
    lengths: &[usize],
    batch_size: usize,
    rows_for_width: impl Fn(usize) -> usize,
    split: BatchSplit,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable: equal lengths keep input order, so the plan is deterministic.
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]));
    let capacity = |at: usize| {
        batch_size
            .min(rows_for_width(lengths[order[at]]))
            .max(1)
            .min(order.len() - at)
    };
    let mut cuts = Vec::new();
    match split {
        BatchSplit::Fill => {
            let mut at = 0;
            while at < order.len() {
                at += capacity(at);
                cuts.push(at);
            }
        }
        BatchSplit::LeastPadding => {
            // best[i]: the least cost of batching order[i..]; next[i]: where its first batch
            // ends. Ties go to the longer batch (fewer batches).
            let n = order.len();
            let mut best = vec![0.0f64; n + 1];
            let mut next = vec![n; n + 1];
            for i in (0..n).rev() {
                best[i] = f64::INFINITY;
                for end in (i + 1..=i + capacity(i)).rev() {
                    let cost = padded_cost(end - i, lengths[order[i]]) + best[end];
                    if cost < best[i] {
                        best[i] = cost;
                        next[i] = end;
                    }
                }
            }
            let mut at = 0;
            while at < n {
                at = next[at];
                cuts.push(at);
            }
        }
    }
    let mut start = 0;
    cuts.into_iter()
        .map(|end| {
            let batch = order[start..end].to_vec();
            start = end;
            batch
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_longest_with_mask() {
        let b = PaddedBatch::new(&[&[0, 5, 2], &[0, 2]], 1);
        assert_eq!(b.width, 3);
        assert_eq!(b.input_ids, vec![0, 5, 2, 0, 2, 1]);
        assert_eq!(b.attention_mask, vec![1, 1, 1, 1, 1, 0]);
        assert!((b.padding_fraction() - 1.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn widths_round_up_to_their_bucket_within_the_limit() {
        assert_eq!(bucketed_width(137, 16, 512), 144);
        assert_eq!(bucketed_width(144, 16, 512), 144);
        assert_eq!(bucketed_width(500, 32, 512), 512);
        assert_eq!(bucketed_width(137, 1, 512), 137);
        assert_eq!(bucketed_width(137, 0, 512), 137);
        assert_eq!(
            bucketed_width(600, 16, 512),
            600,
            "never below the longest row"
        );
        let b = PaddedBatch::with_width_multiple(&[&[0, 5, 2], &[0, 2]], 1, 4, 512);
        assert_eq!(b.width, 4);
        assert_eq!(b.input_ids, vec![0, 5, 2, 1, 0, 2, 1, 1]);
        assert_eq!(b.attention_mask, vec![1, 1, 1, 0, 1, 1, 0, 0]);
    }

    #[test]
    fn plan_covers_every_index_once_longest_first() {
        let lengths = [5, 50, 7, 50, 3, 20, 9];
        let plan = plan_batches(&lengths, 3, |_| usize::MAX, BatchSplit::Fill);
        assert_eq!(plan, vec![vec![1, 3, 5], vec![6, 2, 0], vec![4]]);
        for split in [BatchSplit::Fill, BatchSplit::LeastPadding] {
            let mut all: Vec<usize> = plan_batches(&lengths, 3, |_| usize::MAX, split).concat();
            all.sort_unstable();
            assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
            assert!(plan_batches(&[], 4, |_| 4, split).is_empty());
            assert_eq!(
                plan_batches(&[1, 2], 0, |_| 4, split),
                vec![vec![1], vec![0]]
            );
        }
    }

    /// Every way to cut `n` sorted rows into batches of at most `cap`, as batch sizes.
    fn all_splits(n: usize, cap: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        (1..=cap.min(n))
            .flat_map(|first| {
                all_splits(n - first, cap).into_iter().map(move |mut rest| {
                    rest.insert(0, first);
                    rest
                })
            })
            .collect()
    }

    #[test]
    fn least_padding_is_the_cheapest_split() {
        let cost = |lengths: &[usize], plan: &[Vec<usize>]| -> f64 {
            plan.iter()
                .map(|b| padded_cost(b.len(), b.iter().map(|&i| lengths[i]).max().unwrap()))
                .sum()
        };
        // Against every possible split of a few small sets (sorted runs; the sort is tested above).
        let sets: [&[usize]; 4] = [
            &[300, 290, 280, 40, 38, 36, 35, 12],
            &[512, 20, 20, 20, 20, 20, 20, 20, 20],
            &[100; 9],
            &[400, 350, 300, 250, 200, 150, 100, 50, 25, 10],
        ];
        for lengths in sets {
            let plan = plan_batches(lengths, 4, |_| usize::MAX, BatchSplit::LeastPadding);
            let cheapest = all_splits(lengths.len(), 4)
                .into_iter()
                .map(|sizes| {
                    let mut start = 0;
                    sizes
                        .iter()
                        .map(|&n| {
                            start += n;
                            (start - n..start).collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
                .map(|p| cost(lengths, &p))
                .fold(f64::INFINITY, f64::min);
            assert!(
                (cost(lengths, &plan) - cheapest).abs() < 1e-9,
                "{lengths:?}: {plan:?}"
            );
            assert!(plan.iter().all(|b| b.len() <= 4));
        }
        // Equal lengths fill batches; one long pair among short ones runs alone.
        assert_eq!(
            plan_batches(&[100; 9], 4, |_| usize::MAX, BatchSplit::LeastPadding)
                .iter()
                .map(Vec::len)
                .collect::<Vec<_>>(),
            [4, 4, 1]
        );
        assert_eq!(
            plan_batches(
                &[512, 20, 20, 20, 20],
                8,
                |_| usize::MAX,
                BatchSplit::LeastPadding
            ),
            vec![vec![0], vec![1, 2, 3, 4]]
        );
    }

    #[test]
    fn memory_bound_shrinks_batches_of_long_pairs_only() {
        // Pairs of 40+ tokens may share a batch with one other; shorter ones fill batch_size.
        let rows_for = |width: usize| if width >= 40 { 2 } else { usize::MAX };
        let lengths = [50, 45, 44, 41, 10, 9, 8, 7, 6];
        let plan = plan_batches(&lengths, 4, rows_for, BatchSplit::Fill);
        assert_eq!(
            plan,
            vec![vec![0, 1], vec![2, 3], vec![4, 5, 6, 7], vec![8]]
        );
        let plan = plan_batches(&lengths, 4, rows_for, BatchSplit::LeastPadding);
        assert!(
            plan.iter()
                .all(|b| b.len() <= if lengths[b[0]] >= 40 { 2 } else { 4 })
        );
        // A bound of zero rows still makes progress, one pair at a time.
        for split in [BatchSplit::Fill, BatchSplit::LeastPadding] {
            assert_eq!(
                plan_batches(&[3, 3], 8, |_| 0, split),
                vec![vec![0], vec![1]]
            );
        }
    }
}
