//! The `native-webgpu` feature: the browser's WGSL kernels through native wgpu give the logits
//! onnxruntime gives, within the parity tolerance, on the tiny WebGPU fixture and on the hub-form
//! fixture, which the build rewrote to int32 (build/int32.rs).
//!
//! It needs a Vulkan (or Metal, DX12) adapter; `./build.sh test` installs Mesa's lavapipe, a
//! Vulkan driver that runs on the CPU, where the machine has none.

mod common;
use common::{ids, load_json};
use web_reranker::model::fixture_webgpu::{INFO, Model, WEIGHTS_F32_PATH, WEIGHTS_INT8_PATH};
use web_reranker::{
    Backend, BatchSplit, DevicePreference, LoadOptions, Reranker, SelectedDevice, device,
};

const TOLERANCE: f32 = 1e-4;

fn fixture(file: &str) -> std::path::PathBuf {
    fixture_in("tiny-webgpu", file)
}

fn fixture_in(folder: &str, file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(folder)
        .join(file)
}

fn gpu() -> SelectedDevice {
    pollster::block_on(device::select(DevicePreference::WebGpu, &INFO)).unwrap_or_else(|e| {
        panic!(
            "no wgpu adapter ({e}): install a Vulkan driver (apt-get install mesa-vulkan-drivers \
             gives lavapipe, which runs on the CPU)"
        )
    })
}

/// `folder`'s fixture, imported as `M`, on WebGPU: its padded batch within the tolerance of
/// onnxruntime on the original file.
fn check_on_gpu<M: web_reranker::CrossEncoderModel>(folder: &str, weights: &str) {
    assert_eq!(M::INFO.webgpu_blocker, None, "{folder}");
    let reference = load_json(&fixture_in(folder, "reference.json"));
    let cases = reference["cases"].as_array().unwrap();
    let options = LoadOptions {
        max_length: reference["max_length"].as_u64().unwrap() as usize,
        ..LoadOptions::default()
    };
    let tokenizer = std::fs::read(fixture_in(folder, "tokenizer.json")).unwrap();
    let gpu = pollster::block_on(device::select(DevicePreference::WebGpu, &M::INFO)).unwrap();
    assert_eq!(gpu.backend, Backend::WebGpu);
    let reranker =
        Reranker::<M>::new(std::fs::read(weights).unwrap(), &tokenizer, gpu, options).unwrap();
    let encoded: Vec<Vec<u32>> = cases.iter().map(|c| ids(&c["ids"])).collect();
    let logits = pollster::block_on(reranker.score_ids(&encoded, encoded.len())).unwrap();
    for (i, case) in cases.iter().enumerate() {
        let ort = case["ort_batch_logit"].as_f64().unwrap() as f32;
        assert!(
            (logits[i] - ort).abs() <= TOLERANCE,
            "{folder}, pair {i}: {} vs {ort}",
            logits[i]
        );
    }
}

/// The hub's TorchScript form (int64 inputs, a sliced and expanded token-type buffer) and
/// transformers 5's traced model (bool mask math too) run on WebGPU once the build has rewritten
/// them, and agree with onnxruntime on the original files.
#[test]
fn torchscript_forms_run_on_native_wgpu() {
    use web_reranker::model::{fixture_hub, fixture_transformers};
    check_on_gpu::<fixture_hub::Model>("tiny-hub", fixture_hub::WEIGHTS_F32_PATH);
    check_on_gpu::<fixture_transformers::Model>(
        "tiny-transformers",
        fixture_transformers::WEIGHTS_F32_PATH,
    );
}

#[test]
fn native_wgpu_matches_onnxruntime() {
    let selected = gpu();
    assert_eq!(selected.backend, Backend::WebGpu);
    assert!(selected.fallback_reason.is_none());
    assert!(selected.adapter.is_some(), "the adapter is named");
    eprintln!("adapter: {:?}", selected.adapter);

    let reference = load_json(&fixture("reference.json"));
    let cases = reference["cases"].as_array().unwrap();
    let max_length = reference["max_length"].as_u64().unwrap() as usize;
    let tokenizer = std::fs::read(fixture("tokenizer.json")).unwrap();
    let options = LoadOptions {
        max_length,
        ..LoadOptions::default()
    };
    let weights = std::fs::read(WEIGHTS_F32_PATH).unwrap();
    let reranker = Reranker::<Model>::new(weights, &tokenizer, selected, options).unwrap();
    let encoded: Vec<Vec<u32>> = cases.iter().map(|c| ids(&c["ids"])).collect();

    // One padded batch of every case (13 .. 512 tokens), in full batches (WebGPU's default),
    // then cut for the least padding: both agree with onnxruntime's batched run.
    let full = pollster::block_on(reranker.score_ids(&encoded, encoded.len())).unwrap();
    // A second `select` hands out the device already open (cubecl cannot open it twice).
    let least = Reranker::<Model>::new(
        std::fs::read(WEIGHTS_F32_PATH).unwrap(),
        &tokenizer,
        gpu(),
        LoadOptions {
            batch_split: Some(BatchSplit::LeastPadding),
            ..options
        },
    )
    .unwrap();
    let cut = pollster::block_on(least.score_ids(&encoded, 4)).unwrap();
    let mut worst = 0.0f32;
    for (i, case) in cases.iter().enumerate() {
        let ort = case["ort_batch_logit"].as_f64().unwrap() as f32;
        let single = case["ort_logit"].as_f64().unwrap() as f32;
        worst = worst
            .max((full[i] - ort).abs())
            .max((cut[i] - single).abs());
        assert!(
            (full[i] - ort).abs() <= TOLERANCE,
            "pair {i}: {} vs {ort}",
            full[i]
        );
        assert!(
            (cut[i] - single).abs() <= TOLERANCE,
            "pair {i}: {} vs {single}",
            cut[i]
        );
    }
    eprintln!("native wgpu: max |logit - onnxruntime| = {worst:.2e}");

    // The compact weights load on the GPU too and stay within the int8 tolerance of f32.
    let int8 = Reranker::<Model>::new(
        std::fs::read(WEIGHTS_INT8_PATH).unwrap(),
        &tokenizer,
        gpu(),
        options,
    )
    .unwrap();
    let compact = pollster::block_on(int8.score_ids(&encoded, 8)).unwrap();
    let cpu = Reranker::<Model>::new(
        std::fs::read(WEIGHTS_INT8_PATH).unwrap(),
        &tokenizer,
        SelectedDevice::cpu(),
        options,
    )
    .unwrap();
    let on_cpu = pollster::block_on(cpu.score_ids(&encoded, 8)).unwrap();
    for (i, (gpu, cpu)) in compact.iter().zip(&on_cpu).enumerate() {
        assert!(
            (gpu - cpu).abs() <= TOLERANCE,
            "int8 pair {i}: {gpu} vs CPU {cpu}"
        );
    }
}

#[test]
fn auto_chooses_the_gpu_when_an_adapter_opens() {
    let selected = pollster::block_on(device::select(DevicePreference::Auto, &INFO)).unwrap();
    assert_eq!(
        selected.backend,
        Backend::WebGpu,
        "fell back: {:?}",
        selected.fallback_reason
    );
}
