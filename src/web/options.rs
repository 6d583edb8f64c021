//! The options objects of the JS API that the module reads: each is a struct, and its fields are
//! the one list of the option names (an unknown name is an `INVALID_INPUT` that lists them).

use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::device::DevicePreference;
use crate::error::Error;
use crate::kernels::Activations;

/// The load options the module reads (`Reranker.load`'s others are js/options.js's).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LoadOptions {
    pub device: Option<String>,
    pub max_length: Option<usize>,
    /// NOTE: not an `Option`: `null` is a wrong value here, not "the default".
    #[serde(default, deserialize_with = "activations")]
    pub activations: Activations,
}

/// `rerank`'s options (its `signal` is taken out in JS).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RerankOptions {
    pub top_n: Option<f64>,
    pub return_documents: Option<bool>,
    pub batch_size: Option<f64>,
    pub max_chunks_per_doc: Option<f64>,
}

/// `predict`'s options (its `signal` is taken out in JS).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PredictOptions {
    pub batch_size: Option<f64>,
}

/// The `device` option's values and what each asks for, the default first.
const DEVICES: [(&str, DevicePreference); 3] = [
    ("auto", DevicePreference::Auto),
    ("webgpu", DevicePreference::WebGpu),
    ("cpu", DevicePreference::Cpu),
];

impl LoadOptions {
    /// The `device` option.
    pub fn preference(&self) -> Result<DevicePreference, Error> {
        let name = self.device.as_deref().unwrap_or(DEVICES[0].0);
        DEVICES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, preference)| *preference)
            .ok_or_else(|| Error::InvalidOption {
                name: "device",
                expected: "'auto', 'webgpu' or 'cpu'",
                value: name.to_string(),
            })
    }
}

/// The values the module accepts for its load options that take a fixed set, for the package's
/// test of js/options.js's table: `{ device: [...], activations: [...] }`.
#[wasm_bindgen(js_name = loadOptionValues)]
pub fn load_option_values() -> JsValue {
    #[derive(Serialize)]
    struct Values {
        device: Vec<&'static str>,
        activations: Vec<&'static str>,
    }
    to_js(&Values {
        device: DEVICES.iter().map(|(name, _)| *name).collect(),
        activations: Activations::ALL.iter().map(|a| a.name()).collect(),
    })
}

/// Every `RerankerError` code the module can throw ([`crate::error::CODES`]), for the package's
/// test of js/errors.js.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<String> {
    crate::error::CODES.iter().map(|c| c.to_string()).collect()
}

/// The names of the load options the module reads, for js/options.js's test.
#[wasm_bindgen(js_name = loadOptionNames)]
pub fn load_option_names() -> Vec<String> {
    field_names::<LoadOptions>()
        .iter()
        .map(|name| name.to_string())
        .collect()
}

/// `value` (a JS options object, `undefined` or `null`) as `T`; `what` names it in errors.
pub fn read<T: DeserializeOwned + Default>(value: JsValue, what: &str) -> Result<T, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    let known = field_names::<T>();
    // NOTE: serde-wasm-bindgen reads only the fields a struct declares (so `deny_unknown_fields`
    // never fires), and a misspelt option would be ignored silently; name it instead.
    if let Some(object) = value.dyn_ref::<js_sys::Object>() {
        for key in js_sys::Object::keys(object)
            .iter()
            .filter_map(|k| k.as_string())
        {
            if !known.contains(&key.as_str()) {
                return Err(Error::InvalidOption {
                    name: "options",
                    expected: "only the documented fields",
                    value: format!(
                        "{what}: unknown field `{key}` (known: {})",
                        known.join(", ")
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
pub fn count(name: &'static str, value: Option<f64>, default: usize) -> Result<usize, Error> {
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

/// The `activations` option: `'i16'` or `'i7'`; anything else (`null` included) is an error that
/// names the option.
fn activations<'de, D: de::Deserializer<'de>>(deserializer: D) -> Result<Activations, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    match value.as_str() {
        Some("i16") => Ok(Activations::I16),
        Some("i7") => Ok(Activations::I7),
        _ => Err(de::Error::custom(format!(
            "activations must be 'i16' or 'i7', not {value}"
        ))),
    }
}

/// The field names `T` declares: what serde hands `deserialize_struct`, captured by a
/// deserializer that reads nothing.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Names<'a>(&'a mut &'static [&'static str]);
    impl<'de> de::Deserializer<'de> for Names<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("names only"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(Names(&mut names));
    names
}

/// One `rerank` result, as JS sees it.
#[derive(Serialize)]
pub struct Ranked {
    pub index: u32,
    pub score: f64,
    pub probability: f64,
    /// The caller's document, the same JS value (with `returnDocuments`).
    #[serde(
        with = "serde_wasm_bindgen::preserve",
        skip_serializing_if = "JsValue::is_undefined"
    )]
    pub document: JsValue,
}

/// The reranker's `device` getter, as JS sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub backend: &'static str,
    /// `'int8'` when the linear layers multiply in integers (int8 weights on the CPU).
    pub matmul: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activations: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activations_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
}

/// The module's part of `loadTimings`, in milliseconds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadTimings {
    pub device_ms: f64,
    pub tokenizer_ms: f64,
    pub weights_ms: f64,
}

/// A value for JS: objects as plain objects.
pub fn to_js<T: Serialize>(value: &T) -> JsValue {
    // NOTE: these types hold numbers, strings and JS values only, which always serialize.
    value
        .serialize(&serde_wasm_bindgen::Serializer::new())
        .unwrap_or(JsValue::UNDEFINED)
}
