//! The one seam between the generic engine and concrete backends.
//!
//! burn 0.22's `Device` already dispatches to the compiled-in backends; [`Backend`] names the
//! two this project ships (WebGPU and the CPU `flex` backend) and [`SelectedDevice`] records which
//! one a reranker runs on and, after a fallback, why. What the platform says of its adapter comes
//! in as [`AdapterFacts`]: in a browser the binding layer asks JS for them, so nothing here
//! knows JS.

use std::future::Future;
use std::sync::{Arc, Mutex};

use burn::prelude::Device;

use crate::error::{Error, Result};
use crate::model::{ACTIVATION_BUDGET, ModelInfo};

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
    /// The GPU adapter's name and graphics API, where the platform tells it (natively wgpu's
    /// adapter name, e.g. "NVIDIA H200 (Vulkan)"; in a browser its `GPUAdapterInfo`, e.g.
    /// "google swiftshader (WebGPU)").
    pub adapter: Option<String>,
    /// Set when a preferred backend could not be used and this one was taken instead.
    pub fallback_reason: Option<String>,
    /// Errors the device reported on its own; never any on the CPU.
    pub faults: DeviceFaults,
}

impl SelectedDevice {
    /// The CPU backend; always available.
    pub fn cpu() -> Self {
        Self {
            backend: Backend::Cpu,
            device: Device::flex(),
            adapter: None,
            fallback_reason: None,
            faults: DeviceFaults::default(),
        }
    }
}

/// Errors a GPU reports outside any call (WebGPU's `uncapturederror`: a failed validation, an
/// allocation it refused), kept so the engine can stop trusting the device instead of trapping.
///
/// NOTE: cubecl installs a handler that panics on such an error, and a panic in wasm traps the
/// whole instance (every later call on it, CPU ones included, is dead). [`select`] replaces that
/// handler with [`DeviceFaults::record`].
#[derive(Debug, Clone, Default)]
pub struct DeviceFaults(Arc<Mutex<Option<String>>>);

impl DeviceFaults {
    /// Records an error; the first one is kept.
    pub fn record(&self, error: String) {
        if let Ok(mut first) = self.0.lock() {
            first.get_or_insert(error);
        }
    }

    /// The first error recorded, if any.
    pub fn first(&self) -> Option<String> {
        self.0.lock().ok().and_then(|first| first.clone())
    }
}

/// Which backend the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePreference {
    /// WebGPU when a usable adapter exists, else the CPU (the reason is recorded).
    Auto,
    /// WebGPU or an error.
    WebGpu,
    /// The CPU backend.
    Cpu,
}

/// What the platform said of its WebGPU adapter before any device is opened: `Ok(None)` where
/// nothing was asked (natively wgpu opens and describes the adapter itself), `Err` with the reason
/// where there is no adapter. In a browser the binding layer asks (`src/web/adapter.rs`).
pub type AdapterProbe = std::result::Result<Option<AdapterFacts>, String>;

/// An adapter as the platform describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterFacts {
    /// Its name, e.g. "google swiftshader (WebGPU)".
    pub description: Option<String>,
    /// `limits.maxStorageBufferBindingSize`, in bytes.
    pub max_storage_buffer_binding_size: f64,
    /// The platform marks it as a fallback adapter (`GPUAdapterInfo.isFallbackAdapter`): one that
    /// runs on the CPU, like SwiftShader. [`DevicePreference::Auto`] does not take it.
    pub fallback: bool,
    /// It has the optional `timestamp-query` feature, without which burn's WebGPU runtime
    /// cannot run in a browser (see [`check_adapter`]).
    pub timestamp_query: bool,
}

/// Chooses the device for a model: a WebGPU device when asked to and one can be opened, else the
/// CPU with the reason under [`DevicePreference::Auto`]. Natively, where wgpu finds the adapter
/// itself; in a browser the binding layer calls [`select_probed`].
pub async fn select(preference: DevicePreference, model: &ModelInfo) -> Result<SelectedDevice> {
    select_probed(preference, model, std::future::ready(Ok(None))).await
}

