//! WebGPU kernels for the fused nodes: one compute dispatch each where burn runs a dozen ops.
//!
//! Written with cubecl (`#[cube]`, compiled to WGSL by burn's wgpu runtime, natively and in the
//! browser) and launched on burn's own cubecl tensors, so they read and write the buffers the
//! rest of the model uses, without copies:
//!
//! * [`attention`]: `softmax(Q·Kᵀ · scale + bias) · V`, an invocation per query row of one head
//!   (an online softmax over the keys): no `[batch, heads, seq, seq]` tensor, no head split or
//!   merge, where burn ran two matrix products, the scale, the mask, five softmax passes and the
//!   copies of the transposes (about 12 dispatches);
//! * [`add_layer_norm`]: `LayerNorm(a + b)`, an invocation per row, where the graph's
//!   decomposed LayerNorm and its residual add were 10 dispatches;
//! * [`linear`]: `x · W + bias`, optionally followed by the erf-GELU, in one product kernel
//!   ([`product`]; burn's `linear` is the product and a second pass for the bias, the GELU was a
//!   third), or natively for many rows burn's product;
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

/// The longest sequence [`attention`] takes (XLM-R's 512 positions).
pub const ATTENTION_MAX_SEQ: usize = 512;
/// The widest head [`attention`] keeps in registers.
const ATTENTION_MAX_HEAD_DIM: usize = 128;
/// Values in each of [`attention_tiled_kernel`]'s two workgroup tiles (keys, values): 4 KiB
/// each, within WebGPU's default 16 KiB of workgroup memory at any head width.
const ATTENTION_TILE_VALUES: usize = 1024;
/// Threads of a workgroup: attention (one query row each), LayerNorm (one row each), GELU (one
/// value each).
const UNITS: u32 = 64;
/// The most rows [`linear`] multiplies with its own kernel: every batch in the browser, up to 64
/// natively (see [`linear`]).
pub const OUR_PRODUCT_MAX_ROWS: usize = if cfg!(target_arch = "wasm32") {
    usize::MAX
} else {
    64
};
/// Rows of a [`linear`] workgroup's tile (4 invocations × 4).
const TILE_ROWS: usize = 16;
/// Invocations of a [`linear`] workgroup side by side over the columns (16 × 4 = [`UNITS`]).
const COLUMN_LANES: usize = 16;

/// What the device's adapter is, for the kernels' shapes; set when the device opens
/// ([`set_adapter_kind`], `src/device.rs`; a process opens one device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterKind {
    /// It runs on the CPU (a fallback adapter in a browser, SwiftShader; lavapipe natively): an
    /// invocation is a CPU thread's loop, and a barrier switches every invocation of the
    /// workgroup.
    Cpu,
    /// A GPU: neighbouring invocations' loads and stores coalesce, and barriers are cheap.
    Hardware,
}

impl AdapterKind {
    /// [`AdapterKind::Cpu`] where `runs_on_cpu`, else [`AdapterKind::Hardware`].
    pub fn of(runs_on_cpu: bool) -> Self {
        if runs_on_cpu {
            Self::Cpu
        } else {
            Self::Hardware
        }
    }
}

/// The kind of this process's adapter (0: CPU, 1: hardware).
static ADAPTER_KIND: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Sets the kind of adapter the kernels are shaped for, for the device just opened.
pub fn set_adapter_kind(kind: AdapterKind) {
    let code = match kind {
        AdapterKind::Cpu => 0,
        AdapterKind::Hardware => 1,
    };
    ADAPTER_KIND.store(code, std::sync::atomic::Ordering::Relaxed);
}

/// The kind of adapter the kernels are shaped for on this process's device.
pub fn adapter_kind() -> AdapterKind {
    match ADAPTER_KIND.load(std::sync::atomic::Ordering::Relaxed) {
        1 => AdapterKind::Hardware,
        _ => AdapterKind::Cpu,
    }
}

