//! `tokenizer.bin`: a Unigram `tokenizer.json` with its vocabulary in binary.
//!
//! XLM-R's `tokenizer.json` is 17 MB, nearly all of it the 250002 `[piece, score]` pairs of its
//! vocabulary; parsing those as JSON is most of what loading it costs. The compact form keeps
//! everything else as JSON and stores the vocabulary as raw scores and length-prefixed UTF-8:
//!
//! ```text
//! b"WRTOKEN2"                 magic (8 bytes)
//! u32 LE  n                   length of the JSON below
//! n bytes                     tokenizer.json with model.vocab = []
//! u32 LE  count               vocabulary size
//! count × f64 LE              scores, in id order
//! count × LEB128              byte length of each piece
//! the pieces' UTF-8 bytes, concatenated
//! u32 LE  m                   number of distinct pieces
//! m × u32 LE                  their ids in byte order of the pieces (of equal pieces, the last)
//! ```
//!
//! The ids are identical to `tokenizers`' Unigram on the same vocabulary (tested on the real
//! tokenizer against Python's ids). Scores stay f64: XLM-R's are not all f32-exact, and
//! Viterbi must see the values the JSON has. The byte order is what our Unigram model searches
//! (the engine's `src/tokenize/unigram.rs`); storing it saves sorting 250002 pieces at every load, and the loader
//! checks it rather than trusting it.
//!
//! The importer (`crates/import`) writes it next to the weights; the engine's tokenizer reads it.

use serde_json::Value;

/// The first bytes of a `tokenizer.bin` this build writes.
pub const MAGIC: &[u8; 8] = b"WRTOKEN2";

