//! `y = x · W + b` with int8 weights, computed in integers: the linear layers of the compact
//! weights on the CPU.
//!
//! * `W` (`[inputs, outputs]`, burn's layout) is the int8 matrix the compact file stores, with
//!   one f32 scale per output column. It is widened to i16 once, at load, and packed so that one
//!   128-bit load holds two consecutive inputs of four consecutive columns ([`PackedInt8`]).
//! * Each row of `x` is quantized when the product runs: symmetric, to i16, with its own scale
//!   and a range small enough that no i32 sum can overflow (`|x_q| · 127 · inputs < 2³¹`, so
//!   14–15 bits for this model's 384 and 1536 inputs).
//! * The products are exact integer multiply-adds: wasm's `i32x4.dot_i16x8_s` does eight per
//!   instruction, where f32 takes two instructions (mul, add) for four. Elsewhere the same sums
//!   run as plain integer loops. Then `y = sum · (row scale · column scale) + b`.
//!
//! NOTE: the error this adds to the compact weights' own is the activations' rounding, a relative
//! 2⁻¹⁴ or so per value, far below the int8 weights' (`bench/run accuracy`, BENCHMARKS.md). Because the
//! sums are exact integers, the SIMD and the portable kernels give bit-identical results.

use super::vector_math::ROUND;

/// Columns per packed block: one i32x4 of sums.
const BLOCK: usize = 4;
/// Rows per register tile.
const TILE_ROWS: usize = 4;
/// Blocks per register tile: 4 rows × 2 blocks = 8 accumulators, plus 2 weight registers and one
/// broadcast input, well inside the 16 SIMD registers an x86-64 engine gives wasm.
///
/// NOTE: measured in Node on this model's shapes: 4 × 3 (12 accumulators) and 3 × 4 ran 10–25 %
/// slower, 2 × 6, 6 × 2, 5 × 2 and 3 × 3 slower still. Hand-written (WAT) kernels of six tile
/// shapes all reached 34–39 G multiply-adds per second in Chromium, about what this one does:
/// `dot_i16x8_s` plus its add, two instructions per eight multiply-adds, is the limit.
const TILE_BLOCKS: usize = 2;
/// Packed weight bytes a column chunk may take, so that it stays in L2 while every row tile of
/// the input streams past it.
const CHUNK_BYTES: usize = 128 * 1024;

/// A linear layer's int8 weights, widened and packed for [`matmul`].
#[derive(Debug, Clone)]
pub struct PackedInt8 {
    inputs: usize,
    outputs: usize,
    /// `ceil(inputs / 2)`: inputs go in pairs (the last one zero-padded).
    pairs: usize,
    /// `[outputs / 4 (rounded up)][pairs][4 columns][2 inputs]`, zero-padded.
    values: Vec<i16>,
    /// One per column, zero-padded to whole blocks.
    scales: Vec<f32>,
}

impl PackedInt8 {
    /// Packs a row-major `[inputs, outputs]` int8 matrix with one scale per output column.
    ///
    /// Panics if the lengths do not match the shape (the weights reader checks them first).
    pub fn new(values: &[i8], scales: &[f32], inputs: usize, outputs: usize) -> Self {
        assert_eq!(values.len(), inputs * outputs, "int8 matrix size");
        assert_eq!(scales.len(), outputs, "one scale per output column");
        let pairs = inputs.div_ceil(2);
        let blocks = outputs.div_ceil(BLOCK);
        let mut packed = vec![0i16; blocks * pairs * BLOCK * 2];
        // NOTE: block by block, so the blocks can be packed on several threads: a block reads
        // its four columns of every row, which the next block's reads find in cache.
        super::parts::pack_column_blocks(
            &mut packed,
            pairs * BLOCK * 2,
            BLOCK,
            outputs,
            16,
            |columns, block| {
                for (k, row) in values.chunks_exact(outputs).enumerate() {
                    for (lane, &q) in row[columns.clone()].iter().enumerate() {
                        block[((k / 2) * BLOCK + lane) * 2 + k % 2] = i16::from(q);
                    }
                }
            },
        );
        let mut padded_scales = scales.to_vec();
        padded_scales.resize(blocks * BLOCK, 0.0);
        PackedInt8 {
            inputs,
            outputs,
            pairs,
            values: packed,
            scales: padded_scales,
        }
    }

