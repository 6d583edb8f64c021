//! Branch-free `exp` and `erf` in f32, and the row kernels built on them (softmax, GELU).
//!
//! Written as plain loops over lanes of 8 with no branches and no calls, so the compiler turns
//! them into SIMD: SSE2 on any x86-64, AVX2 when the CPU has it (chosen at run time), simd128 in
//! wasm (the package is built with `+simd128`).
//!
//! Except softmax in wasm: there LLVM leaves part of those loops lane by lane (the clamps and the
//! max), and softmax ran at 0.25 G values/s; [`simd128`] writes it out with simd128 operations
//! (0.47–0.52 G values/s, `bench/run kernels`).
//!
//! Accuracy (checked by the tests below against f64 references): `exp` within 2 ulp-ish
//! (relative 3e-7) on [-87, 88]; `erf` within 5e-7 absolute on all of f32.

/// Lanes per step: one AVX2 register, two SSE2 or simd128 registers.
const LANES: usize = 8;

/// `exp`'s argument range: it clamps to `[EXP_LOW, EXP_HIGH]`.
const EXP_LOW: f32 = -87.0;
const EXP_HIGH: f32 = 88.0;
/// Softmax gives exactly 0 to a value this far below its row's max (`e⁻⁶⁴` ≈ 1.6e-28: below
/// f32's resolution of the row's sum, which is at least 1).
///
/// NOTE: without it the padding mask's keys (and any score 87 below the max) came out of `exp`
/// at about 1e-38, and times `1/sum`, then times `V`, as denormals, which x86 CPUs compute in
/// microcode assists when they are not flushed, and wasm cannot flush them: on an Intel Xeon,
/// one key in 10 masked made softmax 2.6× slower (`bench/run kernels`).
pub const SOFTMAX_FLOOR: f32 = -64.0;
/// ln 2 split in two so that `n · LN2_HI` is exact.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 · 2²³: adding it rounds to the nearest integer (ties to even) for |v| < 2²², which then
/// sits in the low mantissa bits; subtracting it again leaves that integer, branch-free, so loops
/// vectorise (`exp` here, the int8 kernels' rounding of their inputs).
pub(crate) const ROUND: f32 = 12_582_912.0;
/// Cephes' polynomial for `(eʳ - 1 - r) / r²` on the reduced argument, highest degree first.
const EXP_POLYNOMIAL: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];

/// `eˣ` for `x` in [-87, 88] (clamped to it outside): Cephes' polynomial on the reduced
/// argument, scaled by `2ⁿ` built from the exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(EXP_LOW, EXP_HIGH);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = EXP_POLYNOMIAL[0];
    for c in &EXP_POLYNOMIAL[1..] {
        p = p * r + c;
    }
    let y = p * r * r + r + 1.0;
    // 2ⁿ: n (in -126..=127 after the clamp) plus the exponent bias, in the exponent field.
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    y * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

/// The error function: a rational approximation on [-4, 4] (±1 outside, as in f32), the one
/// Eigen and XLA use for f32.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_6e-3;
    p = p * x2 + -1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    x * p / q
}

/// `eˣ` for softmax's `x` = a value minus its row's max: 0 below [`SOFTMAX_FLOOR`].
#[inline(always)]
fn softmax_exp(x: f32) -> f32 {
    // NOTE: `!(x < floor)`, so a NaN still goes through `exp` (and shows).
    let e = exp(x);
    if x < SOFTMAX_FLOOR { 0.0 } else { e }
}

/// Softmax in place over each row of `row_len` values (`values.len()` is a multiple of it).
/// Values more than [`SOFTMAX_FLOOR`] below their row's max get exactly 0.
pub fn softmax_rows(values: &mut [f32], row_len: usize) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return simd128::softmax_rows(values, row_len);
    #[allow(unreachable_code)]
    softmax_rows_lanes(values, row_len)
}

