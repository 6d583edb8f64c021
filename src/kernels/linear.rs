//! The linear layer of the generated model code: burn's `nn::Linear`, plus int8 weights.
//!
//! The importer's override of burn-onnx's `Linear` (crates/import/src/codegen.rs) declares the
//! generated model's linear layers as this type and `LinearConfig`. The module has burn's
//! fields (`weight` `[inputs, outputs]`, optional `bias`), so weight files load into it exactly
//! as into burn's. How it multiplies:
//!
//! * on a GPU, our one-kernel product with the bias ([`super::gpu::linear`]);
//! * on the CPU, with weights the loader packed for a kernel of ours ([`Linear::use_packed`]):
//!   int8 ones multiplied in integers ([`super::int8_matmul`]), or f32 ones
//!   ([`super::f32_matmul`]); the layer then keeps only those, and its burn `weight` is never
//!   allocated;
//! * on the CPU otherwise, gemm on its f32 `weight`, called directly ([`gemm_forward`]).

use std::sync::Arc;

use burn::module::{Module, Param, ParamId};
use burn::prelude::{Device, Tensor};
use burn::tensor::{Bytes, DType, Shape};
use burn_flex::{Flex, FlexTensor, Layout};

use super::f32_matmul::{self, PackedF32};
use super::int8_i7_matmul::{self, PackedInt8I7};
use super::int8_matmul::{self, PackedInt8};
use super::{contiguous_f32, into_flex, on_cpu, parts};

/// How the int8 linear layers round each row of activations when they multiply in integers
/// (CPU, int8 weights, our kernels): the JS option `activations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activations {
    /// To 14–15 bits ([`crate::kernels::int8_matmul`]): logits within about 1e-3 of f32 products.
    #[default]
    I16,
    /// To 7 bits ([`crate::kernels::int8_i7_matmul`]): relaxed SIMD's int8 dot in the browser,
    /// logits about 1e-2 away, like onnxruntime's `q8` models.
    I7,
}

impl Activations {
    /// Every choice, the default first.
    pub const ALL: [Activations; 2] = [Activations::I16, Activations::I7];

    /// `'i16'` or `'i7'`, as the JS option spells it.
    pub fn name(self) -> &'static str {
        match self {
            Activations::I16 => "i16",
            Activations::I7 => "i7",
        }
    }
}

/// Which kernels the linear layers run on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinearKernels {
    /// Ours where this build has SIMD versions of them (wasm with simd128), gemm elsewhere.
    #[default]
    Auto,
    /// Ours: int8 weights multiplied in integers ([`crate::kernels::int8_matmul`]), f32 weights
    /// packed at load ([`crate::kernels::f32_matmul`]).
    Packed,
    /// gemm (the kernel burn's `linear` runs on the CPU) on the module's f32 weights: int8 ones
    /// are dequantized at load.
    Gemm,
}

impl LinearKernels {
    /// Whether the layers run our kernels on `device`. WebGPU always runs burn's.
    pub(crate) fn packed_on(self, device: &Device) -> bool {
        // NOTE: natively gemm's AVX2 kernels beat our portable loops (BENCHMARKS.md, section 6).
        let fast = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));
        *device == Device::flex()
            && match self {
                LinearKernels::Auto => fast,
                LinearKernels::Packed => true,
                LinearKernels::Gemm => false,
            }
    }
}

/// A fully connected layer: `y = x · weight + bias` over the last dimension.
#[derive(Module, Debug)]
pub struct Linear {
    /// `[inputs, outputs]`. Never materialised once the layer has int8 weights.
    pub weight: Param<Tensor<2>>,
    /// `[outputs]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// The weights packed for a kernel of ours, when the layer uses one (CPU only).
    #[module(skip)]
    packed: Option<Arc<PackedWeights>>,
}

/// A linear layer's weights packed for one of our CPU kernels.
#[derive(Debug, Clone)]
pub enum PackedWeights {
    /// int8, multiplied in integers ([`int8_matmul`]).
    Int8(PackedInt8),
    /// int8, multiplied in integers with 7-bit activations ([`int8_i7_matmul`]).
    Int8I7(PackedInt8I7),
    /// f32 ([`f32_matmul`]).
    F32(PackedF32),
}

impl PackedWeights {
    /// `[inputs, outputs]`.
    pub fn shape(&self) -> [usize; 2] {
        match self {
            PackedWeights::Int8(w) => w.shape(),
            PackedWeights::Int8I7(w) => w.shape(),
            PackedWeights::F32(w) => w.shape(),
        }
    }
}

/// burn's `LinearConfig`, as far as generated code uses it.
#[derive(Debug, Clone, Copy)]
pub struct LinearConfig {
    inputs: usize,
    outputs: usize,
    bias: bool,
}

