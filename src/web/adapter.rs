//! The browser's WebGPU adapter, asked for as wgpu asks for the one it runs on
//! (`navigator.gpu.requestAdapter({ powerPreference: 'high-performance' })`, as
//! js/device-choice.js does too), described for [`crate::device::select_probed`], which decides
//! whether it will do (a fallback adapter, which runs on the CPU, does not under `device: 'auto'`;
//! one without `timestamp-query` never does).

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::device::{AdapterFacts, AdapterProbe};

/// Asks the browser for a WebGPU adapter and describes it, or says why there is none.
pub async fn probe() -> AdapterProbe {
    let get = |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key)).ok();
    let navigator = get(&js_sys::global(), "navigator").unwrap_or(JsValue::UNDEFINED);
    let gpu = get(&navigator, "gpu").filter(|g| !g.is_undefined() && !g.is_null());
    let Some(gpu) = gpu else {
        return Err("this browser has no WebGPU (navigator.gpu is missing)".into());
    };
    let request: Function = get(&gpu, "requestAdapter")
        .and_then(|f| f.dyn_into().ok())
        .ok_or("navigator.gpu.requestAdapter is not a function")?;
    // NOTE: cubecl's default device in a browser asks wgpu for the high-performance adapter;
    // the probe must describe that one, not the browser's default (another GPU on a laptop).
    let options = js_sys::Object::new();
    Reflect::set(
        &options,
        &JsValue::from_str("powerPreference"),
        &JsValue::from_str("high-performance"),
    )
    .map_err(|e| format!("cannot build the adapter request: {e:?}"))?;
    let promise = request
        .call1(&gpu, &options)
        .map_err(|e| format!("requestAdapter threw: {e:?}"))?;
    let adapter = JsFuture::from(js_sys::Promise::from(promise))
        .await
        .map_err(|e| format!("requestAdapter failed: {e:?}"))?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("no WebGPU adapter is available".into());
    }
    let max_storage_buffer_binding_size = get(&adapter, "limits")
        .and_then(|l| get(&l, "maxStorageBufferBindingSize"))
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    // NOTE: wgpu's browser backend reports no adapter name; the page's GPUAdapterInfo has one.
    let description = get(&adapter, "info")
        .map(|info| {
            let field = |key| {
                get(&info, key)
                    .and_then(|v| v.as_string())
                    .unwrap_or_default()
            };
            let description = field("description");
            if description.is_empty() {
                format!("{} {}", field("vendor"), field("architecture"))
                    .trim()
                    .to_string()
            } else {
                description
            }
        })
        .filter(|d| !d.is_empty())
        .map(|d| format!("{d} (WebGPU)"));
    // NOTE: `GPUAdapterInfo.isFallbackAdapter` where the browser has it, else the older
    // `GPUAdapter.isFallbackAdapter`; SwiftShader in Chromium says true.
    let flag = |target: Option<JsValue>| {
        target
            .and_then(|t| get(&t, "isFallbackAdapter"))
            .and_then(|v| v.as_bool())
    };
    let fallback = flag(get(&adapter, "info"))
        .or_else(|| flag(Some(adapter.clone())))
        .unwrap_or(false);
    let timestamp_query = get(&adapter, "features")
        .and_then(|features| {
            let has: Function = get(&features, "has")?.dyn_into().ok()?;
            has.call1(&features, &JsValue::from_str("timestamp-query"))
                .ok()?
                .as_bool()
        })
        .unwrap_or(false);
    Ok(Some(AdapterFacts {
        description,
        max_storage_buffer_binding_size,
        fallback,
        timestamp_query,
    }))
}
