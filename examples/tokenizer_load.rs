//! Time and peak memory of loading the tokenizer, from `tokenizer.json` and from the compact
//! `tokenizer.bin` (what the package ships), natively; and, as the peer in the same run,
//! `tokenizers`' own `Tokenizer` (its Unigram model) loading the same `tokenizer.json`.
//!
//!     cargo run --release --example tokenizer_load -- tokenizer.json [RUNS]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use web_reranker::{PairTokenizer, TokenizerMode};

mod common;

/// Counts live heap bytes and their peak.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Loads `runs` times (each dropped before the next); prints the best time, the peak heap
/// growth during a load and what a loaded tokenizer keeps.
fn measure<T>(label: &str, runs: usize, load: impl Fn() -> T) {
    let (mut best, mut peak, mut kept) = (f64::MAX, 0, 0);
    for _ in 0..runs {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let start = Instant::now();
        let tokenizer = load();
        best = best.min(start.elapsed().as_secs_f64());
        peak = peak.max(PEAK.load(Ordering::Relaxed) - base);
        kept = kept.max(LIVE.load(Ordering::Relaxed).saturating_sub(base));
        drop(tokenizer);
    }
    println!(
        "{label}: best of {runs} {:.0} ms; heap: peak {:.1} MB during the load, {:.1} MB kept by the tokenizer",
        best * 1e3,
        peak as f64 / 1e6,
        kept as f64 / 1e6
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: tokenizer_load tokenizer.json [RUNS]");
    let runs: usize = args.next().map_or(5, |r| r.parse().unwrap());
    let json = std::fs::read(&path).unwrap();
    let compact = web_reranker::tokenize::compact::encode(&json).unwrap();
    println!(
        "tokenizer.json {:.1} MB, tokenizer.bin {:.1} MB",
        json.len() as f64 / 1e6,
        compact.len() as f64 / 1e6
    );
    let from_json =
        || PairTokenizer::from_bytes(&json, TokenizerMode::SentenceTransformers).unwrap();
    let from_bin =
        || PairTokenizer::from_bytes(&compact, TokenizerMode::SentenceTransformers).unwrap();
    measure("tokenizers' Tokenizer, tokenizer.json", runs, || {
        tokenizers::Tokenizer::from_bytes(&json).unwrap()
    });
    measure("ours, tokenizer.json", runs, from_json);
    measure("ours, tokenizer.bin", runs, from_bin);
    let (a, b) = (from_json(), from_bin());
    let text = "Wie hoch ist die Zugspitze? The Zugspitze is 2,962 m high. 東京は日本の首都です。";
    assert_eq!(
        a.encode_pair(text, text).unwrap().ids,
        b.encode_pair(text, text).unwrap().ids
    );

    // Encoding speed on the committed multilingual texts, the file as written by both (the same
    // ids); `tokenizers` caches each word's pieces, so its later passes are cache hits.
    let texts = common::multilingual_texts();
    let theirs = tokenizers::Tokenizer::from_bytes(&json).unwrap();
    let ours = PairTokenizer::from_bytes(&compact, TokenizerMode::AsWritten).unwrap();
    let time = |encode: &dyn Fn(&str) -> Vec<u32>| {
        let passes: Vec<f64> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                for text in &texts {
                    std::hint::black_box(encode(text));
                }
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        (passes[0], passes.iter().copied().fold(f64::MAX, f64::min))
    };
    let (their_first, their_best) = time(&|t| theirs.encode(t, true).unwrap().get_ids().to_vec());
    let (our_first, our_best) = time(&|t| ours.encode_single(t).unwrap());
    for text in &texts {
        assert_eq!(
            theirs.encode(text.as_str(), true).unwrap().get_ids(),
            ours.encode_single(text).unwrap(),
            "{text:?}"
        );
    }
    println!(
        "encoding {} texts: tokenizers' first pass {their_first:.0} ms, best {their_best:.0} ms; \
         ours first pass {our_first:.0} ms, best {our_best:.0} ms",
        texts.len()
    );
}
