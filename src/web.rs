//! The wasm-bindgen surface: the JS `WasmReranker` class that `pkg/index.js` wraps.
//!
//! Everything JS-shaped lives here: option objects, document arrays, result objects, and the
//! one conversion of [`Error`] into a JS `Error` with `name` and `code`. Methods take `&self` and
//! return promises that own an `Rc` of the engine, so overlapping calls never borrow the
//! wasm-bindgen object across an `await` ("recursive use of an object"); they are run one at a
//! time through a FIFO lock.

use std::rc::Rc;

use futures_util::lock::Mutex;
use js_sys::{Array, Object, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use crate::device::{self, DevicePreference};
use crate::engine::{LoadOptions, RerankOptions, Reranker};
use crate::error::Error;
use crate::model::CrossEncoderModel;
use crate::model::selected::Model;

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
    Error::InvalidOption {
        name: "argument",
        expected: "see the TypeScript types",
        value: what.to_string(),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsLoadOptions {
    device: Option<String>,
    max_length: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsRerankOptions {
    top_n: Option<f64>,
    return_documents: Option<bool>,
    batch_size: Option<f64>,
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

/// A positive integer option given as a JS number.
fn count(name: &'static str, value: Option<f64>, default: usize) -> Result<usize, Error> {
    match value {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= 1.0 && v.fract() == 0.0 && v <= 1e9 => Ok(v as usize),
        Some(v) => Err(Error::InvalidOption {
            name,
            expected: "a whole number of at least 1",
            value: v.to_string(),
        }),
    }
}

/// The text of a document: the string itself, or the `text` field of an object.
fn document_text(doc: &JsValue, index: usize) -> Result<String, Error> {
    if let Some(s) = doc.as_string() {
        return Ok(s);
    }
    if doc.is_object() {
        if let Some(s) = Reflect::get(doc, &"text".into())
            .ok()
            .and_then(|t| t.as_string())
        {
            return Ok(s);
        }
    }
    Err(Error::InvalidOption {
        name: "documents",
        expected: "strings or objects with a string `text` field",
        value: format!("document {index} is neither"),
    })
}

struct Shared {
    engine: Reranker<Model>,
    queue: Mutex<()>,
}

/// A loaded reranker. Made by `WasmReranker.create`; used through `pkg/index.js`.
#[wasm_bindgen]
pub struct WasmReranker {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl WasmReranker {
    /// Loads the model from the bytes of its weights and `tokenizer.json`.
    /// `options`: `{ device?: 'auto' | 'webgpu' | 'cpu', maxLength?: number }`.
    pub async fn create(
        weights: Vec<u8>,
        tokenizer_json: Vec<u8>,
        options: JsValue,
    ) -> Result<WasmReranker, JsValue> {
        let options: JsLoadOptions =
            options_or_throw(options, "load options", &["device", "maxLength"])?;
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
        let mut load = LoadOptions::default();
        if let Some(max_length) = options.max_length {
            load.max_length = max_length;
        }
        let selected = device::select(preference, &Model::INFO).await?;
        let engine = Reranker::<Model>::new(weights, &tokenizer_json, selected, load)?;
        Ok(WasmReranker {
            shared: Rc::new(Shared {
                engine,
                queue: Mutex::new(()),
            }),
        })
    }

    /// `{ backend: 'webgpu' | 'cpu', fallbackReason?: string }`.
    #[wasm_bindgen(getter)]
    pub fn device(&self) -> JsValue {
        let selected = self.shared.engine.device();
        let out = Object::new();
        let _ = Reflect::set(&out, &"backend".into(), &selected.backend.as_str().into());
        if let Some(reason) = &selected.fallback_reason {
            let _ = Reflect::set(&out, &"fallbackReason".into(), &reason.into());
        }
        out.into()
    }

    /// The truncation length in tokens.
    #[wasm_bindgen(getter, js_name = maxLength)]
    pub fn max_length(&self) -> usize {
        self.shared.engine.tokenizer().max_length()
    }

    /// Ranks documents (strings or `{text}` objects) against the query, best first.
    pub fn rerank(&self, query: JsValue, documents: JsValue, options: JsValue) -> js_sys::Promise {
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
                &["topN", "returnDocuments", "batchSize"],
            )?;
            let top_n = options
                .top_n
                .map(|n| count("topN", Some(n), 1))
                .transpose()?;
            let batch_size = count("batchSize", options.batch_size, crate::DEFAULT_BATCH_SIZE)?;
            let texts = docs
                .iter()
                .enumerate()
                .map(|(i, d)| document_text(&d, i))
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let _turn = shared.queue.lock().await;
            let ranked = shared
                .engine
                .rerank(&query, &refs, RerankOptions { top_n, batch_size })
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

    /// Raw scores of `[query, passage]` pairs, in input order.
    pub fn predict(&self, pairs: JsValue, options: JsValue) -> js_sys::Promise {
        let shared = self.shared.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let pairs: Vec<(String, String)> = serde_wasm_bindgen::from_value(pairs)
                .map_err(|_| invalid("pairs must be an array of [query, passage] string pairs"))?;
            let options: JsRerankOptions =
                options_or_throw(options, "predict options", &["batchSize"])?;
            let batch_size = count("batchSize", options.batch_size, crate::DEFAULT_BATCH_SIZE)?;
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(q, p)| (q.as_str(), p.as_str()))
                .collect();
            let _turn = shared.queue.lock().await;
            let scores = shared.engine.predict(&refs, batch_size).await?;
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
