//! `y = x · W + b` with f32 weights packed at load: the linear layers of the f32 weights on the
//! CPU in wasm.
//!
//! * `W` (`[inputs, outputs]`) is packed once into blocks of 8 columns, each stored input by
//!   input (`[outputs / 8][inputs][8]`), so a tile's weights are two sequential 128-bit loads per
//!   input ([`PackedF32`]).
//! * A register tile is 4 rows × 8 columns: 8 f32x4 accumulators, 2 weight vectors and one
//!   broadcast input. gemm's own wasm kernel keeps 12 accumulators (3 × 4), which V8 cannot hold
//!   in x86-64's 16 SIMD registers with their operands; this one runs 1.24–1.35× faster in Node
//!   on the model's shapes (BENCHMARKS.md, section 6), and needs no packing per call.
//! * Natively gemm's AVX2 kernel is faster, so the engine uses this one only in wasm (see
//!   [`crate::kernels::LinearKernels`]); elsewhere the same sums run as plain loops, in the same
//!   order, so the two give bit-identical results.
//! * Where a [`TilesKernel`] is installed (the wasm module installs relaxed SIMD's fused
//!   multiply-add, `src/web/relaxed.rs`), it computes the whole 6-row tiles of whole blocks, and
//!   the loops here the rest: a rounding apart from them (fused), checked before first use.

/// Columns per packed block: two f32x4.
const BLOCK: usize = 8;
/// Rows per register tile (6 spills in V8, 2 is slower: measured).
const TILE_ROWS: usize = 4;
/// Packed weight bytes a column chunk may take, so that it stays in L2 while every row tile of
/// the input streams past it.
const CHUNK_BYTES: usize = 128 * 1024;

/// Rows per tile of a [`TilesKernel`].
pub const KERNEL_TILE_ROWS: usize = 6;

/// One product's whole tiles, as a [`TilesKernel`] computes them: for every row `r < rows` and
/// column `c < blocks · 8`, `out[r · out_stride + c] = scale · Σ_k x[r · x_stride + k] ·
/// w(k, c) + bias[c]` (no bias: `+ 0` left out).
pub struct Tiles<'a> {
    /// Row `r` at `r · x_stride`, `inputs` values each.
    pub x: &'a [f32],
    pub x_stride: usize,
    /// A multiple of [`KERNEL_TILE_ROWS`].
    pub rows: usize,
    /// `blocks × inputs × 8`, packed as [`PackedF32`] packs them.
    pub weights: &'a [f32],
    pub inputs: usize,
    pub blocks: usize,
    pub scale: f32,
    /// `blocks · 8` values, or none.
    pub bias: Option<&'a [f32]>,
    /// Row `r` at `r · out_stride`, `blocks · 8` values written each.
    pub out: &'a mut [f32],
    pub out_stride: usize,
}