/// How [`product`] lays out each invocation's block of the output, by [`AdapterKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductLayout {
    /// Each invocation 4 rows × 16 adjacent columns; a workgroup 256 columns × 16 rows. For
    /// adapters that run on the CPU, where an invocation's 16 adjacent loads are one cache-line
    /// run: measured fastest there (BENCHMARKS.md, section 3).
    Blocked,
    /// Each invocation 4 rows × 8 columns, 16 columns apart: at each step the 16 lanes of a row
    /// group read 16 adjacent weights (one 64-byte segment) and write 16 adjacent outputs; a
    /// workgroup 128 columns × 16 rows, which divides 384 and 1536 (the blocked tile of 256
    /// leaves a quarter of the invocations idle at 384). For hardware GPUs, where a subgroup's
    /// loads coalesce; half the accumulators of [`ProductLayout::Blocked`].
    Interleaved,
}

impl ProductLayout {
    /// The layout for an adapter of `kind`.
    pub fn for_adapter(kind: AdapterKind) -> Self {
        match kind {
            AdapterKind::Cpu => Self::Blocked,
            AdapterKind::Hardware => Self::Interleaved,
        }
    }

    /// Output columns one invocation accumulates (by 4 rows).
    pub const fn block_columns(self) -> usize {
        match self {
            Self::Blocked => 16,
            Self::Interleaved => 8,
        }
    }

    /// Columns apart of an invocation's consecutive block columns.
    pub const fn column_step(self) -> usize {
        match self {
            Self::Blocked => 1,
            Self::Interleaved => COLUMN_LANES,
        }
    }

    /// Columns of a workgroup's tile.
    pub const fn tile_columns(self) -> usize {
        COLUMN_LANES * self.block_columns()
    }

    /// The output column of block column `j` of the invocation at `lane` (0..16) in the tile
    /// starting at `tile`: the address model of the kernel (`linear_kernel` computes the same).
    pub const fn column(self, tile: usize, lane: usize, j: usize) -> usize {
        match self {
            Self::Blocked => tile + lane * self.block_columns() + j,
            Self::Interleaved => tile + lane + COLUMN_LANES * j,
        }
    }
}

// NOTE: on adapters that run on the CPU no kernel here uses workgroup memory or barriers. A
// first version did (a workgroup per query row with the scores in workgroup memory and tree
// reductions, a workgroup per LayerNorm row, 64 × 64 shared-memory tiles for the products): on
// the GPUs that run on the CPU (lavapipe, SwiftShader, what browsers without a GPU get) each
// barrier costs a switch of every invocation of the workgroup, and the tiny fixture's attention
// took 180 ms a layer on lavapipe. One invocation per query row (an online softmax over the
// keys, the head in registers) or per LayerNorm row, and products that accumulate a 4 × 16
// block in registers, cost no barrier. On hardware GPUs the LayerNorm takes a workgroup per row,
// attention reads its keys in workgroup tiles and the product interleaves its columns
// (`AdapterKind`).
// NOTE: 4 × 16, not 4 × 4 or 4 × 8: each load then feeds more multiply-adds; on lavapipe 4 × 16
// was 1.4× 4 × 4 at 16 × 128, and in Chromium on SwiftShader eight pairs went from 10.9 s to
// 7.8 s (BENCHMARKS.md section 3).

/// `x · 0.5 · (1 + erf(x / √2))`.
#[cube]
fn erf_gelu(x: f32) -> f32 {
    x * 0.5 * (1.0 + Erf::erf(x * 0.70710677))
}

/// The erf-GELU of each value (plus its column's bias, when `has_bias`); `columns` is the
/// width of a row.
#[cube(launch_unchecked)]
fn gelu_kernel(
    input: &[f32],
    bias: &[f32],
    output: &mut [f32],
    len: usize,
    columns: usize,
    #[comptime] has_bias: bool,
) {
    let i = ABSOLUTE_POS;
    if i < len {
        let mut x = input[i];
        if comptime![has_bias] {
            x += bias[i % columns];
        }
        output[i] = erf_gelu(x);
    }
}

/// One query row's online softmax over its keys, in registers: the largest score so far, the sum
/// of the weights and the weighted sum of the values (`acc`, the head's width), both kept
/// relative to that maximum. Shared by both attention kernels.
///
/// NOTE: WGSL lets an implementation assume no infinities, so none is made here: a score is at
/// least the lowest finite f32 (a mask some export left as -inf), and each exponent at least -80
/// (exp(-80) = 1.8e-35, nothing beside the row's largest weight, which is 1).
#[derive(CubeType)]
struct OnlineSoftmax {
    peak: f32,
    sum: f32,
    acc: Array<f32>,
}

