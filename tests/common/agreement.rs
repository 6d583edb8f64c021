//! How closely two sets of scores for the same ranked lists agree: the compact (int8) weights
//! against f32. Shared by `tests/parity.rs` (tiny fixtures) and `examples/compact_accuracy.rs`
//! (the full-shape model).

use serde_json::Value;

/// Ranked lists made from the committed multilingual texts (`tests/data`): list `k` has one
/// query and `per_list` passages, mixed languages and scripts, the same every run.
pub fn ranked_lists(texts: &Value, lists: usize, per_list: usize) -> Vec<(String, Vec<String>)> {
    let texts: Vec<&str> = texts["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|t| t["text"].as_str().expect("text"))
        .collect();
    let n = texts.len();
    (0..lists)
        .map(|k| {
            let query = texts[(k * 37) % n].to_string();
            let passages = (0..per_list)
                .map(|j| texts[(k * 37 + 1 + j * 11) % n].to_string())
                .collect();
            (query, passages)
        })
        .collect()
}

/// Every (query, passage) of `lists`, list after list: the layout [`agreement`] expects.
pub fn pairs(lists: &[(String, Vec<String>)]) -> Vec<(&str, &str)> {
    lists
        .iter()
        .flat_map(|(q, ps)| ps.iter().map(move |p| (q.as_str(), p.as_str())))
        .collect()
}

/// Agreement of `other` with `reference`, both laid out list after list.
#[derive(Debug, Clone, Copy)]
pub struct Agreement {
    pub pairs: usize,
    pub lists: usize,
    /// Largest |other − reference| over all pairs.
    pub max_abs: f32,
    /// Mean |other − reference|.
    pub mean_abs: f32,
    /// Spearman's ρ over all pairs.
    pub spearman: f64,
    /// Share of lists whose best passage is the same.
    pub top1: f64,
    /// Spread of the reference scores (max − min), for scale.
    pub reference_range: f32,
}

pub fn agreement(reference: &[f32], other: &[f32], per_list: usize) -> Agreement {
    assert_eq!(reference.len(), other.len());
    let diffs: Vec<f32> = reference
        .iter()
        .zip(other)
        .map(|(a, b)| (a - b).abs())
        .collect();
    let best = |scores: &[f32]| {
        scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
    };
    let lists = reference.len() / per_list;
    let same_top = reference
        .chunks(per_list)
        .zip(other.chunks(per_list))
        .filter(|(a, b)| best(a) == best(b))
        .count();
    let (lo, hi) = reference
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    Agreement {
        pairs: reference.len(),
        lists,
        max_abs: diffs.iter().copied().fold(0.0, f32::max),
        mean_abs: diffs.iter().sum::<f32>() / diffs.len() as f32,
        spearman: spearman(reference, other),
        top1: same_top as f64 / lists as f64,
        reference_range: hi - lo,
    }
}

/// Spearman's rank correlation (ties get their average rank).
pub fn spearman(a: &[f32], b: &[f32]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let mean = (n + 1.0) / 2.0;
    let cov: f64 = ra
        .iter()
        .zip(&rb)
        .map(|(x, y)| (x - mean) * (y - mean))
        .sum();
    let var_a: f64 = ra.iter().map(|x| (x - mean).powi(2)).sum();
    let var_b: f64 = rb.iter().map(|y| (y - mean).powi(2)).sum();
    cov / (var_a * var_b).sqrt()
}

fn ranks(values: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

impl std::fmt::Display for Agreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pairs / {} lists: max |Δlogit| {:.2e}, mean {:.2e} (f32 logits span {:.3}), \
             Spearman ρ {:.5}, top-1 agreement {}/{}",
            self.pairs,
            self.lists,
            self.max_abs,
            self.mean_abs,
            self.reference_range,
            self.spearman,
            (self.top1 * self.lists as f64).round(),
            self.lists
        )
    }
}
