//! Pair encoding exactly as sentence-transformers' `CrossEncoder` does it with an XLM-R tokenizer:
//! `<s> query </s></s> passage </s>`, `longest_first` truncation to `max_length`.
//!
//! NOTE: transformers (≥ 5) does not run an XLM-R `tokenizer.json` as written. Its
//! `XLMRobertaTokenizer` rebuilds the pipeline the way sentencepiece behaves: the `Precompiled`
//! normaliser alone (no `Replace(" {2,}")`) and `WhitespaceSplit` before `Metaspace`, so leading,
//! trailing and repeated whitespace never become `▁` tokens. [`TokenizerMode::SentenceTransformers`]
//! (the default) applies the same rewrite to a hub-style file, which is what makes our ids equal
//! sentence-transformers' ids; [`TokenizerMode::AsWritten`] runs the file exactly as it is (ids
//! equal to Python `tokenizers` on the same file).

use serde_json::{Value, json};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{Error, Result};

/// Special tokens around a pair: `<s> q </s></s> p </s>`.
pub const PAIR_SPECIAL_TOKENS: usize = 4;
/// sentence-transformers' default for this model (the tokenizer's `model_max_length`).
pub const DEFAULT_MAX_LENGTH: usize = 512;

/// How a `tokenizer.json` is interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenizerMode {
    /// As transformers/sentence-transformers run an XLM-R tokenizer (see the module docs).
    #[default]
    SentenceTransformers,
    /// Exactly as the file says.
    AsWritten,
}

/// Token ids of one (query, passage) pair, special tokens included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPair {
    /// Token ids, `<s> q </s></s> p </s>`, at most `max_length` long.
    pub ids: Vec<u32>,
}

/// Tokenizes (query, passage) pairs for a cross-encoder.
#[derive(Clone)]
pub struct PairTokenizer {
    tokenizer: Tokenizer,
    max_length: usize,
    pad_id: u32,
}

impl std::fmt::Debug for PairTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairTokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("max_length", &self.max_length)
            .field("pad_id", &self.pad_id)
            .finish()
    }
}

impl PairTokenizer {
    /// Loads a `tokenizer.json` from its bytes.
    pub fn from_bytes(json: &[u8], mode: TokenizerMode) -> Result<Self> {
        let mut value: Value = serde_json::from_slice(json)
            .map_err(|e| Error::Tokenizer(format!("tokenizer.json is not valid JSON: {e}")))?;
        if mode == TokenizerMode::SentenceTransformers {
            as_sentence_transformers_runs_it(&mut value);
        }
        // NOTE: padding and truncation are ours to set per call; a file's own settings would
        // silently change ids.
        value["padding"] = Value::Null;
        value["truncation"] = Value::Null;
        let tokenizer: Tokenizer = serde_json::from_value(value)
            .map_err(|e| Error::Tokenizer(format!("not a tokenizers tokenizer.json: {e}")))?;
        for (token, id) in [("<s>", 0), ("<pad>", 1), ("</s>", 2)] {
            match tokenizer.token_to_id(token) {
                Some(found) if found == id => {}
                found => {
                    return Err(Error::Tokenizer(format!(
                        "not an XLM-R tokenizer: {token} has id {found:?}, expected {id}"
                    )));
                }
            }
        }
        let mut this = Self {
            tokenizer,
            max_length: DEFAULT_MAX_LENGTH,
            pad_id: 1,
        };
        this.set_max_length(DEFAULT_MAX_LENGTH, usize::MAX)?;
        Ok(this)
    }