    /// `[inputs, outputs]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.inputs, self.outputs]
    }

    /// The largest `|x_q|` that keeps every sum of `inputs` products with `|w| ≤ 127` in an i32.
    fn input_range(&self) -> f32 {
        let terms = (self.pairs * 2).max(1);
        (i32::MAX as usize / (127 * terms)).min(i16::MAX as usize) as f32
    }
}

/// `out = x · W + bias` for `rows` rows of `x` (`rows × inputs`, row-major); `out` is
/// `rows × outputs`.
pub fn matmul(x: &[f32], rows: usize, weights: &PackedInt8, bias: Option<&[f32]>, out: &mut [f32]) {
    let stride = weights.pairs * 2;
    let padded_columns = weights.scales.len();
    // NOTE: each part quantizes its own rows: the rows' scales are per row, so a part needs
    // nothing from the others.
    super::parts::product_in_row_parts(
        x,
        rows,
        weights.shape(),
        bias,
        padded_columns,
        TILE_ROWS,
        out,
        |x, rows, bias, out| {
            let mut row_scales = vec![0f32; rows];
            super::parts::with_scratch(&QUANTIZED, rows * stride, |quantized| {
                quantize_rows(
                    x,
                    weights.inputs,
                    weights.input_range(),
                    quantized,
                    stride,
                    &mut row_scales,
                );
                let product = Product {
                    quantized,
                    stride,
                    row_scales: &row_scales,
                    weights,
                    bias,
                };
                multiply(&product, rows, out);
            });
        },
    );
}

thread_local! {
    /// Each thread's quantized rows, kept from one product part to the next.
    // NOTE: allocating and zeroing them per part took 1–3 % of a forward pass in Chromium.
    static QUANTIZED: std::cell::RefCell<Vec<i16>> = const { std::cell::RefCell::new(Vec::new()) };
}

with_best_simd! {
    /// [`Product::run`], natively in an AVX2 build too (where the integer loops vectorise).
    fn multiply(product: &Product<'_>, rows: usize, out: &mut [f32]) {
        product.run(rows, out)
    }
}

with_best_simd! {
    /// Quantizes each row of `x` to i16 with its own scale (`max |x| / range`), into rows of
    /// `stride` values, padding included (`out` may hold a previous product's values).
    fn quantize_rows(
        x: &[f32],
        inputs: usize,
        range: f32,
        out: &mut [i16],
        stride: usize,
        scales: &mut [f32]
    ) {
        for ((row, quantized), scale) in x
            .chunks_exact(inputs)
            .zip(out.chunks_exact_mut(stride))
            .zip(scales.iter_mut())
        {
            quantized[inputs..].fill(0);
            let largest = largest_magnitude(row);
            let inverse = if largest > 0.0 && largest.is_finite() { range / largest } else { 0.0 };
            *scale = if inverse > 0.0 { largest / range } else { 0.0 };
            quantize_row(row, inverse, &mut quantized[..inputs]);
        }
    }
}

/// `max |v|` over a row (NaNs are passed over).
///
/// NOTE: simd128 in wasm here and in [`quantize_row`], where LLVM left the loops scalar; the
/// same operations, so the same values.
#[inline(always)]
fn largest_magnitude(row: &[f32]) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let (done, largest) = {
        use core::arch::wasm32::*;
        let mut done = 0;
        let mut largest4 = f32x4_splat(0.0);
        while done + 4 <= row.len() {
            // SAFETY: `done + 4 ≤ row.len()`.
            let v = unsafe { v128_load(row.as_ptr().add(done).cast()) };
            // NOTE: pmax keeps the accumulator where `v` is NaN, as `f32::max` does.
            largest4 = f32x4_pmax(largest4, f32x4_abs(v));
            done += 4;
        }
        let largest = f32x4_extract_lane::<0>(largest4)
            .max(f32x4_extract_lane::<1>(largest4))
            .max(f32x4_extract_lane::<2>(largest4).max(f32x4_extract_lane::<3>(largest4)));
        (done, largest)
    };
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let (done, largest) = (0, 0f32);
    row[done..].iter().fold(largest, |m, v| m.max(v.abs()))
}

