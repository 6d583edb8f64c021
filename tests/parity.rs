//! Parity of the native engine with the Python reference on the committed tiny fixtures:
//! token ids equal to sentence-transformers', logits within 1e-4 of onnxruntime (and of
//! sentence-transformers), for both ONNX forms, one pair at a time and as one padded batch,
//! with the fused attention and GELU kernels in the WebGPU-ready form.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{ids, load_json};
use web_reranker::model::{
    fixture_dynamo, fixture_hub, fixture_optimum, fixture_sdpa, fixture_transformers,
    fixture_webgpu,
};
use web_reranker::{
    Activations, CrossEncoderModel, Error, LinearKernels, LoadOptions, RerankOptions, Reranker,
    SelectedDevice,
};

const TOLERANCE: f32 = 1e-4;
/// For int8 layers computing in integers, against onnxruntime rounding their inputs the same way.
///
/// NOTE: looser than [`TOLERANCE`] by construction: an input within a float rounding error (the
/// two engines' LayerNorm, GELU, ...) of half a grid step rounds to different integers in the
/// two, and in this random tiny model such differences grow layer by layer until the two
/// engines' roundings are independent. So the bound is the size of the rounding's own effect:
/// onnxruntime's logits move by 3.9e-4 when it rounds the inputs, ours are 3.1e-4 from its at
/// most. A wrong scale, column or bias moves them by far more (int8 weights alone: 7.8e-2).
const INTEGER_TOLERANCE: f32 = 1e-3;
/// The same with 7-bit activations: a float difference that moves one value across a rounding
/// boundary moves it by a whole 1/127 of its row's range. Such values are rare on a grid this
/// coarse (2.9e-5 measured), and a wrong rounding moves the logits by far more (the i16
/// kernel's are 0.16 away).
const SEVEN_BIT_TOLERANCE: f32 = 5e-3;

fn folder(form: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(form)
}

fn reference(form: &str) -> Value {
    load_json(&folder(form).join("reference.json"))
}

fn load<M: CrossEncoderModel>(form: &str, weights_path: &str, max_length: usize) -> Reranker<M> {
    let weights = std::fs::read(weights_path).unwrap();
    let tokenizer = std::fs::read(folder(form).join("tokenizer.json")).unwrap();
    let options = LoadOptions {
        max_length,
        ..LoadOptions::default()
    };
    Reranker::new(weights, &tokenizer, SelectedDevice::cpu(), options).unwrap()
}

/// The tiny WebGPU fixture from the bytes of a weights file, on the CPU.
fn load_webgpu_fixture(
    weights: Vec<u8>,
    tokenizer: &[u8],
) -> web_reranker::Result<Reranker<fixture_webgpu::Model>> {
    Reranker::new(
        weights,
        tokenizer,
        SelectedDevice::cpu(),
        LoadOptions::default(),
    )
}

/// Our ids for a reference case's (query, passage).
fn case_ids<M: CrossEncoderModel>(reranker: &Reranker<M>, case: &Value) -> Vec<u32> {
    let (query, passage) = (
        case["query"].as_str().unwrap(),
        case["passage"].as_str().unwrap(),
    );
    reranker
        .tokenizer()
        .encode_pair(query, passage)
        .unwrap()
        .ids
}

fn f(v: &Value) -> f32 {
    v.as_f64().unwrap() as f32
}

fn pairs(cases: &[Value]) -> Vec<(&str, &str)> {
    cases
        .iter()
        .map(|c| (c["query"].as_str().unwrap(), c["passage"].as_str().unwrap()))
        .collect()
}

