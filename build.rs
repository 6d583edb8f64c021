//! Build script: imports cross-encoder ONNX files into burn code at build time.
//!
//! * `RERANKER_MODEL_DIR` (a folder with `model.onnx`, `tokenizer.json` and `config.json`) is
//!   imported as the crate's `selected` model; `build.sh` sets it. Unset: the library builds
//!   without a built-in model (the engine is generic) and says so through `cfg(reranker_selected)`.
//! * With the `fixtures` feature the committed tiny test models are imported as well.
//!
//! For each model the generated `model.rs`, the weights (`model.bpk`, loaded at run time from
//! bytes so a browser can fetch them) and a small `glue.rs` (the `CrossEncoderModel` impl with the
//! facts read from `config.json` and from the generated code) are written to `OUT_DIR/<name>/`.
//!
//! NOTE: the importer is `burn-import` (pinned `=0.22.0`), the shim crate the design names. It
//! re-exports burn-onnx 0.22.0's `ModelGen` unchanged, so pinning it pins the generator that
//! matches burn 0.22.1; switching to `burn-onnx` directly is a one-line change when the shim goes.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use burn_import::onnx::{LoadStrategy, ModelGen};

/// Facts about one imported model, written into its `glue.rs`.
struct Imported {
    name: &'static str,
    dir: PathBuf,
    vocab_size: u64,
    hidden_size: u64,
    num_attention_heads: u64,
    intermediate_size: u64,
    max_positions: u64,
    pad_token_id: u64,
    webgpu_blockers: Vec<&'static str>,
}

fn main() {
    println!("cargo:rustc-check-cfg=cfg(reranker_selected)");
    println!("cargo:rerun-if-env-changed=RERANKER_MODEL_DIR");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    if let Some(dir) = env::var_os("RERANKER_MODEL_DIR").filter(|d| !d.is_empty()) {
        let dir = manifest.join(PathBuf::from(dir));
        let imported = import("selected", &dir, &out);
        write_glue(&imported, &out);
        println!("cargo:rustc-cfg=reranker_selected");
    }
    if env::var_os("CARGO_FEATURE_FIXTURES").is_some() {
        for (name, folder) in [
            ("fixture_webgpu", "tiny-webgpu"),
            ("fixture_hub", "tiny-hub"),
        ] {
            let dir = manifest.join("tests").join("fixtures").join(folder);
            let imported = import(name, &dir, &out);
            write_glue(&imported, &out);
        }
    }
}

fn fail(message: String) -> ! {
    // A build script reports errors by panicking; make the message the first thing people see.
    panic!("\n\nweb-reranker build: {message}\n\n");
}