impl LinearConfig {
    /// A layer from `inputs` to `outputs` features, with a bias.
    pub fn new(inputs: usize, outputs: usize) -> Self {
        Self {
            inputs,
            outputs,
            bias: true,
        }
    }

    /// With or without a bias.
    pub fn with_bias(self, bias: bool) -> Self {
        Self { bias, ..self }
    }

    /// The layer with its parameters declared, not allocated: loading weights sets them.
    pub fn init(&self, device: &Device) -> Linear {
        Linear {
            weight: zeros_until_loaded([self.inputs, self.outputs], device),
            bias: self
                .bias
                .then(|| zeros_until_loaded([self.outputs], device)),
            packed: None,
        }
    }
}

fn zeros_until_loaded<const D: usize>(shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::uninitialized(
        ParamId::new(),
        move |device, _| Tensor::zeros(shape, device),
        device.clone(),
        false,
        Shape::from(shape),
    )
}

impl Linear {
    /// `[inputs, outputs]`, without allocating the weight.
    pub fn shape(&self) -> [usize; 2] {
        let dims = self.weight.lazy_shape();
        [dims[0], dims[1]]
    }

    /// Makes the layer compute with these packed weights (on the CPU). Fails, changing
    /// nothing, when their shape is not the layer's.
    pub fn use_packed(&mut self, weights: PackedWeights) -> Result<(), String> {
        if weights.shape() != self.shape() {
            return Err(format!(
                "packed weights {:?} for a {:?} layer",
                weights.shape(),
                self.shape()
            ));
        }
        self.packed = Some(Arc::new(weights));
        Ok(())
    }

    /// Applies the layer to the last dimension of `input`.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        self.apply(input, false)
    }

    /// [`Self::forward`], then the erf-GELU ([`super::gelu`]): what crates/import/src/codegen.rs generates
    /// for a layer whose output only the GELU reads.
    pub fn forward_gelu<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        self.apply(input, true)
    }

    /// The layer, then the GELU when `gelu`: on WebGPU inside the product's kernel, on the CPU a
    /// pass of its own.
    fn apply<const D: usize>(&self, input: Tensor<D>, gelu: bool) -> Tensor<D> {
        let output = match &self.packed {
            Some(weights) => {
                // NOTE: the weights loader packs weights for layers on the CPU only.
                debug_assert!(on_cpu(&input), "packed layers run on the CPU");
                let bias = self.bias.as_ref().map(|b| into_flex(b.val()));
                Tensor::from_primitive::<Flex>(packed_forward(into_flex(input), weights, bias))
            }
            None if on_cpu(&input) => {
                let bias = self.bias.as_ref().map(|b| into_flex(b.val()));
                Tensor::from_primitive::<Flex>(gemm_forward(
                    into_flex(input),
                    into_flex(self.weight.val()),
                    bias,
                ))
            }
            #[cfg(reranker_wgpu)]
            None => {
                let bias = self.bias.as_ref().map(Param::val);
                return super::gpu::linear(input, self.weight.val(), bias, gelu);
            }
            #[cfg(not(reranker_wgpu))]
            None => burn::tensor::module::linear(
                input,
                self.weight.val(),
                self.bias.as_ref().map(Param::val),
            ),
        };
        if gelu { super::gelu(output) } else { output }
    }
}

/// The input's rows as one contiguous f32 matrix: `(tensor, rows, its dims)`, checked against
/// the layer's `inputs`.
fn input_rows(input: FlexTensor, inputs: usize) -> (FlexTensor, usize, Vec<usize>) {
    assert_eq!(input.dtype(), DType::F32, "linear layers compute in f32");
    let input = input.to_contiguous();
    let dims = input.layout().shape().to_vec();
    assert_eq!(
        dims.last(),
        Some(&inputs),
        "linear layer: input {dims:?} for {inputs} features"
    );
    let rows = dims.iter().rev().skip(1).product();
    (input, rows, dims)
}

/// `out` (`rows × outputs`) as a tensor of the input's dims with the last one `outputs`.
fn output_tensor(out: Vec<f32>, mut dims: Vec<usize>, outputs: usize) -> FlexTensor {
    *dims.last_mut().expect("an input has a last dimension") = outputs;
    FlexTensor::new(
        Bytes::from_elems(out),
        Layout::contiguous(Shape::from(dims)),
        DType::F32,
    )
}

/// Rows of the output per part when the product is spread over threads ([`parts`]).
const GEMM_PART_ROWS: usize = 16;