/// `out[k] = round(row[k] · inverse)`, saturated to i16.
#[inline(always)]
fn quantize_row(row: &[f32], inverse: f32, out: &mut [i16]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = {
        use core::arch::wasm32::*;
        let mut done = 0;
        let (inverse4, round4) = (f32x4_splat(inverse), f32x4_splat(ROUND));
        let level = |at: usize| {
            // SAFETY: the caller keeps `at + 4 ≤ row.len()`.
            let v = unsafe { v128_load(row.as_ptr().add(at).cast()) };
            i32x4_trunc_sat_f32x4(f32x4_sub(f32x4_add(f32x4_mul(v, inverse4), round4), round4))
        };
        while done + 8 <= row.len() {
            let values = i16x8_narrow_i32x4(level(done), level(done + 4));
            // SAFETY: `done + 8 ≤ row.len() = out.len()`.
            unsafe { v128_store(out.as_mut_ptr().add(done).cast(), values) };
            done += 8;
        }
        done
    };
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let done = 0;
    for (q, &v) in out[done..].iter_mut().zip(&row[done..]) {
        *q = ((v * inverse + ROUND) - ROUND) as i16;
    }
}

/// One product's operands, quantized and padded.
struct Product<'a> {
    /// `rows × stride` i16, each row with its scale in `row_scales`.
    quantized: &'a [i16],
    stride: usize,
    row_scales: &'a [f32],
    weights: &'a PackedInt8,
    /// One per packed column.
    bias: &'a [f32],
}

