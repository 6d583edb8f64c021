//! `y = x · W + b` with int8 weights and **7-bit activations**: the fast, coarser form of
//! [`super::int8_matmul`], for WebAssembly's relaxed SIMD (`activations: 'i7'`).
//!
//! * `W` is the compact file's int8 matrix with one f32 scale per output column, packed so that
//!   one 128-bit load holds four consecutive inputs of four consecutive columns
//!   ([`PackedInt8I7`]), with each column's sum of weights.
//! * Each row of `x` is quantized when the product runs, asymmetrically: `step = (max − min) /
//!   127` over the row's range (zero included), `x_q = round(x / step) + offset` in `0..=127`.
//!   Then `Σ w · x ≈ step · (Σ w · x_q − offset · Σ w)`.
//! * The integer sums come from relaxed SIMD's `i32x4.relaxed_dot_i8x16_i7x16_add_s` (16
//!   multiply-adds per instruction; the result is defined only for a second operand in
//!   `0..=127`, which is why the activations get 7 bits) where a [`SumsKernel`] is installed (the
//!   wasm module installs one, `src/web/relaxed.rs`), else from the plain loops here. Both are
//!   exact integer sums, so both give the same bits.
//!
//! NOTE: why 7 bits: relaxed SIMD's dot is the only wasm instruction that multiplies bytes, and
//! its defined range fixes one operand at 7 bits; the weights keep their 8. Activations rounded
//! to 128 levels per row are about as coarse as onnxruntime's dynamic quantization (Transformers.js's
//! `q8`: 256 levels per tensor), so logits move by about 1e-2 instead of the i16 kernel's 1e-3
//! (BENCHMARKS.md, sections 1 and 7). That is why it is opt-in.

use std::sync::OnceLock;

/// Columns per packed block: one i32x4 of sums.
const BLOCK: usize = 4;
/// Inputs per packed group: one relaxed dot adds four products into each column's sum.
const QUAD: usize = 4;
/// Rows the quantized inputs are padded to a multiple of (the relaxed kernel's tile: 4 rows ×
/// 2 blocks, eight accumulators).
pub const TILE_ROWS: usize = 4;
/// Blocks the packed weights are padded to a multiple of.
pub const TILE_BLOCKS: usize = 2;

/// A linear layer's int8 weights, packed for [`matmul`].
#[derive(Debug, Clone)]
pub struct PackedInt8I7 {
    inputs: usize,
    outputs: usize,
    /// `ceil(inputs / 4)`: inputs go in fours (the last group zero-padded).
    quads: usize,
    /// `[blocks][quads][4 columns][4 inputs]`, blocks padded to a multiple of [`TILE_BLOCKS`].
    values: Vec<i8>,
    /// One per column, zero for the padding.
    scales: Vec<f32>,
    /// Each column's sum of weights, to take the inputs' offset back out.
    column_sums: Vec<i32>,
}

impl PackedInt8I7 {
    /// Packs a row-major `[inputs, outputs]` int8 matrix with one scale per output column.
    ///
    /// Panics if the lengths do not match the shape (the weights reader checks them first).
    pub fn new(values: &[i8], scales: &[f32], inputs: usize, outputs: usize) -> Self {
        assert_eq!(values.len(), inputs * outputs, "int8 matrix size");
        assert_eq!(scales.len(), outputs, "one scale per output column");
        let quads = inputs.div_ceil(QUAD);
        let blocks = outputs.div_ceil(BLOCK).next_multiple_of(TILE_BLOCKS);
        let mut packed = vec![0i8; blocks * quads * BLOCK * QUAD];
        super::parts::pack_column_blocks(
            &mut packed,
            quads * BLOCK * QUAD,
            BLOCK,
            outputs,
            16,
            |columns, block| {
                if columns.is_empty() {
                    return; // a padding block, past the last column
                }
                for (k, row) in values.chunks_exact(outputs).enumerate() {
                    for (lane, &q) in row[columns.clone()].iter().enumerate() {
                        block[((k / QUAD) * BLOCK + lane) * QUAD + k % QUAD] = q;
                    }
                }
            },
        );
        let mut column_sums = vec![0i32; blocks * BLOCK];
        for row in values.chunks_exact(outputs.max(1)) {
            for (sum, &q) in column_sums.iter_mut().zip(row) {
                *sum += i32::from(q);
            }
        }
        let mut padded_scales = scales.to_vec();
        padded_scales.resize(blocks * BLOCK, 0.0);
        PackedInt8I7 {
            inputs,
            outputs,
            quads,
            values: packed,
            scales: padded_scales,
            column_sums,
        }
    }

    /// `[inputs, outputs]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.inputs, self.outputs]
    }

    fn blocks(&self) -> usize {
        self.scales.len() / BLOCK
    }
}

