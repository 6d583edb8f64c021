//! WebGPU kernels for the fused nodes: one compute dispatch each where burn runs a dozen ops.
//!
//! Written with cubecl (`#[cube]`, compiled to WGSL by burn's wgpu runtime, natively and in the
//! browser) and launched on burn's own cubecl tensors, so they read and write the buffers the
//! rest of the model uses, without copies:
//!
//! * [`attention`]: `softmax(Q·Kᵀ · scale + bias) · V` for one query row of one head per
//!   workgroup, the scores kept in workgroup memory: no `[batch, heads, seq, seq]` tensor, no
//!   head split or merge, where burn ran two matrix products, the scale, the mask, five softmax
//!   passes and the copies of the transposes (about 12 dispatches);
//! * [`add_layer_norm`]: `LayerNorm(a + b)` for one row per workgroup, where the graph's
//!   decomposed LayerNorm and its residual add were 10 dispatches;
//! * [`linear`]: `x · W + bias`, optionally followed by the erf-GELU, in one tiled product
//!   (burn's `linear` is the product and a second pass for the bias; the GELU was a third);
//! * [`gelu`]: the erf-GELU alone, one element-wise pass.
//!
//! NOTE: why kernels of our own: every dispatch costs a validation, a bind group and a pass in
//! wgpu, whatever it computes; on a short pair the model's ~45 dispatches per layer were the
//! cost (BENCHMARKS.md, section 3). burn 0.22's cubecl backend has a flash-attention kernel,
//! but it takes a bool mask and ignores an additive bias, and needs matrix-multiply units; its
//! `fusion` feature fuses element-wise chains but neither attention nor a LayerNorm's two
//! reductions.
//!
//! The inputs must be on a cubecl (wgpu) device; [`attention_fits`] says which shapes the
//! attention kernel takes (a sequence up to [`ATTENTION_MAX_SEQ`]), and the caller runs the
//! same math as burn ops for the others. The other kernels take any shape.

use burn::prelude::Tensor;
use burn_cubecl::Cube;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// Threads of an attention workgroup.
const ATTENTION_UNITS: u32 = 32;
/// The longest sequence [`attention`] keeps in workgroup memory (XLM-R's 512 positions).
pub const ATTENTION_MAX_SEQ: usize = 512;
/// The widest head [`attention`] keeps in workgroup memory.
const ATTENTION_MAX_HEAD_DIM: usize = 128;
/// Threads of a LayerNorm workgroup.
const LAYER_NORM_UNITS: u32 = 128;
/// Threads of an element-wise workgroup.
const ELEMENTWISE_UNITS: u32 = 256;
/// Columns of a [`linear`] output tile, and the depth of one step through the inputs.
const TILE_COLUMNS: u32 = 64;
const TILE_DEPTH: u32 = 16;
/// Threads of a [`linear`] workgroup: 16 × 16, each computing `rows/16 × 4` outputs.
const LINEAR_UNITS: u32 = 256;

/// `x · 0.5 · (1 + erf(x / √2))`.
#[cube]
fn erf_gelu(x: f32) -> f32 {
    x * 0.5 * (1.0 + Erf::erf(x * 0.70710677))
}

#[cube(launch_unchecked)]
fn gelu_kernel(input: &[f32], output: &mut [f32], len: usize) {
    let i = ABSOLUTE_POS;
    if i < len {
        output[i] = erf_gelu(input[i]);
    }
}