#[cube]
impl OnlineSoftmax {
    fn new(#[comptime] head_dim: usize) -> OnlineSoftmax {
        let mut acc = Array::<f32>::new(head_dim);
        #[unroll]
        for d in 0..head_dim {
            acc[d] = 0.0;
        }
        OnlineSoftmax {
            peak: f32::new(-3.4028235e38),
            sum: f32::new(0.0),
            acc,
        }
    }

    /// Takes a key's score (clamped to the lowest finite f32): rescales the sum and `acc` when it
    /// raises the maximum, adds its weight to the sum and returns it, for the caller to add
    /// `weight · value` to `acc`.
    fn weigh(&mut self, raw: f32, #[comptime] head_dim: usize) -> f32 {
        let floor = f32::new(-80.0);
        let score = max(raw, f32::new(-3.4028235e38));
        if score > self.peak {
            // The running sum and output, rescaled to the new maximum.
            let correction = f32::exp(max(self.peak - score, floor));
            self.sum *= correction;
            #[unroll]
            for d in 0..head_dim {
                self.acc[d] *= correction;
            }
            self.peak = score;
        }
        let weight = f32::exp(max(score - self.peak, floor));
        self.sum += weight;
        weight
    }

    /// Writes the row's output, `acc / sum`, at `output[start..start + head_dim]`.
    fn write(&self, output: &mut [f32], start: usize, #[comptime] head_dim: usize) {
        let inverse = 1.0f32 / self.sum;
        #[unroll]
        for d in 0..head_dim {
            output[start + d] = self.acc[d] * inverse;
        }
    }
}

/// One invocation per (batch row, head, query row), in that order (neighbours share their keys
/// and values): `softmax(q·Kᵀ · scale + bias) · V` as an online softmax over the keys, the row's
/// query and output in registers.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn attention_kernel(
    query: &[f32],
    key: &[f32],
    value: &[f32],
    bias: &[f32],
    output: &mut [f32],
    rows: usize,
    seq: usize,
    heads: usize,
    width: usize,
    bias_batch: usize,
    bias_head: usize,
    bias_row: usize,
    bias_key: usize,
    scale: f32,
    #[comptime] head_dim: usize,
) {
    let index = ABSOLUTE_POS;
    if index >= rows {
        terminate!();
    }
    let row = index % seq;
    let head = (index / seq) % heads;
    let batch = index / (seq * heads);
    let q_start = (batch * seq + row) * width + head * head_dim;
    let mut q = Array::<f32>::new(head_dim);
    #[unroll]
    for d in 0..head_dim {
        q[d] = query[q_start + d];
    }
    let bias_start = batch * bias_batch + head * bias_head + row * bias_row;
    let mut softmax = OnlineSoftmax::new(head_dim);
    for j in 0..seq {
        let k_start = (batch * seq + j) * width + head * head_dim;
        let mut dot = f32::new(0.0);
        #[unroll]
        for d in 0..head_dim {
            dot += q[d] * key[k_start + d];
        }
        let weight = softmax.weigh(dot * scale + bias[bias_start + j * bias_key], head_dim);
        #[unroll]
        for d in 0..head_dim {
            softmax.acc[d] += weight * value[k_start + d];
        }
    }
    softmax.write(output, q_start, head_dim);
}

