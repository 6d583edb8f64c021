//! Symmetric int8 quantization with one scale per row or per column of a matrix.
//!
//! The compact weights (`weights-int8.bpk`) store each large matrix as int8 values plus one f32
//! scale per slice: per row for the word-embedding table (each token's vector gets its own
//! range, so a rare token with large values does not flatten the others), per output column
//! for the linear layers (per output channel). A value is `q * scale` with `q` in -127..=127 and
//! `scale = max |x| / 127` over its slice, so the largest value of every slice is exact.
//!
//! The names a weights file uses are defined here too ([`WORD_EMBEDDINGS`], [`PRECISION_KEY`],
//! [`QUANTIZED_PREFIX`], [`scale_name`]): `crates/import/src/weights.rs` writes them, the
//! engine's `src/weights.rs` reads them.

/// Name of the word-embedding table in a weights file (and of the model input it feeds).
pub const WORD_EMBEDDINGS: &str = "word_embeddings";

/// Metadata key holding the file's [`Precision`] name.
pub const PRECISION_KEY: &str = "web_reranker.precision";

/// Metadata key prefix: `quantized.<tensor>` holds the [`ScaleAxis`] name of an int8 tensor.
pub const QUANTIZED_PREFIX: &str = "quantized.";

/// The f32 tensor holding the scales of int8 tensor `tensor`.
pub fn scale_name(tensor: &str) -> String {
    format!("{tensor}.scale")
}

/// How a weights file stores its large matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Every tensor in f32: the exported model's exact numbers.
    F32,
    /// int8 word embeddings (scale per row) and linear layers (scale per output column).
    Int8,
}

impl Precision {
    /// The name used in files and options (`"f32"`, `"int8"`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }

    /// The inverse of [`Precision::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Precision::F32, Precision::Int8]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// Which slices of a `[rows, columns]` matrix share a scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleAxis {
    /// One scale per row (`scales.len() == rows`).
    Rows,
    /// One scale per column (`scales.len() == columns`).
    Columns,
}

impl ScaleAxis {
    /// The name written into a weights file's metadata.
    pub fn name(self) -> &'static str {
        match self {
            ScaleAxis::Rows => "rows",
            ScaleAxis::Columns => "columns",
        }
    }

    /// The inverse of [`ScaleAxis::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "rows" => Some(ScaleAxis::Rows),
            "columns" => Some(ScaleAxis::Columns),
            _ => None,
        }
    }

    /// How many scales a `[rows, columns]` matrix has.
    pub fn scale_count(self, rows: usize, columns: usize) -> usize {
        match self {
            ScaleAxis::Rows => rows,
            ScaleAxis::Columns => columns,
        }
    }
}

/// Quantizes a row-major `[rows, columns]` matrix; returns the int8 values and the scales.
pub fn quantize(
    values: &[f32],
    rows: usize,
    columns: usize,
    axis: ScaleAxis,
) -> (Vec<i8>, Vec<f32>) {
    assert_eq!(values.len(), rows * columns, "matrix size");
    let mut max = vec![0.0f32; axis.scale_count(rows, columns)];
    for (i, &v) in values.iter().enumerate() {
        let slot = &mut max[slice_of(i, columns, axis)];
        *slot = slot.max(v.abs());
    }
    let scales: Vec<f32> = max.iter().map(|&m| m / 127.0).collect();
    let quantized = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let scale = scales[slice_of(i, columns, axis)];
            if scale == 0.0 {
                0
            } else {
                (v / scale).round().clamp(-127.0, 127.0) as i8
            }
        })
        .collect();
    (quantized, scales)
}

/// Reads little-endian f32 values (a weights file's bytes; any alignment).
pub fn f32_le(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The value of one quantized element.
#[inline]
pub fn dequantize_one(q: i8, scale: f32) -> f32 {
    f32::from(q) * scale
}

/// Dequantizes a row-major `[rows, columns]` matrix into `out` (same length as `quantized`).
pub fn dequantize_into(
    quantized: &[i8],
    scales: &[f32],
    columns: usize,
    axis: ScaleAxis,
    out: &mut [f32],
) {
    for (i, (&q, o)) in quantized.iter().zip(out.iter_mut()).enumerate() {
        *o = dequantize_one(q, scales[slice_of(i, columns, axis)]);
    }
}

#[inline]
fn slice_of(index: usize, columns: usize, axis: ScaleAxis) -> usize {
    match axis {
        ScaleAxis::Rows => index / columns,
        ScaleAxis::Columns => index % columns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_value_of_each_slice_is_exact_and_the_rest_within_half_a_step() {
        let values = [0.5, -2.0, 0.001, 3.0, 0.0, -0.75];
        for axis in [ScaleAxis::Rows, ScaleAxis::Columns] {
            let (q, scales) = quantize(&values, 2, 3, axis);
            let mut back = vec![0.0; 6];
            dequantize_into(&q, &scales, 3, axis, &mut back);
            for (i, (&v, &b)) in values.iter().zip(&back).enumerate() {
                let scale = scales[slice_of(i, 3, axis)];
                assert!(
                    (v - b).abs() <= scale / 2.0 + 1e-7,
                    "{axis:?} {i}: {v} vs {b}"
                );
            }
        }
        let (q, scales) = quantize(&values, 2, 3, ScaleAxis::Rows);
        assert_eq!(q[1], -127);
        assert_eq!(q[3], 127);
        assert_eq!(scales, vec![2.0 / 127.0, 3.0 / 127.0]);
    }

    #[test]
    fn an_all_zero_slice_stays_zero() {
        let (q, scales) = quantize(&[0.0, 0.0, 1.0, -1.0], 2, 2, ScaleAxis::Rows);
        assert_eq!(q, vec![0, 0, 127, -127]);
        assert_eq!(scales[0], 0.0);
    }
}