/// One product's integer sums, as a [`SumsKernel`] computes them:
/// `sums[r][c] = Σ_k weights[c][k] · inputs[r][k]` for every row `r < rows` and packed column
/// `c < blocks · 4`.
pub struct Sums<'a> {
    /// `rows × stride` bytes, each in `0..=127`.
    pub inputs: &'a [u8],
    /// A multiple of [`TILE_ROWS`].
    pub rows: usize,
    /// Bytes per input row: `quads · 4`.
    pub stride: usize,
    /// `blocks × quads × 16` bytes, packed as [`PackedInt8I7`] packs them.
    pub weights: &'a [i8],
    /// A multiple of [`TILE_BLOCKS`].
    pub blocks: usize,
    pub quads: usize,
    /// `rows × blocks · 4`, overwritten.
    pub out: &'a mut [i32],
}

/// Computes [`Sums`]; returns false when it could not (then the plain loops do).
pub type SumsKernel = fn(&mut Sums<'_>) -> bool;

static SUMS_KERNEL: OnceLock<SumsKernel> = OnceLock::new();

/// Makes every later product take its integer sums from `kernel`, once [`check_kernel`] found it
/// exact. A kernel installed before stays.
pub fn install_kernel(kernel: SumsKernel) -> Result<(), String> {
    check_kernel(kernel)?;
    let _ = SUMS_KERNEL.set(kernel);
    Ok(())
}

/// Whether products take their sums from an installed kernel.
pub fn kernel_installed() -> bool {
    SUMS_KERNEL.get().is_some()
}

/// Runs `kernel` on a product with every tile shape's edge (odd inputs, padding rows and
/// columns, the extreme values 0, 127 and ±127) and compares its sums with the plain loops'.
pub fn check_kernel(kernel: SumsKernel) -> Result<(), String> {
    let (inputs, outputs, rows): (usize, usize, usize) = (37, 13, 6);
    let values: Vec<i8> = (0..inputs * outputs)
        .map(|i| match i % 11 {
            0 => 127,
            1 => -127,
            _ => ((i * 37) % 255) as i8,
        })
        .collect();
    let weights = PackedInt8I7::new(&values, &vec![1.0; outputs], inputs, outputs);
    let stride = weights.quads * QUAD;
    let padded_rows = rows.next_multiple_of(TILE_ROWS);
    let quantized: Vec<u8> = (0..padded_rows * stride)
        .map(|i| {
            if i.is_multiple_of(7) {
                127
            } else {
                (i * 13 % 128) as u8
            }
        })
        .collect();
    let mut want = vec![0i32; padded_rows * weights.blocks() * BLOCK];
    let mut got = vec![i32::MIN; want.len()];
    for (out, plain) in [(&mut want, true), (&mut got, false)] {
        let mut job = Sums {
            inputs: &quantized,
            rows: padded_rows,
            stride,
            weights: &weights.values,
            blocks: weights.blocks(),
            quads: weights.quads,
            out,
        };
        if plain {
            plain_sums(&mut job);
        } else if !kernel(&mut job) {
            return Err("the relaxed-SIMD kernel could not run".into());
        }
    }
    match got.iter().zip(&want).position(|(g, w)| g != w) {
        None => Ok(()),
        Some(at) => Err(format!(
            "the relaxed-SIMD dot gave inexact sums ({} where {} is exact)",
            got[at], want[at]
        )),
    }
}

/// `out = x · W + bias` for `rows` rows of `x` (`rows × inputs`, row-major); `out` is
/// `rows × outputs`.
pub fn matmul(
    x: &[f32],
    rows: usize,
    weights: &PackedInt8I7,
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let stride = weights.quads * QUAD;
    let blocks = weights.blocks();
    super::parts::product_in_row_parts(
        x,
        rows,
        weights.shape(),
        bias,
        blocks * BLOCK,
        TILE_ROWS,
        out,
        |x, rows, bias, out| {
            let padded_rows = rows.next_multiple_of(TILE_ROWS);
            let mut quantized = vec![0u8; padded_rows * stride];
            let mut steps = vec![0f32; rows];
            let mut offsets = vec![0i32; rows];
            quantize_rows(
                x,
                weights.inputs,
                &mut quantized,
                stride,
                &mut steps,
                &mut offsets,
            );
            let mut sums = vec![0i32; padded_rows * blocks * BLOCK];
            let mut job = Sums {
                inputs: &quantized,
                rows: padded_rows,
                stride,
                weights: &weights.values,
                blocks,
                quads: weights.quads,
                out: &mut sums,
            };
            if !SUMS_KERNEL.get().is_some_and(|kernel| kernel(&mut job)) {
                plain_sums(&mut job);
            }
            let columns = blocks * BLOCK;
            let outputs = weights.outputs;
            for (r, out_row) in out.chunks_exact_mut(outputs).enumerate() {
                let (step, offset) = (steps[r], offsets[r]);
                let row_sums = &sums[r * columns..r * columns + outputs];
                for (c, (o, &s)) in out_row.iter_mut().zip(row_sums).enumerate() {
                    let exact = s - offset * weights.column_sums[c];
                    *o = exact as f32 * (step * weights.scales[c]) + bias[c];
                }
            }
        },
    );
}

with_best_simd! {
    /// Quantizes each row of `x` to `0..=127` with its own step and offset, into rows of
    /// `stride` bytes (the padding stays zero). A row with a non-finite value gets step 0: its
    /// products are then the bias alone, as in the i16 kernel.
    fn quantize_rows(
        x: &[f32],
        inputs: usize,
        out: &mut [u8],
        stride: usize,
        steps: &mut [f32],
        offsets: &mut [i32]
    ) {
        // 1.5 · 2²³: adding and subtracting it rounds to the nearest integer (ties to even) for
        // |v| < 2²², branch-free, so the loop vectorises.
        const ROUND: f32 = 12_582_912.0;
        for (((row, quantized), step), offset) in x
            .chunks_exact(inputs)
            .zip(out.chunks_exact_mut(stride))
            .zip(steps.iter_mut())
            .zip(offsets.iter_mut())
        {
            let (low, high) = row.iter().fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
            let range = high - low;
            if !(range > 0.0 && range.is_finite()) {
                *step = 0.0;
                *offset = 0;
                continue; // zeros (or a non-finite row): the padding's zeros stand for it
            }
            let inverse = 127.0 / range;
            *step = range / 127.0;
            // `low ≤ 0`, so the offset is in 0..=127, and zero is exactly `offset`.
            *offset = ((-low * inverse + ROUND) - ROUND) as i32;
            for (q, &v) in quantized.iter_mut().zip(row) {
                let level = ((v * inverse + ROUND) - ROUND) as i32 + *offset;
                *q = level.clamp(0, 127) as u8;
            }
        }
    }
}

with_best_simd! {
    /// The integer sums in plain loops: natively, and in wasm where no kernel is installed.
    fn plain_sums(job: &mut Sums<'_>) {
        let columns = job.blocks * BLOCK;
        let per_block = job.quads * BLOCK * QUAD;
        if per_block == 0 {
            job.out.fill(0); // no inputs
            return;
        }
        for (row, sums) in job.inputs.chunks_exact(job.stride).zip(job.out.chunks_exact_mut(columns)) {
            for (block, lanes) in job.weights.chunks_exact(per_block).zip(sums.chunks_exact_mut(BLOCK)) {
                let mut acc = [0i32; BLOCK];
                for (x, w) in row.chunks_exact(QUAD).zip(block.chunks_exact(BLOCK * QUAD)) {
                    for (a, w) in acc.iter_mut().zip(w.chunks_exact(QUAD)) {
                        *a += w.iter().zip(x).map(|(&w, &x)| i32::from(w) * i32::from(x)).sum::<i32>();
                    }
                }
                lanes.copy_from_slice(&acc);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_support::noise;

    fn int8_weights(inputs: usize, outputs: usize) -> (Vec<i8>, Vec<f32>) {
        let values = noise(11, inputs * outputs)
            .iter()
            .map(|v| (v * 127.0).round() as i8)
            .collect();
        let scales = noise(12, outputs)
            .iter()
            .map(|v| 0.01 + v.abs() * 0.05)
            .collect();
        (values, scales)
    }

    /// The product of the int8 weights with each row rounded to its 7-bit grid, in f64.
    fn rounded_reference(
        x: &[f32],
        rows: usize,
        values: &[i8],
        scales: &[f32],
        [inputs, outputs]: [usize; 2],
        bias: &[f32],
    ) -> Vec<f64> {
        let mut want = vec![0f64; rows * outputs];
        for r in 0..rows {
            let row = &x[r * inputs..(r + 1) * inputs];
            let (low, high) = row
                .iter()
                .fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
            let step = f64::from((high - low) / 127.0);
            let offset = (f64::from(-low) / step).round();
            for c in 0..outputs {
                let dot: f64 = (0..inputs)
                    .map(|k| {
                        let level = ((f64::from(row[k]) / step).round() + offset).clamp(0.0, 127.0);
                        (level - offset) * step * f64::from(values[k * outputs + c])
                    })
                    .sum();
                want[r * outputs + c] = dot * f64::from(scales[c]) + f64::from(bias[c]);
            }
        }
        want
    }

    #[test]
    fn equals_the_product_of_the_rows_rounded_to_7_bits_for_every_edge() {
        for (rows, inputs, outputs) in [
            (1, 1, 1),
            (7, 5, 13),
            (9, 33, 7),
            (37, 64, 20),
            (5, 384, 36),
        ] {
            let (values, scales) = int8_weights(inputs, outputs);
            let packed = PackedInt8I7::new(&values, &scales, inputs, outputs);
            // Skewed rows, as after GELU: the offset is not in the middle.
            let x: Vec<f32> = noise(13, rows * inputs)
                .iter()
                .map(|v| v * 3.0 + 1.0)
                .collect();
            let bias = noise(14, outputs);
            let mut out = vec![f32::NAN; rows * outputs];
            matmul(&x, rows, &packed, Some(&bias), &mut out);
            let want = rounded_reference(&x, rows, &values, &scales, [inputs, outputs], &bias);
            for (i, (&g, &w)) in out.iter().zip(&want).enumerate() {
                assert!(
                    (f64::from(g) - w).abs() <= 1e-5 * (1.0 + w.abs()),
                    "{rows}×{inputs}×{outputs} at {i}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn is_within_the_7_bit_rounding_of_the_exact_product() {
        let (rows, inputs, outputs) = (8, 384, 64);
        let (values, scales) = int8_weights(inputs, outputs);
        let packed = PackedInt8I7::new(&values, &scales, inputs, outputs);
        let x: Vec<f32> = noise(15, rows * inputs).iter().map(|v| v * 2.0).collect();
        let mut out = vec![0f32; rows * outputs];
        matmul(&x, rows, &packed, None, &mut out);
        let mut worst = 0f64;
        for r in 0..rows {
            let exact: Vec<f64> = (0..outputs)
                .map(|c| {
                    (0..inputs)
                        .map(|k| {
                            f64::from(x[r * inputs + k])
                                * f64::from(values[k * outputs + c])
                                * f64::from(scales[c])
                        })
                        .sum()
                })
                .collect();
            let size = exact.iter().fold(0f64, |m, v| m.max(v.abs()));
            for c in 0..outputs {
                worst = worst.max((f64::from(out[r * outputs + c]) - exact[c]).abs() / size);
            }
        }
        // 128 levels per row: a step of 1/32 of a ±2 range, errors that mostly cancel.
        assert!(worst < 3e-2, "error {worst}");
        assert!(worst > 1e-4, "suspiciously exact for 7 bits: {worst}");
    }

    #[test]
    fn zero_and_non_finite_rows_give_the_bias() {
        let (inputs, outputs) = (8, 5);
        let (values, scales) = int8_weights(inputs, outputs);
        let packed = PackedInt8I7::new(&values, &scales, inputs, outputs);
        let mut x = vec![0f32; 2 * inputs];
        x[inputs + 3] = f32::INFINITY;
        let bias = [1.0, 2.0, 3.0, 4.0, 5.0];
        let mut out = vec![f32::NAN; 2 * outputs];
        matmul(&x, 2, &packed, Some(&bias), &mut out);
        assert_eq!(out, [bias, bias].concat());
    }

    #[test]
    fn packing_puts_four_inputs_of_four_columns_in_one_vector_and_sums_the_columns() {
        // [inputs = 5, outputs = 5]: value = 10 · k + c.
        let values: Vec<i8> = (0..5)
            .flat_map(|k| (0..5).map(move |c| (10 * k + c) as i8))
            .collect();
        let packed = PackedInt8I7::new(&values, &[1.0; 5], 5, 5);
        assert_eq!(packed.quads, 2);
        // Blocks padded to an even count: columns 0..4, then 4 and three zero columns.
        assert_eq!(packed.values.len(), 2 * 2 * 16);
        // Block 0, quad 0: inputs 0..4 of column 0, then of column 1, ...
        assert_eq!(packed.values[..8], [0, 10, 20, 30, 1, 11, 21, 31]);
        // Block 0, quad 1: input 4 and zero padding.
        assert_eq!(packed.values[16..24], [40, 0, 0, 0, 41, 0, 0, 0]);
        // Block 1, quad 0: column 4, then padding.
        assert_eq!(packed.values[32..40], [4, 14, 24, 34, 0, 0, 0, 0]);
        assert_eq!(packed.column_sums, [100, 105, 110, 115, 120, 0, 0, 0]);
    }

    /// A kernel that computes the sums as the plain loops do, but off by one in its last value.
    fn off_by_one(job: &mut Sums<'_>) -> bool {
        plain_sums(job);
        *job.out.last_mut().expect("sums") += 1;
        true
    }

    #[test]
    fn the_check_accepts_exact_kernels_and_refuses_others() {
        fn exact(job: &mut Sums<'_>) -> bool {
            plain_sums(job);
            true
        }
        fn unable(_: &mut Sums<'_>) -> bool {
            false
        }
        assert_eq!(check_kernel(exact), Ok(()));
        let refused = check_kernel(off_by_one).expect_err("inexact");
        assert!(refused.contains("inexact sums"), "{refused}");
        assert!(check_kernel(unable).is_err());
    }
}
