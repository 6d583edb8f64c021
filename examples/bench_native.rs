//! Native engine timings on the model chosen at build time, for `bench/native.py`
//! (onnxruntime on the CPU) and `bench/gpu.py` (PyTorch on CUDA), which run a peer on the
//! same token ids and print the ratios.
//!
//!     RERANKER_MODEL_DIR=DIR cargo run --release --example bench_native -- OUT.json [RUNS] [OPTIONS]
//!
//! Options:
//!
//! * `--device cpu|webgpu`: the CPU `flex` backend (default; one thread), or the GPU through
//!   native wgpu (build with `--features native-webgpu`; the browser's WGSL kernels, on Vulkan,
//!   Metal or DX12);
//! * `--precision f32|int8`: which weights file the build wrote (default f32);
//! * `--weights FILE`, `--tokenizer FILE`: other files than the build.s (a binary carried to
//!   another machine). A weights file without its word-embedding table (see `--strip-table`) gets
//!   a seeded random int8 table: the table stays on the CPU and only feeds the gather, so the
//!   timings are those of the real model, and two runs of the same file agree on the logits;
//! * `--more`: also 1 × 32 tokens (batch 1), 64 × 128 (batch 64) and 16 × 512;
//! * `--only TEXT`: only the cases whose name contains TEXT;
//! * `--new-widths`: instead of the cases above, 16 × 128 and then batches of 16 rows at six
//!   lengths not seen before (77, 101, 150, 203, 290 and 333 tokens): on a GPU each one's first
//!   call shows what a new width costs (pipeline compiles) at the width multiple in use;
//! * `--width-multiple N`: pad batch widths to a multiple of N (default: the backend's);
//! * `--splits`: also run the mixed set with the other batch split (full batches vs least
//!   padding), on a second reranker.
//!
//! `bench_native --strip-table IN OUT` writes IN without its word-embedding table.
//!
//! Cases: 16 rows × 128 tokens and 16 × 256 (ids drawn from the vocabulary with a fixed seed,
//! framed `<s> … </s></s> … </s>`), and a query with 30 passages of mixed length from the
//! committed multilingual texts, tokenized by the model's tokenizer. Each case runs once to warm
//! up (on a GPU that run compiles the pipelines of its shapes; its time is reported as
//! `first_ms`), then RUNS times.

#[cfg(reranker_selected)]
mod common;

#[cfg(reranker_selected)]
mod bench {
    use std::time::Instant;

    use burn_store::burn_pack::{Bytes, DType, Reader, Tensor as PackTensor, Writer};
    use web_reranker::model::selected::{
        INFO, Model, TOKENIZER_BIN_PATH, WEIGHTS_F32_PATH, WEIGHTS_INT8_PATH,
    };
    use web_reranker::quant::{QUANTIZED_PREFIX, ScaleAxis, WORD_EMBEDDINGS, scale_name};
    use web_reranker::{
        BatchSplit, DevicePreference, LoadOptions, Reranker, SelectedDevice, device,
    };

    use super::common;

    const USAGE: &str = "usage: bench_native OUT.json [RUNS] [--device cpu|webgpu] \
        [--precision f32|int8] [--weights FILE] [--tokenizer FILE] [--more] [--splits] \
        [--only TEXT] [--width-multiple N] [--new-widths]\n   \
        or: bench_native --strip-table IN OUT";

    struct Args {
        out: String,
        runs: usize,
        webgpu: bool,
        weights: String,
        tokenizer: String,
        more: bool,
        splits: bool,
        only: Option<String>,
        width_multiple: Option<usize>,
        new_widths: bool,
    }

    fn parse(mut args: impl Iterator<Item = String>) -> Args {
        let mut positional = Vec::new();
        let mut webgpu = false;
        let mut precision = "f32".to_string();
        let mut weights = None;
        let mut tokenizer = TOKENIZER_BIN_PATH.to_string();
        let (mut more, mut splits, mut new_widths) = (false, false, false);
        let (mut only, mut width_multiple) = (None, None);
        while let Some(arg) = args.next() {
            let mut value = || args.next().expect(USAGE);
            match arg.as_str() {
                "--device" => webgpu = value() == "webgpu",
                "--precision" => precision = value(),
                "--weights" => weights = Some(value()),
                "--tokenizer" => tokenizer = value(),
                "--more" => more = true,
                "--splits" => splits = true,
                "--new-widths" => new_widths = true,
                "--only" => only = Some(value()),
                "--width-multiple" => width_multiple = Some(value().parse().expect("N")),
                flag if flag.starts_with("--") => panic!("unknown option {flag}\n{USAGE}"),
                _ => positional.push(arg),
            }
        }
        let default_weights = match precision.as_str() {
            "f32" => WEIGHTS_F32_PATH,
            "int8" => WEIGHTS_INT8_PATH,
            other => panic!("--precision {other}: expected f32 or int8"),
        };
        let mut positional = positional.into_iter();
        Args {
            out: positional.next().expect(USAGE),
            runs: positional.next().map_or(5, |r| r.parse().expect("RUNS")),
            webgpu,
            weights: weights.unwrap_or_else(|| default_weights.to_string()),
            tokenizer,
            more,
            splits,
            only,
            width_multiple,
            new_widths,
        }
    }

