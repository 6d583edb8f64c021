//! A wasm module exposing our linear-layer kernels and gemm's f32 kernel on the same operands,
//! a block of attention with either kind of products, and the row kernels (softmax in both its
//! forms, GELU), for `run.mjs` to time side by side. Built by `bench/run kernels`.

include!("package_kernels.rs");

#[path = "../../../src/kernels/attention_block.rs"]
#[allow(dead_code)]
mod attention_block;
#[path = "../../../src/kernels/f32_matmul.rs"]
#[allow(dead_code)]
mod f32_matmul;

use std::cell::RefCell;

/// One matrix shape's operands: `x` (`rows × inputs`) and a weight (`inputs × outputs`) in each
/// kernel's form.
struct Operands {
    rows: usize,
    inputs: usize,
    outputs: usize,
    x: Vec<f32>,
    weights: Vec<f32>,
    int8: int8_matmul::PackedInt8,
    f32: f32_matmul::PackedF32,
    out: Vec<f32>,
}

thread_local! {
    static OPERANDS: RefCell<Option<Operands>> = const { RefCell::new(None) };
}

/// Makes the operands of a `rows × inputs × outputs` product (deterministic values).
#[unsafe(no_mangle)]
pub extern "C" fn setup(rows: usize, inputs: usize, outputs: usize) {
    let q: Vec<i8> = (0..inputs * outputs)
        .map(|i| ((i * 7919) % 255) as i8)
        .collect();
    let scales = vec![0.01f32; outputs];
    let weights: Vec<f32> = q.iter().map(|&v| f32::from(v) * 0.01).collect();
    let x: Vec<f32> = (0..rows * inputs)
        .map(|i| ((i * 31) % 97) as f32 / 48.0 - 1.0)
        .collect();
    let operands = Operands {
        rows,
        inputs,
        outputs,
        int8: int8_matmul::PackedInt8::new(&q, &scales, inputs, outputs),
        f32: f32_matmul::PackedF32::new(&weights, inputs, outputs),
        x,
        weights,
        out: vec![0f32; rows * outputs],
    };
    OPERANDS.with(|o| *o.borrow_mut() = Some(operands));
}

fn with_operands(run: impl FnOnce(&mut Operands)) -> f32 {
    OPERANDS.with(|o| {
        let mut o = o.borrow_mut();
        let o = o.as_mut().expect("setup first");
        run(o);
        o.out[o.out.len() / 2]
    })
}

/// Our int8 kernel (integer products).
#[unsafe(no_mangle)]
pub extern "C" fn run_int8() -> f32 {
    with_operands(|o| int8_matmul::matmul(&o.x, o.rows, &o.int8, None, &mut o.out))
}

/// Our packed f32 kernel.
#[unsafe(no_mangle)]
pub extern "C" fn run_f32() -> f32 {
    with_operands(|o| f32_matmul::matmul(&o.x, o.rows, &o.f32, None, &mut o.out))
}

/// gemm's f32 kernel, as burn-flex calls it (one thread).
#[unsafe(no_mangle)]
pub extern "C" fn run_gemm() -> f32 {
    with_operands(|o| {
        let (m, k, n) = (o.rows, o.inputs, o.outputs);
        // SAFETY: `out` is m × n, `x` m × k and `weights` k × n, all row-major, as the strides say.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                o.out.as_mut_ptr(),
                1,
                n as isize,
                false,
                o.x.as_ptr(),
                1,
                k as isize,
                o.weights.as_ptr(),
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    })
}

#[path = "../../../src/kernels/vector_math.rs"]
#[allow(dead_code)]
mod vector_math;

