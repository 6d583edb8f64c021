//! What of a model folder takes the fast path, without building the engine: runs the importer
//! (graph passes, code generation, weight files) into a temporary folder and prints the counts
//! the build prints, and each node left unfused with the subgraph found there.
//!
//!     cargo run -p web-reranker-import --example fast_path -- MODEL_DIR

use std::path::Path;

use web_reranker_import::{FastPath, import};

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: fast_path MODEL_DIR (model.onnx, tokenizer.json, config.json)");
        std::process::exit(2);
    };
    let out = std::env::temp_dir().join(format!("web-reranker-fast-path-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("a temporary folder");
    // SAFETY: set before any other thread exists; burn-onnx's code generator reads OUT_DIR.
    unsafe { std::env::set_var("OUT_DIR", &out) };
    let imported = import("selected", Path::new(&dir), &out);
    let report = FastPath::of(&imported);
    print!("fast path: {}", report.summary());
    for line in imported.unfused() {
        println!("  {line}");
    }
    std::fs::remove_dir_all(&out).ok();
    std::process::exit(if report.complete() { 0 } else { 1 });
}
