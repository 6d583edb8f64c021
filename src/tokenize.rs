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

/// `tokenizer.bin`, shared with the importer (crates/formats).
pub use web_reranker_formats::tokenizer_bin as compact;
pub mod unigram;

use serde_json::{Value, json};
use tokenizers::decoders::DecoderWrapper;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{
    AddedToken, TokenizerImpl, TruncationDirection, TruncationParams, TruncationStrategy,
};

use self::unigram::{FlatUnigram, FlatVocabulary};

use crate::error::{Error, Result};

/// Special tokens around a pair: `<s> q </s></s> p </s>`.
pub const PAIR_SPECIAL_TOKENS: usize = 4;
/// sentence-transformers' default for this model (the tokenizer's `model_max_length`).
pub const DEFAULT_MAX_LENGTH: usize = 512;

/// A text longer than `max_length ×` this many bytes is tokenized from a prefix (see
/// [`PairTokenizer::sufficient_prefix`]).
const PREFIX_BYTES_PER_TOKEN: usize = 8;

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

/// `tokenizers`' pipeline (normaliser, pre-tokenizer, post-processor, added tokens) around our
/// own Unigram model ([`unigram`]).
type Tokenizer = TokenizerImpl<
    FlatUnigram,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

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
    /// Loads a `tokenizer.json`, or its compact form `tokenizer.bin` ([`compact`]), from its
    /// bytes; the first bytes say which.
    pub fn from_bytes(bytes: &[u8], mode: TokenizerMode) -> Result<Self> {
        let (mut value, vocabulary, order) = if compact::is_compact(bytes) {
            let (value, vocabulary, order) = compact::decode(bytes)
                .map_err(|e| Error::Tokenizer(format!("not a usable tokenizer.bin: {e}")))?;
            (value, vocabulary, Some(order))
        } else {
            let mut value: Value = serde_json::from_slice(bytes)
                .map_err(|e| Error::Tokenizer(format!("tokenizer.json is not valid JSON: {e}")))?;
            let vocabulary = compact::take_vocabulary(&mut value).map_err(|e| {
                Error::Tokenizer(format!("not an XLM-R (Unigram) tokenizer.json: {e}"))
            })?;
            (value, vocabulary, None)
        };
        if mode == TokenizerMode::SentenceTransformers {
            as_sentence_transformers_runs_it(&mut value);
        }
        let tokenizer = assemble(value, vocabulary, order)
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
    /// Empty texts are kept (as sentence-transformers keeps them). A very long text (a 1 MB
    /// document) is tokenized only as far as truncation can reach; the ids are the same as
    /// [`PairTokenizer::encode_pair_exact`]'s.
    pub fn encode_pair(&self, query: &str, passage: &str) -> Result<EncodedPair> {
        let query = self.sufficient_prefix(query)?;
        let passage = self.sufficient_prefix(passage)?;
        self.encode_pair_exact(query, passage)
    }

    /// [`PairTokenizer::encode_pair`] that tokenizes every character of both texts.
    ///
    /// NOTE: tokenizers' own pair encoding keeps every truncated-away window of both texts and
    /// pairs each window of one with each of the other: two 1 MB texts make hundreds of thousands
    /// of encodings. Here each text is encoded alone, cut to `max_length` (which changes nothing,
    /// as [`PairTokenizer::sufficient_prefix`] explains), its windows dropped, and only then are
    /// the two truncated `longest_first` and given their special tokens. The unit tests check the
    /// ids against tokenizers' pair encoding.
    pub fn encode_pair_exact(&self, query: &str, passage: &str) -> Result<EncodedPair> {
        let single = |text: &str| {
            let mut encoding = self
                .tokenizer
                .encode(text, false)
                .map_err(|e| Error::Tokenizer(format!("cannot encode pair: {e}")))?;
            encoding.take_overflowing();
            Ok::<_, Error>(encoding)
        };
        let (query, passage) = (single(query)?, single(passage)?);
        let encoding = self
            .tokenizer
            .post_process(query, Some(passage), true)
            .map_err(|e| Error::Tokenizer(format!("cannot encode pair: {e}")))?;
        Ok(EncodedPair {
            ids: encoding.get_ids().to_vec(),
        })
    }

    /// A prefix of `text` whose pair encoding is the same as the whole text's, or `text` itself.
    ///
    /// NOTE: `longest_first` keeps the first tokens of each text, and how many it keeps depends
    /// on a text's length only while that length is below `max_length` (tokenizers' truncation:
    /// the shorter text keeps `min(n, max/2)` or all of itself, the longer one the rest). So a
    /// prefix with at least `max_length` tokens of its own gives the same ids, provided its tokens
    /// are the whole text's first tokens: it is cut before ASCII whitespace that follows a
    /// non-space character, where the pre-tokenizer splits words anyway (the normaliser keeps
    /// ASCII whitespace whitespace). A text with no such place (Chinese, Japanese without spaces)
    /// is tokenized whole.
    pub fn sufficient_prefix<'t>(&self, text: &'t str) -> Result<&'t str> {
        self.prefix_with_tokens(text, self.max_length)
    }

    /// A prefix of `text` (cut as [`PairTokenizer::sufficient_prefix`] cuts) whose tokens are
    /// the first `needed` tokens of the whole text, or `text` itself.
    fn prefix_with_tokens<'t>(&self, text: &'t str, needed: usize) -> Result<&'t str> {
        let mut size = needed.max(1).saturating_mul(PREFIX_BYTES_PER_TOKEN);
        while size.saturating_mul(2) <= text.len() {
            let Some(cut) = word_boundary_from(text, size) else {
                break;
            };
            let prefix = &text[..cut];
            if self.text_ids(prefix)?.len() >= needed {
                return Ok(prefix);
            }
            size = size.saturating_mul(4);
        }
        Ok(text)
    }

    /// Every token id of `text`, without special tokens or truncation.
    ///
    /// NOTE: the tokenizer truncates to `max_length`; with stride 0 its overflow windows are the
    /// rest of the text, in order, so they are appended rather than tokenizing anew.
    fn text_ids(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| Error::Tokenizer(format!("cannot encode text: {e}")))?;
        let mut ids = encoding.get_ids().to_vec();
        for window in encoding.get_overflowing() {
            ids.extend_from_slice(window.get_ids());
        }
        Ok(ids)
    }

    /// Encodes a pair as up to `max_chunks` pairs that each fit `max_length`: the query with
    /// consecutive windows of the passage, `<s> q </s></s> window </s>` (Cohere's
    /// `max_chunks_per_doc`; a document scores as its best chunk).
    ///
    /// A pair that fits as it is gives one chunk, equal to [`PairTokenizer::encode_pair`]. Else
    /// the query keeps at most half the room (`(max_length − 4) / 2` tokens, its first ones) and
    /// the passage is cut into windows of the rest, in order, no overlap; tokens past
    /// `max_chunks` windows are not read.
    pub fn encode_chunks(
        &self,
        query: &str,
        passage: &str,
        max_chunks: usize,
    ) -> Result<Vec<EncodedPair>> {
        if max_chunks == 0 {
            return Err(Error::InvalidOption {
                name: "max_chunks_per_doc",
                expected: "at least 1",
                value: "0".into(),
            });
        }
        let room = self.max_length - PAIR_SPECIAL_TOKENS;
        let mut query_ids = self.text_ids(self.sufficient_prefix(query)?)?;
        let budget = room.saturating_mul(max_chunks.saturating_add(1));
        let mut passage_ids = self.text_ids(self.prefix_with_tokens(passage, budget)?)?;
        // `<s> q </s></s> window </s>`; the ids of <s> and </s> are checked when the file loads.
        let pair = |query: &[u32], window: &[u32]| EncodedPair {
            ids: [&[0], query, &[2, 2], window, &[2]].concat(),
        };
        if query_ids.len() + passage_ids.len() <= room {
            // Both texts are whole here (a prefix is taken only past `room` tokens).
            return Ok(vec![pair(&query_ids, &passage_ids)]);
        }
        query_ids.truncate(room / 2);
        let width = room - query_ids.len();
        passage_ids.truncate(width.saturating_mul(max_chunks));
        Ok(passage_ids
            .chunks(width)
            .map(|window| pair(&query_ids, window))
            .collect())
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

/// The first byte offset at or after `from` where ASCII whitespace follows a non-whitespace
/// character.
fn word_boundary_from(text: &str, from: usize) -> Option<usize> {
    let start = (from..=text.len()).find(|&i| text.is_char_boundary(i))?;
    // A cut at the very start would be no prefix at all.
    let mut previous = text[..start].chars().next_back().unwrap_or(' ');
    for (offset, c) in text[start..].char_indices() {
        if c.is_ascii_whitespace() && !previous.is_whitespace() {
            return Some(start + offset);
        }
        previous = c;
    }
    None
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

/// Builds the tokenizer from a `tokenizer.json` whose vocabulary was taken out.
///
/// NOTE: this is what deserializing a whole `tokenizer.json` does (`tokenizers`'
/// `serialization.rs`), with our model in place of theirs: each part of the pipeline from its
/// JSON, then the added tokens added to the finished tokenizer (they look their ids up in the
/// model). Padding and truncation are left out: they are ours to set per call, and a file's own
/// settings would silently change ids.
fn assemble(
    mut value: Value,
    vocabulary: FlatVocabulary,
    order: Option<Vec<u32>>,
) -> std::result::Result<Tokenizer, String> {
    if value["model"]["type"] != "Unigram" {
        return Err(format!(
            "only Unigram (sentencepiece) models, not {}",
            value["model"]["type"]
        ));
    }
    let unk_id = value["model"]["unk_id"].as_u64().map(|id| id as usize);
    let byte_fallback = value["model"]["byte_fallback"].as_bool().unwrap_or(false);
    let model = FlatUnigram::new(vocabulary, order, unk_id, byte_fallback)?;
    fn part<T: serde::de::DeserializeOwned>(
        value: &mut Value,
        key: &str,
    ) -> std::result::Result<Option<T>, String> {
        serde_json::from_value(value[key].take()).map_err(|e| format!("its {key}: {e}"))
    }
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(part::<NormalizerWrapper>(&mut value, "normalizer")?)
        .with_pre_tokenizer(part::<PreTokenizerWrapper>(&mut value, "pre_tokenizer")?)
        .with_post_processor(part::<PostProcessorWrapper>(&mut value, "post_processor")?)
        .with_decoder(part::<DecoderWrapper>(&mut value, "decoder")?);
    let added: Vec<AddedToken> = part(&mut value, "added_tokens")?.unwrap_or_default();
    tokenizer.add_tokens(&added);
    Ok(tokenizer)
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

    /// Text of `n` words from a mix of scripts, repeated spaces and newlines.
    fn words(n: usize) -> String {
        let words = [
            "alpha",
            "beta",
            "gamma",
            "δέλτα",
            "эпсилон",
            "数据",
            "x\u{301}",
            "  ",
            "\n",
        ];
        (0..n)
            .map(|i| words[(i * 7 + i / 3) % words.len()])
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn pair_encoding_equals_tokenizers_own() {
        let mut t = tiny();
        // NOTE: tokenizers pairs every overflow window of one text with every window of the other,
        // so its reference is affordable only for modest texts (the reason ours does not).
        let (short, medium, long) = (words(3), words(300), words(1_000));
        for max_length in [8, 64, 512] {
            t.set_max_length(max_length, 512).unwrap();
            let pairs = [
                (&short, &short),
                (&short, &long),
                (&long, &short),
                (&medium, &long),
                (&long, &medium),
                (&long, &long),
            ];
            let affordable = if max_length < 64 {
                &pairs[..3]
            } else {
                &pairs[..]
            };
            for &(q, p) in affordable {
                let theirs = t.tokenizer.encode((q.as_str(), p.as_str()), true).unwrap();
                let ours = t.encode_pair_exact(q, p).unwrap().ids;
                assert_eq!(ours, theirs.get_ids(), "max_length {max_length}");
            }
        }
    }

    #[test]
    fn long_texts_give_the_ids_of_the_whole_text() {
        let mut t = tiny();
        let long = words(60_000);
        assert!(long.len() > 300_000);
        for max_length in [8, 64, 512] {
            t.set_max_length(max_length, 512).unwrap();
            let prefix = t.sufficient_prefix(&long).unwrap();
            assert!(
                prefix.len() < long.len() / 10,
                "{max_length}: {}",
                prefix.len()
            );
            for (q, p) in [
                ("short query", long.as_str()),
                (long.as_str(), "short"),
                (&long, &long),
            ] {
                assert_eq!(
                    t.encode_pair(q, p).unwrap(),
                    t.encode_pair_exact(q, p).unwrap(),
                    "max_length {max_length}"
                );
            }
        }
        // No ASCII space to cut at: the whole text is used.
        let cjk = "数据".repeat(20_000);
        assert_eq!(t.sufficient_prefix(&cjk).unwrap().len(), cjk.len());
        // Short texts are never cut.
        assert_eq!(t.sufficient_prefix("a b c").unwrap(), "a b c");
    }

    #[test]
    fn word_boundaries_are_before_ascii_whitespace_after_a_word() {
        assert_eq!(word_boundary_from("ab cd  ef", 0), Some(2));
        assert_eq!(
            word_boundary_from(" ab", 0),
            None,
            "no word ends before a space"
        );
        assert_eq!(word_boundary_from("ab cd  ef", 3), Some(5));
        assert_eq!(word_boundary_from("ab cd  ef", 6), None);
        assert_eq!(word_boundary_from("ab cd  ef", 4), Some(5));
        assert_eq!(
            word_boundary_from("δδ δ", 1),
            Some(4),
            "from inside a character"
        );
        assert_eq!(word_boundary_from("", 0), None);
    }

    #[test]
    fn chunks_cover_the_passage_in_order_and_fit() {
        let mut t = tiny();
        t.set_max_length(64, 512).unwrap();
        let long = words(2_000);
        let all = t.text_ids(&long).unwrap();
        let query = t.text_ids("alpha beta").unwrap();
        let chunks = t.encode_chunks("alpha beta", &long, 1_000).unwrap();
        let width = 60 - query.len();
        assert_eq!(chunks.len(), all.len().div_ceil(width));
        let mut rebuilt = Vec::new();
        for chunk in &chunks {
            assert!(chunk.ids.len() <= 64);
            assert_eq!(
                chunk.ids[..query.len() + 1],
                [&[0], query.as_slice()].concat()
            );
            assert_eq!(chunk.ids[query.len() + 1..query.len() + 3], [2, 2]);
            assert_eq!(*chunk.ids.last().unwrap(), 2);
            rebuilt.extend_from_slice(&chunk.ids[query.len() + 3..chunk.ids.len() - 1]);
        }
        assert_eq!(rebuilt, all, "the windows are the passage, in order");
        // Capped, and a pair that fits is one chunk equal to the plain encoding.
        assert_eq!(t.encode_chunks("alpha beta", &long, 3).unwrap().len(), 3);
        assert_eq!(
            t.encode_chunks("alpha", "beta gamma", 3).unwrap(),
            vec![t.encode_pair("alpha", "beta gamma").unwrap()]
        );
        assert!(t.encode_chunks("alpha", "beta", 0).is_err());
        // A long query keeps half the room.
        let chunks = t.encode_chunks(&long, &long, 2).unwrap();
        assert_eq!(chunks[0].ids[1..31], all[..30]);
        assert_eq!(chunks[0].ids.len(), 64);
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
