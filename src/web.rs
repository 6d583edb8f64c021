//! The wasm-bindgen surface: the JS `WasmReranker` class that `pkg/index.js` wraps.
//!
//! Everything JS-shaped lives here: option objects, document arrays, result objects, and the
//! one conversion of [`Error`] into a JS `Error` with `name` and `code`. Methods take `&self` and
//! return promises that own an `Rc` of the engine, so overlapping calls never borrow the
//! wasm-bindgen object across an `await` ("recursive use of an object"); they are run one at a
//! time through a FIFO lock.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use futures_util::lock::Mutex;
use js_sys::{Array, Object, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use crate::device::{self, Backend, DevicePreference};
use crate::engine::{CallControl, Documents, LoadOptions, Pairs, RerankOptions, Reranker};
use crate::error::Error;
use crate::model::CrossEncoderModel;
use crate::model::selected::Model;
use crate::tokenize::PairTokenizer;
use crate::weights::{Int8Activations, WeightBytes};

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
}

#[wasm_bindgen]
extern "C" {
    /// `performance.now()`: windows, workers and Node all have it.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
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

fn invalid(what: &str) -> Error {
    Error::InvalidArgument(what.to_string())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsLoadOptions {
    device: Option<String>,
    max_length: Option<usize>,
    int8_activations: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsRerankOptions {
    top_n: Option<f64>,
    return_documents: Option<bool>,
    batch_size: Option<f64>,
    max_chunks_per_doc: Option<f64>,
}

fn options<T: for<'de> Deserialize<'de> + Default>(
    value: JsValue,
    what: &str,
    allowed: &[&str],
) -> Result<T, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    // NOTE: serde-wasm-bindgen reads only the fields a struct declares, so a misspelt option
    // would be ignored silently; name it instead.
    if let Some(object) = value.dyn_ref::<Object>() {
        for key in Object::keys(object).iter().filter_map(|k| k.as_string()) {
            if !allowed.contains(&key.as_str()) {
                return Err(Error::InvalidOption {
                    name: "options",
                    expected: "only the documented fields",
                    value: format!(
                        "{what}: unknown field `{key}` (known: {})",
                        allowed.join(", ")
                    ),
                });
            }
        }
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| Error::InvalidOption {
        name: "options",
        expected: "an object with the documented fields",
        value: format!("{what}: {e}"),
    })
}

/// A positive integer option given as a JS number; values past `usize` saturate (a `topN` larger
/// than the list means all of it).
fn count(name: &'static str, value: Option<f64>, default: usize) -> Result<usize, Error> {
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    match value {
        None => Ok(default),
        Some(v) if v >= 1.0 && v.fract() == 0.0 && v <= MAX_SAFE_INTEGER => Ok(v as usize),
        Some(v) => Err(Error::InvalidOption {
            name,
            expected: "a whole number from 1 to Number.MAX_SAFE_INTEGER",
            value: v.to_string(),
        }),
    }
}

/// The JS string holding a document's text: the document itself, or its `text` field.
fn document_text(doc: &JsValue, index: usize) -> Result<JsValue, Error> {
    if doc.is_string() {
        return Ok(doc.clone());
    }
    if doc.is_object() {
        if let Ok(text) = Reflect::get(doc, &"text".into()) {
            if text.is_string() {
                return Ok(text);
            }
        }
    }
    Err(Error::InvalidOption {
        name: "documents",
        expected: "strings or objects with a string `text` field",
        value: format!("document {index} is neither"),
    })
}

/// A JS string as Rust text. NOTE: lone UTF-16 surrogates, which UTF-8 cannot hold, become
/// U+FFFD (wasm-bindgen's conversion), as they would in a `TextEncoder`.
fn rust_text(value: &JsValue) -> String {
    value.as_string().unwrap_or_default()
}

/// The documents of a `rerank` call, copied into wasm a window at a time.
struct JsDocuments(Array);

impl Documents for JsDocuments {
    fn count(&self) -> usize {
        self.0.length() as usize
    }

    fn text(&self, index: usize) -> Result<Cow<'_, str>, Error> {
        let text = document_text(&self.0.get(index as u32), index)?;
        Ok(Cow::Owned(rust_text(&text)))
    }
}

/// The `[query, passage]` pairs of a `predict` call, copied into wasm a window at a time.
struct JsPairs(Array);

impl JsPairs {
    /// The two strings of pair `index`, or why it is not a pair of strings.
    fn strings(&self, index: usize) -> Result<(JsValue, JsValue), Error> {
        let pair = self.0.get(index as u32);
        let bad = || {
            invalid(&format!(
                "pair {index} is not a [query, passage] pair of strings"
            ))
        };
        let pair: Array = pair.dyn_into().map_err(|_| bad())?;
        let (query, passage) = (pair.get(0), pair.get(1));
        if pair.length() != 2 || !query.is_string() || !passage.is_string() {
            return Err(bad());
        }
        Ok((query, passage))
    }
}

impl Pairs for JsPairs {
    fn count(&self) -> usize {
        self.0.length() as usize
    }

    fn pair(&self, index: usize) -> Result<(Cow<'_, str>, Cow<'_, str>), Error> {
        let (query, passage) = self.strings(index)?;
        Ok((
            Cow::Owned(rust_text(&query)),
            Cow::Owned(rust_text(&passage)),
        ))
    }
}

/// A JS call's control: its `AbortSignal` (or `undefined`), and a pause between batches that
/// lets the event loop run (the abort event, a worker's messages, a page's input).
struct JsControl {
    signal: JsValue,
}

impl CallControl for JsControl {
    fn cancelled(&self) -> bool {
        self.signal.is_object()
            && Reflect::get(&self.signal, &"aborted".into()).is_ok_and(|a| a.is_truthy())
    }

    fn between_batches(&self) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        // NOTE: a macrotask (setTimeout 0), not a microtask: only then do events get their turn.
        let set_timeout = Reflect::get(&js_sys::global(), &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        let Some(set_timeout) = set_timeout else {
            return Box::pin(std::future::ready(()));
        };
        let tick = js_sys::Promise::new(&mut |resolve, _| {
            let _ = set_timeout.call2(&JsValue::UNDEFINED, &resolve, &0.into());
        });
        Box::pin(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(tick).await;
        })
    }
}