/// `x · W + bias` by gemm on the layer's f32 `weight` (`[inputs, outputs]`): the kernel burn's
/// `linear` runs on the CPU, called once for all rows.
///
/// NOTE: burn's `linear` made its output zeroed as bytes, then copied it to an aligned buffer,
/// then added the bias in a second pass, and ran gemm once per batch element: natively 10–15 %
/// of a 16 × 256 batch went to that memset, copy and the page faults of the extra buffers
/// (measured with `perf`). Here the output starts as the bias, gemm adds the product
/// to it, and the rows are cut in parts for the pool's threads ([`parts::product_in_row_parts`]).
fn gemm_forward(input: FlexTensor, weight: FlexTensor, bias: Option<FlexTensor>) -> FlexTensor {
    assert_eq!(weight.dtype(), DType::F32, "an unpacked weight is f32");
    let weight = weight.to_contiguous();
    let [inputs, outputs] = match weight.layout().shape().to_vec()[..] {
        [inputs, outputs] => [inputs, outputs],
        ref other => panic!("a linear weight is a matrix, not {other:?}"),
    };
    let (input, rows, dims) = input_rows(input, inputs);
    let x = contiguous_f32(&input);
    let w = contiguous_f32(&weight);
    let bias = bias.map(|b| b.to_contiguous());
    let bias = bias.as_ref().map(contiguous_f32);
    let mut out = match bias {
        Some(bias) => {
            assert_eq!(bias.len(), outputs, "one bias per output column");
            bias.repeat(rows)
        }
        None => vec![0f32; rows * outputs],
    };
    if out.is_empty() || inputs == 0 {
        return output_tensor(out, dims, outputs); // no rows, no columns, or a product of zero
    }
    parts::product_in_row_parts(
        x,
        rows,
        [inputs, outputs],
        None,
        outputs,
        GEMM_PART_ROWS,
        &mut out,
        |x, rows, _, out| {
            // SAFETY: `x` holds `rows × inputs` values, `w` `inputs × outputs` and `out`
            // `rows × outputs` (checked by `product_in_row_parts` and `contiguous_f32`), all
            // row-major, which the strides below say.
            unsafe {
                gemm::gemm(
                    rows,
                    outputs,
                    inputs,
                    out.as_mut_ptr(),
                    1,
                    outputs as isize,
                    true,
                    x.as_ptr(),
                    1,
                    inputs as isize,
                    w.as_ptr(),
                    1,
                    outputs as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        },
    );
    output_tensor(out, dims, outputs)
}

fn packed_forward(
    input: FlexTensor,
    weights: &PackedWeights,
    bias: Option<FlexTensor>,
) -> FlexTensor {
    let [inputs, outputs] = weights.shape();
    let (input, rows, dims) = input_rows(input, inputs);
    let values = contiguous_f32(&input);
    let bias = bias.map(|b| b.to_contiguous());
    let mut out = vec![0f32; rows * outputs];
    let bias = bias.as_ref().map(contiguous_f32);
    match weights {
        PackedWeights::Int8(w) => int8_matmul::matmul(values, rows, w, bias, &mut out),
        PackedWeights::Int8I7(w) => int8_i7_matmul::matmul(values, rows, w, bias, &mut out),
        PackedWeights::F32(w) => f32_matmul::matmul(values, rows, w, bias, &mut out),
    }
    output_tensor(out, dims, outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    fn random<const D: usize>(shape: [usize; D]) -> Tensor<D> {
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Device::flex())
    }

    fn gemm_linear(x: Tensor<3>, w: &Tensor<2>, b: Option<&Tensor<1>>) -> Tensor<3> {
        let bias = b.map(|b| into_flex(b.clone()));
        Tensor::from_primitive::<Flex>(gemm_forward(into_flex(x), into_flex(w.clone()), bias))
    }

    #[test]
    fn gemm_forward_matches_burns_linear_with_and_without_bias() {
        let (w, b) = (random([7, 3]), random([3]));
        // A contiguous input, and a transposed view (read as its logical layout).
        for x in [random([2, 5, 7]), random([2, 7, 5]).swap_dims(1, 2)] {
            for bias in [Some(&b), None] {
                let want = burn::tensor::module::linear(x.clone(), w.clone(), bias.cloned());
                gemm_linear(x.clone(), &w, bias)
                    .into_data()
                    .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-5));
            }
        }
    }

    #[test]
    fn gemm_forward_without_rows_or_inputs() {
        let none = gemm_linear(
            Tensor::zeros([0, 5, 7], &Device::flex()),
            &random([7, 3]),
            None,
        );
        assert_eq!(none.dims(), [0, 5, 3]);
        // No inputs: the product is zero, so each row is the bias.
        let b = random([3]);
        let rows = gemm_linear(
            Tensor::zeros([2, 4, 0], &Device::flex()),
            &Tensor::zeros([0, 3], &Device::flex()),
            Some(&b),
        );
        rows.into_data().assert_approx_eq::<f32>(
            &b.reshape([1, 1, 3]).expand([2, 4, 3]).into_data(),
            Tolerance::absolute(0.0),
        );
    }
}