/// The max (`max == true`) or the sum of every unit's `value`, seen by every unit: a tree
/// reduction in `partial` (one slot per unit; the workgroup's size a power of two).
#[cube]
fn workgroup_reduce(partial: &mut Shared<[f32]>, value: f32, #[comptime] max: bool) -> f32 {
    let unit = UNIT_POS_X as usize;
    partial[unit] = value;
    sync_cube();
    // NOTE: the stride starts from the builtin (the same number as `units`): a mutable value that
    // starts as a compile-time constant fails cubecl's verifier once it indexes memory.
    let mut stride = CUBE_DIM_X as usize / 2;
    while stride > 0 {
        if unit < stride {
            let other = partial[unit + stride];
            if comptime![max] {
                partial[unit] = f32::max(partial[unit], other);
            } else {
                partial[unit] += other;
            }
        }
        sync_cube();
        stride /= 2;
    }
    let result = partial[0];
    sync_cube();
    result
}

/// One workgroup per (query row, head, batch row): `CUBE_POS_X/Y/Z`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn attention_kernel(
    query: &[f32],
    key: &[f32],
    value: &[f32],
    bias: &[f32],
    output: &mut [f32],
    seq: usize,
    head_dim: usize,
    width: usize,
    bias_batch: usize,
    bias_head: usize,
    bias_row: usize,
    bias_key: usize,
    scale: f32,
    #[comptime] units: u32,
) {
    let row = CUBE_POS_X as usize;
    let head = CUBE_POS_Y as usize;
    let batch = CUBE_POS_Z as usize;
    let unit = UNIT_POS_X as usize;
    let step = comptime![units as usize];

    let mut q = Shared::<[f32]>::new_slice(ATTENTION_MAX_HEAD_DIM);
    let mut scores = Shared::<[f32]>::new_slice(ATTENTION_MAX_SEQ);
    let mut partial = Shared::<[f32]>::new_slice(comptime![units as usize]);

    let q_start = (batch * seq + row) * width + head * head_dim;
    let mut d = unit;
    while d < head_dim {
        q[d] = query[q_start + d];
        d += step;
    }
    sync_cube();

    let bias_start = batch * bias_batch + head * bias_head + row * bias_row;
    let mut local_max = f32::new(-3.4028235e38);
    let mut j = unit;
    while j < seq {
        let k_start = (batch * seq + j) * width + head * head_dim;
        let mut dot = 0.0f32;
        for i in 0..head_dim {
            dot += q[i] * key[k_start + i];
        }
        let score = dot * scale + bias[bias_start + j * bias_key];
        scores[j] = score;
        local_max = f32::max(local_max, score);
        j += step;
    }
    let row_max = workgroup_reduce(&mut partial, local_max, true);

    let mut local_sum = 0.0f32;
    let mut j = unit;
    while j < seq {
        let e = f32::exp(scores[j] - row_max);
        scores[j] = e;
        local_sum += e;
        j += step;
    }
    let sum = workgroup_reduce(&mut partial, local_sum, false);
    let inverse = 1.0f32 / sum;

    let mut d = unit;
    while d < head_dim {
        let mut acc = 0.0f32;
        for j in 0..seq {
            acc += scores[j] * value[(batch * seq + j) * width + head * head_dim + d];
        }
        output[q_start + d] = acc * inverse;
        d += step;
    }
}

/// One workgroup per row: `LayerNorm(a + b) · gamma + beta` over the last dimension.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn add_layer_norm_kernel(
    a: &[f32],
    b: &[f32],
    gamma: &[f32],
    beta: &[f32],
    output: &mut [f32],
    width: usize,
    epsilon: f32,
    #[comptime] units: u32,
) {
    let row = (CUBE_POS_Y * CUBE_COUNT_X + CUBE_POS_X) as usize;
    let unit = UNIT_POS_X as usize;
    let step = comptime![units as usize];
    let start = row * width;
    let mut partial = Shared::<[f32]>::new_slice(comptime![units as usize]);

    // NOTE: each unit reads back only the columns it wrote, so `output` holds the sums between
    // the passes without a barrier.
    let mut local = 0.0f32;
    let mut i = unit;
    while i < width {
        let x = a[start + i] + b[start + i];
        output[start + i] = x;
        local += x;
        i += step;
    }
    let mean = workgroup_reduce(&mut partial, local, false) / f32::cast_from(width);

    let mut local = 0.0f32;
    let mut i = unit;
    while i < width {
        let d = output[start + i] - mean;
        local += d * d;
        i += step;
    }
    let variance = workgroup_reduce(&mut partial, local, false) / f32::cast_from(width);
    let deviation = f32::sqrt(variance + epsilon);

    let mut i = unit;
    while i < width {
        output[start + i] = (output[start + i] - mean) / deviation * gamma[i] + beta[i];
        i += step;
    }
}

