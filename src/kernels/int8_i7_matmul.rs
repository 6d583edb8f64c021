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

use super::vector_math::ROUND;

/// Columns per packed block: one i32x4 of sums.
const BLOCK: usize = 4;
/// Inputs per packed group: one relaxed dot adds four products into each column's sum.
const QUAD: usize = 4;
/// Rows the quantized inputs are padded to a multiple of (the relaxed kernel's tile: 6 rows ×
/// 2 blocks, twelve accumulators; `relaxed_simd.wat` says why).
pub const TILE_ROWS: usize = 6;
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
    let (inputs, outputs, rows): (usize, usize, usize) = (37, 13, 9);
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
            let columns = blocks * BLOCK;
            let mut steps = vec![0f32; rows];
            let mut offsets = vec![0i32; rows];
            super::parts::with_scratch(&QUANTIZED, padded_rows * stride, |quantized| {
                quantize_rows(
                    x,
                    weights.inputs,
                    quantized,
                    stride,
                    &mut steps,
                    &mut offsets,
                );
                super::parts::with_scratch(&SUMS, padded_rows * columns, |sums| {
                    let mut job = Sums {
                        inputs: quantized,
                        rows: padded_rows,
                        stride,
                        weights: &weights.values,
                        blocks,
                        quads: weights.quads,
                        out: sums,
                    };
                    if !SUMS_KERNEL.get().is_some_and(|kernel| kernel(&mut job)) {
                        plain_sums(&mut job);
                    }
                    let outputs = weights.outputs;
                    for ((out_row, row_sums), (&step, &offset)) in out
                        .chunks_exact_mut(outputs)
                        .zip(sums.chunks_exact(columns))
                        .zip(steps.iter().zip(&offsets))
                    {
                        finish_row(out_row, &row_sums[..outputs], step, offset, weights, bias);
                    }
                });
            });
        },
    );
}

thread_local! {
    /// Each thread's quantized rows and integer sums, kept from one product part to the next.
    // NOTE: allocating and zeroing them per part took 2–3 % of a forward pass in Chromium.
    static QUANTIZED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    static SUMS: std::cell::RefCell<Vec<i32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One output row from its integer sums: `(sum − offset · Σw) · (step · scale) + bias`, column by
/// column (`sums`, `out` of the row's `outputs` columns).
///
/// NOTE: simd128 in wasm, where LLVM left this loop scalar (a quarter of a 7-bit forward pass in
/// Chromium's profile with the quantizing); the same operations in the same order, so the same
/// bits as the plain loop.
#[inline(always)]
fn finish_row(
    out: &mut [f32],
    sums: &[i32],
    step: f32,
    offset: i32,
    weights: &PackedInt8I7,
    bias: &[f32],
) {
    let (column_sums, scales) = (
        &weights.column_sums[..out.len()],
        &weights.scales[..out.len()],
    );
    let bias = &bias[..out.len()];
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = {
        use core::arch::wasm32::*;
        let mut done = 0;
        let (step4, offset4) = (f32x4_splat(step), i32x4_splat(offset));
        while done + 4 <= out.len() {
            // SAFETY: `done + 4 ≤ out.len()`, and every slice here has `out.len()` values.
            unsafe {
                let at = |s: *const i32| v128_load(s.add(done).cast());
                let exact = i32x4_sub(
                    at(sums.as_ptr()),
                    i32x4_mul(offset4, at(column_sums.as_ptr())),
                );
                let scale = f32x4_mul(step4, v128_load(scales.as_ptr().add(done).cast()));
                let value = f32x4_add(
                    f32x4_mul(f32x4_convert_i32x4(exact), scale),
                    v128_load(bias.as_ptr().add(done).cast()),
                );
                v128_store(out.as_mut_ptr().add(done).cast(), value);
            }
            done += 4;
        }
        done
    };
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let done = 0;
    for c in done..out.len() {
        let exact = sums[c] - offset * column_sums[c];
        out[c] = exact as f32 * (step * scales[c]) + bias[c];
    }
}

with_best_simd! {
    /// Quantizes each row of `x` to `0..=127` with its own step and offset, into rows of
    /// `stride` bytes, and zeroes the rest of `out` (each row's padding and the rows past the
    /// last: `out` may hold a previous product's bytes). A row with a non-finite value gets step
    /// 0: its products are then the bias alone, as in the i16 kernel.
    fn quantize_rows(
        x: &[f32],
        inputs: usize,
        out: &mut [u8],
        stride: usize,
        steps: &mut [f32],
        offsets: &mut [i32]
    ) {
        let rows = steps.len();
        out[rows * stride..].fill(0);
        for (((row, quantized), step), offset) in x
            .chunks_exact(inputs)
            .zip(out.chunks_exact_mut(stride))
            .zip(steps.iter_mut())
            .zip(offsets.iter_mut())
        {
            quantized[inputs..].fill(0);
            let (low, high) = row_range(row);
            let range = high - low;
            if !(range > 0.0 && range.is_finite()) {
                *step = 0.0;
                *offset = 0;
                quantized[..inputs].fill(0);
                continue; // zeros (or a non-finite row): zero bytes stand for it
            }
            let inverse = 127.0 / range;
            *step = range / 127.0;
            // `low ≤ 0`, so the offset is in 0..=127, and zero is exactly `offset`.
            *offset = ((-low * inverse + ROUND) - ROUND) as i32;
            quantize_row(row, inverse, *offset, &mut quantized[..inputs]);
        }
    }
}

/// The smallest and largest value of a row, zero included (NaNs are passed over).
#[inline(always)]
fn row_range(row: &[f32]) -> (f32, f32) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let (done, low, high) = {
        use core::arch::wasm32::*;
        let mut done = 0;
        let (mut low4, mut high4) = (f32x4_splat(0.0), f32x4_splat(0.0));
        while done + 4 <= row.len() {
            // SAFETY: `done + 4 ≤ row.len()`.
            let v = unsafe { v128_load(row.as_ptr().add(done).cast()) };
            // NOTE: pmin/pmax keep the accumulator where `v` is NaN, as `f32::min`/`max` do.
            low4 = f32x4_pmin(low4, v);
            high4 = f32x4_pmax(high4, v);
            done += 4;
        }
        let low = f32x4_extract_lane::<0>(low4)
            .min(f32x4_extract_lane::<1>(low4))
            .min(f32x4_extract_lane::<2>(low4).min(f32x4_extract_lane::<3>(low4)));
        let high = f32x4_extract_lane::<0>(high4)
            .max(f32x4_extract_lane::<1>(high4))
            .max(f32x4_extract_lane::<2>(high4).max(f32x4_extract_lane::<3>(high4)));
        (done, low, high)
    };
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let (done, low, high) = (0, 0f32, 0f32);
    row[done..]
        .iter()
        .fold((low, high), |(l, h), &v| (l.min(v), h.max(v)))
}