with_best_simd! {
    /// GELU in place, the exact form: `x · 0.5 · (1 + erf(x / √2))`.
    pub fn gelu(values: &mut [f32]) {
        for x in values.iter_mut() {
            let v = *x;
            *x = 0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

with_best_simd! {
    /// `softmax_rows` as lane loops for the compiler to vectorise.
    pub(crate) fn softmax_rows_lanes(values: &mut [f32], row_len: usize) {
        for row in values.chunks_exact_mut(row_len) {
            let mut lane_max = [f32::NEG_INFINITY; LANES];
            let mut chunks = row.chunks_exact(LANES);
            for chunk in &mut chunks {
                for (m, &v) in lane_max.iter_mut().zip(chunk) {
                    *m = m.max(v);
                }
            }
            let max = chunks
                .remainder()
                .iter()
                .fold(lane_max.into_iter().fold(f32::NEG_INFINITY, f32::max), |m, &v| m.max(v));

            let mut lane_sum = [0f32; LANES];
            let mut chunks = row.chunks_exact_mut(LANES);
            for chunk in &mut chunks {
                for (s, v) in lane_sum.iter_mut().zip(chunk.iter_mut()) {
                    *v = softmax_exp(*v - max);
                    *s += *v;
                }
            }
            let mut sum: f32 = lane_sum.iter().sum();
            for v in chunks.into_remainder() {
                *v = softmax_exp(*v - max);
                sum += *v;
            }
            let inverse = 1.0 / sum;
            for v in row.iter_mut() {
                *v *= inverse;
            }
        }
    }
}

/// Softmax written with wasm's simd128 operations. Its `exp` does in each lane exactly the scalar
/// `exp`'s operations in the same order (wasm has no fused multiply-add), so it gives the same
/// bits; the row sums add in another order than [`softmax_rows_lanes`], a rounding apart.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use core::arch::wasm32::*;

    use super::{EXP_HIGH, EXP_LOW, EXP_POLYNOMIAL, LN2_HI, LN2_LO, ROUND, SOFTMAX_FLOOR};

    /// `super::exp`'s constants, each in all four lanes.
    struct ExpConstants {
        low: v128,
        high: v128,
        log2_e: v128,
        round: v128,
        ln2_hi: v128,
        ln2_lo: v128,
        polynomial: [v128; EXP_POLYNOMIAL.len()],
        one: v128,
        floor: v128,
    }

    impl ExpConstants {
        /// NOTE: made once per call and passed through `black_box`, so that they are not
        /// `v128.const`s inside the loop: V8 builds each of those anew where it is used
        /// (several instructions), and LLVM does not hoist them in wasm.
        fn new() -> Self {
            std::hint::black_box(Self {
                low: f32x4_splat(EXP_LOW),
                high: f32x4_splat(EXP_HIGH),
                log2_e: f32x4_splat(std::f32::consts::LOG2_E),
                round: f32x4_splat(ROUND),
                ln2_hi: f32x4_splat(LN2_HI),
                ln2_lo: f32x4_splat(LN2_LO),
                polynomial: EXP_POLYNOMIAL.map(|c| f32x4_splat(c)),
                one: f32x4_splat(1.0),
                floor: f32x4_splat(SOFTMAX_FLOOR),
            })
        }
    }

    /// `super::exp` on four lanes.
    #[inline(always)]
    fn exp(x: v128, c: &ExpConstants) -> v128 {
        let x = f32x4_pmin(f32x4_pmax(x, c.low), c.high);
        let shifted = f32x4_add(f32x4_mul(x, c.log2_e), c.round);
        let n = f32x4_sub(shifted, c.round);
        let r = f32x4_sub(f32x4_sub(x, f32x4_mul(n, c.ln2_hi)), f32x4_mul(n, c.ln2_lo));
        let mut p = c.polynomial[0];
        for &k in &c.polynomial[1..] {
            p = f32x4_add(f32x4_mul(p, r), k);
        }
        let y = f32x4_add(f32x4_add(f32x4_mul(f32x4_mul(p, r), r), r), c.one);
        let n_bits = i32x4_sub(shifted, c.round);
        let scale = i32x4_shl(i32x4_add(n_bits, i32x4_splat(127)), 23);
        f32x4_mul(y, scale)
    }

    /// `super::softmax_exp` on four lanes.
    #[inline(always)]
    fn softmax_exp(x: v128, c: &ExpConstants) -> v128 {
        v128_andnot(exp(x, c), f32x4_lt(x, c.floor))
    }

    /// Four values from `at` (unaligned).
    #[inline(always)]
    fn load(values: &[f32], at: usize) -> v128 {
        assert!(at + 4 <= values.len());
        // SAFETY: the four values are in bounds (checked above); v128_load takes any alignment.
        unsafe { v128_load(values.as_ptr().add(at).cast()) }
    }

    #[inline(always)]
    fn store(values: &mut [f32], at: usize, v: v128) {
        assert!(at + 4 <= values.len());
        // SAFETY: as in `load`.
        unsafe { v128_store(values.as_mut_ptr().add(at).cast(), v) }
    }

    /// The sum of the four lanes.
    #[inline(always)]
    fn lane_sum(v: v128) -> f32 {
        f32x4_extract_lane::<0>(v)
            + f32x4_extract_lane::<1>(v)
            + f32x4_extract_lane::<2>(v)
            + f32x4_extract_lane::<3>(v)
    }

    /// Vectors per step: independent chains, so the CPU overlaps their latencies.
    const STEP: usize = 4;

    pub fn softmax_rows(values: &mut [f32], row_len: usize) {
        let whole = row_len / 4 * 4;
        let constants = ExpConstants::new();
        for row in values.chunks_exact_mut(row_len) {
            let mut lanes = f32x4_splat(f32::NEG_INFINITY);
            for at in (0..whole).step_by(4) {
                lanes = f32x4_pmax(lanes, load(row, at));
            }
            let mut max = f32x4_extract_lane::<0>(lanes);
            max = f32::max(max, f32x4_extract_lane::<1>(lanes));
            max = f32::max(max, f32x4_extract_lane::<2>(lanes));
            max = f32::max(max, f32x4_extract_lane::<3>(lanes));
            for &v in &row[whole..] {
                max = f32::max(max, v);
            }
            let shift = f32x4_splat(max);
            let mut sums = [f32x4_splat(0.0); STEP];
            let steps = whole / (4 * STEP) * (4 * STEP);
            for at in (0..steps).step_by(4 * STEP) {
                let v: [v128; STEP] = std::array::from_fn(|i| load(row, at + 4 * i));
                let e = v.map(|v| softmax_exp(f32x4_sub(v, shift), &constants));
                for i in 0..STEP {
                    store(row, at + 4 * i, e[i]);
                    sums[i] = f32x4_add(sums[i], e[i]);
                }
            }
            for at in (steps..whole).step_by(4) {
                let e = softmax_exp(f32x4_sub(load(row, at), shift), &constants);
                store(row, at, e);
                sums[0] = f32x4_add(sums[0], e);
            }
            let sums = sums
                .into_iter()
                .fold(f32x4_splat(0.0), |a, b| f32x4_add(a, b));
            let mut sum = lane_sum(sums);
            for v in &mut row[whole..] {
                *v = super::softmax_exp(*v - max);
                sum += *v;
            }
            let inverse = 1.0 / sum;
            let inverses = f32x4_splat(inverse);
            for at in (0..whole).step_by(4) {
                store(row, at, f32x4_mul(load(row, at), inverses));
            }
            for v in &mut row[whole..] {
                *v *= inverse;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evenly spaced points over `[from, to]`, ends included.
    fn grid(from: f32, to: f32, count: usize) -> impl Iterator<Item = f32> {
        (0..=count).map(move |i| from + (to - from) * i as f32 / count as f32)
    }

    #[test]
    fn exp_is_within_3e7_relative_over_its_range() {
        let mut worst = 0f64;
        for x in grid(-87.0, 88.0, 1_000_003).chain([0.0, -0.0, 1e-8, -1e-8]) {
            let want = f64::from(x).exp();
            let error = ((f64::from(exp(x)) - want) / want).abs();
            worst = worst.max(error);
        }
        assert!(worst < 3e-7, "worst relative error {worst:e}");
    }

    #[test]
    fn exp_clamps_instead_of_overflowing_or_wrapping() {
        // The mask bias (f32::MIN) minus a row's max must give ~0, not garbage from a wrapped
        // exponent; the clamp's bound gives e^-87.
        for x in [f32::MIN, -1e30, -200.0, -88.0] {
            let y = exp(x);
            assert!((0.0..2e-38).contains(&y), "exp({x}) = {y}");
        }
        assert!(exp(1e30).is_finite());
        assert!(exp(f32::MAX).is_finite());
    }

    #[test]
    fn erf_is_within_5e7_absolute_everywhere() {
        let mut worst = 0f64;
        for x in grid(-6.0, 6.0, 1_200_001).chain([0.0, 1e-20, -1e-20, 1e30, -1e30]) {
            let want = libm::erf(f64::from(x));
            worst = worst.max((f64::from(erf(x)) - want).abs());
        }
        assert!(worst < 5e-7, "worst absolute error {worst:e}");
        assert_eq!(erf(0.0), 0.0);
    }

    #[test]
    fn gelu_matches_the_f64_formula() {
        let mut values: Vec<f32> = grid(-10.0, 10.0, 20_001).collect();
        let want: Vec<f64> = values
            .iter()
            .map(|&x| {
                let x = f64::from(x);
                0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
            })
            .collect();
        gelu(&mut values);
        for (got, want) in values.iter().zip(want) {
            assert!((f64::from(*got) - want).abs() < 2e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn softmax_rows_match_f64_with_masked_entries_and_odd_lengths() {
        for row_len in [1, 7, 8, 9, 33] {
            let rows = 3;
            let mut values: Vec<f32> = (0..rows * row_len)
                .map(|i| ((i * 37 % 19) as f32 - 9.0) * 0.7)
                .collect();
            // Mask the last entry of each row as the padding bias does (unless it is alone).
            if row_len > 1 {
                for r in 0..rows {
                    values[r * row_len + row_len - 1] = f32::MIN;
                }
            }
            let input = values.clone();
            softmax_rows(&mut values, row_len);
            for (got, row) in values.chunks(row_len).zip(input.chunks(row_len)) {
                let max = row
                    .iter()
                    .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
                let exps: Vec<f64> = row.iter().map(|&v| (f64::from(v) - max).exp()).collect();
                let sum: f64 = exps.iter().sum();
                for ((g, e), &v) in got.iter().zip(&exps).zip(row) {
                    assert!((f64::from(*g) - e / sum).abs() < 1e-6, "{g} vs {}", e / sum);
                    if v == f32::MIN {
                        assert_eq!(*g, 0.0, "a masked key's weight is exactly 0");
                    }
                }
            }
        }
    }

    #[test]
    fn softmax_gives_exact_zeros_far_below_the_max_and_no_denormals() {
        // 9 values: the max, then ones 10, 63.9, 64.1, 87, 100 and 1e30 below it, a masked
        // one, and one equal to the max; lengths that take the vector and the tail paths.
        for copies in [1, 5] {
            let row: Vec<f32> =
                [5.0, -5.0, -58.9, -59.1, -82.0, -95.0, -1e30, f32::MIN, 5.0].repeat(copies);
            let mut values = row.clone();
            softmax_rows(&mut values, row.len());
            for (&got, &v) in values.iter().zip(&row) {
                let below = f64::from(v) - 5.0;
                if below < f64::from(SOFTMAX_FLOOR) {
                    assert_eq!(got, 0.0, "{below} below the max");
                } else {
                    assert!(got > 0.0 && got.is_normal(), "{below} below the max: {got}");
                }
            }
        }
        // A NaN is not hidden as a zero weight.
        let mut values = [1.0, f32::NAN, 0.0, 0.0];
        softmax_rows(&mut values, 4);
        assert!(values.iter().any(|v| v.is_nan()), "{values:?}");
    }
}
