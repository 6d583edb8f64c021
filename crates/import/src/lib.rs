//! The model importer: turns a cross-encoder's ONNX file into burn code at build time. The
//! crate's build script (`build.rs`) calls [`run`].
//!
//! * `RERANKER_MODEL_DIR` (a folder with `model.onnx`, `tokenizer.json` and `config.json`) is
//!   imported as the crate's `selected` model; `build.sh` sets it. Unset: the library builds
//!   without a built-in model (the engine is generic) and says so through `cfg(reranker_selected)`.
//! * With the `fixtures` feature the committed tiny test models are imported as well.
//!
//! For each model, `OUT_DIR/<name>/` gets `model.rs` (burn-onnx's code for the graph without its
//! word-embedding table, with attention, GELU and LayerNorm fused), `weights-f32.bpk` and
//! `weights-int8.bpk`, `tokenizer.bin`, and `glue.rs` (the `CrossEncoderModel` impl).
//! docs/design.md describes each step; the steps are the modules below, in the order [`import`]
//! calls them, and each has tests on small hand-built graphs (`onnx_test`).
//!
//! NOTE: the importer is `burn-import` (pinned `=0.22.0`), the shim crate the design names. It
//! re-exports burn-onnx 0.22.0's `ModelGen` unchanged, so pinning it pins the generator that
//! matches burn 0.22.1; switching to `burn-onnx` directly is a one-line change when the shim goes.

pub mod codegen;
pub mod consts;
pub mod fuse;
pub mod gemm;
pub mod graph;
pub mod int32;
pub mod mask;
pub mod onnx;
#[cfg(test)]
mod onnx_test;
pub mod side_module;
pub mod target;
pub mod weights;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use web_reranker_formats::{quant, tokenizer_bin};

impl Imported {
    /// The nodes left unfused, each with the subgraph found there.
    pub fn unfused(&self) -> &[String] {
        &self.unfused
    }
}

/// Facts about one imported model, written into its `glue.rs`.
pub struct Imported {
    name: &'static str,
    dir: PathBuf,
    vocab_size: u64,
    hidden_size: u64,
    num_attention_heads: u64,
    intermediate_size: u64,
    max_positions: u64,
    pad_token_id: u64,
    /// Transformer layers (`num_hidden_layers`).
    layers: u64,
    fused: fuse::Fused,
    /// The nodes left unfused, each with the subgraph found there ([`fuse::unfused`]).
    unfused: Vec<String>,
    /// What the generated code holds: its linear layers, the folded GELUs, WebGPU blockers.
    generated: codegen::Generated,
}

/// The files of the package the build script reads besides the models (cargo reruns it when one
/// changes; the importer itself is a dependency, so a change to it reruns the script anyway).
///
/// NOTE: naming any file turns off cargo's default of watching the whole package, so every file
/// read is named.
const SOURCES: [&str; 1] = [side_module::RELAXED_KERNEL];

/// The committed test models the `fixtures` feature imports: (module name, folder in
/// `tests/fixtures/`).
const FIXTURES: [(&str, &str); 6] = [
    ("fixture_webgpu", "tiny-webgpu"),
    ("fixture_hub", "tiny-hub"),
    ("fixture_optimum", "tiny-optimum"),
    ("fixture_transformers", "tiny-transformers"),
    ("fixture_sdpa", "tiny-sdpa"),
    ("fixture_dynamo", "tiny-dynamo"),
];

/// The build script's work: the target's `cfg`s, the relaxed-SIMD side module on wasm, and each
/// model to import.
pub fn run() {
    let target = target::configure();
    println!("cargo:rerun-if-env-changed=RERANKER_MODEL_DIR");
    for file in SOURCES {
        println!("cargo:rerun-if-changed={file}");
    }
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    if target.wasm {
        side_module::assemble(&manifest, &out, target.atomics);
    }
    if let Some(dir) = env::var_os("RERANKER_MODEL_DIR").filter(|d| !d.is_empty()) {
        // RERANKER_STRICT_FUSION=1: a model that loses a fusion fails the build.
        println!("cargo:rerun-if-env-changed=RERANKER_STRICT_FUSION");
        let strict = env::var("RERANKER_STRICT_FUSION").is_ok_and(|v| v == "1");
        import_checked("selected", &manifest.join(PathBuf::from(dir)), &out, strict);
        println!("cargo:rustc-cfg=reranker_selected");
    }
    if env::var_os("CARGO_FEATURE_FIXTURES").is_some() {
        // NOTE: the committed fixtures must take the whole fast path: a fusion or a linear layer
        // one of them loses stops the build (the tests' equivalent of the selected model's
        // warning as an error).
        for (name, folder) in FIXTURES {
            import_checked(
                name,
                &manifest.join("tests/fixtures").join(folder),
                &out,
                true,
            );
        }
    }
}

/// [`import`], then the fast path's check: every layer's attention, GELU and residual +
/// LayerNorm fused and every linear layer on our kernels. What falls short is a `cargo:warning`
/// naming each node left and the subgraph found there, or, `strict`, a failed build. The counts
/// go to `OUT_DIR/<name>/fusion.txt` (build.sh prints them).
pub fn import_checked(name: &'static str, dir: &Path, out: &Path, strict: bool) {
    let imported = import(name, dir, out);
    let report = FastPath::of(&imported);
    fs::write(out.join(name).join("fusion.txt"), report.summary())
        .unwrap_or_else(|e| fail(format!("cannot write fusion.txt: {e}")));
    if report.complete() {
        return;
    }
    let message = format!(
        "{} does not take the whole fast path ({}):\n  {}",
        dir.display(),
        report.summary().trim_end(),
        imported.unfused.join("\n  ")
    );
    if strict {
        fail(message);
    }
    for line in message.lines() {
        println!("cargo:warning={line}");
    }
}