fn check_form<M: CrossEncoderModel>(form: &str, weights_path: &str) {
    let reference = reference(form);
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "at least 20 hard pairs");
    let max_length = reference["max_length"].as_u64().unwrap() as usize;
    let reranker: Reranker<M> = load(form, weights_path, max_length);

    // Token ids: identical to sentence-transformers for every pair.
    for (i, case) in cases.iter().enumerate() {
        let got = case_ids(&reranker, case);
        assert_eq!(got, ids(&case["ids"]), "{form}: ids of pair {i}");
    }

    // One pair at a time.
    let all = pairs(cases);
    let mut worst = 0.0f32;
    for (i, (pair, case)) in all.iter().zip(cases).enumerate() {
        let got = pollster::block_on(reranker.predict(&[*pair], 1)).unwrap()[0];
        let ort = f(&case["ort_logit"]);
        let st = f(&case["st_logit"]);
        worst = worst.max((got.logit - ort).abs());
        assert!(
            (got.logit - ort).abs() <= TOLERANCE,
            "{form} pair {i}: {} vs onnxruntime {ort}",
            got.logit
        );
        assert!(
            (got.logit - st).abs() <= TOLERANCE,
            "{form} pair {i}: {} vs sentence-transformers {st}",
            got.logit
        );
        let sigmoid = 1.0 / (1.0 + (-got.logit).exp());
        assert!((got.probability - sigmoid).abs() < 1e-6);
    }
    eprintln!("{form}: max |logit - onnxruntime| one at a time = {worst:.2e}");

    // All pairs in one call (13 .. 512 tokens): onnxruntime ran them as one padded batch; the
    // engine runs the batches its plan cuts, and at least one of them pads a shorter pair.
    let lengths: Vec<usize> = cases.iter().map(|c| ids(&c["ids"]).len()).collect();
    let plan = reranker.batch_plan(&lengths, all.len());
    assert!(
        plan.iter().any(|batch| {
            let widths: Vec<usize> = batch.iter().map(|&i| lengths[i]).collect();
            widths.iter().min() != widths.iter().max()
        }),
        "{form}: no batch mixes lengths in {plan:?}"
    );
    let batched = pollster::block_on(reranker.predict(&all, all.len())).unwrap();
    let mut worst = 0.0f32;
    for (i, (got, case)) in batched.iter().zip(cases).enumerate() {
        let ort = f(&case["ort_batch_logit"]);
        worst = worst.max((got.logit - ort).abs());
        assert!(
            (got.logit - ort).abs() <= TOLERANCE,
            "{form} batched pair {i}: {} vs {ort}",
            got.logit
        );
    }

    eprintln!(
        "{form}: max |logit - onnxruntime| batched ({} batches) = {worst:.2e}",
        plan.len()
    );

    // Batches of 5, length-sorted, scattered back into input order.
    let chunked = pollster::block_on(reranker.predict(&all, 5)).unwrap();
    for (i, (a, b)) in chunked.iter().zip(&batched).enumerate() {
        assert!(
            (a.logit - b.logit).abs() <= TOLERANCE,
            "{form} pair {i}: batch size changes the score"
        );
    }
}

#[test]
fn webgpu_form_matches_reference() {
    check_form::<fixture_webgpu::Model>("tiny-webgpu", fixture_webgpu::WEIGHTS_F32_PATH);
}