/// [`attention_kernel`] for hardware GPUs: a workgroup per (batch row, head, block of
/// [`UNITS`] query rows), an invocation per query row as there, the keys and values read in
/// tiles of `tile` keys that the workgroup loads once into workgroup memory (neighbouring
/// invocations load adjacent values), where each invocation read every key and value itself.
/// `tile · head_dim` is [`ATTENTION_TILE_VALUES`] (8 KiB for both tiles).
/// NOTE: the barriers sit in a loop whose bound (`seq`) every invocation shares and in no branch
/// (WGSL wants them in uniform control flow): rows past the end compute the last row and write
/// nothing, keys past the end are loaded as the last key and not scored.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn attention_tiled_kernel(
    query: &[f32],
    key: &[f32],
    value: &[f32],
    bias: &[f32],
    output: &mut [f32],
    seq: usize,
    heads: usize,
    width: usize,
    bias_batch: usize,
    bias_head: usize,
    bias_row: usize,
    bias_key: usize,
    scale: f32,
    #[comptime] head_dim: usize,
    #[comptime] tile: usize,
) {
    let units = comptime![UNITS as usize];
    let lane = UNIT_POS as usize;
    // NOTE: spelt out: cubecl's kernel language has no `div_ceil`.
    #[allow(clippy::manual_div_ceil)]
    let blocks = (seq + units - 1) / units;
    let group = CUBE_POS;
    let block = group % blocks;
    let head = (group / blocks) % heads;
    let batch = group / (blocks * heads);
    let wanted = block * units + lane;
    let row = select(wanted < seq, wanted, seq - 1);
    let q_start = (batch * seq + row) * width + head * head_dim;
    let mut q = Array::<f32>::new(head_dim);
    #[unroll]
    for d in 0..head_dim {
        q[d] = query[q_start + d];
    }
    let bias_start = batch * bias_batch + head * bias_head + row * bias_row;
    let mut keys = Shared::<[f32]>::new_slice(comptime![tile * head_dim]);
    let mut values = Shared::<[f32]>::new_slice(comptime![tile * head_dim]);
    let mut softmax = OnlineSoftmax::new(head_dim);
    let mut first = 0usize;
    while first < seq {
        // The tile's keys and values, each invocation every 64th value of it.
        let mut e = lane;
        while e < comptime![tile * head_dim] {
            let j = first + e / head_dim;
            let source = (batch * seq + select(j < seq, j, seq - 1)) * width + head * head_dim;
            keys[e] = key[source + e % head_dim];
            values[e] = value[source + e % head_dim];
            e += units;
        }
        sync_cube();
        for t in 0..tile {
            // Keys past the end (the last tile's tail) are not scored.
            if first + t >= seq {
                break;
            }
            let mut dot = f32::new(0.0);
            #[unroll]
            for d in 0..head_dim {
                dot += q[d] * keys[t * head_dim + d];
            }
            let score = dot * scale + bias[bias_start + (first + t) * bias_key];
            let weight = softmax.weigh(score, head_dim);
            #[unroll]
            for d in 0..head_dim {
                softmax.acc[d] += weight * values[t * head_dim + d];
            }
        }
        sync_cube();
        first += tile;
    }
    if wanted < seq {
        softmax.write(output, q_start, head_dim);
    }
}

/// One invocation per row: `LayerNorm(a + b) · gamma + beta` over the last dimension, in three
/// passes over the row (the sum, the squared deviations, the output).
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn add_layer_norm_kernel(
    a: &[f32],
    b: &[f32],
    gamma: &[f32],
    beta: &[f32],
    output: &mut [f32],
    rows: usize,
    width: usize,
    epsilon: f32,
) {
    let row = ABSOLUTE_POS;
    if row >= rows {
        terminate!();
    }
    let start = row * width;
    let mut total = f32::new(0.0);
    for i in 0..width {
        let x = a[start + i] + b[start + i];
        output[start + i] = x;
        total += x;
    }
    let count = f32::cast_from(width);
    let mean = total / count;
    let mut squares = f32::new(0.0);
    for i in 0..width {
        let d = output[start + i] - mean;
        squares += d * d;
    }
    let deviation = f32::sqrt(squares / count + epsilon);
    for i in 0..width {
        output[start + i] = (output[start + i] - mean) / deviation * gamma[i] + beta[i];
    }
}

