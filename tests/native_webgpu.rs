//! The `native-webgpu` feature: the browser's WGSL kernels through native wgpu give the logits
//! onnxruntime gives, within the parity tolerance, on the tiny WebGPU fixture and on the hub-form
//! fixture, which the build rewrote to int32 (crates/import/src/int32.rs).
//!
//! It needs a Vulkan (or Metal, DX12) adapter; `./build.sh test` installs Mesa's lavapipe, a
//! Vulkan driver that runs on the CPU, where the machine has none.

mod common;
use burn::prelude::Tensor;
use burn::tensor::TensorData;
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

/// The hub's TorchScript forms (int64 inputs, a sliced and expanded token-type buffer; the
/// Optimum form of the real file, with torch's SDPA attention),
/// transformers 5's traced model (bool mask math too, eager and sdpa attention) and its dynamo
/// export run on WebGPU once the build has rewritten them, and agree with onnxruntime on the
/// original files.
#[test]
fn int64_forms_run_on_native_wgpu() {
    use web_reranker::model::{
        fixture_dynamo, fixture_hub, fixture_optimum, fixture_sdpa, fixture_transformers,
    };
    check_on_gpu::<fixture_hub::Model>("tiny-hub", fixture_hub::WEIGHTS_F32_PATH);
    check_on_gpu::<fixture_optimum::Model>("tiny-optimum", fixture_optimum::WEIGHTS_F32_PATH);
    check_on_gpu::<fixture_transformers::Model>(
        "tiny-transformers",
        fixture_transformers::WEIGHTS_F32_PATH,
    );
    check_on_gpu::<fixture_sdpa::Model>("tiny-sdpa", fixture_sdpa::WEIGHTS_F32_PATH);
    check_on_gpu::<fixture_dynamo::Model>("tiny-dynamo", fixture_dynamo::WEIGHTS_F32_PATH);
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

/// `len` deterministic values in [-scale, scale], spread irregularly (a seeded sine).
fn noise(seed: u64, len: usize, scale: f32) -> Vec<f32> {
    (0..len)
        .map(|i| ((i as f32 + 0.5) * (0.7 + seed as f32 * 0.113)).sin() * scale)
        .collect()
}

fn on<const D: usize>(
    values: &[f32],
    dims: [usize; D],
    device: &burn::prelude::Device,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), dims), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    pollster::block_on(t.into_data_async())
        .unwrap()
        .try_to_vec::<f32>()
        .unwrap()
}

fn assert_close(what: &str, gpu: &[f32], cpu: &[f32]) {
    assert_eq!(gpu.len(), cpu.len(), "{what}");
    let worst = gpu
        .iter()
        .zip(cpu)
        .map(|(g, c)| (g - c).abs() / c.abs().max(1.0))
        .fold(0f32, f32::max);
    assert!(worst <= TOLERANCE, "{what}: off by {worst}");
}