/// Computes [`Tiles`]; returns false when it could not (then the plain loops do).
pub type TilesKernel = fn(&mut Tiles<'_>) -> bool;

static TILES_KERNEL: std::sync::OnceLock<TilesKernel> = std::sync::OnceLock::new();

/// Makes every later product take its whole tiles from `kernel`, once [`check_kernel`] found it
/// within rounding of the plain loops. A kernel installed before stays.
pub fn install_kernel(kernel: TilesKernel) -> Result<(), String> {
    check_kernel(kernel)?;
    let _ = TILES_KERNEL.set(kernel);
    Ok(())
}

/// Whether products take their whole tiles from an installed kernel.
pub fn kernel_installed() -> bool {
    TILES_KERNEL.get().is_some()
}

/// Runs `kernel` on a strided product with a scale, a bias and edges of every kind (rows and
/// columns past its tiles, inputs not a multiple of anything) through [`matmul_strided`], and
/// compares the result with the plain loops': within 1e-5 of each row's largest value (a fused
/// multiply-add rounds once where the loops round twice), and nothing written between rows.
pub fn check_kernel(kernel: TilesKernel) -> Result<(), String> {
    let (rows, inputs, outputs, x_stride, out_stride) = (14, 37, 21, 41, 25);
    let noise = |seed: u32, n: usize| -> Vec<f32> {
        (0..n as u32)
            .map(|i| {
                ((i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 2001) as f32 / 1000.0
                    - 1.0
            })
            .collect()
    };
    let w = PackedF32::new(&noise(1, inputs * outputs), inputs, outputs);
    let x = noise(2, rows * x_stride);
    let mut tile = vec![0f32; KERNEL_TILE_ROWS * BLOCK];
    let mut one_tile = Tiles {
        x: &x,
        x_stride,
        rows: KERNEL_TILE_ROWS,
        weights: &w.values[..inputs * BLOCK],
        inputs,
        blocks: 1,
        scale: 1.0,
        bias: None,
        out: &mut tile,
        out_stride: BLOCK,
    };
    if !kernel(&mut one_tile) {
        return Err("the relaxed-SIMD products could not run".into());
    }
    let bias = noise(3, padded_columns(outputs));
    let mut want = vec![f32::NAN; rows * out_stride];
    let mut got = want.clone();
    let product = Product {
        x: &x,
        x_stride,
        weights: &w,
        scale: 0.75,
        bias: Some(&bias),
        out_stride,
    };
    multiply_with(None, &product, rows, &mut want);
    multiply_with(Some(kernel), &product, rows, &mut got);
    for (r, (g, w)) in got
        .chunks(out_stride)
        .zip(want.chunks(out_stride))
        .enumerate()
    {
        let size = w[..outputs].iter().fold(0f32, |m, v| m.max(v.abs()));
        for c in 0..out_stride {
            let fine = if c < outputs {
                (g[c] - w[c]).abs() <= 1e-5 * size
            } else {
                g[c].is_nan()
            };
            if !fine {
                return Err(format!(
                    "the relaxed-SIMD products are off at [{r}, {c}]: {} where the plain loops give {}",
                    g[c], w[c]
                ));
            }
        }
    }
    Ok(())
}

/// A linear layer's f32 weights, packed for [`matmul`].
#[derive(Debug, Clone)]
pub struct PackedF32 {
    inputs: usize,
    outputs: usize,
    /// `[outputs / 8 (rounded up)][inputs][8]`, zero-padded.
    values: Vec<f32>,
}

impl PackedF32 {
    /// Packs a row-major `[inputs, outputs]` matrix.
    ///
    /// Panics if the length does not match the shape (the weights reader checks it first).
    pub fn new(values: &[f32], inputs: usize, outputs: usize) -> Self {
        assert_eq!(values.len(), inputs * outputs, "f32 matrix size");
        let blocks = outputs.div_ceil(BLOCK);
        let mut packed = vec![0f32; blocks * inputs * BLOCK];
        // NOTE: block by block, so the blocks can be packed on several threads.
        super::parts::pack_column_blocks(
            &mut packed,
            inputs * BLOCK,
            BLOCK,
            outputs,
            8,
            |columns, block| pack_block(values, columns, [outputs, 1], block),
        );
        PackedF32 {
            inputs,
            outputs,
            values: packed,
        }
    }

    /// `[inputs, outputs]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.inputs, self.outputs]
    }

    /// An empty packing, for [`PackedF32::pack_strided`] to fill (and refill) in place.
    pub fn empty() -> Self {
        PackedF32 {
            inputs: 0,
            outputs: 0,
            values: Vec::new(),
        }
    }

    /// Packs an `[inputs, outputs]` matrix whose element `(k, c)` is at
    /// `values[k · input_stride + c · output_stride]`, on this thread, reusing this packing's
    /// memory: attention packs each head's `Kᵀ` and `V` this way, straight from the rows the
    /// linear layers wrote.
    ///
    /// Panics if an element is outside `values`.
    pub fn pack_strided(
        &mut self,
        values: &[f32],
        [inputs, outputs]: [usize; 2],
        input_stride: usize,
        output_stride: usize,
    ) {
        let blocks = outputs.div_ceil(BLOCK);
        self.inputs = inputs;
        self.outputs = outputs;
        self.values.clear();
        self.values.resize(blocks * inputs * BLOCK, 0.0);
        if inputs == 0 {
            return; // the blocks are empty
        }
        for (b, block) in self.values.chunks_exact_mut(inputs * BLOCK).enumerate() {
            let columns = b * BLOCK..outputs.min((b + 1) * BLOCK);
            pack_block(values, columns, [input_stride, output_stride], block);
        }
    }
}

/// Fills one packed block (`inputs × 8`, zero-padded past the last column) with `columns` of a
/// matrix whose element `(k, c)` is at `values[k · input_stride + c · output_stride]`.
fn pack_block(
    values: &[f32],
    columns: std::ops::Range<usize>,
    [input_stride, output_stride]: [usize; 2],
    block: &mut [f32],
) {
    // NOTE: the loop order reads `values` along its contiguous direction.
    if output_stride == 1 {
        for (k, packed_row) in block.chunks_exact_mut(BLOCK).enumerate() {
            let at = k * input_stride + columns.start;
            packed_row[..columns.len()].copy_from_slice(&values[at..at + columns.len()]);
        }
    } else {
        let inputs = block.len() / BLOCK;
        for (lane, c) in columns.enumerate() {
            let column = &values[c * output_stride..];
            for k in 0..inputs {
                block[k * BLOCK + lane] = column[k * input_stride];
            }
        }
    }
}

/// `out = x · W + bias` for `rows` rows of `x` (`rows × inputs`, row-major); `out` is
/// `rows × outputs`.
pub fn matmul(x: &[f32], rows: usize, weights: &PackedF32, bias: Option<&[f32]>, out: &mut [f32]) {
    let padded_columns = padded_columns(weights.outputs);
    super::parts::product_in_row_parts(
        x,
        rows,
        weights.shape(),
        bias,
        padded_columns,
        TILE_ROWS,
        out,
        |x, rows, bias, out| {
            let product = Product {
                x,
                x_stride: weights.inputs,
                weights,
                scale: 1.0,
                bias: Some(bias),
                out_stride: weights.outputs,
            };
            multiply(&product, rows, out)
        },
    );
}

/// The columns a bias for [`matmul_strided`] must have for `outputs` columns: whole blocks.
pub fn padded_columns(outputs: usize) -> usize {
    outputs.div_ceil(BLOCK) * BLOCK
}

/// `out = scale · (x · W) + bias` on this thread, for `rows` rows of `x` that start `x_stride`
/// values apart, each written `out_stride` values after the last: attention's products, on a
/// head's columns of rows that hold all heads. `bias`, when given, has one value per column,
/// [`padded_columns`] in all.
///
/// Panics if a row of `x` or of `out` is outside its slice, or the bias is short.
#[allow(clippy::too_many_arguments)]
pub fn matmul_strided(
    x: &[f32],
    x_stride: usize,
    rows: usize,
    weights: &PackedF32,
    scale: f32,
    bias: Option<&[f32]>,
    out: &mut [f32],
    out_stride: usize,
) {
    if rows == 0 {
        return;
    }
    assert!(
        bias.is_none_or(|b| b.len() >= padded_columns(weights.outputs)),
        "bias shorter than the padded columns"
    );
    assert!(
        x.len() >= (rows - 1) * x_stride + weights.inputs,
        "input rows outside x"
    );
    assert!(
        out.len() >= (rows - 1) * out_stride + weights.outputs,
        "output rows outside out"
    );
    let product = Product {
        x,
        x_stride,
        weights,
        scale,
        bias,
        out_stride,
    };
    multiply(&product, rows, out)
}

/// [`Product::run`], with the installed [`TilesKernel`] if any.
fn multiply(product: &Product<'_>, rows: usize, out: &mut [f32]) {
    multiply_with(TILES_KERNEL.get().copied(), product, rows, out)
}

with_best_simd! {
    /// [`Product::run`], natively in an AVX2 build too.
    fn multiply_with(kernel: Option<TilesKernel>, product: &Product<'_>, rows: usize, out: &mut [f32]) {
        product.run(kernel, rows, out)
    }
}

/// One product's operands.
struct Product<'a> {
    x: &'a [f32],
    /// Where row `r` of `x` starts: `r · x_stride`.
    x_stride: usize,
    weights: &'a PackedF32,
    /// Multiplies the sums (before the bias).
    scale: f32,
    /// One per packed column.
    bias: Option<&'a [f32]>,
    /// Where row `r` of the output starts: `r · out_stride`.
    out_stride: usize,
}