/// One workgroup of [`UNITS`] invocations per row: `LayerNorm(a + b) · gamma + beta` over the
/// last dimension, the row's sum and squared deviations gathered in workgroup memory (two
/// barriers); invocation `u` reads and writes values `u, u + 64, …`, so neighbours touch
/// adjacent values. For hardware GPUs ([`AdapterKind::Hardware`]); `add_layer_norm_kernel`, an
/// invocation per row with no barrier, stays for adapters that run on the CPU.
/// NOTE: no branch around the barriers (WGSL wants them in uniform control flow): a workgroup
/// past the last row reads the last row and writes nothing.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn add_layer_norm_rows_kernel(
    a: &[f32],
    b: &[f32],
    gamma: &[f32],
    beta: &[f32],
    output: &mut [f32],
    rows: usize,
    width: usize,
    epsilon: f32,
) {
    let units = comptime![UNITS as usize];
    let lane = UNIT_POS as usize;
    let group = CUBE_POS;
    let row = select(group < rows, group, rows - 1);
    let start = row * width;
    let mut sums = Shared::<[f32]>::new_slice(units);
    let mut squares = Shared::<[f32]>::new_slice(units);
    let mut sum = f32::new(0.0);
    let mut i = lane;
    while i < width {
        sum += a[start + i] + b[start + i];
        i += units;
    }
    sums[lane] = sum;
    sync_cube();
    let mut total = f32::new(0.0);
    for u in 0..units {
        total += sums[u];
    }
    let count = f32::cast_from(width);
    let mean = total / count;
    let mut deviations = f32::new(0.0);
    let mut i = lane;
    while i < width {
        let d = a[start + i] + b[start + i] - mean;
        deviations += d * d;
        i += units;
    }
    squares[lane] = deviations;
    sync_cube();
    let mut squared = f32::new(0.0);
    for u in 0..units {
        squared += squares[u];
    }
    let deviation = f32::sqrt(squared / count + epsilon);
    if group < rows {
        let mut i = lane;
        while i < width {
            let x = a[start + i] + b[start + i];
            output[start + i] = (x - mean) / deviation * gamma[i] + beta[i];
            i += units;
        }
    }
}

/// `x · w (+ bias)` (then the GELU when `gelu`): each invocation a block of 4 rows × `cols`
/// columns of the output, `step` columns apart (1: adjacent; 16: interleaved with its
/// neighbours', see [`ProductLayout`]), accumulated in registers; a workgroup of 16 × 4
/// invocations covers `16 · cols` columns and 16 rows.
/// `x` is `rows × inputs`, `w` `inputs × outputs`.
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
    #[comptime] has_bias: bool,
    #[comptime] gelu: bool,
    #[comptime] cols: usize,
    #[comptime] step: usize,
) {
    let unit = UNIT_POS_X as usize;
    let lane = unit % 16;
    // ProductLayout::column: the first block column (a lane's block, or its own column of each
    // group of 16), then `step` apart.
    let spread = comptime![if step == 1 { cols } else { 1usize }];
    let column = CUBE_POS_X as usize * (16 * cols) + lane * spread;
    let row = CUBE_POS_Y as usize * 16 + (unit / 16) * 4;
    if column >= outputs || row >= rows {
        terminate!();
    }
    // The block's rows and columns past the edge read the last row or column (in bounds); their
    // results are not written.
    let mut x_starts = Array::<usize>::new(4usize);
    #[unroll]
    for i in 0..4usize {
        x_starts[i] = select(row + i < rows, row + i, rows - 1) * inputs;
    }
    let mut columns = Array::<usize>::new(cols);
    #[unroll]
    for j in 0..cols {
        columns[j] = select(column + j * step < outputs, column + j * step, outputs - 1);
    }
    let mut acc = Array::<f32>::new(comptime![4 * cols]);
    #[unroll]
    for i in 0..4 * cols {
        acc[i] = 0.0;
    }
    for k in 0..inputs {
        let w_start = k * outputs;
        let mut ws = Array::<f32>::new(cols);
        #[unroll]
        for j in 0..cols {
            ws[j] = w[w_start + columns[j]];
        }
        #[unroll]
        for i in 0..4usize {
            let xv = x[x_starts[i] + k];
            #[unroll]
            for j in 0..cols {
                acc[i * cols + j] += xv * ws[j];
            }
        }
    }
    #[unroll]
    for i in 0..4usize {
        #[unroll]
        for j in 0..cols {
            if row + i < rows && column + j * step < outputs {
                let mut y = acc[i * cols + j];
                if comptime![has_bias] {
                    y += bias[column + j * step];
                }
                if comptime![gelu] {
                    y = erf_gelu(y);
                }
                output[(row + i) * outputs + column + j * step] = y;
            }
        }
    }
}

/// The cubecl tensor behind `t`, contiguous.
///
/// NOTE: only called for tensors of a model on WebGPU: the callers in `super` run these
/// kernels after checking the device.
fn cube<const D: usize>(t: Tensor<D>) -> CubeTensor {
    match t.try_into_primitive::<Cube>() {
        Ok(tensor) => into_contiguous(tensor),
        Err(e) => unreachable!("a tensor of a WebGPU model is a cubecl tensor: {e:?}"),
    }
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
    bias_gelu(x, None)
}

