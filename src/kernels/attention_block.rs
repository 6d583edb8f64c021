//! One block of attention on the CPU: some query rows of one sequence, every head, from the rows
//! the linear layers wrote to the merged heads' output rows. [`super::cpu`]'s attention cuts the
//! batch into such blocks and runs them on the pool's threads.
//!
//! Per head: `scores = scale · Q_h · K_hᵀ`, plus the mask bias, softmax in place, then
//! `out_h = scores · V_h`. The two products run one of two ways ([`Products`]):
//!
//! * [`Products::Packed`]: `K_hᵀ` and `V_h` are packed for [`super::f32_matmul`]'s 4 × 8 register
//!   tiles (`seq · head_dim` values each, against `queries · seq · head_dim` multiply-adds for
//!   each product) and multiplied there. In wasm the block runs 1.0–1.3× as fast as with gemm's
//!   simd128 kernel (`bench/run kernels`; the same sums in the same order, so the same
//!   bits), mostly on short pairs, where gemm's set-up weighs more.
//! * [`Products::Gemm`]: gemm reads `Q`, `K` and `V` in place through strides; natively its FMA
//!   kernels (AVX2, or AVX-512 where the CPU has it) are the faster.
//!
//! NOTE: free of burn, so `bench/kernels` compiles this file into its wasm module and
//! times both ways on the model's shapes.

use super::f32_matmul::{self, PackedF32};
use super::vector_math;

/// How a block computes its two products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Products {
    /// gemm, reading the operands in place.
    Gemm,
    /// Our packed f32 kernel, on each head's `Kᵀ` and `V` packed per block.
    Packed,
}

impl Products {
    /// The faster on this build: ours in wasm with simd128, gemm elsewhere.
    pub fn for_this_build() -> Self {
        if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
            Products::Packed
        } else {
            Products::Gemm
        }
    }
}

/// One sequence's `Q`, `K` and `V`: `seq` rows of `width = heads · head_dim` values each, from
/// the sequence's first row (the slices may run on past its last).
pub struct Sequence<'a> {
    pub query: &'a [f32],
    pub key: &'a [f32],
    pub value: &'a [f32],
    pub seq: usize,
    pub width: usize,
    pub heads: usize,
    /// Multiplies `Q · Kᵀ` before the bias.
    pub scale: f32,
}

/// A sequence's keys and values packed for [`f32_matmul`], head by head (`Kᵀ_h`, `V_h`): once
/// per sequence where it has several query blocks.
///
/// NOTE: packed per block, a long passage's keys and values were packed once per 64 query rows:
/// 4–6 % of a forward pass over long passages in Chromium's profile.
pub struct PackedHeads {
    keys: Vec<PackedF32>,
    values: Vec<PackedF32>,
}

