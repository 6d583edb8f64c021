//! The wasm-bindgen surface: the JS `WasmReranker` class that `pkg/index.js` wraps.
//!
//! Everything JS-shaped lives here: option objects, document arrays, result objects, and the
//! one conversion of [`Error`] into a JS `Error` with `name` and `code`. Methods take `&self` and
//! return promises that own an `Rc` of the engine, so overlapping calls never borrow the
//! wasm-bindgen object across an `await` ("recursive use of an object"); they are run one at a
//! time through a FIFO lock.

mod adapter;
mod input;
mod options;
mod relaxed;
#[cfg(all(target_feature = "atomics", feature = "threads"))]
mod threads;

use std::rc::Rc;

use futures_util::lock::Mutex;
use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;

use self::input::{JsControl, JsDocuments, JsPairs, bytes_of, document_text, invalid, weights_of};
use self::options::{DeviceInfo, LoadTimings, PredictOptions, Ranked, count, to_js};
use crate::device::{self, Backend};
use crate::engine::{self, Pairs, Reranker};
use crate::error::Error;
use crate::kernels::Activations;
use crate::model::CrossEncoderModel;
use crate::model::selected::Model;
use crate::tokenize::PairTokenizer;

unsafe extern "C" {
    /// The constructors of static registrations (`inventory`, which cubecl's IR uses), made by
    /// wasm-ld.
    fn __wasm_call_ctors();
}

/// Runs once, when the module is instantiated.
///
/// NOTE: a module that never calls `__wasm_call_ctors` itself counts as a "command" for wasm-ld,
/// which then wraps *every* export (malloc, the externref table, each method) in a call of all
/// constructors: about a millisecond per crossing, several per document. Calling them here,
/// once, makes it a library module. Measured: 256 short pairs took ~1.1 s in Node before.
///
/// NOTE: in the threaded module every worker runs this too, on the memory the first thread has
/// already set up; registering the statics twice would link their lists into loops.
#[wasm_bindgen(start)]
fn start() {
    static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if STARTED.swap(true, std::sync::atomic::Ordering::AcqRel) {
        return;
    }
    // SAFETY: called once per memory, at instantiation, before any other export; the
    // constructors only register statics.
    unsafe { __wasm_call_ctors() }
    // NOTE: a panic traps the instance with a bare `unreachable`; its message (what failed,
    // where) goes to the console first, so that a trap can be told apart and reported.
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!("web-reranker panicked: {info}"))
    }));
}