    /// A fixed-seed LCG: the same values every run, and for the peers.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    fn read_pack(bytes: Vec<u8>) -> (Vec<PackTensor>, Vec<(String, String)>) {
        let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes)).expect("a burnpack file");
        let metadata = reader.metadata().clone().into_iter().collect();
        (reader.into_tensors().expect("its tensors"), metadata)
    }

    fn write_pack(tensors: Vec<PackTensor>, metadata: &[(String, String)]) -> Vec<u8> {
        let dir = std::env::temp_dir().join(format!("bench-native-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("weights.bpk");
        let mut writer = Writer::new(tensors).overwrite(true);
        for (key, value) in metadata {
            writer = writer.with_metadata(key, value);
        }
        writer.write_to_file(&path).expect("write the weights");
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_dir_all(dir);
        bytes
    }

    /// `--strip-table IN OUT`.
    fn strip_table(input: &str, output: &str) {
        let (tensors, metadata) = read_pack(std::fs::read(input).expect("IN"));
        let table_scale = scale_name(WORD_EMBEDDINGS);
        let table_axis = format!("{QUANTIZED_PREFIX}{WORD_EMBEDDINGS}");
        let tensors: Vec<PackTensor> = tensors
            .into_iter()
            .filter(|t| t.name != WORD_EMBEDDINGS && t.name != table_scale)
            .collect();
        let metadata: Vec<_> = metadata
            .into_iter()
            .filter(|(k, _)| *k != table_axis)
            .collect();
        std::fs::write(output, write_pack(tensors, &metadata)).expect("OUT");
    }

    /// The weights as given, or, when they have no word-embedding table, with a seeded random
    /// int8 one (values in -127..=127, scale 0.02 / 127: rows of about XLM-R's magnitude).
    fn with_table(bytes: Vec<u8>) -> (Vec<u8>, bool) {
        let (mut tensors, mut metadata) = read_pack(bytes.clone());
        if tensors.iter().any(|t| t.name == WORD_EMBEDDINGS) {
            return (bytes, false);
        }
        drop(bytes);
        let (rows, width) = (INFO.vocab_size as usize, INFO.hidden_size as usize);
        let mut lcg = Lcg(0x7ab1e);
        let values: Vec<u8> = (0..rows * width)
            .map(|_| ((lcg.next() % 255) as i32 - 127) as i8 as u8)
            .collect();
        let scales: Vec<u8> = (0..rows)
            .flat_map(|_| (0.02f32 / 127.0).to_le_bytes())
            .collect();
        tensors.push(PackTensor::new(
            scale_name(WORD_EMBEDDINGS),
            DType::F32,
            vec![rows],
            None,
            Bytes::from_bytes_vec(scales),
        ));
        tensors.push(PackTensor::new(
            WORD_EMBEDDINGS.to_string(),
            DType::I8,
            vec![rows, width],
            None,
            Bytes::from_bytes_vec(values),
        ));
        metadata.push((
            format!("{QUANTIZED_PREFIX}{WORD_EMBEDDINGS}"),
            ScaleAxis::Rows.name().to_string(),
        ));
        (write_pack(tensors, &metadata), true)
    }

    fn load(
        weights: Vec<u8>,
        tokenizer: &[u8],
        webgpu: bool,
        options: LoadOptions,
    ) -> (Reranker<Model>, f64, f64) {
        let started = Instant::now();
        let preference = if webgpu {
            DevicePreference::WebGpu
        } else {
            DevicePreference::Cpu
        };
        let selected: SelectedDevice =
            pollster::block_on(device::select(preference, &INFO)).expect("the device");
        let device_ms = started.elapsed().as_secs_f64() * 1e3;
        let started = Instant::now();
        let reranker = Reranker::<Model>::new(weights, tokenizer, selected, options).unwrap();
        (reranker, device_ms, started.elapsed().as_secs_f64() * 1e3)
    }

    pub fn main() {
        let mut args = std::env::args().skip(1).peekable();
        if args.peek().map(String::as_str) == Some("--strip-table") {
            let (input, output) = (args.nth(1).expect(USAGE), args.next().expect(USAGE));
            return strip_table(&input, &output);
        }
        let args = parse(args);
        let tokenizer = std::fs::read(&args.tokenizer).expect("the tokenizer file");
        let (weights, random_table) = with_table(std::fs::read(&args.weights).expect("weights"));
        let second = args.splits.then(|| weights.clone());
        let options = LoadOptions {
            width_multiple: args.width_multiple,
            ..LoadOptions::default()
        };
        let (reranker, device_ms, load_ms) = load(weights, &tokenizer, args.webgpu, options);
        let selected = reranker.device();
        eprintln!(
            "device {} ({}) in {device_ms:.0} ms; weights {} in {load_ms:.0} ms{}",
            selected.backend.as_str(),
            selected.adapter.as_deref().unwrap_or("-"),
            reranker.precision().name(),
            if random_table { " (random table)" } else { "" }
        );

        let mut ids = Lcg(0x2026_1127);
        let mut fixed = |rows: usize, length: usize| -> Vec<Vec<u32>> {
            let mut next_id = || (5 + ids.next() % (INFO.vocab_size - 5)) as u32;
            (0..rows)
                .map(|_| {
                    let half = (length - 4) / 2;
                    let mut row = vec![0u32];
                    row.extend((0..half).map(|_| next_id()));
                    row.extend([2, 2]);
                    row.extend((0..length - 4 - half).map(|_| next_id()));
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

        let mut cases = vec![
            ("16 x 128 tokens", fixed(16, 128), 16),
            ("16 x 256 tokens", fixed(16, 256), 16),
            ("30 mixed-length passages", mixed.clone(), 16),
        ];
        if args.new_widths {
            cases.truncate(1);
            for length in [77, 101, 150, 203, 290, 333] {
                cases.push(("16 x new width", fixed(16, length), 16));
            }
        }
        if args.more {
            cases.push(("1 x 32 tokens", fixed(1, 32), 1));
            cases.push(("64 x 128 tokens", fixed(64, 128), 64));
            cases.push(("16 x 512 tokens", fixed(16, 512), 16));
        }
        let mut report = Vec::new();
        let mut run_case = |reranker: &Reranker<Model>, name: String, rows: &[Vec<u32>], batch| {
            let time = || {
                let start = Instant::now();
                let logits = pollster::block_on(reranker.score_ids(rows, batch)).unwrap();
                (start.elapsed().as_secs_f64() * 1e3, logits)
            };
            let (first_ms, logits) = time();
            let ms: Vec<f64> = (0..args.runs).map(|_| time().0).collect();
            // The batches the engine ran, so that the peers run the very same ones.
            let lengths: Vec<usize> = rows.iter().map(Vec::len).collect();
            let plan = reranker.batch_plan(&lengths, batch);
            eprintln!("{name}: first {first_ms:.0} ms, then {ms:.1?} ms");
            report.push(serde_json::json!({
                "name": name, "rows": rows, "batches": plan, "first_ms": first_ms, "ms": ms,
                "logits": logits,
            }));
        };
        let wanted = |name: &str| args.only.as_ref().is_none_or(|only| name.contains(only));
        for (name, rows, batch) in cases.iter().filter(|(name, ..)| wanted(name)) {
            let name = match *name {
                "16 x new width" => format!("16 x {} tokens (new width)", rows[0].len()),
                name => name.to_string(),
            };
            run_case(&reranker, name, rows, *batch);
        }
        if let Some(weights) = second {
            let other = if args.webgpu {
                BatchSplit::LeastPadding
            } else {
                BatchSplit::Fill
            };
            let options = LoadOptions {
                batch_split: Some(other),
                ..options
            };
            let (reranker, _, _) = load(weights, &tokenizer, args.webgpu, options);
            let name = format!("30 mixed-length passages, {other:?} split");
            run_case(&reranker, name, &mixed, 16);
        }
        let selected = reranker.device();
        let report = serde_json::json!({
            "model": INFO.source_dir,
            "backend": selected.backend.as_str(),
            "adapter": selected.adapter,
            "precision": reranker.precision().name(),
            "random_table": random_table,
            "width_multiple": args.width_multiple,
            "device_ms": device_ms,
            "load_ms": load_ms,
            "cases": report,
        });
        std::fs::write(&args.out, serde_json::to_vec(&report).unwrap()).unwrap();
    }
}

#[cfg(reranker_selected)]
fn main() {
    bench::main();
}

#[cfg(not(reranker_selected))]
fn main() {
    eprintln!(
        "build with a model: RERANKER_MODEL_DIR=DIR cargo run --release --example bench_native -- OUT.json"
    );
    std::process::exit(2);
}