/// The bytes a promise resolves to: a `Uint8Array`, else an `INVALID_INPUT` error naming `what`;
/// a rejection is passed on as it is (the package's own errors keep their code).
async fn bytes_of(promise: js_sys::Promise, what: &str) -> Result<Vec<u8>, JsValue> {
    Ok(uint8_array_of(promise, what).await?.to_vec())
}

/// The `Uint8Array` a promise resolves to (see [`bytes_of`]).
async fn uint8_array_of(
    promise: js_sys::Promise,
    what: &str,
) -> Result<js_sys::Uint8Array, JsValue> {
    let value = wasm_bindgen_futures::JsFuture::from(promise).await?;
    Ok(value
        .dyn_into::<js_sys::Uint8Array>()
        .map_err(|_| invalid(&format!("the {what} must be a Uint8Array")))?)
}

/// The weights a promise resolves to, copied once, straight into an aligned buffer.
async fn weights_of(promise: js_sys::Promise) -> Result<WeightBytes, JsValue> {
    let array = uint8_array_of(promise, "weights").await?;
    Ok(WeightBytes::filled(array.length() as usize, |buffer| {
        array.copy_to(buffer)
    }))
}

struct Shared {
    engine: Reranker<Model>,
    /// Milliseconds spent choosing the device (the WebGPU probe).
    device_ms: f64,
    /// Milliseconds spent building the tokenizer.
    tokenizer_ms: f64,
    /// Why `int8Activations: 'i7'` was asked for and `'i16'` runs.
    int8_activations_reason: Option<String>,
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
    /// `options`: `{ device?: 'auto' | 'webgpu' | 'cpu', maxLength?: number, int8Activations?:
    /// 'i16' | 'i7' }`.
    pub async fn create(
        weights: js_sys::Promise,
        tokenizer: js_sys::Promise,
        options: JsValue,
    ) -> Result<WasmReranker, JsValue> {
        let options: JsLoadOptions = options_or_throw(
            options,
            "load options",
            &["device", "maxLength", "int8Activations"],
        )?;
        let preference = match options.device.as_deref() {
            None | Some("auto") => DevicePreference::Auto,
            Some("webgpu") => DevicePreference::WebGpu,
            Some("cpu") => DevicePreference::Cpu,
            Some(other) => {
                return Err(Error::InvalidOption {
                    name: "device",
                    expected: "'auto', 'webgpu' or 'cpu'",
                    value: other.to_string(),
                }
                .into());
            }
        };
        let mut load = LoadOptions {
            clock: Some(performance_now),
            ..LoadOptions::default()
        };
        if let Some(max_length) = options.max_length {
            load.max_length = max_length;
        }
        let seven_bits = match options.int8_activations.as_deref() {
            None | Some("i16") => false,
            Some("i7") => true,
            Some(other) => {
                return Err(Error::InvalidOption {
                    name: "int8Activations",
                    expected: "'i16' or 'i7'",
                    value: other.to_string(),
                }
                .into());
            }
        };
        // NOTE: the device probe (waiting on the browser) and the tokenizer (built as soon as its
        // bytes are here) overlap with the weights still being read: the weights come last.
        let probe = async {
            let started = performance_now();
            let selected = device::select(preference, &Model::INFO).await;
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
        let mut int8_activations_reason = None;
        if seven_bits && selected.backend == Backend::Cpu {
            match crate::web_relaxed::install() {
                Ok(()) => load.int8_activations = Int8Activations::I7,
                Err(reason) => int8_activations_reason = Some(reason),
            }
        }
        let weights = weights_of(weights).await?;
        let engine = Reranker::<Model>::with_tokenizer(weights, tokenizer, selected, load)?;
        Ok(WasmReranker {
            shared: Rc::new(Shared {
                engine,
                device_ms,
                tokenizer_ms,
                int8_activations_reason,
                queue: Mutex::new(()),
            }),
        })
    }

    /// `{ backend: 'webgpu' | 'cpu', matmul: 'int8' | 'f32', adapter?: string,
    /// fallbackReason?: string }`; `matmul` is `'int8'` when the linear layers multiply in
    /// integers (int8 weights on the CPU).
    #[wasm_bindgen(getter)]
    pub fn device(&self) -> JsValue {
        let selected = self.shared.engine.device();
        let out = Object::new();
        let _ = Reflect::set(&out, &"backend".into(), &selected.backend.as_str().into());
        let matmul = if self.shared.engine.integer_linear_layers() > 0 {
            "int8"
        } else {
            "f32"
        };
        let _ = Reflect::set(&out, &"matmul".into(), &matmul.into());
        if let Some(activations) = self.shared.engine.int8_activations() {
            let _ = Reflect::set(&out, &"int8Activations".into(), &activations.name().into());
        }
        if let Some(reason) = &self.shared.int8_activations_reason {
            let _ = Reflect::set(&out, &"int8ActivationsReason".into(), &reason.into());
        }
        if let Some(adapter) = &selected.adapter {
            let _ = Reflect::set(&out, &"adapter".into(), &adapter.into());
        }
        if let Some(reason) = &selected.fallback_reason {
            let _ = Reflect::set(&out, &"fallbackReason".into(), &reason.into());
        }
        out.into()
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
        let out = Object::new();
        for (key, ms) in [
            ("deviceMs", self.shared.device_ms),
            ("tokenizerMs", self.shared.tokenizer_ms),
            ("weightsMs", timings.weights_ms),
        ] {
            let _ = Reflect::set(&out, &key.into(), &ms.into());
        }
        out.into()
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
            let options: JsRerankOptions = options_or_throw(
                options,
                "rerank options",
                &["topN", "returnDocuments", "batchSize", "maxChunksPerDoc"],
            )?;
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
                    RerankOptions {
                        top_n,
                        batch_size,
                        max_chunks_per_doc,
                    },
                    &JsControl { signal },
                )
                .await?;
            let out = Array::new();
            for r in ranked {
                let item = Object::new();
                let _ = Reflect::set(&item, &"index".into(), &(r.index as u32).into());
                let _ = Reflect::set(&item, &"score".into(), &f64::from(r.score.logit).into());
                let _ = Reflect::set(
                    &item,
                    &"probability".into(),
                    &f64::from(r.score.probability).into(),
                );
                if options.return_documents.unwrap_or(false) {
                    let _ = Reflect::set(&item, &"document".into(), &docs.get(r.index as u32));
                }
                out.push(&item);
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
            let options: JsRerankOptions =
                options_or_throw(options, "predict options", &["batchSize"])?;
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

fn options_or_throw<T: for<'de> Deserialize<'de> + Default>(
    value: JsValue,
    what: &str,
    allowed: &[&str],
) -> Result<T, JsValue> {
    options(value, what, allowed).map_err(JsValue::from)
}
