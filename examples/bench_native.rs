//! Native engine timings on the model chosen at build time, for `scripts/bench_native.py`
//! (which runs onnxruntime on the same ONNX and the same token ids and prints the ratios).
//!
//!     RERANKER_MODEL_DIR=DIR cargo run --release --example bench_native -- OUT.json [RUNS]
//!
//! Cases: 16 rows × 128 tokens and 16 × 256 (ids drawn from the vocabulary with a fixed seed,
//! framed `<s> … </s></s> … </s>`), and a query with 30 passages of mixed length from the
//! committed multilingual texts, tokenized by the model's tokenizer. Everything runs on one
//! thread (burn-flex without rayon). Each case is run once to warm up, then RUNS times.

#[cfg(reranker_selected)]
mod common;

#[cfg(reranker_selected)]
fn main() {
    use std::time::Instant;

    use web_reranker::model::selected::{INFO, Model, TOKENIZER_BIN_PATH, WEIGHTS_F32_PATH};
    use web_reranker::{LoadOptions, Reranker, SelectedDevice};

    let mut args = std::env::args().skip(1);
    let out = args.next().expect("usage: bench_native OUT.json [RUNS]");
    let runs: usize = args.next().map_or(5, |r| r.parse().expect("RUNS"));
    let reranker = Reranker::<Model>::new(
        std::fs::read(WEIGHTS_F32_PATH).unwrap(),
        &std::fs::read(TOKENIZER_BIN_PATH).unwrap(),
        SelectedDevice::cpu(),
        LoadOptions::default(),
    )
    .unwrap();

    // A fixed-seed LCG: the same ids every run, and for onnxruntime.
    let mut state = 0x2026_1127_u64;
    let mut next_id = |vocab: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        5 + (state >> 33) % (vocab - 5)
    };
    let mut fixed = |length: usize| -> Vec<Vec<u32>> {
        (0..16)
            .map(|_| {
                let half = (length - 4) / 2;
                let mut row = vec![0u32];
                row.extend((0..half).map(|_| next_id(INFO.vocab_size) as u32));
                row.extend([2, 2]);
                row.extend((0..length - 4 - half).map(|_| next_id(INFO.vocab_size) as u32));
                row.push(2);
                row
            })
            .collect()
    };
    let texts = common::multilingual_texts();
    // Passage i joins 1 + (i * 7) % 24 consecutive texts: from a line to a few hundred tokens.
    let query = "Wie hoch ist die Zugspitze und wann wurde sie zuerst bestiegen?";
    let mixed: Vec<Vec<u32>> = (0..30)
        .map(|i| {
            let start = (i * 53) % (texts.len() - 30);
            let passage = texts[start..start + 1 + (i * 7) % 24].join(" ");
            reranker
                .tokenizer()
                .encode_pair(query, &passage)
                .unwrap()
                .ids
        })
        .collect();

    let cases = [
        ("16 x 128 tokens", fixed(128), 16),
        ("16 x 256 tokens", fixed(256), 16),
        ("30 mixed-length passages", mixed, 16),
    ];
    let mut report = Vec::new();
    for (name, rows, batch_size) in cases {
        let time = || {
            let start = Instant::now();
            let logits = pollster::block_on(reranker.score_ids(&rows, batch_size)).unwrap();
            (start.elapsed().as_secs_f64() * 1e3, logits)
        };
        let (_, logits) = time();
        let ms: Vec<f64> = (0..runs).map(|_| time().0).collect();
        // The batches the engine ran, so that onnxruntime runs the very same ones.
        let lengths: Vec<usize> = rows.iter().map(Vec::len).collect();
        let plan = reranker.batch_plan(&lengths, batch_size);
        eprintln!("{name}: {ms:.0?} ms");
        report.push(serde_json::json!({
            "name": name, "rows": rows, "batches": plan, "ms": ms, "logits": logits,
        }));
    }
    let report = serde_json::json!({ "model": INFO.source_dir, "cases": report });
    std::fs::write(&out, serde_json::to_vec(&report).unwrap()).unwrap();
}

#[cfg(not(reranker_selected))]
fn main() {
    eprintln!(
        "build with a model: RERANKER_MODEL_DIR=DIR cargo run --release --example bench_native -- OUT.json"
    );
    std::process::exit(2);
}