    /// Number of ids the tokenizer can produce (added tokens included).
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The id used to pad batches.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The truncation length, special tokens included.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Sets the truncation length (special tokens included); `limit` is the model's maximum.
    pub fn set_max_length(&mut self, max_length: usize, limit: usize) -> Result<()> {
        if !(PAIR_SPECIAL_TOKENS..=limit).contains(&max_length) {
            return Err(Error::MaxLength {
                value: max_length,
                min: PAIR_SPECIAL_TOKENS,
                max: limit,
            });
        }
        self.tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::Tokenizer(format!("cannot truncate to {max_length}: {e}")))?;
        self.max_length = max_length;
        Ok(())
    }

    /// Encodes one pair: `<s> query </s></s> passage </s>`, truncated `longest_first`.
    ///
    /// Empty texts are kept (as sentence-transformers keeps them).
    pub fn encode_pair(&self, query: &str, passage: &str) -> Result<EncodedPair> {
        let encoding = self
            .tokenizer
            .encode((query, passage), true)
            .map_err(|e| Error::Tokenizer(format!("cannot encode pair: {e}")))?;
        Ok(EncodedPair {
            ids: encoding.get_ids().to_vec(),
        })
    }

    /// Encodes one text with its special tokens, `<s> text </s>`, truncated to `max_length`.
    pub fn encode_single(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(format!("cannot encode text: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }
}

/// Rewrites an XLM-R (sentencepiece Unigram) pipeline the way transformers' `XLMRobertaTokenizer`
/// builds it. Files that are not of that shape are left alone.
fn as_sentence_transformers_runs_it(tokenizer: &mut Value) {
    if tokenizer["model"]["type"] != "Unigram" {
        return;
    }
    let metaspace = |v: &Value| v["type"] == "Metaspace";
    let pre = &tokenizer["pre_tokenizer"];
    let replacement = if metaspace(pre) {
        pre["replacement"].clone()
    } else if pre["type"] == "Sequence"
        && pre["pretokenizers"].as_array().is_some_and(|seq| {
            seq.len() == 2 && seq[0]["type"] == "WhitespaceSplit" && metaspace(&seq[1])
        })
    {
        pre["pretokenizers"][1]["replacement"].clone()
    } else {
        return;
    };
    let metaspace = json!({"type": "Metaspace", "replacement": replacement, "prepend_scheme": "always", "split": true});
    let normalizer = &tokenizer["normalizer"];
    let precompiled = if normalizer["type"] == "Precompiled" {
        Some(normalizer.clone())
    } else if normalizer["type"] == "Sequence" {
        normalizer["normalizers"]
            .as_array()
            .and_then(|seq| seq.iter().find(|n| n["type"] == "Precompiled"))
            .cloned()
    } else {
        None
    };
    if let Some(precompiled) = precompiled {
        tokenizer["normalizer"] = precompiled;
    }
    tokenizer["pre_tokenizer"] =
        json!({"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]});
    tokenizer["decoder"] = metaspace;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> PairTokenizer {
        let json = include_bytes!("../tests/fixtures/tiny-webgpu/tokenizer.json");
        PairTokenizer::from_bytes(json, TokenizerMode::SentenceTransformers).unwrap()
    }

    #[test]
    fn pair_template_and_truncation() {
        let mut t = tiny();
        let ids = t.encode_pair("hello", "world").unwrap().ids;
        assert_eq!(ids[0], 0);
        assert_eq!(*ids.last().unwrap(), 2);
        assert_eq!(ids.iter().filter(|&&i| i == 2).count(), 3, "{ids:?}");
        t.set_max_length(8, 512).unwrap();
        let long = "word ".repeat(100);
        let ids = t.encode_pair(&long, &long).unwrap().ids;
        assert_eq!(ids.len(), 8);
    }

    #[test]
    fn bad_max_length_and_bad_files_are_errors() {
        let mut t = tiny();
        assert!(matches!(
            t.set_max_length(3, 512),
            Err(Error::MaxLength { value: 3, .. })
        ));
        assert!(matches!(
            t.set_max_length(513, 512),
            Err(Error::MaxLength { .. })
        ));
        assert_eq!(
            t.max_length(),
            DEFAULT_MAX_LENGTH,
            "a rejected value leaves the old one"
        );
        assert!(matches!(
            PairTokenizer::from_bytes(b"{not json", TokenizerMode::AsWritten),
            Err(Error::Tokenizer(_))
        ));
        assert!(matches!(
            PairTokenizer::from_bytes(b"{\"model\": 3}", TokenizerMode::AsWritten),
            Err(Error::Tokenizer(_))
        ));
    }

    #[test]
    fn surrounding_whitespace_makes_no_tokens() {
        let t = tiny();
        assert_eq!(
            t.encode_pair("  padded  ", "\tpassage \n").unwrap(),
            t.encode_pair("padded", "passage").unwrap()
        );
    }
}