/// `x · w (+ bias)` (then the GELU when `gelu`), a `tile_rows × TILE_COLUMNS` tile of the output
/// per workgroup of 16 × 16 units; `x` is `rows × inputs`, `w` `inputs × outputs`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn linear_kernel(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    output: &mut [f32],
    rows: usize,
    inputs: usize,
    outputs: usize,
    #[comptime] tile_rows: u32,
    #[comptime] has_bias: bool,
    #[comptime] gelu: bool,
) {
    let rows_per_unit = comptime![(tile_rows / 16) as usize];
    let tile_rows_n = comptime![tile_rows as usize];
    let columns = comptime![TILE_COLUMNS as usize];
    let depth = comptime![TILE_DEPTH as usize];
    let unit = UNIT_POS_X as usize;
    let tx = unit % 16;
    let ty = unit / 16;
    let row0 = CUBE_POS_Y as usize * tile_rows_n;
    let col0 = CUBE_POS_X as usize * columns;

    let mut xs = Shared::<[f32]>::new_slice(comptime![(tile_rows * TILE_DEPTH) as usize]);
    let mut ws = Shared::<[f32]>::new_slice(comptime![(TILE_DEPTH * TILE_COLUMNS) as usize]);
    let mut acc = Array::<f32>::new(comptime![(tile_rows / 16 * 4) as usize]);
    #[unroll]
    for i in 0..rows_per_unit * 4 {
        acc[i] = 0.0f32;
    }

    let mut k0 = 0usize;
    while k0 < inputs {
        // The x tile: tile_rows × depth, `tile_rows * depth / 256` values per unit.
        #[unroll]
        for l in 0..comptime![(tile_rows * TILE_DEPTH / LINEAR_UNITS) as usize] {
            let index = l * 256 + unit;
            let r = index / depth;
            let k = index % depth;
            let mut v = 0.0f32;
            if row0 + r < rows && k0 + k < inputs {
                v = x[(row0 + r) * inputs + k0 + k];
            }
            xs[index] = v;
        }
        // The w tile: depth × columns, 4 values per unit.
        #[unroll]
        for l in 0..comptime![(TILE_DEPTH * TILE_COLUMNS / LINEAR_UNITS) as usize] {
            let index = l * 256 + unit;
            let k = index / columns;
            let c = index % columns;
            let mut v = 0.0f32;
            if k0 + k < inputs && col0 + c < outputs {
                v = w[(k0 + k) * outputs + col0 + c];
            }
            ws[index] = v;
        }
        sync_cube();
        #[unroll]
        for k in 0..depth {
            #[unroll]
            for i in 0..rows_per_unit {
                let xv = xs[(ty + i * 16) * depth + k];
                #[unroll]
                for j in 0..4usize {
                    acc[i * 4 + j] += xv * ws[k * columns + tx + j * 16];
                }
            }
        }
        sync_cube();
        k0 += depth;
    }

    #[unroll]
    for i in 0..rows_per_unit {
        let r = row0 + ty + i * 16;
        #[unroll]
        for j in 0..4usize {
            let c = col0 + tx + j * 16;
            if r < rows && c < outputs {
                let mut y = acc[i * 4 + j];
                if comptime![has_bias] {
                    y += bias[c];
                }
                if comptime![gelu] {
                    y = erf_gelu(y);
                }
                output[r * outputs + c] = y;
            }
        }
    }
}