/// The build (crates/import/src/fuse.rs) fuses each layer's attention, GELU and LayerNorms into `web_reranker::kernels` calls; the
/// parity tests above and below then check those kernels on the real graph.
#[test]
fn every_layer_runs_the_fused_kernels() {
    let layers = load_json(&folder("tiny-webgpu").join("config.json"))["num_hidden_layers"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(fixture_webgpu::INFO.fused_attention_layers, layers);
    assert_eq!(fixture_webgpu::INFO.fused_gelu_layers, layers);
    // The hub (TorchScript) export computes the heads' reshapes from `Shape` nodes; it fuses too,
    // and so does transformers 5's own model once its mask is rewritten.
    assert_eq!(fixture_hub::INFO.fused_attention_layers, layers);
    assert_eq!(fixture_hub::INFO.fused_gelu_layers, layers);
    assert_eq!(fixture_transformers::INFO.fused_attention_layers, layers);
    assert_eq!(fixture_transformers::INFO.fused_gelu_layers, layers);
    // The hub's real form (Optimum through sentence-transformers): torch's SDPA export computes
    // the scale from the query heads' shape and scales the query and the key apart.
    assert_eq!(fixture_optimum::INFO.fused_attention_layers, layers);
    assert_eq!(fixture_optimum::INFO.fused_gelu_layers, layers);
    // transformers 5's default attention (sdpa) through TorchScript, and its model through
    // torch's default (dynamo) exporter, where GELU is ONNX's own `Gelu` op.
    assert_eq!(fixture_sdpa::INFO.fused_attention_layers, layers);
    assert_eq!(fixture_sdpa::INFO.fused_gelu_layers, layers);
    assert_eq!(fixture_dynamo::INFO.fused_attention_layers, layers);
    assert_eq!(fixture_dynamo::INFO.fused_gelu_layers, layers);
    // Each of those GELUs is folded into the linear layer before it (one WebGPU kernel).
    for info in ALL_INFO {
        assert_eq!(info.folded_gelu_layers, layers, "{}", info.name);
    }
    // Every LayerNorm follows a residual add (the embeddings' follows the sum of the embeddings):
    // two per layer and one more, whether the export wrote LayerNormalization or its parts.
    for (name, fused) in [
        ("tiny-webgpu", fixture_webgpu::INFO.fused_layer_norms),
        ("tiny-hub", fixture_hub::INFO.fused_layer_norms),
        ("tiny-optimum", fixture_optimum::INFO.fused_layer_norms),
        (
            "tiny-transformers",
            fixture_transformers::INFO.fused_layer_norms,
        ),
        ("tiny-sdpa", fixture_sdpa::INFO.fused_layer_norms),
        ("tiny-dynamo", fixture_dynamo::INFO.fused_layer_norms),
    ] {
        assert_eq!(fused, 2 * layers + 1, "{name}");
    }
}

/// The model code the importer generated for each fixture, against its committed snapshot
/// (`tests/snapshots/<name>.rs`), so that a change in what burn-onnx or the importer generates
/// shows in review. `UPDATE_SNAPSHOTS=1 cargo test --features fixtures --test parity
/// generated_code` writes them anew.
#[test]
fn generated_code_matches_its_snapshot() {
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    for (name, path) in [
        ("fixture_webgpu", fixture_webgpu::MODEL_RS_PATH),
        ("fixture_hub", fixture_hub::MODEL_RS_PATH),
        ("fixture_optimum", fixture_optimum::MODEL_RS_PATH),
        ("fixture_transformers", fixture_transformers::MODEL_RS_PATH),
        ("fixture_sdpa", fixture_sdpa::MODEL_RS_PATH),
        ("fixture_dynamo", fixture_dynamo::MODEL_RS_PATH),
    ] {
        let code = std::fs::read_to_string(path).expect("the generated model.rs");
        let snapshot = snapshots.join(format!("{name}.rs"));
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(&snapshots).unwrap();
            std::fs::write(&snapshot, &code).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_else(|e| {
            panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", snapshot.display())
        });
        assert!(
            code == expected,
            "{name}: the generated code differs from {} (UPDATE_SNAPSHOTS=1 writes it anew; \
             review the diff)",
            snapshot.display()
        );
    }
}

#[test]
fn hub_form_matches_reference() {
    check_form::<fixture_hub::Model>("tiny-hub", fixture_hub::WEIGHTS_F32_PATH);
}

/// The form of the hub's real `onnx/model.onnx` (tools/export_optimum.py).
#[test]
fn optimum_form_matches_reference() {
    check_form::<fixture_optimum::Model>("tiny-optimum", fixture_optimum::WEIGHTS_F32_PATH);
}

/// Every fixture's INFO, for the checks that hold for each form.
const ALL_INFO: [web_reranker::ModelInfo; 6] = [
    fixture_webgpu::INFO,
    fixture_hub::INFO,
    fixture_optimum::INFO,
    fixture_transformers::INFO,
    fixture_sdpa::INFO,
    fixture_dynamo::INFO,
];

/// Every linear layer of every form runs on our kernels: six per layer and the classifier's
/// two, all packed on the CPU, all in integers from the int8 weights but the one-column
/// classifier (f32 in that file).
#[test]
fn every_form_runs_every_linear_layer_on_our_kernels() {
    fn check<M: CrossEncoderModel>(folder_name: &str, int8: &str) {
        let layers = load_json(&folder(folder_name).join("config.json"))["num_hidden_layers"]
            .as_u64()
            .unwrap() as usize;
        assert_eq!(M::INFO.linear_layers, 6 * layers + 2, "{folder_name}");
        let tokenizer = std::fs::read(folder(folder_name).join("tokenizer.json")).unwrap();
        let options = LoadOptions {
            linear_kernels: LinearKernels::Packed,
            ..LoadOptions::default()
        };
        let reranker: Reranker<M> = Reranker::new(
            std::fs::read(int8).unwrap(),
            &tokenizer,
            SelectedDevice::cpu(),
            options,
        )
        .unwrap();
        assert_eq!(
            reranker.packed_linear_layers(),
            6 * layers + 2,
            "{folder_name}"
        );
        assert_eq!(
            reranker.integer_linear_layers(),
            6 * layers + 1,
            "{folder_name}"
        );
    }
    check::<fixture_webgpu::Model>("tiny-webgpu", fixture_webgpu::WEIGHTS_INT8_PATH);
    check::<fixture_hub::Model>("tiny-hub", fixture_hub::WEIGHTS_INT8_PATH);
    check::<fixture_optimum::Model>("tiny-optimum", fixture_optimum::WEIGHTS_INT8_PATH);
    check::<fixture_transformers::Model>(
        "tiny-transformers",
        fixture_transformers::WEIGHTS_INT8_PATH,
    );
    check::<fixture_sdpa::Model>("tiny-sdpa", fixture_sdpa::WEIGHTS_INT8_PATH);
    check::<fixture_dynamo::Model>("tiny-dynamo", fixture_dynamo::WEIGHTS_INT8_PATH);
}

/// transformers 5's model traced by TorchScript: bool mask math (which burn-flex cannot run) and
/// int64 index math, rewritten by the build (crates/import/src/mask.rs, crates/import/src/int32.rs); padded batches check
/// that the rewritten mask is the original's.
#[test]
fn transformers_form_matches_reference() {
    check_form::<fixture_transformers::Model>(
        "tiny-transformers",
        fixture_transformers::WEIGHTS_F32_PATH,
    );
}

/// transformers 5's model as a user exports it today: its default attention (sdpa) through
/// TorchScript, and through torch's default (dynamo) exporter.
#[test]
fn sdpa_form_matches_reference() {
    check_form::<fixture_sdpa::Model>("tiny-sdpa", fixture_sdpa::WEIGHTS_F32_PATH);
}

#[test]
fn dynamo_form_matches_reference() {
    check_form::<fixture_dynamo::Model>("tiny-dynamo", fixture_dynamo::WEIGHTS_F32_PATH);
}

#[test]
fn settable_max_length_matches_reference() {
    let reference = reference("tiny-webgpu");
    let short = &reference["short"];
    let max_length = short["max_length"].as_u64().unwrap() as usize;
    let reranker: Reranker<fixture_webgpu::Model> =
        load("tiny-webgpu", fixture_webgpu::WEIGHTS_F32_PATH, max_length);
    let cases = short["cases"].as_array().unwrap();
    let scores = pollster::block_on(reranker.predict(&pairs(cases), 8)).unwrap();
    for (i, (case, score)) in cases.iter().zip(scores).enumerate() {
        let got = case_ids(&reranker, case);
        assert!(got.len() <= max_length);
        assert_eq!(
            got,
            ids(&case["ids"]),
            "ids of pair {i} at max_length {max_length}"
        );
        let st = f(&case["st_logit"]);
        assert!(
            (score.logit - st).abs() <= TOLERANCE,
            "pair {i}: {} vs {st}",
            score.logit
        );
    }
}

/// Every committed form is WebGPU-ready: the TorchScript ones because the build rewrites their
/// int64 math, their data-dependent token-type `Expand` (crates/import/src/int32.rs) and transformers 5's
/// bool mask math (crates/import/src/mask.rs).
#[test]
fn every_form_is_webgpu_ready() {
    for info in ALL_INFO {
        assert_eq!(info.webgpu_blocker, None, "{}", info.name);
    }
}

#[test]
fn rerank_orders_by_score_and_respects_top_n() {
    let reranker: Reranker<fixture_webgpu::Model> =
        load("tiny-webgpu", fixture_webgpu::WEIGHTS_F32_PATH, 512);
    let reference = reference("tiny-webgpu");
    let cases = reference["cases"].as_array().unwrap();
    let query = "What is the capital of France?";
    let docs: Vec<&str> = cases
        .iter()
        .map(|c| c["passage"].as_str().unwrap())
        .collect();
    let all = pollster::block_on(reranker.rerank(query, &docs, RerankOptions::default())).unwrap();
    assert_eq!(all.len(), docs.len());
    let predicted = pollster::block_on(
        reranker.predict(&docs.iter().map(|d| (query, *d)).collect::<Vec<_>>(), 32),
    )
    .unwrap();
    for w in all.windows(2) {
        assert!(w[0].score.logit >= w[1].score.logit, "sorted best first");
    }
    for r in &all {
        assert_eq!(
            r.score, predicted[r.index],
            "rerank scores are predict scores"
        );
    }
    let top = pollster::block_on(reranker.rerank(
        query,
        &docs,
        RerankOptions {
            top_n: Some(3),
            batch_size: 4,
            ..Default::default()
        },
    ))
    .unwrap();
    assert_eq!(top.len(), 3);
    for (a, b) in top.iter().zip(&all) {
        assert_eq!(a.index, b.index);
        assert!((a.score.logit - b.score.logit).abs() <= TOLERANCE);
    }
    assert!(
        pollster::block_on(reranker.rerank(query, &[], RerankOptions::default()))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    let reranker: Reranker<fixture_webgpu::Model> =
        load("tiny-webgpu", fixture_webgpu::WEIGHTS_F32_PATH, 512);
    let docs = ["a passage"];
    let run = |q: &str, o: RerankOptions| pollster::block_on(reranker.rerank(q, &docs, o));
    assert_eq!(run("", RerankOptions::default()), Err(Error::EmptyQuery));
    assert_eq!(
        run(" \t\n", RerankOptions::default()),
        Err(Error::EmptyQuery)
    );
    let zero_top = run(
        "q",
        RerankOptions {
            top_n: Some(0),
            ..Default::default()
        },
    );
    assert!(matches!(
        zero_top,
        Err(Error::InvalidOption { name: "top_n", .. })
    ));
    let zero_batch = run(
        "q",
        RerankOptions {
            batch_size: 0,
            ..Default::default()
        },
    );
    assert!(matches!(
        zero_batch,
        Err(Error::InvalidOption {
            name: "batch_size",
            ..
        })
    ));
    assert_eq!(zero_batch.unwrap_err().code(), "INVALID_INPUT");
    let bad_ids = pollster::block_on(reranker.score_ids(&[vec![0, 999_999, 2]], 1));
    assert!(matches!(bad_ids, Err(Error::InvalidOption { .. })));
    let empty_ids = pollster::block_on(reranker.score_ids(&[vec![]], 1));
    assert!(matches!(empty_ids, Err(Error::InvalidOption { .. })));

    // max_length below the four special tokens, or above the position table.
    let weights = std::fs::read(fixture_webgpu::WEIGHTS_F32_PATH).unwrap();
    let tokenizer = std::fs::read(folder("tiny-webgpu").join("tokenizer.json")).unwrap();
    for max_length in [0, 3, 513] {
        let options = LoadOptions {
            max_length,
            ..Default::default()
        };
        let err = Reranker::<fixture_webgpu::Model>::new(
            weights.clone(),
            &tokenizer,
            SelectedDevice::cpu(),
            options,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::MaxLength {
                    min: 4,
                    max: 512,
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn weights_decode_into_the_model_and_bad_weights_are_errors() {
    let weights = std::fs::read(fixture_webgpu::WEIGHTS_F32_PATH).unwrap();
    let tokenizer = std::fs::read(folder("tiny-webgpu").join("tokenizer.json")).unwrap();
    let load = |bytes: Vec<u8>| load_webgpu_fixture(bytes, &tokenizer);
    assert!(load(weights.clone()).is_ok());

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("truncated to half", weights[..weights.len() / 2].to_vec()),
        ("truncated header", weights[..16].to_vec()),
        (
            "not a burnpack",
            b"this is not a weights file at all".repeat(100),
        ),
        (
            "the other form's weights",
            std::fs::read(fixture_hub::WEIGHTS_F32_PATH).unwrap(),
        ),
    ];
    for (what, bytes) in cases {
        match load(bytes) {
            Err(e @ Error::Weights(_)) => assert_eq!(e.code(), "MODEL_LOAD"),
            Err(other) => panic!("{what}: wrong error {other}"),
            Ok(_) => panic!("{what}: loaded"),
        }
    }
    // A tokenizer with more ids than the model has embeddings is refused.
    let mut json: Value = serde_json::from_slice(&tokenizer).unwrap();
    let vocab = json["model"]["vocab"].as_array_mut().unwrap();
    for i in 0..10 {
        vocab.push(serde_json::json!([format!("extra{i}"), -20.0]));
    }
    let bigger = serde_json::to_vec(&json).unwrap();
    let err = Reranker::<fixture_webgpu::Model>::new(
        weights,
        &bigger,
        SelectedDevice::cpu(),
        LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Tokenizer(ref m) if m.contains("do not belong together")),
        "{err}"
    );
}

#[test]
fn chunked_documents_match_python_window_by_window() {
    let reference = load_json(&folder("tiny-webgpu").join("chunking.json"));
    for case in reference["cases"].as_array().unwrap() {
        let max_length = case["max_length"].as_u64().unwrap() as usize;
        let max_chunks = case["max_chunks"].as_u64().unwrap() as usize;
        let (query, document) = (
            case["query"].as_str().unwrap(),
            case["document"].as_str().unwrap(),
        );
        let reranker: Reranker<fixture_webgpu::Model> =
            load("tiny-webgpu", fixture_webgpu::WEIGHTS_F32_PATH, max_length);
        let chunks = reranker
            .tokenizer()
            .encode_chunks(query, document, max_chunks)
            .unwrap();
        let expected: Vec<Vec<u32>> = case["chunk_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(ids)
            .collect();
        let got: Vec<Vec<u32>> = chunks.into_iter().map(|c| c.ids).collect();
        assert_eq!(got, expected, "chunk boundaries at max_length {max_length}");
        let logits =
            pollster::block_on(reranker.chunk_scores(query, document, max_chunks)).unwrap();
        for (got, want) in logits.iter().zip(case["chunk_logits"].as_array().unwrap()) {
            let want = want.as_f64().unwrap() as f32;
            assert!((got - want).abs() <= TOLERANCE, "{got} vs {want}");
        }
        let ranked = pollster::block_on(reranker.rerank(
            query,
            &[document, "an unrelated short passage"],
            RerankOptions {
                max_chunks_per_doc: Some(max_chunks),
                batch_size: 3,
                ..Default::default()
            },
        ))
        .unwrap();
        let score = ranked.iter().find(|r| r.index == 0).unwrap().score.logit;
        let best = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let want = case["score"].as_f64().unwrap() as f32;
        assert!(
            (score - best).abs() <= 1e-6,
            "the document scores as its best chunk"
        );
        assert!((score - want).abs() <= TOLERANCE, "{score} vs {want}");
    }
}

/// Scores every (query, passage) of `lists` with one reranker, list after list.
fn score_lists<M: CrossEncoderModel>(
    reranker: &Reranker<M>,
    lists: &[(String, Vec<String>)],
) -> Vec<f32> {
    let pairs = common::agreement::pairs(lists);
    pollster::block_on(reranker.predict(&pairs, 32))
        .unwrap()
        .iter()
        .map(|s| s.logit)
        .collect()
}

#[test]
fn compact_weights_rank_like_f32() {
    use common::agreement::{agreement, ranked_lists};
    let texts = load_json(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/multilingual_texts.json"),
    );
    let lists = ranked_lists(&texts, 60, 8);
    let exact: Reranker<fixture_webgpu::Model> =
        load("tiny-webgpu", fixture_webgpu::WEIGHTS_F32_PATH, 128);
    let compact: Reranker<fixture_webgpu::Model> =
        load("tiny-webgpu", fixture_webgpu::WEIGHTS_INT8_PATH, 128);
    assert_eq!(exact.precision(), web_reranker::Precision::F32);
    assert_eq!(compact.precision(), web_reranker::Precision::Int8);
    let result = agreement(
        &score_lists(&exact, &lists),
        &score_lists(&compact, &lists),
        8,
    );
    eprintln!("tiny-webgpu int8 vs f32: {result}");

    assert!(result.spearman >= 0.99, "{result}");
    assert!(result.top1 >= 0.85, "{result}");

    // The int8 weights compute what onnxruntime computes with the same quantization applied to
    // the ONNX initializers in numpy (tools/make_compact_reference.py): one pair at a time and
    // as one padded batch.
    let compact_ref = load_json(&folder("tiny-webgpu").join("compact.json"));
    let reference = reference("tiny-webgpu");
    let cases = reference["cases"].as_array().unwrap();
    let expected = compact_ref["cases"].as_array().unwrap();
    let compact512: Reranker<fixture_webgpu::Model> =
        load("tiny-webgpu", fixture_webgpu::WEIGHTS_INT8_PATH, 512);
    let all = pairs(cases);
    let mut worst = (0.0f32, 0.0f32, 0.0f32);
    let batched = pollster::block_on(compact512.predict(&all, all.len())).unwrap();
    for (i, (case, want)) in cases.iter().zip(expected).enumerate() {
        assert_eq!(
            case_ids(&compact512, case),
            ids(&want["ids"]),
            "ids of pair {i}"
        );
        let one = pollster::block_on(compact512.predict(&[all[i]], 1)).unwrap()[0].logit;
        let single = (one - f(&want["ort_int8_logit"])).abs();
        let batch = (batched[i].logit - f(&want["ort_int8_batch_logit"])).abs();
        assert!(
            single <= TOLERANCE && batch <= TOLERANCE,
            "pair {i}: {single:.2e} {batch:.2e}"
        );
        let vs_f32 = (one - f(&case["ort_logit"])).abs();
        worst = (worst.0.max(single), worst.1.max(batch), worst.2.max(vs_f32));
    }
    eprintln!(
        "tiny-webgpu int8: max |Δ| vs onnxruntime-int8 {:.2e} one at a time, {:.2e} batched; \
         vs onnxruntime f32 {:.2e}",
        worst.0, worst.1, worst.2
    );
}

/// The tiny WebGPU fixture from a weights file, on the CPU, with these linear kernels.
fn load_with_kernels(
    weights_path: &str,
    linear_kernels: LinearKernels,
) -> Reranker<fixture_webgpu::Model> {
    load_with_activations(weights_path, linear_kernels, Activations::I16)
}

/// [`load_with_kernels`], the int8 layers rounding their activations as `activations` says.
fn load_with_activations(
    weights_path: &str,
    linear_kernels: LinearKernels,
    activations: Activations,
) -> Reranker<fixture_webgpu::Model> {
    let weights = std::fs::read(weights_path).unwrap();
    let tokenizer = std::fs::read(folder("tiny-webgpu").join("tokenizer.json")).unwrap();
    let options = LoadOptions {
        linear_kernels,
        activations,
        ..LoadOptions::default()
    };
    Reranker::new(weights, &tokenizer, SelectedDevice::cpu(), options).unwrap()
}

/// What [`check_logits`] measured: each pair's logit scored alone and in one batch of all, and
/// the largest difference of each from the reference.
struct Checked {
    single: Vec<f32>,
    batched: Vec<f32>,
    worst_single: f32,
    worst_batched: f32,
}

/// Scores every pair of `all` one at a time and all in one batch, and asserts each within
/// `tolerance` of `expected`'s `{key}_logit` and `{key}_batch_logit` (onnxruntime's, the same
/// two ways).
fn check_logits<M: CrossEncoderModel>(
    reranker: &Reranker<M>,
    all: &[(&str, &str)],
    expected: &[Value],
    key: &str,
    tolerance: f32,
) -> Checked {
    let batched: Vec<f32> = pollster::block_on(reranker.predict(all, all.len()))
        .unwrap()
        .iter()
        .map(|s| s.logit)
        .collect();
    let mut checked = Checked {
        single: Vec::with_capacity(all.len()),
        batched,
        worst_single: 0.0,
        worst_batched: 0.0,
    };
    for (i, want) in expected.iter().enumerate() {
        let one = pollster::block_on(reranker.predict(&[all[i]], 1)).unwrap()[0].logit;
        let single = (one - f(&want[format!("{key}_logit").as_str()])).abs();
        let batch = (checked.batched[i] - f(&want[format!("{key}_batch_logit").as_str()])).abs();
        assert!(
            single <= tolerance && batch <= tolerance,
            "pair {i}: {single:.2e} {batch:.2e}"
        );
        checked.single.push(one);
        checked.worst_single = checked.worst_single.max(single);
        checked.worst_batched = checked.worst_batched.max(batch);
    }
    checked
}

/// The f32 weights on our packed f32 kernel, as in wasm: onnxruntime's logits within 1e-4.
#[test]
fn packed_f32_linear_layers_match_onnxruntime() {
    let packed = load_with_kernels(fixture_webgpu::WEIGHTS_F32_PATH, LinearKernels::Packed);
    // Every linear layer, the classifier's included; none in integers.
    assert_eq!(packed.packed_linear_layers(), 14);
    assert_eq!(packed.integer_linear_layers(), 0);
    let reference = reference("tiny-webgpu");
    let cases = reference["cases"].as_array().unwrap();
    let checked = check_logits(&packed, &pairs(cases), cases, "ort", TOLERANCE);
    let worst = checked.worst_single.max(checked.worst_batched);
    eprintln!("tiny-webgpu f32, packed kernel: max |Δ| vs onnxruntime {worst:.2e}");
}

/// The int8 linear layers computing in integers, as in wasm, against onnxruntime with the same
/// rounding of their inputs applied in the graph (tools/make_compact_reference.py).
#[test]
fn integer_linear_layers_match_onnxruntime_on_the_same_int8_weights() {
    let integers = load_with_kernels(fixture_webgpu::WEIGHTS_INT8_PATH, LinearKernels::Packed);
    // Every linear layer the compact file stores int8, in integers: all but the one-column
    // classifier, which is f32 in that file too (and runs the packed f32 kernel).
    assert_eq!(integers.integer_linear_layers(), 13);
    assert_eq!(integers.packed_linear_layers(), 14);
    let gemm = load_with_kernels(fixture_webgpu::WEIGHTS_INT8_PATH, LinearKernels::Gemm);
    assert_eq!(
        (gemm.packed_linear_layers(), gemm.integer_linear_layers()),
        (0, 0)
    );

    let compact_ref = load_json(&folder("tiny-webgpu").join("compact.json"));
    let reference = reference("tiny-webgpu");
    let cases = reference["cases"].as_array().unwrap();
    let expected = compact_ref["cases"].as_array().unwrap();
    let checked = check_logits(
        &integers,
        &pairs(cases),
        expected,
        "ort_int8_integer",
        INTEGER_TOLERANCE,
    );
    let vs_float_inputs = checked
        .single
        .iter()
        .zip(expected)
        .fold(0.0f32, |m, (one, want)| {
            m.max((one - f(&want["ort_int8_logit"])).abs())
        });
    eprintln!(
        "tiny-webgpu int8 in integers: max |Δ| vs onnxruntime with the same integer inputs {:.2e} \
         one at a time, {:.2e} batched; vs f32 inputs {vs_float_inputs:.2e}",
        checked.worst_single, checked.worst_batched
    );
}

/// The int8 linear layers with 7-bit activations (`activations: 'i7'`; natively the plain
/// loops, which give the relaxed-SIMD kernel's integer sums), against onnxruntime with the same
/// 7-bit rounding applied in the graph (tools/make_compact_reference.py).
#[test]
fn seven_bit_activations_match_onnxruntime_with_the_same_rounding() {
    let seven = load_with_activations(
        fixture_webgpu::WEIGHTS_INT8_PATH,
        LinearKernels::Packed,
        Activations::I7,
    );
    assert_eq!(seven.integer_linear_layers(), 13);
    assert_eq!(seven.activations(), Some(Activations::I7));
    let sixteen = load_with_kernels(fixture_webgpu::WEIGHTS_INT8_PATH, LinearKernels::Packed);
    assert_eq!(sixteen.activations(), Some(Activations::I16));
    // f32 weights have no int8 layers, whatever the option.
    let f32 = load_with_activations(
        fixture_webgpu::WEIGHTS_F32_PATH,
        LinearKernels::Packed,
        Activations::I7,
    );
    assert_eq!(f32.activations(), None);

    let compact_ref = load_json(&folder("tiny-webgpu").join("compact.json"));
    let reference = reference("tiny-webgpu");
    let cases = reference["cases"].as_array().unwrap();
    let expected = compact_ref["cases"].as_array().unwrap();
    let all = pairs(cases);
    let checked = check_logits(&seven, &all, expected, "ort_int8_i7", SEVEN_BIT_TOLERANCE);
    let worst = checked.worst_single.max(checked.worst_batched);
    let precise = pollster::block_on(sixteen.predict(&all, all.len())).unwrap();
    let moved = checked
        .batched
        .iter()
        .zip(&precise)
        .fold(0.0f32, |m, (seven, sixteen)| {
            m.max((seven - sixteen.logit).abs())
        });
    // The option changes the numbers: 7 bits are not the i16 kernel's 14–15.
    assert!(
        moved > 10.0 * worst,
        "7-bit logits moved only {moved:.2e} from i16 ones"
    );
    eprintln!(
        "tiny-webgpu int8, 7-bit activations: max |Δ| vs onnxruntime with the same rounding \
         {worst:.2e}; vs 16-bit activations {moved:.2e}"
    );
}

#[test]
fn inconsistent_compact_weights_are_errors() {
    use burn_store::burn_pack::{Bytes, DType, Reader, Tensor, Writer};
    let tokenizer = std::fs::read(folder("tiny-webgpu").join("tokenizer.json")).unwrap();
    let good = std::fs::read(fixture_webgpu::WEIGHTS_INT8_PATH).unwrap();
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(good)).unwrap();
    let metadata = reader.metadata().clone();
    let tensors = reader.into_tensors().unwrap();
    // Rewrites the file with `edit` applied to its tensors and metadata.
    type Metadata = Vec<(String, String)>;
    let rewrite = |edit: &dyn Fn(&mut Vec<Tensor>, &mut Metadata)| {
        let mut tensors = tensors.clone();
        let mut meta: Metadata = metadata.clone().into_iter().collect();
        edit(&mut tensors, &mut meta);
        let mut writer = Writer::new(tensors);
        for (k, v) in &meta {
            writer = writer.with_metadata(k, v);
        }
        writer.into_bytes().unwrap().to_vec()
    };
    let load = |bytes: Vec<u8>| load_webgpu_fixture(bytes, &tokenizer);
    assert!(
        load(rewrite(&|_, _| {})).is_ok(),
        "the rewritten file itself loads"
    );
    let scale = |t: &Tensor| t.name == "linear1.weight.scale";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no precision",
            rewrite(&|_, m| m.retain(|(k, _)| k != "web_reranker.precision")),
            "expected a weights-f32.bpk",
        ),
        (
            "scales missing",
            rewrite(&|t, _| t.retain(|t| !scale(t))),
            "has no scales",
        ),
        (
            "scales of the wrong length",
            rewrite(&|t, _| {
                let i = t.iter().position(scale).unwrap();
                t[i] = Tensor::new(
                    t[i].name.clone(),
                    DType::F32,
                    vec![3],
                    None,
                    Bytes::from_elems(vec![1.0f32; 3]),
                );
            }),
            "expected f32",
        ),
        (
            "a negative scale",
            rewrite(&|t, _| {
                let i = t.iter().position(scale).unwrap();
                let n = t[i].shape.to_vec()[0];
                t[i] = Tensor::new(
                    t[i].name.clone(),
                    DType::F32,
                    vec![n],
                    None,
                    Bytes::from_elems(vec![-1.0f32; n]),
                );
            }),
            "negative or not finite",
        ),
        (
            "an unknown axis",
            rewrite(&|_, m| m.push(("quantized.linear2.weight".into(), "diagonal".into()))),
            "unknown scale axis",
        ),
        (
            "no word embeddings",
            rewrite(&|t, _| t.retain(|t| !t.name.starts_with("word_embeddings"))),
            "no word-embedding table",
        ),
        (
            "a layer missing",
            rewrite(&|t, _| t.retain(|t| !t.name.starts_with("linear3."))),
            "missing",
        ),
    ];
    for (what, bytes, message) in cases {
        match load(bytes) {
            Err(e @ Error::Weights(_)) => {
                assert_eq!(e.code(), "MODEL_LOAD");
                assert!(e.to_string().contains(message), "{what}: {e}");
            }
            Err(other) => panic!("{what}: wrong error {other}"),
            Ok(_) => panic!("{what}: loaded"),
        }
    }
}

/// A monotonic millisecond clock for [`LoadOptions::clock`].
fn millis() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
        * 1e3
}

#[test]
fn a_load_with_a_clock_records_where_its_time_went() {
    let weights = std::fs::read(fixture_webgpu::WEIGHTS_INT8_PATH).unwrap();
    let tokenizer = std::fs::read(fixture_webgpu::TOKENIZER_BIN_PATH).unwrap();
    let before = millis();
    let timed: Reranker<fixture_webgpu::Model> = Reranker::new(
        weights.clone(),
        &tokenizer,
        SelectedDevice::cpu(),
        LoadOptions {
            clock: Some(millis),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    let elapsed = millis() - before;
    let t = timed.load_timings().expect("a clock was given");
    assert!(t.tokenizer_ms > 0.0 && t.weights_ms > 0.0, "{t:?}");
    assert!(
        t.tokenizer_ms + t.weights_ms <= elapsed,
        "{t:?} in {elapsed} ms"
    );
    let untimed = load_webgpu_fixture(weights, &tokenizer).unwrap();
    assert_eq!(untimed.load_timings(), None);
}
