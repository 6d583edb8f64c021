//! The WebGPU kernels against the CPU's version of the same nodes at the real model's full sizes,
//! for the tests: natively on lavapipe (tests/native_webgpu.rs) and in Chromium on SwiftShader
//! (the tests' package, `test-hooks`: `__fullSizeKernelChecks`), the same shapes and inputs in
//! both. Each check gives the worst relative difference, `|gpu - cpu| / max(|cpu|, 1)`.
//!
//! The shapes: our product at 5120 × 384 × 1536 with the GELU and 4096 × 1536 × 384 (10 rows of
//! 512 tokens; the browser runs our product at every row count), in both of its layouts,
//! attention with both kernels of 10 rows of 512
//! tokens in 12 heads of 32 with padded rows, and residual + LayerNorm on 5,120 rows of 384 with
//! both kernels (an invocation per row, a workgroup per row).

use burn::prelude::{Device, Tensor};
use burn::tensor::TensorData;

use super::{LayerNormForm, gpu};

/// One kernel's check: what ran, and the worst relative difference from the CPU.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// The kernel and its shape.
    pub what: String,
    /// The worst `|gpu - cpu| / max(|cpu|, 1)`.
    pub worst: f32,
}

/// `len` deterministic values in [-scale, scale], spread irregularly (a seeded sine).
fn noise(seed: u64, len: usize, scale: f32) -> Vec<f32> {
    (0..len)
        .map(|i| ((i as f32 + 0.5) * (0.7 + seed as f32 * 0.113)).sin() * scale)
        .collect()
}

fn on<const D: usize>(values: &[f32], dims: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), dims), device)
}

async fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data_async()
        .await
        .ok()
        .and_then(|data| data.try_to_vec::<f32>().ok())
        .unwrap_or_default()
}

async fn compare<const D: usize>(what: String, gpu: Tensor<D>, cpu: Tensor<D>) -> Check {
    let (gpu, cpu) = (values(gpu).await, values(cpu).await);
    let worst = if gpu.len() != cpu.len() || gpu.is_empty() {
        f32::INFINITY
    } else {
        gpu.iter()
            .zip(&cpu)
            .map(|(g, c)| (g - c).abs() / c.abs().max(1.0))
            .fold(0f32, f32::max)
    };
    Check { what, worst }
}

/// Runs every full-size check with the WebGPU kernels on `gpu` and the CPU's on `cpu`.
pub async fn full_size(gpu_device: &Device, cpu: &Device) -> Vec<Check> {
    let mut checks = Vec::new();
    let products = [(5120, 384, 1536, true), (4096, 1536, 384, false)];
    for layout in [gpu::ProductLayout::Blocked, gpu::ProductLayout::Interleaved] {
        for (rows, inputs, outputs, gelu) in products {
            let x = noise(12, rows * inputs, 1.0);
            let w = noise(13, inputs * outputs, 0.1);
            let bias = noise(14, outputs, 0.5);
            let got = gpu::product_in(
                layout,
                on(&x, [1, rows, inputs], gpu_device),
                on(&w, [inputs, outputs], gpu_device),
                Some(on(&bias, [outputs], gpu_device)),
                gelu,
            );
            let product = burn::tensor::module::linear(
                on(&x, [1, rows, inputs], cpu),
                on(&w, [inputs, outputs], cpu),
                Some(on(&bias, [outputs], cpu)),
            );
            let expected = if gelu { super::gelu(product) } else { product };
            let what = format!("product {rows}x{inputs}x{outputs} {layout:?}, gelu {gelu}");
            checks.push(compare(what, got, expected).await);
        }
    }

    // 10 rows of 512 tokens, 12 heads of 32; row b padded over its last 40·b keys (the mask
    // bias as the build writes it).
    let (batch, seq, heads, head_dim) = (10, 512, 12, 32);
    let width = heads * head_dim;
    let q = noise(15, batch * seq * width, 1.0);
    let k = noise(16, batch * seq * width, 1.0);
    let v = noise(17, batch * seq * width, 1.0);
    let mut bias = vec![0f32; batch * seq];
    for b in 0..batch {
        for j in seq - b * 40..seq {
            bias[b * seq + j] = f32::MIN;
        }
    }
    let scale = 1.0 / (head_dim as f32).sqrt();
    let inputs = |device: &Device| {
        (
            on(&q, [batch, seq, width], device),
            on(&k, [batch, seq, width], device),
            on(&v, [batch, seq, width], device),
            on(&bias, [batch, 1, 1, seq], device),
        )
    };
    for kind in [gpu::AdapterKind::Cpu, gpu::AdapterKind::Hardware] {
        let (gq, gk, gv, gb) = inputs(gpu_device);
        let what = format!("attention {batch}x{seq}x{heads}x{head_dim}, for a {kind:?} adapter");
        if gpu::attention_fits(&gq, &gk, &gv, &gb, heads) {
            let (cq, ck, cv, cb) = inputs(cpu);
            let got = gpu::attention_for(kind, gq, gk, gv, gb, heads, scale);
            let expected = super::attention(cq, ck, cv, cb, heads, scale);
            checks.push(compare(what, got, expected).await);
        } else {
            checks.push(Check {
                what: format!("{what}: the kernel does not take it"),
                worst: f32::INFINITY,
            });
        }
    }

    let (rows, width) = (batch * seq, 384);
    let a = noise(18, rows * width, 2.0);
    let b = noise(19, rows * width, 2.0);
    let gamma = noise(20, width, 1.5);
    let beta = noise(21, width, 0.5);
    let args = |device: &Device| {
        (
            on(&a, [1, rows, width], device),
            on(&b, [1, rows, width], device),
            on(&gamma, [width], device),
            on(&beta, [width], device),
        )
    };
    for kind in [gpu::AdapterKind::Cpu, gpu::AdapterKind::Hardware] {
        let (ga, gb, gg, gbeta) = args(gpu_device);
        let (ca, cb, cg, cbeta) = args(cpu);
        let got = gpu::add_layer_norm_for(kind, ga, gb, gg, gbeta, 1e-5);
        let expected = super::add_layer_norm(ca, cb, cg, cbeta, 1e-5, LayerNormForm::Decomposed);
        let what = format!("residual + layer norm {rows}x{width}, for a {kind:?} adapter");
        checks.push(compare(what, got, expected).await);
    }
    checks
}