/// The cubecl tensor behind `t`, contiguous; `None` when `t` is not on a cubecl device.
fn cube<const D: usize>(t: Tensor<D>) -> Option<CubeTensor> {
    t.try_into_primitive::<Cube>().ok().map(into_contiguous)
}

fn tensor<const D: usize>(t: CubeTensor) -> Tensor<D> {
    Tensor::from_primitive::<Cube>(t)
}

/// An empty f32 tensor of `shape` on `like`'s device.
fn empty_like(like: &CubeTensor, shape: Vec<usize>) -> CubeTensor {
    empty_device_dtype(
        like.client.clone(),
        like.device.clone(),
        shape.into(),
        like.dtype,
    )
}

fn grid_1d(units: usize, per_group: u32) -> CubeCount {
    let groups = units.div_ceil(per_group as usize).max(1) as u32;
    // NOTE: WebGPU allows 65535 workgroups per dimension.
    let x = groups.min(65_535);
    CubeCount::Static(x, groups.div_ceil(x), 1)
}

/// The erf-GELU of every value of `x`.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let dims = x.dims();
    let Some(x) = cube(x) else {
        unreachable!("the GELU input of a WebGPU model is on the GPU");
    };
    let len = x.meta.num_elements();
    let output = empty_like(&x, dims.to_vec());
    let client = x.client.clone();
    // SAFETY: both buffers hold `len` f32 values; the kernel writes only below `len`.
    unsafe {
        gelu_kernel::launch_unchecked(
            &client,
            grid_1d(len, ELEMENTWISE_UNITS),
            CubeDim::new_1d(ELEMENTWISE_UNITS),
            x.into_buffer_arg(),
            output.clone().into_buffer_arg(),
            len,
        );
    }
    tensor(output)
}

/// Whether [`attention`] takes these inputs: a sequence and a head that fit its workgroup
/// memory, and a bias that broadcasts to `[batch, heads, seq, seq]`.
pub fn attention_fits(
    query: &Tensor<3>,
    key: &Tensor<3>,
    value: &Tensor<3>,
    bias: &Tensor<4>,
    heads: usize,
) -> bool {
    let [batch, seq, width] = query.dims();
    heads > 0
        && width % heads == 0
        && seq <= ATTENTION_MAX_SEQ
        && width / heads <= ATTENTION_MAX_HEAD_DIM
        && batch <= 65_535
        && key.dims() == [batch, seq, width]
        && value.dims() == [batch, seq, width]
        && bias
            .dims()
            .iter()
            .zip([batch, heads, seq, seq])
            .all(|(&b, full)| b == 1 || b == full)
}

/// `softmax(Q·Kᵀ · scale + bias) · V` per head, heads merged: [`super::attention`]'s contract,
/// for inputs [`attention_fits`] takes.
pub fn attention(
    query: Tensor<3>,
    key: Tensor<3>,
    value: Tensor<3>,
    bias: Tensor<4>,
    heads: usize,
    scale: f32,
) -> Tensor<3> {
    assert!(
        attention_fits(&query, &key, &value, &bias, heads),
        "attention inputs the kernel does not take"
    );
    let [batch, seq, width] = query.dims();
    let bias_dims = bias.dims();
    let head_dim = width / heads;
    let (Some(q), Some(k), Some(v), Some(b)) = (cube(query), cube(key), cube(value), cube(bias))
    else {
        unreachable!("the attention inputs of a WebGPU model are on the GPU");
    };
    // A broadcast dimension of the bias is read with stride 0.
    let strides = b.meta.strides().clone();
    let bias_strides: Vec<usize> = (0..4)
        .map(|d| if bias_dims[d] == 1 { 0 } else { strides[d] })
        .collect();
    let output = empty_like(&q, vec![batch, seq, width]);
    let client = q.client.clone();
    // SAFETY: the workgroups index rows below `batch · seq` and columns below `width` of the
    // three `[batch, seq, width]` inputs and the output, and the bias within its strides.
    unsafe {
        attention_kernel::launch_unchecked(
            &client,
            CubeCount::Static(seq as u32, heads as u32, batch as u32),
            CubeDim::new_1d(ATTENTION_UNITS),
            q.into_buffer_arg(),
            k.into_buffer_arg(),
            v.into_buffer_arg(),
            b.into_buffer_arg(),
            output.clone().into_buffer_arg(),
            seq,
            head_dim,
            width,
            bias_strides[0],
            bias_strides[1],
            bias_strides[2],
            bias_strides[3],
            scale,
            ATTENTION_UNITS,
        );
    }
    tensor(output)
}

