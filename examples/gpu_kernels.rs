//! The per-kernel profile of the WebGPU path (BENCHMARKS.md section 3): each kernel of
//! `src/kernels/gpu.rs` against the burn ops it replaced, on the model's shapes, through native
//! wgpu (lavapipe where there is no GPU; the same WGSL the browser runs).
//!
//!     cargo run --features native-webgpu --example gpu_kernels -- [RUNS]
//!
//! Shapes: hidden 384, 12 heads, feed-forward 1536 (the real model's), at 1 pair of 32 tokens
//! and 16 pairs of 128. Each case runs once to warm up (compiling its pipelines), then RUNS times
//! (default 5), each waiting for the device; the best time is printed, ours and burn's, and
//! their ratio. A second table times our kernels in both of their shapes (`AdapterKind`: those
//! for adapters that run on the CPU, those for hardware GPUs) on this adapter, also at 10 × 512.

#[cfg(reranker_wgpu)]
mod bench {
    use std::time::Instant;

    use burn::prelude::{Device, Tensor};
    use burn::tensor::{Distribution, activation};
    use web_reranker::kernels::{self, gpu};
    use web_reranker::model::ModelInfo;
    use web_reranker::{DevicePreference, device};

    const HIDDEN: usize = 384;
    const HEADS: usize = 12;
    const INTERMEDIATE: usize = 1536;

