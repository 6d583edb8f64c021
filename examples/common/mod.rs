//! What the examples share.

/// The committed multilingual texts (`tests/data/multilingual_texts.json`), in file order: from
/// the checkout the example was built in, or else from the working directory (a binary carried
/// to another machine and run from a copy of the repository).
pub fn multilingual_texts() -> Vec<String> {
    let built = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/multilingual_texts.json"
    );
    let bytes = std::fs::read(built)
        .or_else(|_| std::fs::read("tests/data/multilingual_texts.json"))
        .expect("tests/data/multilingual_texts.json (run from the repository root)");
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    doc["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap().to_string())
        .collect()
}
