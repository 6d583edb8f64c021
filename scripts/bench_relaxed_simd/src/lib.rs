//! The int8 linear layers' product three ways, on the same int8 weights and f32 inputs, for
//! `run.mjs` to time in Chromium (built with `+simd128,+relaxed-simd`):
//!
//! 0. the package's kernel (`src/kernels/int8_matmul.rs`): inputs quantized to i16 per row,
//!    `i32x4.dot_i16x8_s`, 8 multiply-adds per instruction plus an add;
//! 1. [`OneDot`]: inputs quantized to 7 bits per row (asymmetric, 0..=127, the only range the
//!    relaxed dot defines for its second operand), one `i32x4.relaxed_dot_i8x16_i7x16_add` per
//!    16 multiply-adds: the fast form, with coarse inputs;
//! 2. [`OneDot::two_dots`]: inputs quantized to 14 bits, offset to 0..16383 and split in two 7-bit
//!    halves, two relaxed dots per 16 multiply-adds: exact integer sums, about the i16 kernel's
//!    precision.
//!
//! [`probe`] says how the engine computes the relaxed dot (its result on operands outside the
//! defined range differs between x86 with VNNI, x86 without, and Arm).

// The package's int8 kernel and its helpers.
include!("../../bench_kernels/src/package_kernels.rs");

use core::arch::wasm32::*;
use std::cell::RefCell;

/// 1.5 · 2²³: adding and subtracting it rounds to the nearest integer.
const ROUND: f32 = 12_582_912.0;
/// The 14-bit inputs' offset: `x_q + OFFSET` is in `1..16384`.
const OFFSET: i32 = 8192;

/// int8 weights packed for the relaxed dot: `[outputs / 4][inputs / 4][4 columns][4 inputs]`.
struct OneDot {
    inputs: usize,
    outputs: usize,
    quads: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
    /// Each column's sum of weights, to take the inputs' offset back out.
    column_sums: Vec<i32>,
}

/// One quantized input matrix: `rows × quads · 4` bytes per plane, a scale and an offset per row.
struct Inputs {
    planes: Vec<Vec<u8>>,
    scales: Vec<f32>,
    offsets: Vec<i32>,
}

impl OneDot {
    fn new(q: &[i8], scales: &[f32], inputs: usize, outputs: usize) -> Self {
        let quads = inputs.div_ceil(4);
        let blocks = outputs.div_ceil(4);
        let mut values = vec![0i8; blocks * quads * 16];
        let mut column_sums = vec![0i32; blocks * 4];
        for k in 0..inputs {
            for c in 0..outputs {
                let w = q[k * outputs + c];
                values[(((c / 4) * quads + k / 4) * 4 + c % 4) * 4 + k % 4] = w;
                column_sums[c] += i32::from(w);
            }
        }
        let mut padded = scales.to_vec();
        padded.resize(blocks * 4, 0.0);
        OneDot { inputs, outputs, quads, values, scales: padded, column_sums }
    }

    fn stride(&self) -> usize {
        self.quads * 4
    }

    /// 7 bits per input: `(x - min) / step` in 0..=127, `step = (max - min) / 127`.
    fn quantize_7(&self, x: &[f32], rows: usize) -> Inputs {
        let stride = self.stride();
        let mut plane = vec![0u8; rows * stride];
        let mut scales = vec![0f32; rows];
        let mut offsets = vec![0i32; rows];
        for (r, row) in x.chunks_exact(self.inputs).take(rows).enumerate() {
            let (low, high) = row.iter().fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
            let step = if high > low { (high - low) / 127.0 } else { 1.0 };
            let inverse = 1.0 / step;
            let offset = ((-low * inverse + ROUND) - ROUND) as i32;
            scales[r] = step;
            offsets[r] = offset;
            let out = &mut plane[r * stride..(r + 1) * stride];
            for (q, &v) in out.iter_mut().zip(row) {
                *q = (((v * inverse + ROUND) - ROUND) as i32 + offset).clamp(0, 127) as u8;
            }
            // Padding inputs meet zero weights: any value in range will do.
            out[self.inputs..].fill(0);
        }
        Inputs { planes: vec![plane], scales, offsets }
    }

