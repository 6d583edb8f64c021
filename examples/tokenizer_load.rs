//! Time and peak memory of loading the tokenizer, from `tokenizer.json` and from the compact
//! `tokenizer.bin` (what the package ships), natively.
//!
//!     cargo run --release --example tokenizer_load -- tokenizer.json [RUNS]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use web_reranker::{PairTokenizer, TokenizerMode};

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
fn measure(label: &str, runs: usize, load: impl Fn() -> PairTokenizer) {
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
    measure("tokenizer.json", runs, from_json);
    measure("tokenizer.bin ", runs, from_bin);
    let (a, b) = (from_json(), from_bin());
    let text = "Wie hoch ist die Zugspitze? The Zugspitze is 2,962 m high. 東京は日本の首都です。";
    assert_eq!(
        a.encode_pair(text, text).unwrap().ids,
        b.encode_pair(text, text).unwrap().ids
    );
}
