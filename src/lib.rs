//! A multilingual cross-encoder reranker (`cross-encoder/mmarco-mMiniLMv2-L12-H384-v1`, XLM-R
//! shape) whose ONNX graph is compiled into burn code at build time.
//!
//! The core pipeline is `tokenize` → `batch` → `model` → scores, driven by [`Reranker`]:
//!
//! * [`tokenize`]: pair encoding exactly as sentence-transformers' `CrossEncoder` does it;
//! * [`batch`]: length-sorted batches padded to their own longest pair;
//! * [`model`]: the fence around the generated model code and the [`CrossEncoderModel`] trait;
//! * [`kernels`]: the fused attention and GELU the generated code calls (one pass each on the
//!   CPU), and the linear layers' matrix kernels, their rows spread over threads by [`parallel`];
//! * [`weights`]: the f32 and compact int8 weight files ([`quant`]), and the word-embedding
//!   table that stays on the CPU;
//! * [`device`]: the backend seam (WebGPU or CPU);
//! * [`engine`]: [`Reranker::predict`] and [`Reranker::rerank`];
//! * [`error`]: the one error type, with stable codes.
//!
//! Nothing here knows about JavaScript: `web` (wasm32 only) is the binding, the one module
//! that names `wasm_bindgen`, `js_sys` or `web_sys`.

pub mod batch;
pub mod device;
pub mod engine;
pub mod error;
pub mod kernels;
pub mod model;
pub mod parallel;
/// The int8 weights' rule and names, shared with the importer (crates/formats).
pub use web_reranker_formats::quant;
pub mod tokenize;
#[cfg(all(target_arch = "wasm32", reranker_selected))]
mod web;
pub mod weights;

#[cfg(all(
    target_arch = "wasm32",
    target_feature = "atomics",
    not(feature = "threads")
))]
compile_error!(
    "a wasm build with shared memory (+atomics) is the threaded module: add `--features threads`"
);

#[cfg(all(target_arch = "wasm32", not(reranker_selected)))]
compile_error!(
    "the wasm package needs a model: build it with ./build.sh (which sets RERANKER_MODEL_DIR)"
);

pub use batch::BatchSplit;
pub use device::{AdapterFacts, AdapterProbe, Backend, DevicePreference, SelectedDevice};
pub use engine::{
    CallControl, DEFAULT_BATCH_SIZE, Documents, LoadOptions, LoadTimings, Pairs, Ranked,
    RerankOptions, Reranker, Score, Uncontrolled, WEBGPU_WIDTH_MULTIPLE,
};
pub use error::{Error, Result};
pub use kernels::{Activations, LinearKernels};
pub use model::{CrossEncoderModel, ModelInfo};
pub use tokenize::{DEFAULT_MAX_LENGTH, EncodedPair, PairTokenizer, TokenizerMode};
pub use weights::{Precision, WeightBytes, WordEmbeddings};