/// [`select`], with `probe` describing the platform's adapter; it is awaited only when WebGPU is
/// to be tried.
pub async fn select_probed(
    preference: DevicePreference,
    model: &ModelInfo,
    probe: impl Future<Output = AdapterProbe>,
) -> Result<SelectedDevice> {
    if preference == DevicePreference::Cpu {
        return Ok(SelectedDevice::cpu());
    }
    let attempt = match model.webgpu_blocker {
        Some(blocker) => Err(format!(
            "model {} cannot run on WebGPU: {blocker}",
            model.name
        )),
        None => webgpu(preference, model, probe).await,
    };
    match attempt {
        Ok(selected) => Ok(selected),
        Err(reason) if preference == DevicePreference::Auto => Ok(SelectedDevice {
            fallback_reason: Some(reason),
            ..SelectedDevice::cpu()
        }),
        Err(reason) => Err(Error::Device(reason)),
    }
}

/// Bytes of the largest buffer the model binds on the device: its largest weight (the
/// word-embedding table stays on the CPU, see `crate::weights`), or a batch's largest
/// activation, which the engine caps at [`ACTIVATION_BUDGET`] (WebGPU's guaranteed 128 MiB).
#[cfg_attr(not(any(target_arch = "wasm32", reranker_wgpu)), allow(dead_code))]
fn largest_binding(model: &ModelInfo) -> u64 {
    let hidden = model.hidden_size;
    let weight = (hidden * model.intermediate_size.max(hidden)).max(model.max_positions * hidden);
    (weight * 4).max(ACTIVATION_BUDGET)
}

#[cfg(all(target_arch = "wasm32", reranker_wgpu))]
async fn webgpu(
    preference: DevicePreference,
    model: &ModelInfo,
    probe: impl Future<Output = AdapterProbe>,
) -> std::result::Result<SelectedDevice, String> {
    let facts = probe.await?;
    // The kernels' shapes for this adapter: the CPU's where it runs on the CPU (SwiftShader).
    let runs_on_cpu = facts.as_ref().is_some_and(|f| f.fallback);
    let described = check_adapter(facts, preference, model)?;
    crate::kernels::gpu::set_adapter_kind(crate::kernels::gpu::AdapterKind::of(runs_on_cpu));
    let (selected, limit) = wgpu_device().await?;
    // NOTE: the opened device's limit too: a device has the limits it was asked for, which may
    // be less than its adapter offers (the adapter's are checked first, before anything opens).
    check_binding_limit(limit as f64, model)?;
    Ok(SelectedDevice {
        adapter: selected.adapter.or(described),
        ..selected
    })
}

/// The threaded module has no wgpu: it probes the adapter only to say why it runs on the CPU.
#[cfg(all(target_arch = "wasm32", not(reranker_wgpu)))]
async fn webgpu(
    preference: DevicePreference,
    model: &ModelInfo,
    probe: impl Future<Output = AdapterProbe>,
) -> std::result::Result<SelectedDevice, String> {
    check_adapter(probe.await?, preference, model)?;
    Err(
        "a WebGPU adapter is available, but the threaded module has no WebGPU backend (load with \
         `threads: 1` for it); it runs on the CPU"
            .into(),
    )
}

/// Checks that a probed adapter will do: its buffers fit the model, and under
/// [`DevicePreference::Auto`] it is not a fallback (software) adapter. Returns its description.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn check_adapter(
    facts: Option<AdapterFacts>,
    preference: DevicePreference,
    model: &ModelInfo,
) -> std::result::Result<Option<String>, String> {
    let Some(facts) = facts else {
        return Ok(None);
    };
    // The adapter's name in a reason, where it has one.
    let named = facts
        .description
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    // NOTE: a fallback adapter runs the GPU's work on the CPU (SwiftShader: one pair of the
    // full-shape model took 15-17 s, against well under a second on the CPU path; BENCHMARKS.md,
    // sections 1 and 3), so `auto` takes the CPU path; `device: 'webgpu'` still gets it.
    if facts.fallback && preference == DevicePreference::Auto {
        return Err(format!(
            "the only WebGPU adapter{named} is a fallback (software) adapter, slower than the CPU \
             path (device: 'webgpu' uses it anyway)"
        ));
    }
    // NOTE: cubecl-wgpu 0.11.3 (burn 0.22's WebGPU runtime) times its streams with timestamp
    // queries and, in wasm, panics when opening a stream on a device without them
    // (compute/stream.rs, `Timings::system`): the instance traps and the load never settles.
    // Found by the tests' adapter without optional features (tests/js/browser.test.mjs, (u));
    // the feature is optional (some Firefox, Safari and Android builds leave it out), so such an
    // adapter is refused here, with the reason, before anything opens.
    if !facts.timestamp_query {
        return Err(format!(
            "the WebGPU adapter{named} lacks the optional `timestamp-query` feature, which burn's \
             WebGPU runtime (cubecl-wgpu 0.11) needs in a browser"
        ));
    }
    check_binding_limit(facts.max_storage_buffer_binding_size, model)?;
    Ok(facts.description)
}