/// Each WebGPU kernel of src/kernels/gpu.rs against the CPU's version of the same node (the
/// fused CPU kernels, themselves checked against burn's ops), on shapes of the real model and
/// on ragged ones that leave partial tiles and workgroups.
#[test]
fn gpu_kernels_match_the_cpu() {
    use web_reranker::kernels::{self, LayerNormForm, gpu as kernels_gpu};
    let gpu = gpu().device;
    let cpu = burn::prelude::Device::flex();

    // GELU, any shape.
    let x = noise(1, 3 * 37 * 50, 4.0);
    let expected = values(kernels::gelu(on(&x, [3, 37, 50], &cpu)));
    let got = values(kernels_gpu::gelu(on(&x, [3, 37, 50], &gpu)));
    assert_close("gelu", &got, &expected);

    // Attention: a padded batch (the mask bias broadcast over heads and rows, f32::MIN as the
    // build writes it, and -inf in odd rows of the batch, as an export may leave it, which the
    // kernel must clamp: WGSL may assume there are no infinities), a model's head width, and a
    // length that is no multiple of the workgroup.
    for (batch, seq, heads, head_dim) in [(2, 37, 3, 32), (3, 8, 4, 8), (1, 130, 12, 32)] {
        let width = heads * head_dim;
        let q = noise(2, batch * seq * width, 1.0);
        let k = noise(3, batch * seq * width, 1.0);
        let v = noise(4, batch * seq * width, 1.0);
        let mut bias = vec![0f32; batch * seq];
        for b in 0..batch {
            for j in seq - b * 3..seq {
                bias[b * seq + j] = if b % 2 == 0 {
                    f32::MIN
                } else {
                    f32::NEG_INFINITY
                };
            }
        }
        let run = |device: &burn::prelude::Device, fused: bool| {
            let args = (
                on(&q, [batch, seq, width], device),
                on(&k, [batch, seq, width], device),
                on(&v, [batch, seq, width], device),
                on(&bias, [batch, 1, 1, seq], device),
            );
            let out = if fused {
                assert!(kernels_gpu::attention_fits(
                    &args.0, &args.1, &args.2, &args.3, heads
                ));
                kernels_gpu::attention(args.0, args.1, args.2, args.3, heads, 0.17)
            } else {
                kernels::attention(args.0, args.1, args.2, args.3, heads, 0.17)
            };
            values(out)
        };
        let expected = run(&cpu, false);
        assert_close(
            &format!("attention {batch}x{seq}x{heads}x{head_dim}"),
            &run(&gpu, true),
            &expected,
        );
        // The hardware kernel (keys and values in workgroup tiles; lavapipe runs the one above):
        // partial tiles, several blocks of query rows, -inf masks.
        let tiled = values(kernels_gpu::attention_for(
            kernels_gpu::AdapterKind::Hardware,
            on(&q, [batch, seq, width], &gpu),
            on(&k, [batch, seq, width], &gpu),
            on(&v, [batch, seq, width], &gpu),
            on(&bias, [batch, 1, 1, seq], &gpu),
            heads,
            0.17,
        ));
        assert_close(
            &format!("tiled attention {batch}x{seq}x{heads}x{head_dim}"),
            &tiled,
            &expected,
        );
    }

    // The residual add and LayerNorm, on a model's width and a ragged one.
    for (rows, width) in [(2 * 37, 384), (5, 50)] {
        let a = noise(5, rows * width, 2.0);
        let b = noise(6, rows * width, 2.0);
        let gamma = noise(7, width, 1.5);
        let beta = noise(8, width, 0.5);
        let run = |device: &burn::prelude::Device, form| {
            values(kernels::add_layer_norm(
                on(&a, [1, rows, width], device),
                on(&b, [1, rows, width], device),
                on(&gamma, [width], device),
                on(&beta, [width], device),
                1e-5,
                form,
            ))
        };
        for form in [LayerNormForm::Decomposed, LayerNormForm::Operator] {
            assert_close(
                &format!("layer norm {rows}x{width}, {form:?} on the CPU"),
                &run(&gpu, form),
                &run(&cpu, form),
            );
        }
        // The hardware kernel (a workgroup per row; lavapipe runs the one above).
        let workgroups = values(kernels_gpu::add_layer_norm_for(
            kernels_gpu::AdapterKind::Hardware,
            on(&a, [1, rows, width], &gpu),
            on(&b, [1, rows, width], &gpu),
            on(&gamma, [width], &gpu),
            on(&beta, [width], &gpu),
            1e-5,
        ));
        assert_close(
            &format!("layer norm {rows}x{width}, a workgroup per row"),
            &workgroups,
            &run(&cpu, LayerNormForm::Decomposed),
        );
    }

    // Linear layers with and without a bias, and with the GELU after them: our kernel (up to
    // OUR_PRODUCT_MAX_ROWS rows) with partial tiles in every direction and the classifier's single
    // column, and burn's product with our bias-and-GELU pass (more rows).
    const { assert!(61 <= kernels_gpu::OUR_PRODUCT_MAX_ROWS && 200 > kernels_gpu::OUR_PRODUCT_MAX_ROWS) };
    // Our product in its hardware layout (interleaved columns; lavapipe takes the blocked one)
    // on the same ragged shapes.
    for (rows, inputs, outputs) in [(32, 384, 1536), (61, 384, 384), (5, 50, 1), (200, 37, 70)] {
        let x = noise(9, rows * inputs, 1.0);
        let w = noise(10, inputs * outputs, 0.2);
        let bias = noise(11, outputs, 0.5);
        let got = values(kernels_gpu::product_in(
            kernels_gpu::ProductLayout::Interleaved,
            on(&x, [1, rows, inputs], &gpu),
            on(&w, [inputs, outputs], &gpu),
            Some(on(&bias, [outputs], &gpu)),
            true,
        ));
        let expected = values(kernels::gelu(burn::tensor::module::linear(
            on(&x, [1, rows, inputs], &cpu),
            on(&w, [inputs, outputs], &cpu),
            Some(on(&bias, [outputs], &cpu)),
        )));
        assert_close(
            &format!("interleaved product {rows}x{inputs}x{outputs}"),
            &got,
            &expected,
        );
    }
    assert_eq!(
        kernels_gpu::adapter_kind(),
        kernels_gpu::AdapterKind::Cpu,
        "lavapipe runs on the CPU: the kernels shaped for it"
    );
    for (rows, inputs, outputs) in [(32, 384, 1536), (61, 384, 384), (5, 50, 1), (200, 37, 70)] {
        let x = noise(9, rows * inputs, 1.0);
        let w = noise(10, inputs * outputs, 0.2);
        let bias = noise(11, outputs, 0.5);
        for (gelu, with_bias) in [(false, true), (true, true), (false, false), (true, false)] {
            let got = values(kernels_gpu::linear(
                on(&x, [1, rows, inputs], &gpu),
                on(&w, [inputs, outputs], &gpu),
                with_bias.then(|| on(&bias, [outputs], &gpu)),
                gelu,
            ));
            let product = burn::tensor::module::linear(
                on(&x, [1, rows, inputs], &cpu),
                on(&w, [inputs, outputs], &cpu),
                with_bias.then(|| on(&bias, [outputs], &cpu)),
            );
            let expected = values(if gelu {
                kernels::gelu(product)
            } else {
                product
            });
            assert_close(
                &format!("linear {rows}x{inputs}x{outputs}, gelu {gelu}, bias {with_bias}"),
                &got,
                &expected,
            );
        }
    }
}

/// The WebGPU kernels at the real model's full sizes (`web_reranker::kernels::gpu_check`, which
/// the Chromium test runs too): natively [`web_reranker::kernels::gpu::linear`] hands more than
/// 64 rows to burn's product, so the checks call ours directly, as the browser runs it.
#[test]
fn gpu_kernels_match_the_cpu_at_full_size() {
    let gpu = gpu().device;
    let cpu = burn::prelude::Device::flex();
    let checks = pollster::block_on(web_reranker::kernels::gpu_check::full_size(&gpu, &cpu));
    assert_eq!(checks.len(), 8);
    for check in checks {
        eprintln!("{}: {:.2e}", check.what, check.worst);
        assert!(
            check.worst <= TOLERANCE,
            "{}: off by {}",
            check.what,
            check.worst
        );
    }
}