fn import(name: &'static str, dir: &Path, out: &Path) -> Imported {
    for file in ["model.onnx", "tokenizer.json", "config.json"] {
        let path = dir.join(file);
        if !path.is_file() {
            fail(format!(
                "model folder {} has no {file}. A model folder holds model.onnx (made by \
                 scripts/export_onnx.py), tokenizer.json and config.json; `./build.sh --model DIR` \
                 or RERANKER_MODEL_DIR=DIR selects one.",
                dir.display()
            ));
        }
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let config_text = fs::read_to_string(dir.join("config.json"))
        .unwrap_or_else(|e| fail(format!("cannot read {}/config.json: {e}", dir.display())));
    let config: serde_json::Value = serde_json::from_str(&config_text)
        .unwrap_or_else(|e| fail(format!("{}/config.json is not JSON: {e}", dir.display())));
    let number = |key: &str| {
        config[key].as_u64().unwrap_or_else(|| {
            fail(format!(
                "{}/config.json has no integer `{key}`",
                dir.display()
            ))
        })
    };
    let labels = config["id2label"].as_object().map_or(1, |m| m.len());
    if labels != 1 {
        fail(format!(
            "{} is a classifier with {labels} labels; a cross-encoder reranker has exactly one",
            dir.display()
        ));
    }

    let target = out.join(name);
    ModelGen::new()
        .input(dir.join("model.onnx").to_str().expect("UTF-8 path"))
        .out_dir(&format!("{name}/"))
        .load_strategy(LoadStrategy::Bytes)
        .run_from_script();
    let code = fs::read_to_string(target.join("model.rs"))
        .unwrap_or_else(|e| fail(format!("burn-onnx wrote no model.rs for {name}: {e}")));
    check_signature(name, &code, dir);

    let mut webgpu_blockers = Vec::new();
    if code.contains(".to_data()") {
        webgpu_blockers.push(
            "its graph has data-dependent shapes, so the generated code reads tensors back \
             synchronously (to_data), which panics in wasm on WebGPU",
        );
    }
    if code.contains("DType::I64") {
        webgpu_blockers.push("it computes with int64 tensors, and WGSL has no 64-bit integers");
    }
    Imported {
        name,
        dir: dir.to_path_buf(),
        vocab_size: number("vocab_size"),
        hidden_size: number("hidden_size"),
        num_attention_heads: number("num_attention_heads"),
        intermediate_size: number("intermediate_size"),
        max_positions: number("max_position_embeddings"),
        pad_token_id: number("pad_token_id"),
        webgpu_blockers,
    }
}

/// The top-level `forward` must be `(input_ids, attention_mask) -> logits [batch, 1]`.
fn check_signature(name: &str, code: &str, dir: &Path) {
    let flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let expected =
        "pubfnforward(&self,input_ids:Tensor<2,Int>,attention_mask:Tensor<2,Int>,)->Tensor<2>{";
    // Sub-graphs come first in the generated file; the model's own forward is the last one.
    let last = flat.rfind("pubfnforward(").unwrap_or(0);
    if !flat[last..].starts_with(expected) {
        let end = flat[last..].find('{').map_or(flat.len(), |i| last + i);
        fail(format!(
            "{name} ({}) has an unsupported signature `{}`: export it with scripts/export_onnx.py \
             so its inputs are (input_ids, attention_mask) and its output is logits [batch, 1]",
            dir.display(),
            &flat[last..end]
        ));
    }
}

fn write_glue(m: &Imported, out: &Path) {
    let blocker = if m.webgpu_blockers.is_empty() {
        "None".to_string()
    } else {
        format!("Some({:?})", m.webgpu_blockers.join("; and "))
    };
    let glue = format!(
        r#"// Generated by build.rs: ties the burn-onnx model to the engine.
/// What build.rs learned about this model.
pub const INFO: crate::model::ModelInfo = crate::model::ModelInfo {{
    name: {name:?},
    source_dir: {dir:?},
    vocab_size: {vocab},
    hidden_size: {hidden},
    num_attention_heads: {heads},
    intermediate_size: {ffn},
    max_positions: {positions},
    pad_token_id: {pad},
    webgpu_blocker: {blocker},
}};

/// Weights written by burn-onnx next to the generated code (native builds and tests read it).
pub const WEIGHTS_PATH: &str = concat!(env!("OUT_DIR"), "/{name}/model.bpk");

impl crate::model::CrossEncoderModel for Model {{
    const INFO: crate::model::ModelInfo = INFO;

    fn empty(device: &burn::prelude::Device) -> Self {{
        Model::new(device)
    }}

    fn logits(
        &self,
        input_ids: burn::prelude::Tensor<2, burn::prelude::Int>,
        attention_mask: burn::prelude::Tensor<2, burn::prelude::Int>,
    ) -> burn::prelude::Tensor<2> {{
        self.forward(input_ids, attention_mask)
    }}
}}
"#,
        name = m.name,
        dir = m.dir.display().to_string(),
        vocab = m.vocab_size,
        hidden = m.hidden_size,
        heads = m.num_attention_heads,
        ffn = m.intermediate_size,
        positions = m.max_positions,
        pad = m.pad_token_id,
    );
    fs::write(out.join(m.name).join("glue.rs"), glue).expect("write glue.rs");
}