#[wasm_bindgen]
extern "C" {
    /// `performance.now()`: windows, workers and Node all have it.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    /// `console.error`, for a panic's message.
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// sha256 of `bytes`, in hex: the model files' integrity check where the page has no WebCrypto
/// (`crypto.subtle` exists on secure origins only), so a manifest is never reduced to sizes.
/// The WebGPU kernels against the CPU's at the real model's full sizes
/// ([`crate::kernels::gpu_check`]), on the page's WebGPU device: `[{ what, worst }]`. Only in
/// test builds of the module with WebGPU (not the threaded one).
#[cfg(all(feature = "test-hooks", reranker_wgpu))]
#[wasm_bindgen(js_name = __fullSizeKernelChecks)]
pub async fn full_size_kernel_checks() -> Result<JsValue, JsValue> {
    let selected = crate::device::select_probed(
        crate::device::DevicePreference::WebGpu,
        &Model::INFO,
        adapter::probe(),
    )
    .await
    .map_err(|e| JsValue::from_str(&e.to_string()))?;
    let checks =
        crate::kernels::gpu_check::full_size(&selected.device, &burn::prelude::Device::flex())
            .await;
    Ok(to_js(&checks))
}

/// Which of relaxed SIMD's kernels this engine runs, each installed as a load on the CPU
/// installs it (after its check against the plain loops): `{ products, productsReason, sums,
/// sumsReason }`. Only in test builds.
#[cfg(feature = "test-hooks")]
#[wasm_bindgen(js_name = __relaxedKernels)]
pub fn relaxed_kernels() -> JsValue {
    let products = relaxed::install_products();
    let sums = relaxed::install();
    let object = js_sys::Object::new();
    for (key, value) in [
        ("products", JsValue::from_bool(products.is_ok())),
        (
            "productsReason",
            products.err().map_or(JsValue::NULL, JsValue::from),
        ),
        ("sums", JsValue::from_bool(sums.is_ok())),
        (
            "sumsReason",
            sums.err().map_or(JsValue::NULL, JsValue::from),
        ),
    ] {
        let _ = js_sys::Reflect::set(&object, &key.into(), &value);
    }
    object.into()
}

#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The single place where a core error becomes a JS exception.
impl From<Error> for JsValue {
    fn from(error: Error) -> JsValue {
        let js = js_sys::Error::new(&error.to_string());
        js.set_name("RerankerError");
        let _ = Reflect::set(&js, &"code".into(), &error.code().into());
        js.into()
    }
}

struct Shared {
    engine: Reranker<Model>,
    /// Milliseconds spent choosing the device (the WebGPU probe).
    device_ms: f64,
    /// Milliseconds spent building the tokenizer.
    tokenizer_ms: f64,
    /// Why `activations: 'i7'` was asked for and `'i16'` runs.
    activations_reason: Option<String>,
    queue: Mutex<()>,
}

/// A loaded reranker. Made by `WasmReranker.create`; used through `pkg/index.js`.
#[wasm_bindgen]
pub struct WasmReranker {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl WasmReranker {
    /// Loads the model from promises of the bytes (`Uint8Array`) of its weights and of
    /// `tokenizer.bin` (or `tokenizer.json`). A rejected promise rejects the load with its reason.
    /// `options`: `{ device?: 'auto' | 'webgpu' | 'cpu', maxLength?: number, activations?:
    /// 'i16' | 'i7' }`.
    pub async fn create(
        weights: js_sys::Promise,
        tokenizer: js_sys::Promise,
        options: JsValue,
    ) -> Result<WasmReranker, JsValue> {
        let options: options::LoadOptions = options::read(options, "load options")?;
        let preference = options.preference()?;
        let mut load = engine::LoadOptions {
            clock: Some(performance_now),
            ..engine::LoadOptions::default()
        };
        if let Some(max_length) = options.max_length {
            load.max_length = max_length;
        }
        // NOTE: the device probe (waiting on the browser) and the tokenizer (built as soon as its
        // bytes are here) overlap with the weights still being read: the weights come last.
        let probe = async {
            let started = performance_now();
            let selected = device::select_probed(preference, &Model::INFO, adapter::probe()).await;
            (selected, performance_now() - started)
        };
        let build_tokenizer = async {
            let bytes = bytes_of(tokenizer, "tokenizer").await?;
            let started = performance_now();
            let built = PairTokenizer::from_bytes(&bytes, load.tokenizer_mode)?;
            Ok::<_, JsValue>((built, performance_now() - started))
        };
        let ((selected, device_ms), tokenizer) =
            futures_util::future::join(probe, build_tokenizer).await;
        let (tokenizer, tokenizer_ms) = tokenizer?;
        let selected = selected?;
        // NOTE: only the CPU multiplies int8 weights in integers, so WebGPU never starts the side
        // module (after a device loss, the reload on the CPU does). Where it cannot run, the
        // i16 kernel does, and `device` says why: the same scores as without the option, never
        // an error.
        let mut activations_reason = None;
        if selected.backend == Backend::Cpu {
            // NOTE: a speed-up only (the f32 products' fused multiply-add): where it cannot run,
            // the plain simd128 products do, and nothing needs saying.
            let _ = relaxed::install_products();
        }
        if options.activations == Activations::I7 && selected.backend == Backend::Cpu {
            match relaxed::install() {
                Ok(()) => load.activations = Activations::I7,
                Err(reason) => activations_reason = Some(reason),
            }
        }
        let weights = weights_of(weights).await?;
        let engine = Reranker::<Model>::with_tokenizer(weights, tokenizer, selected, load)?;
        Ok(WasmReranker {
            shared: Rc::new(Shared {
                engine,
                device_ms,
                tokenizer_ms,
                activations_reason,
                queue: Mutex::new(()),
            }),
        })
    }

    /// See `DeviceInfo` in index.d.ts: the backend, how the linear layers multiply, and why
    /// what was asked for is not what runs, where it is not.
    #[wasm_bindgen(getter)]
    pub fn device(&self) -> JsValue {
        let engine = &self.shared.engine;
        let selected = engine.device();
        to_js(&DeviceInfo {
            backend: selected.backend.as_str(),
            matmul: if engine.integer_linear_layers() > 0 {
                "int8"
            } else {
                "f32"
            },
            activations: engine.activations().map(Activations::name),
            activations_reason: self.shared.activations_reason.clone(),
            adapter: selected.adapter.clone(),
            fallback_reason: selected.fallback_reason.clone(),
        })
    }

    /// Traps the instance, as a bug would (an `unreachable`): only in test builds.
    #[cfg(feature = "test-hooks")]
    #[wasm_bindgen(js_name = __trap)]
    pub fn trap(&self) {
        core::arch::wasm32::unreachable()
    }

    /// How the loaded weights were stored: `'int8'` (compact) or `'f32'`.
    #[wasm_bindgen(getter)]
    pub fn precision(&self) -> String {
        self.shared.engine.precision().name().to_string()
    }

    /// Milliseconds of this load: `{ deviceMs, tokenizerMs, weightsMs }` (choosing the device,
    /// building the tokenizer, reading the weights into the model).
    #[wasm_bindgen(getter, js_name = loadTimings)]
    pub fn load_timings(&self) -> JsValue {
        let timings = self.shared.engine.load_timings().unwrap_or_default();
        to_js(&LoadTimings {
            device_ms: self.shared.device_ms,
            tokenizer_ms: self.shared.tokenizer_ms,
            weights_ms: timings.weights_ms,
        })
    }

    /// The truncation length in tokens.
    #[wasm_bindgen(getter, js_name = maxLength)]
    pub fn max_length(&self) -> usize {
        self.shared.engine.tokenizer().max_length()
    }

    /// Ranks documents (strings or `{text}` objects) against the query, best first. `signal`: an
    /// `AbortSignal` (or `undefined`), looked at between batches.
    pub fn rerank(
        &self,
        query: JsValue,
        documents: JsValue,
        options: JsValue,
        signal: JsValue,
    ) -> js_sys::Promise {
        let shared = self.shared.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let query = query
                .as_string()
                .ok_or_else(|| invalid("query must be a string"))?;
            let docs: Array = documents
                .dyn_into()
                .map_err(|_| invalid("documents must be an array"))?;
            let options: options::RerankOptions = options::read(options, "rerank options")?;
            let top_n = options
                .top_n
                .map(|n| count("topN", Some(n), 1))
                .transpose()?;
            let batch_size = count("batchSize", options.batch_size, crate::DEFAULT_BATCH_SIZE)?;
            let max_chunks_per_doc = options
                .max_chunks_per_doc
                .map(|n| count("maxChunksPerDoc", Some(n), 1))
                .transpose()?;
            // Every document is checked before any runs; texts are copied a window at a time.
            for (i, doc) in docs.iter().enumerate() {
                document_text(&doc, i)?;
            }
            let documents = JsDocuments(docs.clone());
            let _turn = shared.queue.lock().await;
            let ranked = shared
                .engine
                .rerank_until(
                    &query,
                    &documents,
                    engine::RerankOptions {
                        top_n,
                        batch_size,
                        max_chunks_per_doc,
                    },
                    &JsControl { signal },
                )
                .await?;
            let out = Array::new();
            for r in ranked {
                out.push(&to_js(&Ranked {
                    index: r.index as u32,
                    score: f64::from(r.score.logit),
                    probability: f64::from(r.score.probability),
                    document: if options.return_documents.unwrap_or(false) {
                        docs.get(r.index as u32)
                    } else {
                        JsValue::UNDEFINED
                    },
                }));
            }
            Ok(out.into())
        })
    }

    /// Raw scores of `[query, passage]` pairs, in input order. `signal` as for `rerank`.
    pub fn predict(&self, pairs: JsValue, options: JsValue, signal: JsValue) -> js_sys::Promise {
        let shared = self.shared.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let pairs: Array = pairs
                .dyn_into()
                .map_err(|_| invalid("pairs must be an array of [query, passage] string pairs"))?;
            let options: PredictOptions = options::read(options, "predict options")?;
            let batch_size = count("batchSize", options.batch_size, crate::DEFAULT_BATCH_SIZE)?;
            let pairs = JsPairs(pairs);
            for i in 0..pairs.count() {
                pairs.strings(i)?;
            }
            let _turn = shared.queue.lock().await;
            let scores = shared
                .engine
                .predict_until(&pairs, batch_size, &JsControl { signal })
                .await?;
            let out = js_sys::Float64Array::new_with_length(scores.len() as u32);
            for (i, s) in scores.iter().enumerate() {
                out.set_index(i as u32, f64::from(s.logit));
            }
            Ok(out.into())
        })
    }
}