/// The erf-GELU of every value of `x` plus its column's `bias` (the last dimension's).
fn bias_gelu<const D: usize>(x: Tensor<D>, bias: Option<Tensor<1>>) -> Tensor<D> {
    let dims = x.dims();
    let columns = dims[D - 1].max(1);
    let x = cube(x);
    let has_bias = bias.is_some();
    let bias = bias.map_or_else(|| unused_binding(&x), cube);
    let len = x.meta.num_elements();
    let output = empty_like(&x, dims.to_vec());
    let client = x.client.clone();
    // SAFETY: the buffers hold `len` f32 values (the bias one per column); the kernel writes
    // only below `len`.
    unsafe {
        gelu_kernel::launch_unchecked(
            &client,
            grid_1d(len, UNITS),
            CubeDim::new_1d(UNITS),
            x.into_buffer_arg(),
            bias.into_buffer_arg(),
            output.clone().into_buffer_arg(),
            len,
            columns,
            has_bias,
        );
    }
    tensor(output)
}

/// A one-value buffer for a binding the kernel never reads (an absent bias).
///
/// NOTE: not another binding's buffer: cubecl binds inputs read-write, and WebGPU forbids a
/// writable binding that aliases another.
fn unused_binding(like: &CubeTensor) -> CubeTensor {
    empty_like(like, vec![1])
}

/// Whether [`attention`] takes these inputs: a sequence within the model's 512 positions, a
/// head that fits its registers, and a bias that broadcasts to `[batch, heads, seq, seq]`.
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
    attention_for(adapter_kind(), query, key, value, bias, heads, scale)
}

