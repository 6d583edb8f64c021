//! Batching: which pairs run together, and the padded id/mask matrices for each batch.
//!
//! Pairs are grouped by length (longest first) so each batch, padded to its own longest member,
//! wastes little compute on padding; results are put back in input order by the engine.

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
        let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
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

/// Splits pair indices into batches, longest pairs first, so that pairs of similar length share
/// a batch. A batch holds at most `batch_size` rows, and at most `rows_for_width(width)` where
/// `width` is its longest pair (a memory bound; at least one row is always allowed). Every index
/// in `0..lengths.len()` appears exactly once.
pub fn plan_batches(
    lengths: &[usize],
    batch_size: usize,
    rows_for_width: impl Fn(usize) -> usize,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable: equal lengths keep input order, so the plan is deterministic.
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]));
    let mut plan = Vec::new();
    let mut rest = order.as_slice();
    while let Some(&longest) = rest.first() {
        let rows = batch_size.min(rows_for_width(lengths[longest])).max(1);
        let (batch, tail) = rest.split_at(rows.min(rest.len()));
        plan.push(batch.to_vec());
        rest = tail;
    }
    plan
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
    fn plan_covers_every_index_once_longest_first() {
        let lengths = [5, 50, 7, 50, 3, 20, 9];
        let plan = plan_batches(&lengths, 3, |_| usize::MAX);
        assert_eq!(plan, vec![vec![1, 3, 5], vec![6, 2, 0], vec![4]]);
        let mut all: Vec<usize> = plan.concat();
        all.sort_unstable();
        assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
        assert!(plan_batches(&[], 4, |_| 4).is_empty());
        assert_eq!(plan_batches(&[1, 2], 0, |_| 4), vec![vec![1], vec![0]]);
    }

    #[test]
    fn memory_bound_shrinks_batches_of_long_pairs_only() {
        // Pairs of 40+ tokens may share a batch with one other; shorter ones fill batch_size.
        let rows_for = |width: usize| if width >= 40 { 2 } else { usize::MAX };
        let lengths = [50, 45, 44, 41, 10, 9, 8, 7, 6];
        let plan = plan_batches(&lengths, 4, rows_for);
        assert_eq!(
            plan,
            vec![vec![0, 1], vec![2, 3], vec![4, 5, 6, 7], vec![8]]
        );
        // A bound of zero rows still makes progress, one pair at a time.
        assert_eq!(plan_batches(&[3, 3], 8, |_| 0), vec![vec![0], vec![1]]);
    }
}