    /// The best of `runs` timed calls of `f` after a warm-up call, in ms.
    fn best(device: &Device, runs: usize, mut f: impl FnMut()) -> f64 {
        f();
        device.sync().expect("the warm-up ran");
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                device.sync().expect("the call ran");
                start.elapsed().as_secs_f64() * 1e3
            })
            .fold(f64::INFINITY, f64::min)
    }

    fn random<const D: usize>(dims: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::random(dims, Distribution::Uniform(-1.0, 1.0), device)
    }

    pub fn main() {
        let runs: usize = std::env::args()
            .nth(1)
            .map_or(5, |r| r.parse().expect("RUNS is a number"));
        // Only the facts `select` reads: whether a binding of the largest weight fits.
        let info = ModelInfo {
            name: "gpu_kernels",
            source_dir: "",
            vocab_size: 250_002,
            hidden_size: HIDDEN as u64,
            num_attention_heads: HEADS as u64,
            intermediate_size: INTERMEDIATE as u64,
            max_positions: 514,
            pad_token_id: 1,
            webgpu_blocker: None,
            fused_attention_layers: 12,
            fused_gelu_layers: 12,
            folded_gelu_layers: 12,
            fused_layer_norms: 25,
            linear_layers: 74,
        };
        let selected = pollster::block_on(device::select(DevicePreference::WebGpu, &info))
            .expect("a wgpu adapter (apt-get install mesa-vulkan-drivers gives lavapipe)");
        let d = &selected.device;
        println!("adapter: {}", selected.adapter.as_deref().unwrap_or("?"));
        println!("| kernel | shape | ours | burn ops | burn / ours |");
        println!("| --- | --- | ---: | ---: | ---: |");
        let row = |kernel: &str, shape: &str, ours: f64, burn: f64| {
            println!(
                "| {kernel} | {shape} | {ours:.2} ms | {burn:.2} ms | {:.2}× |",
                burn / ours
            );
        };
        for (batch, seq) in [(1, 32), (1, 128), (4, 128), (16, 128)] {
            let shape = format!("{batch} × {seq}");
            let rows = [batch, seq];
            let x = random([batch, seq, HIDDEN], d);
            for (name, inputs, outputs, gelu) in [
                ("linear 384→384 + bias", HIDDEN, HIDDEN, false),
                ("linear 384→1536 + bias + GELU", HIDDEN, INTERMEDIATE, true),
                ("linear 1536→384 + bias", INTERMEDIATE, HIDDEN, false),
            ] {
                let input = random([rows[0], rows[1], inputs], d);
                let w = random([inputs, outputs], d);
                let b = random([outputs], d);
                let ours = best(d, runs, || {
                    let _ = gpu::product(input.clone(), w.clone(), Some(b.clone()), gelu);
                });
                let burn = best(d, runs, || {
                    let y = burn::tensor::module::linear(input.clone(), w.clone(), Some(b.clone()));
                    let _ = if gelu { activation::gelu(y) } else { y };
                });
                row(name, &shape, ours, burn);
            }
            let (q, k, v) = (
                x.clone(),
                random([batch, seq, HIDDEN], d),
                random([batch, seq, HIDDEN], d),
            );
            let bias: Tensor<4> = Tensor::zeros([batch, 1, 1, seq], d);
            let scale = 1.0 / ((HIDDEN / HEADS) as f32).sqrt();
            let ours = best(d, runs, || {
                let _ = gpu::attention(q.clone(), k.clone(), v.clone(), bias.clone(), HEADS, scale);
            });
            let burn = best(d, runs, || {
                let _ = kernels::unfused_attention(
                    q.clone(),
                    k.clone(),
                    v.clone(),
                    bias.clone(),
                    HEADS,
                    scale,
                );
            });
            row("attention (12 heads)", &shape, ours, burn);
            let residual = random([batch, seq, HIDDEN], d);
            let (gamma, beta) = (random([HIDDEN], d), random([HIDDEN], d));
            let ours = best(d, runs, || {
                let _ = gpu::add_layer_norm(
                    x.clone(),
                    residual.clone(),
                    gamma.clone(),
                    beta.clone(),
                    1e-5,
                );
            });
            // The exports' decomposed LayerNorm, as burn ran it before the fusion.
            let burn = best(d, runs, || {
                let s = x.clone().add(residual.clone());
                let centred = s.clone().sub(s.mean_dim(2));
                let variance = centred.clone().powf_scalar(2.0).mean_dim(2);
                let _ = centred
                    .div(variance.add_scalar(1e-5).sqrt())
                    .mul(gamma.clone().unsqueeze())
                    .add(beta.clone().unsqueeze());
            });
            row("residual add + LayerNorm", &shape, ours, burn);
        }
        shapes_by_adapter(d, runs);
    }

    /// Our kernels in both shapes on this adapter, same run: those for adapters that run on the
    /// CPU (what SwiftShader and lavapipe get) and those for hardware GPUs (`AdapterKind`).
    fn shapes_by_adapter(d: &Device, runs: usize) {
        use gpu::{AdapterKind, ProductLayout};
        println!();
        println!(
            "this adapter runs the kernels for: {:?}",
            gpu::adapter_kind()
        );
        println!(
            "| kernel | shape | for CPU adapters | for hardware | CPU-shaped / hardware-shaped |"
        );
        println!("| --- | --- | ---: | ---: | ---: |");
        let row = |kernel: &str, shape: &str, cpu: f64, hardware: f64| {
            println!(
                "| {kernel} | {shape} | {cpu:.2} ms | {hardware:.2} ms | {:.2}× |",
                cpu / hardware
            );
        };
        for (batch, seq) in [(1, 32), (16, 128), (10, 512)] {
            let shape = format!("{batch} × {seq}");
            let x = random([batch, seq, HIDDEN], d);
            for (name, inputs, outputs, gelu) in [
                ("linear 384→1536 + bias + GELU", HIDDEN, INTERMEDIATE, true),
                ("linear 1536→384 + bias", INTERMEDIATE, HIDDEN, false),
            ] {
                let input = random([batch, seq, inputs], d);
                let w = random([inputs, outputs], d);
                let b = random([outputs], d);
                let [cpu, hardware] = [AdapterKind::Cpu, AdapterKind::Hardware].map(|kind| {
                    best(d, runs, || {
                        let layout = ProductLayout::for_adapter(kind);
                        let _ = gpu::product_in(
                            layout,
                            input.clone(),
                            w.clone(),
                            Some(b.clone()),
                            gelu,
                        );
                    })
                });
                row(name, &shape, cpu, hardware);
            }
            let (k, v) = (
                random([batch, seq, HIDDEN], d),
                random([batch, seq, HIDDEN], d),
            );
            let bias: Tensor<4> = Tensor::zeros([batch, 1, 1, seq], d);
            let scale = 1.0 / ((HIDDEN / HEADS) as f32).sqrt();
            let [cpu, hardware] = [AdapterKind::Cpu, AdapterKind::Hardware].map(|kind| {
                best(d, runs, || {
                    let (q, k, v, b) = (x.clone(), k.clone(), v.clone(), bias.clone());
                    let _ = gpu::attention_for(kind, q, k, v, b, HEADS, scale);
                })
            });
            row("attention (12 heads)", &shape, cpu, hardware);
            let residual = random([batch, seq, HIDDEN], d);
            let (gamma, beta) = (random([HIDDEN], d), random([HIDDEN], d));
            let [cpu, hardware] = [AdapterKind::Cpu, AdapterKind::Hardware].map(|kind| {
                best(d, runs, || {
                    let (a, r) = (x.clone(), residual.clone());
                    let _ = gpu::add_layer_norm_for(kind, a, r, gamma.clone(), beta.clone(), 1e-5);
                })
            });
            row("residual add + LayerNorm", &shape, cpu, hardware);
        }
    }
}

fn main() {
    #[cfg(reranker_wgpu)]
    bench::main();
    #[cfg(not(reranker_wgpu))]
    eprintln!("build with --features native-webgpu");
}