/// Whether `bytes` are a `tokenizer.bin` (rather than JSON).
pub fn is_compact(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Takes a Unigram `model.vocab` (`[[piece, score], …]`) out of a parsed `tokenizer.json`,
/// leaving `null` in its place.
pub fn take_vocabulary(value: &mut Value) -> Result<FlatVocabulary, String> {
    if value["model"]["type"] != "Unigram" {
        return Err(format!(
            "its model is {}; only Unigram (sentencepiece) vocabularies are read",
            value["model"]["type"]
        ));
    }
    let Value::Array(entries) = value["model"]["vocab"].take() else {
        return Err("model.vocab is not an array".into());
    };
    let mut vocabulary = FlatVocabulary::with_capacity(entries.len(), entries.len() * 8);
    for (id, entry) in entries.iter().enumerate() {
        let (Some(piece), Some(score)) = (entry[0].as_str(), entry[1].as_f64()) else {
            return Err(format!("vocabulary entry {id} is not [piece, score]"));
        };
        vocabulary.push(piece, score)?;
    }
    Ok(vocabulary)
}

/// Encodes a Unigram `tokenizer.json` as `tokenizer.bin`.
pub fn encode(json: &[u8]) -> Result<Vec<u8>, String> {
    let mut value: Value =
        serde_json::from_slice(json).map_err(|e| format!("tokenizer.json is not JSON: {e}"))?;
    let vocabulary = take_vocabulary(&mut value)?;
    value["model"]["vocab"] = Value::Array(Vec::new());
    let rest = serde_json::to_vec(&value).map_err(|e| e.to_string())?;

    let mut out = Vec::with_capacity(json.len() / 3);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(
        &u32::try_from(rest.len())
            .map_err(|e| e.to_string())?
            .to_le_bytes(),
    );
    out.extend_from_slice(&rest);
    out.extend_from_slice(
        &u32::try_from(vocabulary.len())
            .map_err(|e| e.to_string())?
            .to_le_bytes(),
    );
    for score in &vocabulary.scores {
        out.extend_from_slice(&score.to_le_bytes());
    }
    let mut start = 0;
    for &end in &vocabulary.ends {
        let mut len = end - start;
        start = end;
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out.extend_from_slice(&vocabulary.text);
    let order = vocabulary.byte_order();
    out.extend_from_slice(&(order.len() as u32).to_le_bytes());
    for id in order {
        out.extend_from_slice(&id.to_le_bytes());
    }
    Ok(out)
}

/// A Unigram vocabulary as flat arrays, in id order: what `tokenizer.bin` stores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlatVocabulary {
    /// Every piece's UTF-8 bytes, concatenated.
    pub text: Vec<u8>,
    /// End offset of each piece in `text` (piece `i` starts where piece `i − 1` ends).
    pub ends: Vec<u32>,
    /// Each piece's score (a log probability).
    pub scores: Vec<f64>,
}

impl FlatVocabulary {
    /// An empty vocabulary with room for `count` pieces of `bytes` bytes in all.
    pub fn with_capacity(count: usize, bytes: usize) -> Self {
        Self {
            text: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(count),
            scores: Vec::with_capacity(count),
        }
    }

    /// Appends a piece.
    pub fn push(&mut self, piece: &str, score: f64) -> Result<(), String> {
        self.text.extend_from_slice(piece.as_bytes());
        let end = u32::try_from(self.text.len())
            .map_err(|_| "the vocabulary's pieces exceed 4 GiB".to_string())?;
        self.ends.push(end);
        self.scores.push(score);
        Ok(())
    }

    /// Number of pieces.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no pieces.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The ids of the distinct pieces in byte order of their pieces; of equal pieces, the last
    /// id (the one a token → id map filled in id order keeps).
    pub fn byte_order(&self) -> Vec<u32> {
        let mut sorted: Vec<u32> = (0..self.len() as u32).collect();
        // NOTE: stable, so equal pieces stay in id order and the last of each run is kept.
        sorted.sort_by(|&a, &b| self.piece(a).cmp(self.piece(b)));
        let mut unique = Vec::with_capacity(sorted.len());
        for (i, &id) in sorted.iter().enumerate() {
            let next_is_equal = sorted
                .get(i + 1)
                .is_some_and(|&next| self.piece(next) == self.piece(id));
            if !next_is_equal {
                unique.push(id);
            }
        }
        unique
    }

    /// The bytes of piece `id`.
    pub fn piece(&self, id: u32) -> &[u8] {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.text[start as usize..self.ends[id] as usize]
    }
}

/// Splits a `tokenizer.bin` into its JSON (with an empty `model.vocab`), the vocabulary and the
/// stored byte order (unchecked: the engine's Unigram checks it).
pub fn decode(bytes: &[u8]) -> Result<(Value, FlatVocabulary, Vec<u32>), String> {
    let mut at = MAGIC.len();
    if !is_compact(bytes) {
        return Err("not a tokenizer.bin".into());
    }
    let mut take = |n: usize| -> Result<&[u8], String> {
        let end = at.checked_add(n).filter(|&end| end <= bytes.len());
        let Some(end) = end else {
            return Err(format!("truncated at byte {at} ({} bytes)", bytes.len()));
        };
        let slice = &bytes[at..end];
        at = end;
        Ok(slice)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let json_len = u32_at(take(4)?);
    let value: Value =
        serde_json::from_slice(take(json_len)?).map_err(|e| format!("its JSON part: {e}"))?;
    let count = u32_at(take(4)?);
    let scores = take(count.checked_mul(8).ok_or("vocabulary size overflows")?)?;
    let scores: Vec<f64> = scores
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    let mut ends = Vec::with_capacity(count);
    let mut end = 0u32;
    for _ in 0..count {
        let mut len = 0u32;
        let mut shift = 0;
        loop {
            let byte = take(1)?[0];
            len |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return Err("a piece length does not fit".into());
            }
        }
        end = end.checked_add(len).ok_or("the pieces exceed 4 GiB")?;
        ends.push(end);
    }
    // UTF-8 is checked piece by piece when the model is built.
    let text = take(end as usize)?.to_vec();
    let distinct = u32_at(take(4)?);
    let ids = take(distinct.checked_mul(4).ok_or("the byte order overflows")?)?;
    let order = ids.chunks_exact(4).map(|b| u32_at(b) as u32).collect();
    if at != bytes.len() {
        return Err(format!("{} bytes after the vocabulary", bytes.len() - at));
    }
    Ok((value, FlatVocabulary { text, ends, scores }, order))
}