    /// 14 bits per input (|x_q| ≤ 8191, symmetric as the i16 kernel's), offset by [`OFFSET`] and
    /// split into a high and a low 7-bit plane.
    fn quantize_14(&self, x: &[f32], rows: usize) -> Inputs {
        let stride = self.stride();
        let range = (i32::MAX as usize / (127 * stride)).min(8191) as f32;
        let (mut high, mut low) = (vec![0u8; rows * stride], vec![0u8; rows * stride]);
        let mut scales = vec![0f32; rows];
        for (r, row) in x.chunks_exact(self.inputs).take(rows).enumerate() {
            let largest = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let inverse = if largest > 0.0 { range / largest } else { 0.0 };
            scales[r] = if inverse > 0.0 { largest / range } else { 0.0 };
            let (h, l) = (&mut high[r * stride..(r + 1) * stride], &mut low[r * stride..(r + 1) * stride]);
            for k in 0..stride {
                let v = row.get(k).copied().unwrap_or(0.0);
                let u = ((v * inverse + ROUND) - ROUND) as i32 + OFFSET;
                h[k] = (u >> 7) as u8;
                l[k] = (u & 127) as u8;
            }
        }
        Inputs { planes: vec![high, low], scales, offsets: vec![OFFSET; rows] }
    }

    /// `out = x · W + bias` with one relaxed dot per 16 multiply-adds (7-bit inputs).
    fn one_dot(&self, x: &[f32], rows: usize, bias: &[f32], out: &mut [f32]) {
        let inputs = self.quantize_7(x, rows);
        self.product::<4, 2, 1>(&inputs, rows, bias, out);
    }

    /// `out = x · W + bias` with two relaxed dots per 16 multiply-adds (14-bit inputs).
    fn two_dots(&self, x: &[f32], rows: usize, bias: &[f32], out: &mut [f32]) {
        let inputs = self.quantize_14(x, rows);
        self.product::<2, 2, 2>(&inputs, rows, bias, out);
    }

    /// Tiles of `R` rows × `B` blocks of 4 columns, over `P` planes of inputs (plane `p` weighs
    /// `128^(P - 1 - p)`), then the edges one by one.
    fn product<const R: usize, const B: usize, const P: usize>(
        &self,
        inputs: &Inputs,
        rows: usize,
        bias: &[f32],
        out: &mut [f32],
    ) {
        let blocks = self.scales.len() / 4;
        let mut row = 0;
        while row < rows {
            let mut block = 0;
            while block < blocks {
                if row + R <= rows && block + B <= blocks {
                    let sums = self.sums::<R, B, P>(inputs, row, block);
                    for (r, row_sums) in sums.iter().enumerate() {
                        for (b, &s) in row_sums.iter().enumerate() {
                            self.store(s, inputs, row + r, block + b, bias, out);
                        }
                    }
                    block += B;
                } else {
                    for r in row..(row + R).min(rows) {
                        let sums = self.sums::<1, 1, P>(inputs, r, block);
                        self.store(sums[0][0], inputs, r, block, bias, out);
                    }
                    block += 1;
                }
            }
            row += R;
        }
    }

    #[inline(always)]
    fn store(&self, sums: v128, inputs: &Inputs, row: usize, block: usize, bias: &[f32], out: &mut [f32]) {
        let lanes = [
            i32x4_extract_lane::<0>(sums),
            i32x4_extract_lane::<1>(sums),
            i32x4_extract_lane::<2>(sums),
            i32x4_extract_lane::<3>(sums),
        ];
        for (lane, &s) in lanes.iter().enumerate() {
            let c = block * 4 + lane;
            if c < self.outputs {
                let exact = s - inputs.offsets[row] * self.column_sums[c];
                out[row * self.outputs + c] = exact as f32 * (inputs.scales[row] * self.scales[c]) + bias[c];
            }
        }
    }