impl Product<'_> {
    #[inline(always)]
    fn run(&self, kernel: Option<TilesKernel>, rows: usize, out: &mut [f32]) {
        let inputs = self.weights.inputs;
        let blocks = self.weights.outputs.div_ceil(BLOCK);
        // Blocks whose 8 columns all exist: the kernel's.
        let whole_blocks = self.weights.outputs / BLOCK;
        let chunk = (CHUNK_BYTES / (inputs.max(1) * BLOCK * 4)).max(1);
        for first_block in (0..blocks).step_by(chunk) {
            let end_block = (first_block + chunk).min(blocks);
            let kernel_blocks = first_block..end_block.min(whole_blocks).max(first_block);
            let kernel_rows = match kernel {
                Some(kernel) if !kernel_blocks.is_empty() => self.kernel_tiles(
                    kernel,
                    rows / KERNEL_TILE_ROWS * KERNEL_TILE_ROWS,
                    kernel_blocks.clone(),
                    out,
                ),
                _ => 0,
            };
            // What the kernel left: its rows' other blocks, and the rows after its.
            self.tiles(0..kernel_rows, kernel_blocks.end..end_block, out);
            self.tiles(kernel_rows..rows, first_block..end_block, out);
        }
    }

    /// Rows `rows` × blocks `blocks` in register tiles.
    #[inline(always)]
    fn tiles(&self, rows: std::ops::Range<usize>, blocks: std::ops::Range<usize>, out: &mut [f32]) {
        let mut row = rows.start;
        while row + TILE_ROWS <= rows.end {
            for block in blocks.clone() {
                self.tile::<TILE_ROWS>(row, block, out);
            }
            row += TILE_ROWS;
        }
        for row in row..rows.end {
            for block in blocks.clone() {
                self.tile::<1>(row, block, out);
            }
        }
    }

    /// Rows `0..rows` (a multiple of [`KERNEL_TILE_ROWS`]) × blocks `blocks` by `kernel`;
    /// returns the rows it computed (none when it could not).
    fn kernel_tiles(
        &self,
        kernel: TilesKernel,
        rows: usize,
        blocks: std::ops::Range<usize>,
        out: &mut [f32],
    ) -> usize {
        if rows == 0 {
            return 0;
        }
        let inputs = self.weights.inputs;
        let first = blocks.start * BLOCK;
        let mut job = Tiles {
            x: self.x,
            x_stride: self.x_stride,
            rows,
            weights: &self.weights.values
                [blocks.start * inputs * BLOCK..blocks.end * inputs * BLOCK],
            inputs,
            blocks: blocks.len(),
            scale: self.scale,
            bias: self
                .bias
                .map(|bias| &bias[first..first + blocks.len() * BLOCK]),
            out: &mut out[first..],
            out_stride: self.out_stride,
        };
        if kernel(&mut job) { rows } else { 0 }
    }

    /// Rows `row..row + R` × columns `block · 8 ..`: the sums, scaled, plus the bias, stored
    /// as two vectors per row when the block is whole.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline(always)]
    fn tile<const R: usize>(&self, row: usize, block: usize, out: &mut [f32]) {
        use core::arch::wasm32::*;
        let first = block * BLOCK;
        if self.weights.outputs - first < BLOCK {
            return self.tile_lanes::<R>(row, block, out);
        }
        let acc = self.sum_vectors::<R>(row, block);
        let scale = f32x4_splat(self.scale);
        let bias = match self.bias {
            Some(bias) => {
                let bias = &bias[first..first + BLOCK];
                // SAFETY: 8 values, in bounds; unaligned loads are allowed.
                unsafe {
                    [
                        v128_load(bias.as_ptr().cast()),
                        v128_load(bias.as_ptr().add(4).cast()),
                    ]
                }
            }
            None => [f32x4_splat(0.0); 2],
        };
        for (r, [low, high]) in acc.into_iter().enumerate() {
            let at = (row + r) * self.out_stride + first;
            let out = &mut out[at..at + BLOCK];
            // SAFETY: 8 values, in bounds (sliced above); unaligned stores are allowed.
            unsafe {
                v128_store(
                    out.as_mut_ptr().cast(),
                    f32x4_add(f32x4_mul(low, scale), bias[0]),
                );
                v128_store(
                    out.as_mut_ptr().add(4).cast(),
                    f32x4_add(f32x4_mul(high, scale), bias[1]),
                );
            }
        }
    }

    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    #[inline(always)]
    fn tile<const R: usize>(&self, row: usize, block: usize, out: &mut [f32]) {
        self.tile_lanes::<R>(row, block, out)
    }

    /// [`Product::tile`] value by value, for any block.
    #[inline(always)]
    fn tile_lanes<const R: usize>(&self, row: usize, block: usize, out: &mut [f32]) {
        let sums = self.sums::<R>(row, block);
        let outputs = self.weights.outputs;
        let first = block * BLOCK;
        let bias: [f32; BLOCK] = match self.bias {
            Some(bias) => core::array::from_fn(|lane| bias[first + lane]),
            None => [0.0; BLOCK],
        };
        let whole = (outputs - first).min(BLOCK);
        for (r, row_sums) in sums.iter().enumerate() {
            let values: [f32; BLOCK] =
                core::array::from_fn(|lane| row_sums[lane] * self.scale + bias[lane]);
            let at = (row + r) * self.out_stride + first;
            out[at..at + whole].copy_from_slice(&values[..whole]);
        }
    }

    /// A tile's packed weights (one block) and inputs (R rows).
    #[inline(always)]
    fn tile_operands<const R: usize>(&self, row: usize, block: usize) -> (&[f32], &[f32]) {
        let inputs = self.weights.inputs;
        (
            &self.weights.values[block * inputs * BLOCK..(block + 1) * inputs * BLOCK],
            &self.x[row * self.x_stride..(row + R - 1) * self.x_stride + inputs],
        )
    }

    /// The sums of a tile: `[row][column]`.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline(always)]
    fn sums<const R: usize>(&self, row: usize, block: usize) -> [[f32; BLOCK]; R] {
        use core::arch::wasm32::*;
        self.sum_vectors::<R>(row, block).map(|[low, high]| {
            [
                f32x4_extract_lane::<0>(low),
                f32x4_extract_lane::<1>(low),
                f32x4_extract_lane::<2>(low),
                f32x4_extract_lane::<3>(low),
                f32x4_extract_lane::<0>(high),
                f32x4_extract_lane::<1>(high),
                f32x4_extract_lane::<2>(high),
                f32x4_extract_lane::<3>(high),
            ]
        })
    }

    /// The sums of a tile as vectors: `[row][columns 0..4, 4..8]`.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline(always)]
    fn sum_vectors<const R: usize>(
        &self,
        row: usize,
        block: usize,
    ) -> [[core::arch::wasm32::v128; 2]; R] {
        use core::arch::wasm32::*;
        let inputs = self.weights.inputs;
        let (weights, x) = self.tile_operands::<R>(row, block);
        let mut acc = [[f32x4_splat(0.0); 2]; R];
        for k in 0..inputs {
            // SAFETY: input `k`'s 8 weights are at `k · 8` in `weights` (`inputs · 8` long), and
            // row `r`'s input `k` at `r · x_stride + k` in `x` (R rows, the last `inputs` long,
            // as `tile_operands` cut it). Unaligned loads are allowed.
            unsafe {
                let w0 = v128_load(weights.as_ptr().add(k * BLOCK).cast());
                let w1 = v128_load(weights.as_ptr().add(k * BLOCK + 4).cast());
                for (r, acc_row) in acc.iter_mut().enumerate() {
                    let a = v128_load32_splat(x.as_ptr().add(r * self.x_stride + k).cast());
                    acc_row[0] = f32x4_add(acc_row[0], f32x4_mul(a, w0));
                    acc_row[1] = f32x4_add(acc_row[1], f32x4_mul(a, w1));
                }
            }
        }
        acc
    }

    /// The sums of a tile: `[row][column]`, in the SIMD kernel's order.
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    #[inline(always)]
    fn sums<const R: usize>(&self, row: usize, block: usize) -> [[f32; BLOCK]; R] {
        let (weights, x) = self.tile_operands::<R>(row, block);
        let mut acc = [[0f32; BLOCK]; R];
        for (k, w) in weights.chunks_exact(BLOCK).enumerate() {
            for (r, acc_row) in acc.iter_mut().enumerate() {
                let a = x[r * self.x_stride + k];
                for (s, &w) in acc_row.iter_mut().zip(w) {
                    *s += a * w;
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

    #[test]
    fn matches_an_f64_product_for_every_tile_shape() {
        // Rows that leave a partial tile, outputs that leave a partial block, one input, and
        // the model's own widths.
        for (rows, inputs, outputs) in [
            (1, 1, 1),
            (7, 5, 13),
            (9, 33, 7),
            // Enough rows to be split over threads (in a `threads` build).
            (37, 64, 20),
            (6, 384, 1536),
            (5, 1536, 384),
        ] {
            let w = noise(1, inputs * outputs);
            let x = noise(2, rows * inputs);
            let bias = noise(3, outputs);
            let packed = PackedF32::new(&w, inputs, outputs);
            assert_eq!(packed.shape(), [inputs, outputs]);
            let mut out = vec![f32::NAN; rows * outputs];
            matmul(&x, rows, &packed, Some(&bias), &mut out);
            for r in 0..rows {
                for c in 0..outputs {
                    let terms: Vec<f64> = (0..inputs)
                        .map(|k| f64::from(x[r * inputs + k]) * f64::from(w[k * outputs + c]))
                        .collect();
                    let want = terms.iter().sum::<f64>() + f64::from(bias[c]);
                    // A sum of `inputs` f32 products in order: its rounding error grows with
                    // the sum of their magnitudes (a wrong column or row is off by far more).
                    let size =
                        terms.iter().map(|t| t.abs()).sum::<f64>() + f64::from(bias[c].abs());
                    let got = f64::from(out[r * outputs + c]);
                    assert!(
                        (got - want).abs() <= 1e-6 * size.max(1.0),
                        "{rows}×{inputs}×{outputs} [{r}, {c}]: {got} vs {want}"
                    );
                }
            }
        }
    }

    /// A [`TilesKernel`] with the plain loops' operations in their order: its results are
    /// the same bits, so any cell it should not own or that nothing computes shows.
    fn plain_tiles(job: &mut Tiles<'_>) -> bool {
        for r in 0..job.rows {
            for c in 0..job.blocks * BLOCK {
                let (block, lane) = (c / BLOCK, c % BLOCK);
                let mut sum = 0f32;
                for k in 0..job.inputs {
                    sum += job.x[r * job.x_stride + k]
                        * job.weights[(block * job.inputs + k) * BLOCK + lane];
                }
                job.out[r * job.out_stride + c] = sum * job.scale + job.bias.map_or(0.0, |b| b[c]);
            }
        }
        true
    }

    #[test]
    fn an_installed_kernel_gets_the_whole_tiles_and_the_loops_the_rest() {
        // Rows past the kernel's tiles, a partial last block, and (1100 inputs) weights cut in
        // chunks of 3 blocks, the last with the partial block.
        for (rows, inputs, outputs) in [(14, 37, 21), (13, 1100, 61), (5, 16, 16), (12, 8, 7)] {
            let w = PackedF32::new(&noise(21, inputs * outputs), inputs, outputs);
            let x = noise(22, rows * (inputs + 3));
            let bias = noise(23, padded_columns(outputs));
            for bias in [None, Some(&bias[..])] {
                let product = Product {
                    x: &x,
                    x_stride: inputs + 3,
                    weights: &w,
                    scale: 0.5,
                    bias,
                    out_stride: outputs + 2,
                };
                let run = |kernel: Option<TilesKernel>| {
                    let mut out = vec![f32::NAN; rows * (outputs + 2)];
                    multiply_with(kernel, &product, rows, &mut out);
                    out
                };
                let (plain, with_kernel) = (run(None), run(Some(plain_tiles)));
                let same = plain
                    .iter()
                    .zip(&with_kernel)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{rows} × {inputs} × {outputs}");
                // The padding columns between rows are never written.
                assert!(
                    plain
                        .chunks(outputs + 2)
                        .all(|row| row[outputs..].iter().all(|v| v.is_nan()))
                );
            }
        }
    }

    #[test]
    fn the_kernel_check_takes_rounding_and_refuses_errors_and_refusals() {
        fn off(job: &mut Tiles<'_>) -> bool {
            plain_tiles(job);
            job.out[job.out_stride + 3] += 1e-2;
            true
        }
        fn rounded(job: &mut Tiles<'_>) -> bool {
            plain_tiles(job);
            for v in job.out.iter_mut() {
                *v *= 1.0 + 1e-7;
            }
            true
        }
        fn unable(_: &mut Tiles<'_>) -> bool {
            false
        }
        assert_eq!(check_kernel(plain_tiles), Ok(()));
        assert_eq!(check_kernel(rounded), Ok(()));
        let refused = check_kernel(off).expect_err("off by 1e-2");
        assert!(refused.contains("are off at [1, 3]"), "{refused}");
        assert!(check_kernel(unable).is_err());
    }

    #[test]
    fn packing_puts_each_input_of_eight_columns_in_two_vectors() {
        // [inputs = 2, outputs = 9]: value = 10 · k + c.
        let values: Vec<f32> = (0..2)
            .flat_map(|k| (0..9).map(move |c| (10 * k + c) as f32))
            .collect();
        let packed = PackedF32::new(&values, 2, 9);
        assert_eq!(packed.values[..8], [0., 1., 2., 3., 4., 5., 6., 7.]);
        assert_eq!(
            packed.values[8..16],
            [10., 11., 12., 13., 14., 15., 16., 17.]
        );
        // Block 1: column 8, then padding.
        assert_eq!(packed.values[16..24], [8., 0., 0., 0., 0., 0., 0., 0.]);
        // No inputs: nothing to pack, and no panic.
        assert!(PackedF32::new(&[], 0, 9).values.is_empty());
        assert_eq!(packed.values[24..32], [18., 0., 0., 0., 0., 0., 0., 0.]);
    }

    #[test]
    fn strided_packing_and_products_match_the_contiguous_ones() {
        // A [5, 11] matrix (inputs, outputs) stored transposed inside rows of 16 (as attention
        // finds `Kᵀ`), and the same matrix stored row by row inside rows of 16 (as it finds `V`).
        let (inputs, outputs, stride) = (5, 11, 16);
        let w = noise(7, inputs * outputs);
        let mut transposed = vec![f32::NAN; outputs * stride];
        let mut rows = vec![f32::NAN; inputs * stride];
        for k in 0..inputs {
            for c in 0..outputs {
                transposed[c * stride + k] = w[k * outputs + c];
                rows[k * stride + c] = w[k * outputs + c];
            }
        }
        let contiguous = PackedF32::new(&w, inputs, outputs);
        let mut packed = PackedF32::empty();
        packed.pack_strided(&transposed, [inputs, outputs], 1, stride);
        assert_eq!(packed.values, contiguous.values);
        assert_eq!(packed.shape(), [inputs, outputs]);
        // Refilled in place from the other layout: the same again.
        packed.pack_strided(&rows, [inputs, outputs], stride, 1);
        assert_eq!(packed.values, contiguous.values);
        // No inputs: nothing to pack, and no panic.
        let mut empty = PackedF32::empty();
        empty.pack_strided(&[], [0, 3], 1, 16);
        assert!(empty.values.is_empty());

        // 6 rows of x inside rows of 9, written scaled inside rows of 13: the contiguous
        // product's values times the scale, and nothing written between the rows.
        let x = noise(8, 6 * 9);
        let mut want = vec![0f32; 6 * outputs];
        let dense: Vec<f32> = x.chunks(9).flat_map(|row| row[..inputs].to_vec()).collect();
        matmul(&dense, 6, &contiguous, None, &mut want);
        let mut bias = noise(9, padded_columns(outputs));
        bias[outputs..].fill(f32::NAN); // the padding's values are never written
        for bias in [None, Some(&bias[..])] {
            let mut out = vec![f32::NAN; 5 * 13 + outputs];
            matmul_strided(&x, 9, 6, &packed, 0.5, bias, &mut out, 13);
            for (r, row) in out.chunks(13).enumerate() {
                for (c, &got) in row.iter().enumerate() {
                    if c < outputs {
                        let added = bias.map_or(0.0, |b| b[c]);
                        assert_eq!(got, want[r * outputs + c] * 0.5 + added, "[{r}, {c}]");
                    } else {
                        assert!(got.is_nan(), "[{r}, {c}] written");
                    }
                }
            }
        }
    }
}