/// Native wgpu (Vulkan, Metal or DX12), built with the `native-webgpu` feature: the same WGSL
/// kernels the browser runs, for native users with a GPU and for timing them on one.
#[cfg(all(not(target_arch = "wasm32"), feature = "native-webgpu"))]
async fn webgpu(
    _preference: DevicePreference,
    model: &ModelInfo,
    _probe: impl Future<Output = AdapterProbe>,
) -> std::result::Result<SelectedDevice, String> {
    let (selected, limit) = wgpu_device().await?;
    check_binding_limit(limit as f64, model)?;
    Ok(selected)
}

#[cfg_attr(not(any(target_arch = "wasm32", reranker_wgpu)), allow(dead_code))]
fn check_binding_limit(limit: f64, model: &ModelInfo) -> std::result::Result<(), String> {
    let needed = largest_binding(model);
    if limit < needed as f64 {
        return Err(format!(
            "the WebGPU adapter binds at most {limit} bytes per storage buffer, and this model \
             needs {needed}"
        ));
    }
    Ok(())
}

/// The wgpu device this process opened, shared by every reranker after the first.
///
/// NOTE: cubecl registers one wgpu runtime per device, once: a second `init_with_setup_async`
/// fails with "Service already initialized" (seen on an H200 when a second reranker was made).
#[cfg(reranker_wgpu)]
static OPENED: Mutex<Option<(SelectedDevice, u64)>> = Mutex::new(None);

/// How often a caller that lost the race to open the device looks for the winner's record
/// (10 ms apart natively: up to 5 s; once in wasm, where nothing runs in between).
#[cfg(all(not(target_arch = "wasm32"), feature = "native-webgpu"))]
const RACE_WAITS: usize = 500;
#[cfg(all(target_arch = "wasm32", reranker_wgpu))]
const RACE_WAITS: usize = 1;

