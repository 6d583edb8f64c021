//! The fence around generated model code.
//!
//! The importer (crates/import) imports ONNX files with burn-onnx into `OUT_DIR`; this module is the only place that
//! `include!`s that code. Each imported model becomes a submodule holding the generated `Model`
//! and an impl of [`CrossEncoderModel`], the one interface the engine uses.
//!
//! The build cuts the word-embedding table out of each graph (it stays on the CPU, see
//! [`crate::weights`]), so a generated model takes the gathered rows as its third input.

use burn::prelude::{Device, Int, Tensor};

/// Bytes the largest activation of one batch may take (f32 attention scores or feed-forward).
///
/// NOTE: 128 MiB is WebGPU's default `maxStorageBufferBindingSize`, the binding every adapter
/// allows; on the CPU it keeps a batch's peak memory to a few hundred MB. A caller's batch size
/// is an upper bound: long pairs run in smaller batches (10 rows of 512 tokens for the real
/// model), so no batch size makes an impossible allocation.
pub const ACTIVATION_BUDGET: u64 = 128 << 20;

/// What the build read from a model folder's `config.json` and from the generated code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelInfo {
    /// Module name of the imported model (`selected`, `fixture_webgpu`, …).
    pub name: &'static str,
    /// The model folder it was imported from, at build time.
    pub source_dir: &'static str,
    /// Rows of the word-embedding table; every token id must be below this.
    pub vocab_size: u64,
    /// Width of the hidden states.
    pub hidden_size: u64,
    /// Attention heads per layer.
    pub num_attention_heads: u64,
    /// Width of the feed-forward layer.
    pub intermediate_size: u64,
    /// `max_position_embeddings`; XLM-R offsets positions by `pad_token_id + 1`.
    pub max_positions: u64,
    /// The padding token (also the position-id offset in XLM-R).
    pub pad_token_id: u64,
    /// Why this model cannot run on WebGPU, if it cannot (int64 math, synchronous readback).
    pub webgpu_blocker: Option<&'static str>,
    /// Layers whose attention the build fused into one [`crate::kernels::attention`] call.
    pub fused_attention_layers: usize,
    /// Layers whose erf-GELU the build fused into one [`crate::kernels::gelu`] call.
    pub fused_gelu_layers: usize,
    /// Of those, the GELUs folded into the linear layer before them (`Linear::forward_gelu`: on
    /// WebGPU one kernel for the product, the bias and the GELU).
    pub folded_gelu_layers: usize,
    /// LayerNorms (with the residual add before them) the build fused into one
    /// [`crate::kernels::add_layer_norm`] call: two per layer and the embeddings'.
    pub fused_layer_norms: usize,
    /// Linear layers on our kernels ([`crate::kernels::Linear`]: int8 or packed f32 products on
    /// the CPU, ours on WebGPU): six per layer and the classifier's two.
    pub linear_layers: usize,
}

impl ModelInfo {
    /// The longest sequence (special tokens included) the position table allows: 512 for XLM-R.
    pub fn max_sequence_length(&self) -> usize {
        (self.max_positions.saturating_sub(self.pad_token_id + 1)) as usize
    }

    /// Bytes of the largest activation one row of `width` tokens makes: the attention scores
    /// (`heads × width²`) or the feed-forward layer (`width × intermediate`), in f32.
    pub fn largest_activation_per_row(&self, width: usize) -> u64 {
        let width = width as u64;
        let attention = self.num_attention_heads * width * width;
        let feed_forward = width * self.intermediate_size.max(self.hidden_size);
        attention.max(feed_forward) * 4
    }
}

/// A cross-encoder imported from ONNX: token ids and attention mask in, one logit per row out.
pub trait CrossEncoderModel: burn::module::Module + Sized {
    /// Facts about this model.
    const INFO: ModelInfo;

    /// The module with its parameters declared but not loaded.
    fn empty(device: &Device) -> Self;

    /// `input_ids` and `attention_mask` are `[batch, sequence]`, `word_embeddings` (the rows of
    /// the table for those ids, gathered on the CPU) `[batch, sequence, hidden]`; the result is
    /// `[batch, 1]`.
    fn logits(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Tensor<2, Int>,
        word_embeddings: Tensor<3>,
    ) -> Tensor<2>;

    /// The model's linear layers by field name (`linear1`, …): the ones the weights loader can
    /// give int8 weights to.
    fn linear_layers(&mut self) -> Vec<(&'static str, &mut crate::kernels::Linear)>;
}

macro_rules! imported_model {
    ($(#[$meta:meta])* $name:ident, $dir:literal) => {
        $(#[$meta])*
        #[allow(clippy::all, clippy::pedantic, unused, missing_docs)]
        pub mod $name {
            include!(concat!(env!("OUT_DIR"), "/", $dir, "/model.rs"));
            include!(concat!(env!("OUT_DIR"), "/", $dir, "/glue.rs"));
        }
    };
}

imported_model!(
    /// The model chosen at build time with `RERANKER_MODEL_DIR` (`build.sh --model DIR`).
    #[cfg(reranker_selected)]
    selected,
    "selected"
);

imported_model!(
    /// Tiny random test model, WebGPU-ready export (int32, opset 18).
    #[cfg(feature = "fixtures")]
    fixture_webgpu,
    "fixture_webgpu"
);

imported_model!(
    /// Tiny random test model, hub-style TorchScript export (int64, opset 14).
    #[cfg(feature = "fixtures")]
    fixture_hub,
    "fixture_hub"
);

imported_model!(
    /// Tiny random test model in the form of the hub's real `onnx/model.onnx`: Optimum's export
    /// through sentence-transformers (int64, opset 14, torch's SDPA attention).
    #[cfg(feature = "fixtures")]
    fixture_optimum,
    "fixture_optimum"
);

imported_model!(
    /// Tiny random test model, transformers 5's own model traced by TorchScript (int64, bool
    /// mask math, opset 14).
    #[cfg(feature = "fixtures")]
    fixture_transformers,
    "fixture_transformers"
);

imported_model!(
    /// Tiny random test model, transformers 5's model with its default (sdpa) attention traced by
    /// TorchScript (int64, opset 14, torch's SDPA export).
    #[cfg(feature = "fixtures")]
    fixture_sdpa,
    "fixture_sdpa"
);

imported_model!(
    /// Tiny random test model, transformers 5's model through torch's default (dynamo) exporter
    /// (int64, `Gelu` and `LayerNormalization` ops).
    #[cfg(feature = "fixtures")]
    fixture_dynamo,
    "fixture_dynamo"
);