/// `LayerNorm(a + b)` over the last dimension, `· gamma + beta`.
pub fn add_layer_norm<const D: usize>(
    a: Tensor<D>,
    b: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f32,
) -> Tensor<D> {
    let dims = a.dims();
    let width = dims[D - 1];
    let b = if b.dims() == dims { b } else { b.expand(dims) };
    let (Some(a), Some(b), Some(gamma), Some(beta)) = (cube(a), cube(b), cube(gamma), cube(beta))
    else {
        unreachable!("the LayerNorm inputs of a WebGPU model are on the GPU");
    };
    let rows = a.meta.num_elements() / width.max(1);
    let output = empty_like(&a, dims.to_vec());
    let client = a.client.clone();
    // SAFETY: `rows` workgroups, each indexing its own row of `width` values.
    unsafe {
        add_layer_norm_kernel::launch_unchecked(
            &client,
            grid_1d(rows, 1),
            CubeDim::new_1d(LAYER_NORM_UNITS),
            a.into_buffer_arg(),
            b.into_buffer_arg(),
            gamma.into_buffer_arg(),
            beta.into_buffer_arg(),
            output.clone().into_buffer_arg(),
            width,
            epsilon,
            LAYER_NORM_UNITS,
        );
    }
    tensor(output)
}

/// `x · weight (+ bias)` over the last dimension of `x`, then the GELU when `gelu`.
///
/// NOTE: the tile is chosen by the number of rows: a short pair's 32 rows would leave half of a
/// 64-row tile idle.
pub fn linear<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    gelu: bool,
) -> Tensor<D> {
    let mut dims = x.dims();
    let [inputs, outputs] = weight.dims();
    let rows = x.shape().num_elements() / inputs.max(1);
    let has_bias = bias.is_some();
    let (Some(x), Some(w)) = (cube(x), cube(weight)) else {
        unreachable!("the linear layers of a WebGPU model are on the GPU");
    };
    // NOTE: without a bias the kernel never reads its binding; the weights (read-only, as the
    // bias would be) fill it.
    let Some(bias) = bias.map_or_else(|| Some(w.clone()), cube) else {
        unreachable!("a WebGPU layer's bias is on the GPU");
    };
    dims[D - 1] = outputs;
    let output = empty_like(&x, dims.to_vec());
    let tile_rows: u32 = if rows <= 32 { 32 } else { 64 };
    let count = CubeCount::Static(
        outputs.div_ceil(TILE_COLUMNS as usize) as u32,
        rows.div_ceil(tile_rows as usize) as u32,
        1,
    );
    let client = x.client.clone();
    // SAFETY: the kernel reads `x` and `w` only within `rows × inputs` and `inputs × outputs`
    // and writes the output only within `rows × outputs`.
    unsafe {
        linear_kernel::launch_unchecked(
            &client,
            count,
            CubeDim::new_1d(LINEAR_UNITS),
            x.into_buffer_arg(),
            w.into_buffer_arg(),
            bias.into_buffer_arg(),
            output.clone().into_buffer_arg(),
            rows,
            inputs,
            outputs,
            tile_rows,
            has_bias,
            gelu,
        );
    }
    tensor(output)
}
