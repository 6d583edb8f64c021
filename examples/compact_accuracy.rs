//! Compact (int8) weights against f32 on the model chosen at build time, and the size of each.
//!
//! Built with a model (`RERANKER_MODEL_DIR`, as `bench/run accuracy` does it with the
//! full-shape random model), it scores ranked lists made from the committed multilingual texts
//! with both weight files (the int8 ones multiplied in f32 and in integers, as wasm does) and
//! prints max |Δlogit|, Spearman's ρ and top-1 agreement, then the bytes of each file by part.
//!
//!     RERANKER_MODEL_DIR=DIR cargo run --release --example compact_accuracy [LISTS] [PER_LIST]

#[cfg(reranker_selected)]
#[path = "../tests/common/agreement.rs"]
mod agreement;

#[cfg(reranker_selected)]
fn main() {
    use std::path::Path;
    use std::time::Instant;

    use burn_store::burn_pack::{Bytes, Reader};
    use web_reranker::model::selected::{INFO, Model, WEIGHTS_F32_PATH, WEIGHTS_INT8_PATH};
    use web_reranker::{Activations, LinearKernels, LoadOptions, Reranker, SelectedDevice};

    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a number"));
    let lists = args.next().unwrap_or(50);
    let per_list = args.next().unwrap_or(8);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let texts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("tests/data/multilingual_texts.json")).unwrap(),
    )
    .unwrap();
    let lists = agreement::ranked_lists(&texts, lists, per_list);
    let tokenizer = std::fs::read(Path::new(INFO.source_dir).join("tokenizer.json")).unwrap();
    let score = |path: &str, linear_kernels, activations| {
        let start = Instant::now();
        let reranker = Reranker::<Model>::new(
            std::fs::read(path).unwrap(),
            &tokenizer,
            SelectedDevice::cpu(),
            LoadOptions {
                linear_kernels,
                activations,
                ..LoadOptions::default()
            },
        )
        .unwrap();
        let pairs = agreement::pairs(&lists);
        let scores = pollster::block_on(reranker.predict(&pairs, 32)).unwrap();
        eprintln!(
            "scored {} pairs with {path} ({linear_kernels:?}, {} layers in integers, {:?}) in {:.1?}",
            pairs.len(),
            reranker.integer_linear_layers(),
            reranker.activations(),
            start.elapsed()
        );
        scores.iter().map(|s| s.logit).collect::<Vec<f32>>()
    };
    let i16 = Activations::I16;
    let exact = score(WEIGHTS_F32_PATH, LinearKernels::Gemm, i16);
    let compact = score(WEIGHTS_INT8_PATH, LinearKernels::Gemm, i16);
    let integers = score(WEIGHTS_INT8_PATH, LinearKernels::Packed, i16);
    let seven = score(WEIGHTS_INT8_PATH, LinearKernels::Packed, Activations::I7);
    println!(
        "model {} ({}): int8 vs f32, {}",
        INFO.name,
        INFO.source_dir,
        agreement::agreement(&exact, &compact, per_list)
    );
    println!(
        "model {}: int8 in integers vs f32, {}",
        INFO.name,
        agreement::agreement(&exact, &integers, per_list)
    );
    println!(
        "model {}: int8 in integers vs int8 in f32, {}",
        INFO.name,
        agreement::agreement(&compact, &integers, per_list)
    );
    println!(
        "model {}: int8 with 7-bit activations vs f32, {}",
        INFO.name,
        agreement::agreement(&exact, &seven, per_list)
    );

    println!("\n| part | f32 bytes | int8 bytes |\n|---|---:|---:|");
    let parts = |path: &str| {
        let reader =
            Reader::from_bytes(Bytes::from_bytes_vec(std::fs::read(path).unwrap())).unwrap();
        let mut sums = [0usize; 3];
        for t in reader.into_tensors().unwrap() {
            let part = if t.name.starts_with("word_embeddings") {
                0
            } else if t.name.split('.').any(|p| p.starts_with("linear"))
                && (t.name.ends_with(".weight") || t.name.ends_with(".weight.scale"))
            {
                1
            } else {
                2
            };
            sums[part] += t.byte_len();
        }
        (sums, std::fs::metadata(path).unwrap().len() as usize)
    };
    let (f, f_total) = parts(WEIGHTS_F32_PATH);
    let (q, q_total) = parts(WEIGHTS_INT8_PATH);
    for (i, name) in [
        "word embeddings (+ per-row scales)",
        "linear weights (+ per-column scales)",
        "everything else (biases, norms, positions, head)",
    ]
    .iter()
    .enumerate()
    {
        println!("| {name} | {} | {} |", f[i], q[i]);
    }
    println!("| file (with header and alignment) | {f_total} | {q_total} |");
}

#[cfg(not(reranker_selected))]
fn main() {
    eprintln!(
        "build with a model: RERANKER_MODEL_DIR=DIR cargo run --release --example compact_accuracy \
         (bench/run accuracy does it with the full-shape random model)"
    );
    std::process::exit(2);
}
