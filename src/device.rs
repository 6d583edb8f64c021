//! The one seam between the generic engine and concrete backends.
//!
//! burn 0.22's `Device` already dispatches to the compiled-in backends; [`Backend`] names the
//! two this project ships (WebGPU and the CPU `flex` backend) and [`SelectedDevice`] records which
//! one a reranker runs on and, after a fallback, why.

use burn::prelude::Device;

/// The backends a reranker can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The GPU through WebGPU (wgpu).
    WebGpu,
    /// burn's pure-Rust `flex` CPU backend (wasm simd128 in the browser).
    Cpu,
}

impl Backend {
    /// The name used in user-facing output: `"webgpu"` or `"cpu"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::WebGpu => "webgpu",
            Backend::Cpu => "cpu",
        }
    }
}

/// A device ready for a model, with the story of how it was chosen.
#[derive(Debug, Clone)]
pub struct SelectedDevice {
    /// Which backend.
    pub backend: Backend,
    /// The burn device to put tensors on.
    pub device: Device,
    /// Set when a preferred backend could not be used and this one was taken instead.
    pub fallback_reason: Option<String>,
}

impl SelectedDevice {
    /// The CPU backend; always available.
    pub fn cpu() -> Self {
        Self {
            backend: Backend::Cpu,
            device: Device::flex(),
            fallback_reason: None,
        }
    }
}