thread_local! {
    static ROWS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Fills `len` values for the row kernels: attention scores in [-8, 8), deterministic, with
/// every `masked_every`-th one (if not 0) the mask bias of a padding position (`f32::MIN`).
#[unsafe(no_mangle)]
pub extern "C" fn setup_rows(len: usize, masked_every: usize) {
    ROWS.with(|r| {
        *r.borrow_mut() = (0..len)
            .map(|i| {
                if masked_every > 0 && i % masked_every == 0 {
                    f32::MIN
                } else {
                    ((i * 7919) % 1021) as f32 / 64.0 - 8.0
                }
            })
            .collect();
    });
}

/// Runs `kernel` over the whole rows of `row_len` in the values `setup_rows` made.
fn over_rows(row_len: usize, kernel: fn(&mut [f32], usize)) -> f32 {
    ROWS.with(|r| {
        let mut r = r.borrow_mut();
        let whole = r.len() / row_len * row_len;
        kernel(&mut r[..whole], row_len);
        r[whole / 2]
    })
}

/// Softmax over rows of `row_len` (the values are refilled by the caller's `setup_rows`).
#[unsafe(no_mangle)]
pub extern "C" fn run_softmax(row_len: usize) -> f32 {
    over_rows(row_len, vector_math::softmax_rows)
}

/// The lane-loop softmax that the simd128 one replaces in wasm, for comparison.
#[unsafe(no_mangle)]
pub extern "C" fn run_softmax_lanes(row_len: usize) -> f32 {
    over_rows(row_len, vector_math::softmax_rows_lanes)
}

/// GELU over all the values (rows of 1: the whole buffer).
#[unsafe(no_mangle)]
pub extern "C" fn run_gelu() -> f32 {
    over_rows(1, |values, _| vector_math::gelu(values))
}

/// The largest difference between the simd128 softmax and the lane-loop one it replaces in wasm,
/// over rows of 1 to 40 values (every tail length) with masked keys.
#[unsafe(no_mangle)]
pub extern "C" fn check_softmax() -> f32 {
    let mut worst = 0f32;
    for row_len in 1..=40 {
        let rows = 3;
        let input: Vec<f32> = (0..rows * row_len)
            .map(|i| {
                if row_len > 1 && i % row_len == row_len - 1 {
                    f32::MIN
                } else {
                    ((i * 37 % 19) as f32 - 9.0) * 0.7
                }
            })
            .collect();
        let (mut simd, mut lanes) = (input.clone(), input);
        vector_math::softmax_rows(&mut simd, row_len);
        vector_math::softmax_rows_lanes(&mut lanes, row_len);
        for (a, b) in simd.iter().zip(&lanes) {
            worst = worst.max((a - b).abs());
        }
    }
    worst
}

/// One block of attention's operands: `seq` rows of `Q`, `K`, `V` for the model's 12 heads of 32.
struct AttentionOperands {
    seq: usize,
    queries: usize,
    qkv: Vec<f32>,
    out: Vec<f32>,
}

const HEADS: usize = 12;
const WIDTH: usize = 384;

impl AttentionOperands {
    /// `Q`, `K` and `V` are the same values (their products' speed does not depend on them).
    fn sequence(&self) -> attention_block::Sequence<'_> {
        attention_block::Sequence {
            query: &self.qkv,
            key: &self.qkv,
            value: &self.qkv,
            seq: self.seq,
            width: WIDTH,
            heads: HEADS,
            scale: (32f32).sqrt().recip(),
        }
    }
}

thread_local! {
    static ATTENTION: RefCell<Option<AttentionOperands>> = const { RefCell::new(None) };
}

/// Makes the operands of attention over `seq` keys for its first `queries` query rows.
#[unsafe(no_mangle)]
pub extern "C" fn setup_attention(seq: usize, queries: usize) {
    let qkv = (0..seq * WIDTH)
        .map(|i| ((i * 7919) % 1021) as f32 / 512.0 - 1.0)
        .collect();
    ATTENTION.with(|a| {
        *a.borrow_mut() = Some(AttentionOperands {
            seq,
            queries,
            qkv,
            out: vec![0f32; queries * WIDTH],
        })
    });
}

/// The block, its products by gemm (`packed` 0) or by our packed kernel (1).
#[unsafe(no_mangle)]
pub extern "C" fn run_attention(packed: u32) -> f32 {
    ATTENTION.with(|a| {
        let mut a = a.borrow_mut();
        let a = a.as_mut().expect("setup_attention first");
        let products = if packed == 1 {
            attention_block::Products::Packed
        } else {
            attention_block::Products::Gemm
        };
        let mut out = std::mem::take(&mut a.out);
        let no_mask = vec![0f32; a.seq];
        attention_block::attend(
            &a.sequence(),
            0,
            a.queries,
            &attention_block::ScoreBias::PerKey(&no_mask),
            products,
            None,
            &mut out,
        );
        a.out = out;
        a.out[a.out.len() / 2]
    })
}

/// The largest difference between the block's two kinds of products.
#[unsafe(no_mangle)]
pub extern "C" fn check_attention() -> f32 {
    ATTENTION.with(|a| {
        let a = a.borrow();
        let a = a.as_ref().expect("setup_attention first");
        let sequence = a.sequence();
        let run = |products| {
            let mut out = vec![0f32; a.queries * WIDTH];
            let no_mask = vec![0f32; a.seq];
            let bias = attention_block::ScoreBias::PerKey(&no_mask);
            attention_block::attend(&sequence, 0, a.queries, &bias, products, None, &mut out);
            out
        };
        let (gemm, packed) = (
            run(attention_block::Products::Gemm),
            run(attention_block::Products::Packed),
        );
        gemm.iter()
            .zip(&packed)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
    })
}