impl Product<'_> {
    #[inline(always)]
    fn run(&self, rows: usize, out: &mut [f32]) {
        let pairs = self.weights.pairs;
        let blocks = self.weights.scales.len() / BLOCK;
        let chunk = (CHUNK_BYTES / (pairs * BLOCK * 2 * 2))
            .max(1)
            .next_multiple_of(TILE_BLOCKS);
        for first_block in (0..blocks).step_by(chunk) {
            let end_block = (first_block + chunk).min(blocks);
            let mut row = 0;
            while row < rows {
                let tile_rows = (rows - row).min(TILE_ROWS);
                let mut block = first_block;
                while block < end_block {
                    let tile_blocks = (end_block - block).min(TILE_BLOCKS);
                    match (tile_rows, tile_blocks) {
                        (TILE_ROWS, TILE_BLOCKS) => {
                            self.tile::<TILE_ROWS, TILE_BLOCKS>(row, block, out)
                        }
                        (TILE_ROWS, _) => {
                            for b in block..block + tile_blocks {
                                self.tile::<TILE_ROWS, 1>(row, b, out);
                            }
                        }
                        (_, TILE_BLOCKS) => {
                            for r in row..row + tile_rows {
                                self.tile::<1, TILE_BLOCKS>(r, block, out);
                            }
                        }
                        _ => {
                            for r in row..row + tile_rows {
                                for b in block..block + tile_blocks {
                                    self.tile::<1, 1>(r, b, out);
                                }
                            }
                        }
                    }
                    block += tile_blocks;
                }
                row += tile_rows;
            }
        }
    }

    /// Rows `row..row + R` × blocks `block..block + B`.
    ///
    /// NOTE: in wasm the sums are scaled and stored as vectors: with the lane by lane form below
    /// (the same operations, so the same bits) the products took 9 % longer in Chromium's
    /// profile (`bench/cpu_profile.mjs`).
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline(always)]
    fn tile<const R: usize, const B: usize>(&self, row: usize, block: usize, out: &mut [f32]) {
        use core::arch::wasm32::*;
        let sums = self.sum_vectors::<R, B>(row, block);
        let outputs = self.weights.outputs;
        for (r, row_sums) in sums.iter().enumerate() {
            let row_scale = f32x4_splat(self.row_scales[row + r]);
            let out_row = &mut out[(row + r) * outputs..(row + r + 1) * outputs];
            for (b, &block_sums) in row_sums.iter().enumerate() {
                let first = (block + b) * BLOCK;
                let scales = &self.weights.scales[first..first + BLOCK];
                let bias = &self.bias[first..first + BLOCK];
                // SAFETY: `scales` and `bias` hold a whole block (both are padded to whole
                // blocks); unaligned loads are allowed.
                let values = unsafe {
                    let scale = f32x4_mul(row_scale, v128_load(scales.as_ptr().cast()));
                    f32x4_add(
                        f32x4_mul(f32x4_convert_i32x4(block_sums), scale),
                        v128_load(bias.as_ptr().cast()),
                    )
                };
                if first + BLOCK <= outputs {
                    // SAFETY: the block's 4 columns are inside the row (checked).
                    unsafe { v128_store(out_row.as_mut_ptr().add(first).cast(), values) };
                } else {
                    let lanes: [f32; BLOCK] = [
                        f32x4_extract_lane::<0>(values),
                        f32x4_extract_lane::<1>(values),
                        f32x4_extract_lane::<2>(values),
                        f32x4_extract_lane::<3>(values),
                    ];
                    out_row[first..].copy_from_slice(&lanes[..outputs - first]);
                }
            }
        }
    }

    /// Rows `row..row + R` × blocks `block..block + B`.
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    #[inline(always)]
    fn tile<const R: usize, const B: usize>(&self, row: usize, block: usize, out: &mut [f32]) {
        let sums = self.sums::<R, B>(row, block);
        let outputs = self.weights.outputs;
        for (r, row_sums) in sums.iter().enumerate() {
            let row_scale = self.row_scales[row + r];
            let out_row = &mut out[(row + r) * outputs..(row + r + 1) * outputs];
            for (b, block_sums) in row_sums.iter().enumerate() {
                let first = (block + b) * BLOCK;
                let scales = &self.weights.scales[first..first + BLOCK];
                let bias = &self.bias[first..first + BLOCK];
                let values: [f32; BLOCK] = core::array::from_fn(|lane| {
                    block_sums[lane] as f32 * (row_scale * scales[lane]) + bias[lane]
                });
                // NOTE: a whole block is one straight-line step the compiler vectorises.
                let whole = (outputs - first).min(BLOCK);
                out_row[first..first + whole].copy_from_slice(&values[..whole]);
            }
        }
    }

    /// A tile's packed weights (B blocks) and quantized inputs (R rows).
    #[inline(always)]
    fn tile_operands<const R: usize, const B: usize>(
        &self,
        row: usize,
        block: usize,
    ) -> (&[i16], &[i16]) {
        let per_block = self.weights.pairs * BLOCK * 2;
        (
            &self.weights.values[block * per_block..(block + B) * per_block],
            &self.quantized[row * self.stride..(row + R) * self.stride],
        )
    }

    /// The integer sums of a tile: `[row][block]`, a vector of the block's 4 columns each.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline(always)]
    fn sum_vectors<const R: usize, const B: usize>(
        &self,
        row: usize,
        block: usize,
    ) -> [[core::arch::wasm32::v128; B]; R] {
        use core::arch::wasm32::*;
        let pairs = self.weights.pairs;
        let (weights, inputs) = self.tile_operands::<R, B>(row, block);
        let mut acc = [[i32x4_splat(0); B]; R];
        for pair in 0..pairs {
            // SAFETY: block `b`'s pair `pair` is the 8 values at `(b · pairs + pair) · 8`, inside
            // `weights` (B blocks of `pairs · 8`); input `2 · pair` of row `r` and the one after
            // it are inside `inputs` (R rows of `stride = 2 · pairs`). Unaligned loads are
            // allowed.
            unsafe {
                let w: [v128; B] = core::array::from_fn(|b| {
                    v128_load(weights.as_ptr().add((b * pairs + pair) * BLOCK * 2).cast())
                });
                for (r, acc_row) in acc.iter_mut().enumerate() {
                    let x =
                        v128_load32_splat(inputs.as_ptr().add(r * self.stride + 2 * pair).cast());
                    for (a, &wb) in acc_row.iter_mut().zip(&w) {
                        *a = i32x4_add(*a, i32x4_dot_i16x8(x, wb));
                    }
                }
            }
        }
        acc
    }

    /// The integer sums of a tile: `[row][block][lane]`.
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    #[inline(always)]
    fn sums<const R: usize, const B: usize>(
        &self,
        row: usize,
        block: usize,
    ) -> [[[i32; BLOCK]; B]; R] {
        let pairs = self.weights.pairs;
        let (weights, inputs) = self.tile_operands::<R, B>(row, block);
        let mut acc = [[[0i32; BLOCK]; B]; R];
        for pair in 0..pairs {
            for (r, acc_row) in acc.iter_mut().enumerate() {
                let at = r * self.stride + 2 * pair;
                let (x0, x1) = (i32::from(inputs[at]), i32::from(inputs[at + 1]));
                for (b, acc_block) in acc_row.iter_mut().enumerate() {
                    let w = &weights[(b * pairs + pair) * BLOCK * 2..][..BLOCK * 2];
                    for (lane, a) in acc_block.iter_mut().enumerate() {
                        *a += x0 * i32::from(w[2 * lane]) + x1 * i32::from(w[2 * lane + 1]);
                    }
                }
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_support::noise;

    /// Random int8 weights and their scales, and the f64 matrix they stand for.
    fn weights(inputs: usize, outputs: usize) -> (Vec<i8>, Vec<f32>, Vec<f64>) {
        let values: Vec<i8> = noise(1, inputs * outputs)
            .iter()
            .map(|v| (v * 127.0).round() as i8)
            .collect();
        let scales: Vec<f32> = noise(2, outputs)
            .iter()
            .map(|v| 0.01 + v.abs() * 0.05)
            .collect();
        let exact = values
            .iter()
            .enumerate()
            .map(|(i, &q)| f64::from(q) * f64::from(scales[i % outputs]))
            .collect();
        (values, scales, exact)
    }

    fn reference(
        x: &[f32],
        rows: usize,
        w: &[f64],
        inputs: usize,
        outputs: usize,
        bias: &[f32],
    ) -> Vec<f64> {
        let mut out = vec![0f64; rows * outputs];
        for r in 0..rows {
            for c in 0..outputs {
                let dot: f64 = (0..inputs)
                    .map(|k| f64::from(x[r * inputs + k]) * w[k * outputs + c])
                    .sum();
                out[r * outputs + c] = dot + f64::from(bias[c]);
            }
        }
        out
    }

    /// Largest error relative to the row's largest |reference|.
    fn worst_error(got: &[f32], want: &[f64], outputs: usize) -> f64 {
        got.chunks(outputs)
            .zip(want.chunks(outputs))
            .map(|(g, w)| {
                let size = w.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
                g.iter()
                    .zip(w)
                    .fold(0f64, |m, (&g, &w)| m.max((f64::from(g) - w).abs() / size))
            })
            .fold(0f64, f64::max)
    }

    #[test]
    fn matches_the_exact_product_of_the_int8_weights_for_every_tile_shape() {
        // Odd inputs (a padded pair), outputs that leave a partial block and a partial tile,
        // rows that leave a partial tile, and the model's own widths.
        for (rows, inputs, outputs) in [
            (1, 1, 1),
            (7, 5, 13),
            (9, 33, 7),
            // Enough rows to be split over threads (in a `threads` build).
            (37, 64, 20),
            (6, 384, 1536),
            (5, 1536, 384),
        ] {
            let (values, scales, exact) = weights(inputs, outputs);
            let packed = PackedInt8::new(&values, &scales, inputs, outputs);
            let x: Vec<f32> = noise(3, rows * inputs).iter().map(|v| v * 4.0).collect();
            let bias = noise(4, outputs);
            let mut out = vec![f32::NAN; rows * outputs];
            matmul(&x, rows, &packed, Some(&bias), &mut out);
            let want = reference(&x, rows, &exact, inputs, outputs, &bias);
            let error = worst_error(&out, &want, outputs);
            // The inputs keep at least 14 bits: a relative 2⁻¹⁴ per value, averaging out.
            assert!(error < 2e-4, "{rows}×{inputs}×{outputs}: error {error}");
        }
    }

    #[test]
    fn equals_the_float_product_of_the_rounded_inputs() {
        // What tools/make_compact_reference.py does in the ONNX graph: each input row rounded
        // to its integer grid in f32, then an ordinary product with the dequantized weights.
        let (rows, inputs, outputs) = (6, 64, 40);
        let (values, scales, exact) = weights(inputs, outputs);
        let packed = PackedInt8::new(&values, &scales, inputs, outputs);
        let x: Vec<f32> = noise(5, rows * inputs).iter().map(|v| v * 3.0).collect();
        let range = packed.input_range();
        let rounded: Vec<f32> = x
            .chunks(inputs)
            .flat_map(|row| {
                let largest = row.iter().fold(0f32, |m, v| m.max(v.abs()));
                let (inverse, scale) = (range / largest, largest / range);
                row.iter()
                    .map(move |v| (v * inverse).round_ties_even() * scale)
                    .collect::<Vec<_>>()
            })
            .collect();
        let bias = noise(6, outputs);
        let mut out = vec![0f32; rows * outputs];
        matmul(&x, rows, &packed, Some(&bias), &mut out);
        let want = reference(&rounded, rows, &exact, inputs, outputs, &bias);
        let error = worst_error(&out, &want, outputs);
        assert!(error < 1e-6, "error {error}");
    }

    #[test]
    fn a_previous_product_on_the_thread_leaves_nothing_behind() {
        // The thread's buffer keeps a product's values: a later, smaller product with odd
        // inputs (a padded pair) must not read them.
        let run = |rows: usize, inputs: usize, outputs: usize| {
            let (values, scales, exact) = weights(inputs, outputs);
            let packed = PackedInt8::new(&values, &scales, inputs, outputs);
            let x: Vec<f32> = noise(3, rows * inputs).iter().map(|v| v * 2.0).collect();
            let bias = noise(4, outputs);
            let mut out = vec![f32::NAN; rows * outputs];
            matmul(&x, rows, &packed, Some(&bias), &mut out);
            (out, reference(&x, rows, &exact, inputs, outputs, &bias))
        };
        let fresh = std::thread::spawn(move || run(5, 37, 13).0)
            .join()
            .expect("thread");
        let (after, want) = std::thread::spawn(move || {
            run(16, 96, 40);
            run(5, 37, 13)
        })
        .join()
        .expect("thread");
        assert_eq!(after, fresh);
        assert!(worst_error(&after, &want, 13) < 1e-3);
    }

    #[test]
    fn zero_rows_and_no_bias_give_zeros_and_huge_rows_do_not_overflow() {
        let (inputs, outputs) = (1536, 8);
        // Every weight at +127 and every input at its largest: the worst case for the i32 sums.
        let values = vec![127i8; inputs * outputs];
        let scales = vec![1.0 / 127.0; outputs];
        let packed = PackedInt8::new(&values, &scales, inputs, outputs);
        let mut x = vec![0f32; 2 * inputs];
        x[inputs..].fill(1e30);
        let mut out = vec![f32::NAN; 2 * outputs];
        matmul(&x, 2, &packed, None, &mut out);
        assert!(out[..outputs].iter().all(|&v| v == 0.0), "{out:?}");
        let want = 1e30 * inputs as f32;
        assert!(
            out[outputs..]
                .iter()
                .all(|&v| ((v - want) / want).abs() < 1e-4),
            "{out:?}"
        );
    }

    #[test]
    fn packing_puts_each_pair_of_inputs_of_four_columns_in_one_vector() {
        // [inputs = 3, outputs = 5]: value = 10 · k + c.
        let values: Vec<i8> = (0..3)
            .flat_map(|k| (0..5).map(move |c| (10 * k + c) as i8))
            .collect();
        let packed = PackedInt8::new(&values, &[1.0; 5], 3, 5);
        assert_eq!(packed.pairs, 2);
        // Block 0, pair 0: (k0, k1) of columns 0..4.
        assert_eq!(packed.values[..8], [0, 10, 1, 11, 2, 12, 3, 13]);
        // Block 0, pair 1: k2 and the zero padding.
        assert_eq!(packed.values[8..16], [20, 0, 21, 0, 22, 0, 23, 0]);
        // Block 1: column 4, then three padding columns.
        assert_eq!(packed.values[16..24], [4, 14, 0, 0, 0, 0, 0, 0]);
        // No inputs: nothing to pack, and no panic.
        assert!(PackedInt8::new(&[], &[1.0; 5], 0, 5).values.is_empty());
        assert_eq!(packed.scales, [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
    }
}