/// `out[k] = clamp(round(row[k] · inverse) + offset, 0, 127)`.
///
/// NOTE: simd128 in wasm, where LLVM left the loop scalar (with [`finish_row`], a quarter of a
/// 7-bit forward pass in Chromium's profile); the same rounding, so the same bytes.
#[inline(always)]
fn quantize_row(row: &[f32], inverse: f32, offset: i32, out: &mut [u8]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = {
        use core::arch::wasm32::*;
        let mut done = 0;
        let (inverse4, round4) = (f32x4_splat(inverse), f32x4_splat(ROUND));
        let (offset4, top4) = (i32x4_splat(offset), i32x4_splat(127));
        let level = |at: usize| {
            // SAFETY: the caller keeps `at + 4 ≤ row.len()`.
            let v = unsafe { v128_load(row.as_ptr().add(at).cast()) };
            let rounded = f32x4_sub(f32x4_add(f32x4_mul(v, inverse4), round4), round4);
            // Below 0 saturates to 0 when narrowed to unsigned bytes; above 127 is clamped here.
            i32x4_min(i32x4_add(i32x4_trunc_sat_f32x4(rounded), offset4), top4)
        };
        while done + 16 <= row.len() {
            let low = i16x8_narrow_i32x4(level(done), level(done + 4));
            let high = i16x8_narrow_i32x4(level(done + 8), level(done + 12));
            // SAFETY: `done + 16 ≤ row.len() = out.len()`.
            unsafe {
                v128_store(
                    out.as_mut_ptr().add(done).cast(),
                    u8x16_narrow_i16x8(low, high),
                )
            };
            done += 16;
        }
        done
    };
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let done = 0;
    for (q, &v) in out[done..].iter_mut().zip(&row[done..]) {
        let level = ((v * inverse + ROUND) - ROUND) as i32 + offset;
        *q = level.clamp(0, 127) as u8;
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
    fn a_previous_product_on_the_thread_leaves_nothing_behind() {
        // The thread's buffers keep a product's bytes: a later, smaller product with a zero row,
        // odd inputs and padding rows must not read them.
        let run = |rows: usize, inputs: usize, outputs: usize, seed: u64| {
            let (values, scales) = int8_weights(inputs, outputs);
            let packed = PackedInt8I7::new(&values, &scales, inputs, outputs);
            let mut x: Vec<f32> = noise(seed, rows * inputs)
                .iter()
                .map(|v| v * 4.0 - 1.0)
                .collect();
            if rows > 1 {
                x[inputs..2 * inputs].fill(0.0);
            }
            let bias = noise(seed + 1, outputs);
            let mut out = vec![f32::NAN; rows * outputs];
            matmul(&x, rows, &packed, Some(&bias), &mut out);
            let mut want = rounded_reference(&x, rows, &values, &scales, [inputs, outputs], &bias);
            if rows > 1 {
                // The zero row: the bias alone (the reference divides by its zero range).
                for (w, &b) in want[outputs..2 * outputs].iter_mut().zip(&bias) {
                    *w = f64::from(b);
                }
            }
            (out, want)
        };
        let fresh = std::thread::spawn(move || run(3, 37, 13, 21).0)
            .join()
            .expect("thread");
        let (after, want) = std::thread::spawn(move || {
            run(16, 96, 40, 22);
            run(3, 37, 13, 21)
        })
        .join()
        .expect("thread");
        assert_eq!(after, fresh);
        for (g, w) in after.iter().zip(&want) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-5 * (1.0 + w.abs()),
                "{g} vs {w}"
            );
        }
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