/// What an imported model runs on the fast path, against what its layer count calls for.
pub struct FastPath {
    /// (what, found, expected).
    counts: [(&'static str, usize, usize); 4],
}

impl FastPath {
    pub fn of(m: &Imported) -> Self {
        let layers = m.layers as usize;
        FastPath {
            counts: [
                ("attention", m.fused.attention, layers),
                ("GELU", m.fused.gelu, layers),
                ("residual + LayerNorm", m.fused.layer_norm, 2 * layers + 1),
                // Six per layer (query, key, value, output, feed-forward in and out) and the
                // classifier's two.
                (
                    "linear layers on our kernels",
                    m.generated.linear_layers.len(),
                    6 * layers + 2,
                ),
            ],
        }
    }

    pub fn complete(&self) -> bool {
        self.counts.iter().all(|(_, found, want)| found >= want)
    }

    /// `attention 12/12, GELU 12/12, …` and a newline.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(what, found, want)| format!("{what} {found}/{want}"))
            .collect();
        format!("{}\n", parts.join(", "))
    }
}

/// Imports the model folder `dir` as `crate::model::<name>`: the steps, in order.
pub fn import(name: &'static str, dir: &Path, out: &Path) -> Imported {
    let config = ModelConfig::read(dir);
    let target = out.join(name);
    fs::create_dir_all(&target).unwrap_or_else(|e| fail(format!("cannot create {target:?}: {e}")));
    // NOTE: burn-onnx names its outputs after the input file: model.onnx → model.rs, model.bpk.
    let split_onnx = target.join("model.onnx");
    let (table, fused, unfused) = graph::prepare(
        &dir.join("model.onnx"),
        &split_onnx,
        config.number("vocab_size"),
        config.number("hidden_size"),
        config.number("num_attention_heads"),
    );
    let generated = codegen::generate(name, &split_onnx, dir);
    weights::write(
        &target,
        table,
        config.number("vocab_size"),
        config.number("hidden_size"),
    );
    write_compact_tokenizer(dir, &target);
    let imported = Imported {
        name,
        dir: dir.to_path_buf(),
        vocab_size: config.number("vocab_size"),
        hidden_size: config.number("hidden_size"),
        num_attention_heads: config.number("num_attention_heads"),
        intermediate_size: config.number("intermediate_size"),
        max_positions: config.number("max_position_embeddings"),
        pad_token_id: config.number("pad_token_id"),
        layers: config.number("num_hidden_layers"),
        fused,
        unfused,
        generated,
    };
    codegen::write_glue(&imported, out);
    imported
}

/// A model folder's `config.json`, checked to be a one-label cross-encoder.
struct ModelConfig {
    dir: PathBuf,
    json: serde_json::Value,
}

impl ModelConfig {
    fn read(dir: &Path) -> Self {
        for file in ["model.onnx", "tokenizer.json", "config.json"] {
            let path = dir.join(file);
            if !path.is_file() {
                fail(format!(
                    "model folder {} has no {file}. A model folder holds model.onnx (made by \
                     tools/export_onnx.py), tokenizer.json and config.json; `./build.sh --model \
                     DIR` or RERANKER_MODEL_DIR=DIR selects one.",
                    dir.display()
                ));
            }
            println!("cargo:rerun-if-changed={}", path.display());
        }
        let text = fs::read_to_string(dir.join("config.json"))
            .unwrap_or_else(|e| fail(format!("cannot read {}/config.json: {e}", dir.display())));
        let json: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| fail(format!("{}/config.json is not JSON: {e}", dir.display())));
        let labels = json["id2label"].as_object().map_or(1, |m| m.len());
        if labels != 1 {
            fail(format!(
                "{} is a classifier with {labels} labels; a cross-encoder reranker has exactly one",
                dir.display()
            ));
        }
        Self {
            dir: dir.to_path_buf(),
            json,
        }
    }

    fn number(&self, key: &str) -> u64 {
        self.json[key].as_u64().unwrap_or_else(|| {
            fail(format!(
                "{}/config.json has no integer `{key}`",
                self.dir.display()
            ))
        })
    }
}

/// `tokenizer.bin`: `tokenizer.json` with its vocabulary in binary (`crates/formats/src/tokenizer_bin.rs`).
fn write_compact_tokenizer(dir: &Path, target: &Path) {
    let tokenizer = fs::read(dir.join("tokenizer.json"))
        .unwrap_or_else(|e| fail(format!("cannot read {}/tokenizer.json: {e}", dir.display())));
    let compact = tokenizer_bin::encode(&tokenizer)
        .unwrap_or_else(|e| fail(format!("{}/tokenizer.json: {e}", dir.display())));
    fs::write(target.join("tokenizer.bin"), compact)
        .unwrap_or_else(|e| fail(format!("cannot write tokenizer.bin: {e}")));
}

/// Stops the build with `message`.
pub fn fail(message: String) -> ! {
    // A build script reports errors by panicking; make the message the first thing people see.
    panic!("\n\nweb-reranker build: {message}\n\n");
}