impl PackedHeads {
    /// Nothing packed yet (a placeholder until [`PackedHeads::pack`]).
    pub fn empty() -> Self {
        PackedHeads {
            keys: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Every head of `sequence`'s keys and values.
    pub fn pack(sequence: &Sequence<'_>) -> Self {
        let &Sequence {
            key,
            value,
            seq,
            width,
            heads,
            ..
        } = sequence;
        let head_dim = width / heads.max(1);
        let mut packed = PackedHeads::empty();
        for head in 0..heads {
            let column = head * head_dim;
            let (mut keys, mut values) = (PackedF32::empty(), PackedF32::empty());
            keys.pack_strided(&key[column..], [head_dim, seq], 1, width);
            values.pack_strided(&value[column..], [seq, head_dim], width, 1);
            packed.keys.push(keys);
            packed.values.push(values);
        }
        packed
    }
}

/// What is added to the scores before the softmax (the mask bias).
pub enum ScoreBias<'a> {
    /// One value per key, the same for every head and query row: a padding mask, the usual
    /// case. At least `seq` values.
    PerKey(&'a [f32]),
    /// Anything else: `add(head, query, scores)` adds it to the scores of one query row (`seq`
    /// values).
    General(&'a dyn Fn(usize, usize, &mut [f32])),
}

/// Attention for query rows `first..first + queries` of `sequence`, all heads, into `out`
/// (`queries` rows of `width`), with `bias` added to the scores. With our products, `packed`
/// (the sequence's [`PackedHeads`]) saves packing them here.
///
/// Panics if the slices are shorter than the shapes say, or `packed` has other heads.
pub fn attend(
    sequence: &Sequence<'_>,
    first: usize,
    queries: usize,
    bias: &ScoreBias<'_>,
    products: Products,
    packed: Option<&PackedHeads>,
    out: &mut [f32],
) {
    let &Sequence {
        query,
        key,
        value,
        seq,
        width,
        heads,
        scale,
    } = sequence;
    assert!(
        heads > 0 && width % heads == 0,
        "{width} not split by {heads} heads"
    );
    let head_dim = width / heads;
    assert!(
        key.len() >= seq * width && value.len() >= seq * width,
        "keys or values outside their slices"
    );
    assert!(
        first + queries <= seq && query.len() >= (first + queries) * width,
        "queries outside their slice"
    );
    assert_eq!(out.len(), queries * width, "output size");
    if queries == 0 || seq == 0 || head_dim == 0 {
        return;
    }
    let query = &query[first * width..];
    let mut scores = vec![0f32; queries * seq];
    // NOTE: with our products a per-key bias is added as the scores are written (`scale · QKᵀ +
    // bias`, the same two roundings as a pass after them): that pass, a gather through the
    // bias's strides, took 7 % of a forward pass over long passages in Chromium's profile.
    let key_bias = match bias {
        ScoreBias::PerKey(keys) if products == Products::Packed => {
            let mut padded = vec![0f32; f32_matmul::padded_columns(seq)];
            padded[..seq].copy_from_slice(&keys[..seq]);
            Some(padded)
        }
        _ => None,
    };
    let (mut keys, mut values) = (PackedF32::empty(), PackedF32::empty());
    for head in 0..heads {
        let column = head * head_dim;
        match products {
            Products::Packed => {
                // Kᵀ_h: element (d, j) at j · width + d; V_h: element (j, d) at j · width + d.
                let keys = match packed {
                    Some(packed) => &packed.keys[head],
                    None => {
                        keys.pack_strided(&key[column..], [head_dim, seq], 1, width);
                        &keys
                    }
                };
                f32_matmul::matmul_strided(
                    &query[column..],
                    width,
                    queries,
                    keys,
                    scale,
                    key_bias.as_deref(),
                    &mut scores,
                    seq,
                );
            }
            // SAFETY: the asserts above keep every index inside its slice: query rows
            // `0..queries` (from `first`) and key rows `0..seq` at stride `width`, columns
            // `column..column + head_dim` (so below `width`); `scores` is `queries × seq`.
            Products::Gemm => unsafe {
                gemm::gemm(
                    queries,
                    seq,
                    head_dim,
                    scores.as_mut_ptr(),
                    1,
                    seq as isize,
                    false,
                    query[column..].as_ptr(),
                    1,
                    width as isize,
                    key[column..].as_ptr(),
                    width as isize,
                    1,
                    0.0,
                    scale,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            },
        }
        match bias {
            ScoreBias::PerKey(_) if key_bias.is_some() => {} // added by the product
            ScoreBias::PerKey(keys) => {
                for scores_row in scores.chunks_exact_mut(seq) {
                    for (s, &b) in scores_row.iter_mut().zip(&keys[..seq]) {
                        *s += b;
                    }
                }
            }
            ScoreBias::General(add) => {
                for (i, scores_row) in scores.chunks_exact_mut(seq).enumerate() {
                    add(head, first + i, scores_row);
                }
            }
        }
        vector_math::softmax_rows(&mut scores, seq);
        match products {
            Products::Packed => {
                let values = match packed {
                    Some(packed) => &packed.values[head],
                    None => {
                        values.pack_strided(&value[column..], [seq, head_dim], width, 1);
                        &values
                    }
                };
                f32_matmul::matmul_strided(
                    &scores,
                    seq,
                    queries,
                    values,
                    1.0,
                    None,
                    &mut out[column..],
                    width,
                );
            }
            // SAFETY: as above; value rows `0..seq`, and `out` is `queries` rows of `width`,
            // written at columns `column..column + head_dim`.
            Products::Gemm => unsafe {
                gemm::gemm(
                    queries,
                    head_dim,
                    seq,
                    out[column..].as_mut_ptr(),
                    1,
                    width as isize,
                    false,
                    scores.as_ptr(),
                    1,
                    seq as isize,
                    value[column..].as_ptr(),
                    1,
                    width as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            },
        }
    }
}