    /// A tile's integer sums, the planes combined.
    #[inline(always)]
    fn sums<const R: usize, const B: usize, const P: usize>(&self, inputs: &Inputs, row: usize, block: usize) -> [[v128; B]; R] {
        let (quads, stride) = (self.quads, self.stride());
        let weights = &self.values[block * quads * 16..(block + B) * quads * 16];
        let planes: [&[u8]; P] = core::array::from_fn(|p| &inputs.planes[p][row * stride..(row + R) * stride]);
        let mut acc = [[[i32x4_splat(0); B]; R]; P];
        for q in 0..quads {
            // SAFETY: block `b`'s quad `q` is the 16 bytes at `(b · quads + q) · 16` of `weights`
            // (B blocks of `quads · 16`); row `r`'s quad `q` is the 4 bytes at `r · stride + 4q`
            // of each plane (R rows of `stride`). Unaligned loads are allowed.
            unsafe {
                let w: [v128; B] = core::array::from_fn(|b| v128_load(weights.as_ptr().add((b * quads + q) * 16).cast()));
                for (p, plane) in planes.iter().enumerate() {
                    for r in 0..R {
                        let x = v128_load32_splat(plane.as_ptr().add(r * stride + 4 * q).cast());
                        for b in 0..B {
                            acc[p][r][b] = i32x4_relaxed_dot_i8x16_i7x16_add(w[b], x, acc[p][r][b]);
                        }
                    }
                }
            }
        }
        core::array::from_fn(|r| core::array::from_fn(|b| {
            (0..P).fold(i32x4_splat(0), |s, p| i32x4_add(i32x4_shl(s, 7), acc[p][r][b]))
        }))
    }
}

/// The relaxed dot of 127s by 255s (outside its defined range): 4 · 127 · 255 = 129540 where
/// the engine multiplies u8 by i8 without saturating (x86 VNNI's `vpdpbusd`), 4 · 32767 =
/// 131068 where pairs saturate to i16 (`pmaddubsw`), 4 · 127 · -1 = -508 where the second
/// operand is read as signed (Arm's `sdot`).
#[unsafe(no_mangle)]
pub extern "C" fn probe() -> i32 {
    let dot = i32x4_relaxed_dot_i8x16_i7x16_add(i8x16_splat(127), u8x16_splat(255), i32x4_splat(0));
    i32x4_extract_lane::<0>(dot)
}

struct Case {
    rows: usize,
    x: Vec<f32>,
    bias: Vec<f32>,
    i16: int8_matmul::PackedInt8,
    relaxed: OneDot,
    out: Vec<f32>,
    exact: Vec<f32>,
}

thread_local! {
    static CASE: RefCell<Option<Case>> = const { RefCell::new(None) };
}

/// Makes a `rows × inputs × outputs` product: int8 weights with per-column scales, inputs of
/// about ±1 with every 13th three times larger (activations have such outliers), and the exact
/// result in f64.
#[unsafe(no_mangle)]
pub extern "C" fn setup(rows: usize, inputs: usize, outputs: usize) {
    let q: Vec<i8> = (0..inputs * outputs).map(|i| (((i * 7919) % 255) as i32 - 127) as i8).collect();
    let scales: Vec<f32> = (0..outputs).map(|c| 0.01 + (c % 7) as f32 * 0.001).collect();
    let x: Vec<f32> = (0..rows * inputs)
        .map(|i| (((i * 31) % 97) as f32 / 48.0 - 1.0) * if i % 13 == 0 { 3.0 } else { 1.0 })
        .collect();
    let bias: Vec<f32> = (0..outputs).map(|c| c as f32 * 1e-3).collect();
    let mut exact = vec![0f32; rows * outputs];
    for r in 0..rows {
        for c in 0..outputs {
            let dot: f64 = (0..inputs)
                .map(|k| f64::from(x[r * inputs + k]) * f64::from(q[k * outputs + c]))
                .sum();
            exact[r * outputs + c] = (dot * f64::from(scales[c]) + f64::from(bias[c])) as f32;
        }
    }
    let case = Case {
        rows,
        i16: int8_matmul::PackedInt8::new(&q, &scales, inputs, outputs),
        relaxed: OneDot::new(&q, &scales, inputs, outputs),
        x,
        bias,
        out: vec![0.0; rows * outputs],
        exact,
    };
    CASE.with(|c| *c.borrow_mut() = Some(case));
}

/// Runs kernel `kind` (0, 1, 2: see the module's header) `runs` times; returns the last result's
/// largest error relative to the exact result's largest magnitude.
#[unsafe(no_mangle)]
pub extern "C" fn run(kind: u32, runs: u32) -> f32 {
    CASE.with(|c| {
        let mut c = c.borrow_mut();
        let Case { rows, x, bias, i16, relaxed, out, exact } = c.as_mut().expect("setup first");
        for _ in 0..runs {
            match kind {
                0 => int8_matmul::matmul(x, *rows, i16, Some(bias), out),
                1 => relaxed.one_dot(x, *rows, bias, out),
                _ => relaxed.two_dots(x, *rows, bias, out),
            }
        }
        let largest = exact.iter().fold(0f32, |m, v| m.max(v.abs()));
        out.iter().zip(exact.iter()).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / largest
    })
}