/// [`attention`] with the kernel for an adapter of `kind`: an invocation per query row reading
/// every key itself ([`AdapterKind::Cpu`]), or with the keys and values in workgroup tiles
/// ([`AdapterKind::Hardware`]).
pub fn attention_for(
    kind: AdapterKind,
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
    let (q, k, v, b) = (cube(query), cube(key), cube(value), cube(bias));
    // A broadcast dimension of the bias is read with stride 0.
    let strides = b.meta.strides().clone();
    let bias_strides: Vec<usize> = (0..4)
        .map(|d| if bias_dims[d] == 1 { 0 } else { strides[d] })
        .collect();
    let output = empty_like(&q, vec![batch, seq, width]);
    let client = q.client.clone();
    let rows = batch * heads * seq;
    let args = (
        q.into_buffer_arg(),
        k.into_buffer_arg(),
        v.into_buffer_arg(),
        b.into_buffer_arg(),
        output.clone().into_buffer_arg(),
    );
    // SAFETY: the invocations below `rows` (or the workgroups' rows below `seq`) index rows below
    // `batch · seq` and columns below `width` of the three `[batch, seq, width]` inputs and the
    // output, and the bias within its strides.
    unsafe {
        match kind {
            AdapterKind::Cpu => attention_kernel::launch_unchecked(
                &client,
                grid_1d(rows, UNITS),
                CubeDim::new_1d(UNITS),
                args.0,
                args.1,
                args.2,
                args.3,
                args.4,
                rows,
                seq,
                heads,
                width,
                bias_strides[0],
                bias_strides[1],
                bias_strides[2],
                bias_strides[3],
                scale,
                head_dim,
            ),
            AdapterKind::Hardware => attention_tiled_kernel::launch_unchecked(
                &client,
                grid_1d(batch * heads * seq.div_ceil(UNITS as usize), 1),
                CubeDim::new_1d(UNITS),
                args.0,
                args.1,
                args.2,
                args.3,
                args.4,
                seq,
                heads,
                width,
                bias_strides[0],
                bias_strides[1],
                bias_strides[2],
                bias_strides[3],
                scale,
                head_dim,
                ATTENTION_TILE_VALUES / head_dim,
            ),
        }
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
    add_layer_norm_for(adapter_kind(), a, b, gamma, beta, epsilon)
}

/// [`add_layer_norm`] with the kernel for an adapter of `kind`: an invocation per row
/// ([`AdapterKind::Cpu`]) or a workgroup per row ([`AdapterKind::Hardware`]).
pub fn add_layer_norm_for<const D: usize>(
    kind: AdapterKind,
    a: Tensor<D>,
    b: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f32,
) -> Tensor<D> {
    let dims = a.dims();
    let width = dims[D - 1];
    let b = if b.dims() == dims { b } else { b.expand(dims) };
    let (a, b, gamma, beta) = (cube(a), cube(b), cube(gamma), cube(beta));
    let rows = a.meta.num_elements() / width.max(1);
    let output = empty_like(&a, dims.to_vec());
    let client = a.client.clone();
    let args = (
        a.into_buffer_arg(),
        b.into_buffer_arg(),
        gamma.into_buffer_arg(),
        beta.into_buffer_arg(),
        output.clone().into_buffer_arg(),
    );
    // SAFETY: each invocation (or workgroup) below `rows` indexes its own row of `width` values;
    // a workgroup past the last row reads the last row and writes nothing.
    unsafe {
        match kind {
            AdapterKind::Cpu => add_layer_norm_kernel::launch_unchecked(
                &client,
                grid_1d(rows, UNITS),
                CubeDim::new_1d(UNITS),
                args.0,
                args.1,
                args.2,
                args.3,
                args.4,
                rows,
                width,
                epsilon,
            ),
            AdapterKind::Hardware => add_layer_norm_rows_kernel::launch_unchecked(
                &client,
                grid_1d(rows, 1),
                CubeDim::new_1d(UNITS),
                args.0,
                args.1,
                args.2,
                args.3,
                args.4,
                rows,
                width,
                epsilon,
            ),
        }
    }
    tensor(output)
}

/// `x · weight (+ bias)` over the last dimension of `x`, then the GELU when `gelu`.
///
/// NOTE: chosen by shape and platform, as measured (BENCHMARKS.md section 3). Up to
/// [`OUR_PRODUCT_MAX_ROWS`] rows our one dispatch, the bias and GELU applied as the product is
/// written; above, burn's product (cubek's tiled kernels) and one pass for the bias and GELU.
/// Natively on lavapipe (`examples/gpu_kernels.rs`) ours was 1.3–1.7× burn's at 32 rows and
/// burn's 1.2–1.4× ours from 128 rows on; in Chromium on SwiftShader burn's products made eight
/// pairs take 86–90 s against 7.8 s with ours, so the browser runs ours at every size.
pub fn linear<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    gelu: bool,
) -> Tensor<D> {
    let rows = x.shape().num_elements() / weight.dims()[0].max(1);
    if rows > OUR_PRODUCT_MAX_ROWS {
        // burn's product (cubek's tiled kernels), then the bias and the GELU in one pass.
        return if gelu {
            bias_gelu(burn::tensor::module::linear(x, weight, None), bias)
        } else {
            burn::tensor::module::linear(x, weight, bias)
        };
    }
    product(x, weight, bias, gelu)
}

/// [`linear`] with our kernel whatever the shape, in this device's [`ProductLayout`]: one
/// dispatch.
pub fn product<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    gelu: bool,
) -> Tensor<D> {
    product_in(
        ProductLayout::for_adapter(adapter_kind()),
        x,
        weight,
        bias,
        gelu,
    )
}