/// Opens burn's wgpu device, or returns the one already open, and routes the errors it reports
/// outside any call to [`DeviceFaults`] instead of cubecl's panicking handler. Also returns the
/// device's largest storage-buffer binding.
#[cfg(reranker_wgpu)]
async fn wgpu_device() -> std::result::Result<(SelectedDevice, u64), String> {
    let opened = || OPENED.lock().ok().and_then(|opened| opened.clone());
    if let Some((selected, limit)) = opened() {
        if let Some(fault) = selected.faults.first() {
            return Err(format!(
                "the WebGPU device reported an error earlier ({fault}), and it cannot be \
                 opened again in this process"
            ));
        }
        return Ok((selected, limit));
    }
    let (device, setup) = match Device::wgpu_options().init_with_setup_async().await {
        Ok(opened) => opened,
        Err(e) => {
            // NOTE: two callers can race to open it (two loads at once, or two threads): the
            // loser's init fails ("Service already initialized") before the winner has recorded
            // the device, so it waits for that record.
            for _ in 0..RACE_WAITS {
                if let Some(winner) = opened() {
                    return Ok(winner);
                }
                #[cfg(not(target_arch = "wasm32"))]
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            return Err(format!("WebGPU device creation failed: {e}"));
        }
    };
    let faults = DeviceFaults::default();
    let record = faults.clone();
    setup
        .device
        .on_uncaptured_error(Arc::new(move |error| record.record(error.to_string())));
    let info = setup.adapter.get_info();
    // NOTE: natively the adapter says whether it runs on the CPU (lavapipe, llvmpipe: wgpu's
    // `DeviceType::Cpu`, compared by name: cubecl is built without its re-export of wgpu); in a
    // browser the probe's facts decide (`webgpu` above).
    #[cfg(not(target_arch = "wasm32"))]
    crate::kernels::gpu::set_adapter_kind(crate::kernels::gpu::AdapterKind::of(
        format!("{:?}", info.device_type) == "Cpu",
    ));
    let adapter =
        Some(format!("{} ({:?})", info.name, info.backend)).filter(|_| !info.name.is_empty());
    let limit = setup.device.limits().max_storage_buffer_binding_size;
    let selected = SelectedDevice {
        backend: Backend::WebGpu,
        device,
        adapter,
        fallback_reason: None,
        faults,
    };
    if let Ok(mut opened) = OPENED.lock() {
        *opened = Some((selected.clone(), limit));
    }
    Ok((selected, limit))
}

#[cfg(all(not(target_arch = "wasm32"), not(reranker_wgpu)))]
async fn webgpu(
    _preference: DevicePreference,
    _model: &ModelInfo,
    _probe: impl Future<Output = AdapterProbe>,
) -> std::result::Result<SelectedDevice, String> {
    Err(
        "this native build has no WebGPU backend (build with the native-webgpu feature); it \
         runs on the CPU"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real model's shapes.
    const REAL: ModelInfo = ModelInfo {
        name: "real",
        source_dir: "",
        vocab_size: 250_002,
        hidden_size: 384,
        num_attention_heads: 12,
        intermediate_size: 1536,
        max_positions: 514,
        pad_token_id: 1,
        webgpu_blocker: None,
        fused_attention_layers: 0,
        fused_gelu_layers: 0,
        folded_gelu_layers: 0,
        fused_layer_norms: 0,
        linear_layers: 0,
    };

    #[test]
    fn the_word_embeddings_are_not_a_device_binding() {
        // The 250002 × 384 table (384 MB) stays on the CPU, so the largest binding is a batch's
        // activation budget, which every WebGPU adapter allows.
        let real = REAL;
        assert_eq!(largest_binding(&real), ACTIVATION_BUDGET);
        let wide = ModelInfo {
            hidden_size: 8192,
            intermediate_size: 32768,
            ..real
        };
        assert_eq!(largest_binding(&wide), 8192 * 32768 * 4);
    }

    #[test]
    fn auto_refuses_a_fallback_adapter_and_webgpu_takes_it() {
        let model = REAL;
        let adapter = |fallback, limit| {
            Some(AdapterFacts {
                description: Some("google swiftshader (WebGPU)".into()),
                max_storage_buffer_binding_size: limit,
                fallback,
                timestamp_query: true,
            })
        };
        let enough = ACTIVATION_BUDGET as f64;
        let reason = check_adapter(adapter(true, enough), DevicePreference::Auto, &model)
            .expect_err("auto must not take a software adapter");
        assert!(reason.contains("fallback (software) adapter"), "{reason}");
        assert!(reason.contains("google swiftshader"), "{reason}");
        assert_eq!(
            check_adapter(adapter(true, enough), DevicePreference::WebGpu, &model),
            Ok(Some("google swiftshader (WebGPU)".into()))
        );
        assert_eq!(
            check_adapter(adapter(false, enough), DevicePreference::Auto, &model),
            Ok(Some("google swiftshader (WebGPU)".into()))
        );
        let small = check_adapter(adapter(false, enough - 1.0), DevicePreference::Auto, &model);
        assert!(small.unwrap_err().contains("binds at most"));
        // Without timestamp queries burn's runtime would trap: refused, under either preference.
        for preference in [DevicePreference::Auto, DevicePreference::WebGpu] {
            let untimed = adapter(false, enough).map(|facts| AdapterFacts {
                timestamp_query: false,
                ..facts
            });
            let reason = check_adapter(untimed, preference, &model).unwrap_err();
            assert_eq!(
                reason,
                "the WebGPU adapter (google swiftshader (WebGPU)) lacks the optional \
                 `timestamp-query` feature, which burn's WebGPU runtime (cubecl-wgpu 0.11) needs \
                 in a browser"
            );
        }
        assert_eq!(
            check_adapter(None, DevicePreference::Auto, &model),
            Ok(None)
        );
    }

    /// A model the build marked as unable to run on WebGPU: `webgpu` is a `DEVICE` error before
    /// any adapter is probed, and `auto` falls back to the CPU with the reason.
    #[test]
    fn a_blocked_model_never_reaches_the_adapter() {
        let blocked = ModelInfo {
            webgpu_blocker: Some("it computes with int64 tensors"),
            ..REAL
        };
        async fn probe() -> AdapterProbe {
            panic!("the adapter must not be probed")
        }
        let err = pollster::block_on(select_probed(DevicePreference::WebGpu, &blocked, probe()))
            .unwrap_err();
        assert_eq!(err.code(), "DEVICE");
        assert!(
            err.to_string()
                .contains("cannot run on WebGPU: it computes"),
            "{err}"
        );
        let auto =
            pollster::block_on(select_probed(DevicePreference::Auto, &blocked, probe())).unwrap();
        assert_eq!(auto.backend, Backend::Cpu);
        assert!(auto.fallback_reason.unwrap().contains("int64"));
    }
}
