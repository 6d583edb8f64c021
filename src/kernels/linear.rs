//! The linear layer of the generated model code: burn's `nn::Linear`, plus int8 weights.
//!
//! build.rs points the generated code's `Linear` and `LinearConfig` here. The module has burn's
//! fields (`weight` `[inputs, outputs]`, optional `bias`), so weight files load into it exactly
//! as into burn's, and with f32 weights it runs burn's `linear`. When the weights loader hands a
//! layer its int8 weights ([`Linear::use_int8`]), the layer keeps only those, packed, and
//! computes in integers ([`super::int8_matmul`]); its f32 weight is then never allocated.

use std::sync::Arc;

use burn::module::{Module, Param, ParamId};
use burn::prelude::{Device, Tensor};
use burn::tensor::{Bytes, DType, Shape};
use burn_flex::{Flex, FlexTensor, Layout};

use super::int8_matmul::{self, PackedInt8};
use super::{into_flex, on_cpu};

/// A fully connected layer: `y = x · weight + bias` over the last dimension.
#[derive(Module, Debug)]
pub struct Linear {
    /// `[inputs, outputs]`. Never materialised once the layer has int8 weights.
    pub weight: Param<Tensor<2>>,
    /// `[outputs]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// The int8 weights, when the layer computes in integers (CPU only).
    #[module(skip)]
    int8: Option<Arc<PackedInt8>>,
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
            int8: None,
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

    /// Makes the layer compute with these int8 weights (on the CPU). Fails, changing nothing,
    /// when their shape is not the layer's.
    pub fn use_int8(&mut self, weights: PackedInt8) -> Result<(), String> {
        if weights.shape() != self.shape() {
            return Err(format!(
                "int8 weights {:?} for a {:?} layer",
                weights.shape(),
                self.shape()
            ));
        }
        self.int8 = Some(Arc::new(weights));
        Ok(())
    }

    /// Whether the layer computes in integers.
    pub fn is_int8(&self) -> bool {
        self.int8.is_some()
    }

    /// Applies the layer to the last dimension of `input`.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        match &self.int8 {
            Some(weights) => {
                // NOTE: the weights loader gives int8 weights to layers on the CPU only.
                debug_assert!(on_cpu(&input), "int8 layers run on the CPU");
                let bias = self.bias.as_ref().map(|b| into_flex(b.val()));
                Tensor::from_primitive::<Flex>(int8_forward(into_flex(input), weights, bias))
            }
            None => burn::tensor::module::linear(
                input,
                self.weight.val(),
                self.bias.as_ref().map(Param::val),
            ),
        }
    }
}

fn int8_forward(input: FlexTensor, weights: &PackedInt8, bias: Option<FlexTensor>) -> FlexTensor {
    assert_eq!(input.dtype(), DType::F32, "linear layers compute in f32");
    let input = input.to_contiguous();
    let [inputs, outputs] = weights.shape();
    let mut dims = input.layout().shape().to_vec();
    assert_eq!(
        dims.last(),
        Some(&inputs),
        "linear layer: input {dims:?} for {inputs} features"
    );
    let values = contiguous_f32(&input);
    let rows = values.len() / inputs;
    let bias = bias.map(|b| b.to_contiguous());
    let mut out = vec![0f32; rows * outputs];
    int8_matmul::matmul(
        values,
        rows,
        weights,
        bias.as_ref().map(contiguous_f32),
        &mut out,
    );
    *dims.last_mut().expect("checked above") = outputs;
    FlexTensor::new(
        Bytes::from_elems(out),
        Layout::contiguous(Shape::from(dims)),
        DType::F32,
    )
}

/// The values of a contiguous f32 tensor.
fn contiguous_f32(t: &FlexTensor) -> &[f32] {
    let len = t.layout().shape().num_elements();
    let start = t
        .layout()
        .contiguous_offsets()
        .map_or(0, |(start, _)| start);
    &t.storage::<f32>()[start..start + len]
}
