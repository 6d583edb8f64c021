//! What a JS call hands the engine: its documents or pairs (copied into wasm a window at a
//! time), its `AbortSignal`, and the bytes of the model files.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;

use crate::engine::{CallControl, Documents, Pairs};
use crate::error::Error;
use crate::weights::WeightBytes;

pub fn invalid(what: &str) -> Error {
    Error::InvalidArgument(what.to_string())
}

/// The JS string holding a document's text: the document itself, or its `text` field.
pub fn document_text(doc: &JsValue, index: usize) -> Result<JsValue, Error> {
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
pub struct JsDocuments(pub Array);

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
pub struct JsPairs(pub Array);

impl JsPairs {
    /// The two strings of pair `index`, or why it is not a pair of strings.
    pub fn strings(&self, index: usize) -> Result<(JsValue, JsValue), Error> {
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
pub struct JsControl {
    pub signal: JsValue,
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
pub async fn bytes_of(promise: js_sys::Promise, what: &str) -> Result<Vec<u8>, JsValue> {
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
pub async fn weights_of(promise: js_sys::Promise) -> Result<WeightBytes, JsValue> {
    let array = uint8_array_of(promise, "weights").await?;
    Ok(WeightBytes::filled(array.length() as usize, |buffer| {
        array.copy_to(buffer)
    }))
}