/// [`product`] in the given layout.
pub fn product_in<const D: usize>(
    layout: ProductLayout,
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    gelu: bool,
) -> Tensor<D> {
    let mut dims = x.dims();
    let [inputs, outputs] = weight.dims();
    let rows = x.shape().num_elements() / inputs.max(1);
    let has_bias = bias.is_some();
    let (x, w) = (cube(x), cube(weight));
    let bias = bias.map_or_else(|| unused_binding(&w), cube);
    dims[D - 1] = outputs;
    let output = empty_like(&x, dims.to_vec());
    let count = CubeCount::Static(
        outputs.div_ceil(layout.tile_columns()) as u32,
        rows.div_ceil(TILE_ROWS) as u32,
        1,
    );
    let client = x.client.clone();
    // SAFETY: the kernel reads `x` and `w` only within `rows × inputs` and `inputs × outputs`
    // and writes the output only within `rows × outputs`.
    unsafe {
        linear_kernel::launch_unchecked(
            &client,
            count,
            CubeDim::new_1d(UNITS),
            x.into_buffer_arg(),
            w.into_buffer_arg(),
            bias.into_buffer_arg(),
            output.clone().into_buffer_arg(),
            rows,
            inputs,
            outputs,
            has_bias,
            gelu,
            layout.block_columns(),
            layout.column_step(),
        );
    }
    tensor(output)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{AdapterKind, COLUMN_LANES, ProductLayout, TILE_ROWS, UNITS};

    /// A subgroup's width on most hardware (NVIDIA's warp; AMD's wave32, Intel's SIMD32).
    const SUBGROUP: usize = 32;
    const LINE_BYTES: usize = 128;

    /// The address model of [`super::product`]'s weight loads: at one step over the inputs, the
    /// cache lines of `w`'s row that the first subgroup of a workgroup touches, summed over the
    /// block's load instructions (each lane loads column `column(0, lane, j)` at instruction
    /// `j`); the row starts on a line (`outputs` a multiple of 32, as 384 and 1536 are).
    fn weight_lines_per_step(layout: ProductLayout) -> usize {
        (0..layout.block_columns())
            .map(|j| {
                (0..SUBGROUP)
                    .map(|unit| layout.column(0, unit % COLUMN_LANES, j) * 4 / LINE_BYTES)
                    .collect::<BTreeSet<_>>()
                    .len()
            })
            .sum()
    }

    /// Invocations of a product over `outputs` columns whose columns all lie past the edge, as a
    /// fraction of those launched.
    fn idle_fraction(layout: ProductLayout, outputs: usize) -> f64 {
        let tile = layout.tile_columns();
        let launched = outputs.div_ceil(tile) * tile;
        (launched - outputs) as f64 / launched as f64
    }

    #[test]
    fn each_layout_covers_each_column_of_a_tile_once() {
        for layout in [ProductLayout::Blocked, ProductLayout::Interleaved] {
            let mut seen: Vec<usize> = (0..COLUMN_LANES)
                .flat_map(|lane| (0..layout.block_columns()).map(move |j| (lane, j)))
                .map(|(lane, j)| layout.column(1024, lane, j))
                .collect();
            seen.sort_unstable();
            let tile: Vec<usize> = (1024..1024 + layout.tile_columns()).collect();
            assert_eq!(seen, tile, "{layout:?}");
            assert_eq!(
                COLUMN_LANES * (UNITS as usize / COLUMN_LANES),
                UNITS as usize
            );
            assert_eq!(TILE_ROWS, 4 * (UNITS as usize / COLUMN_LANES));
        }
    }

    /// The coalescing the hardware layout is for, by the address model: per output column and
    /// step, the blocked layout's subgroup touches 8× the cache lines (16 adjacent columns per
    /// lane: its 16 lanes' loads of one instruction are 64 bytes apart, 8 lines; the interleaved
    /// lanes' loads are adjacent, one line); and at the model's widths no invocation idles.
    #[test]
    fn the_interleaved_layout_coalesces_and_fills_the_model_widths() {
        let blocked = weight_lines_per_step(ProductLayout::Blocked);
        let interleaved = weight_lines_per_step(ProductLayout::Interleaved);
        assert_eq!((blocked, interleaved), (128, 8));
        let per_column =
            |lines: usize, layout: ProductLayout| lines as f64 / layout.tile_columns() as f64;
        assert_eq!(per_column(blocked, ProductLayout::Blocked), 0.5);
        assert_eq!(per_column(interleaved, ProductLayout::Interleaved), 0.0625);
        // 384 columns: the blocked tile of 256 launches 512, a quarter idle; 1536 fills both.
        assert_eq!(idle_fraction(ProductLayout::Blocked, 384), 0.25);
        for outputs in [384, 1536] {
            assert_eq!(idle_fraction(ProductLayout::Interleaved, outputs), 0.0);
        }
        assert_eq!(idle_fraction(ProductLayout::Blocked, 1536), 0.0);
        // Accumulators per invocation (registers): 4 × 16 against 4 × 8.
        assert_eq!(4 * ProductLayout::Blocked.block_columns(), 64);
        assert_eq!(4 * ProductLayout::Interleaved.block_columns(), 32);
        assert_eq!(
            ProductLayout::for_adapter(AdapterKind::of(true)),
            ProductLayout::Blocked
        );
        assert_eq!(
            ProductLayout::for_adapter(AdapterKind::of(false)),
            ProductLayout::Interleaved
        );
    }
}
