//! A sentencepiece Unigram model over flat arrays, a drop-in for `tokenizers`' `Unigram`.
//!
//! `tokenizers`' `Unigram` keeps a `String` per piece twice (a vector and a hash map) and a trie
//! with a hash map in every node: loading XLM-R's 250002 pieces costs about 400 ms natively and
//! keeps about 246 MB of heap, in wasm memory too. Here the pieces are one UTF-8 buffer with end
//! offsets, the scores one `f64` array, and the "trie" is the piece ids sorted by their bytes: a
//! common-prefix search narrows a range of that order one input byte at a time with two binary
//! searches. About 8.5 MB for XLM-R, and building it is one sort.
//!
//! NOTE: the Viterbi search is `tokenizers`' `encode_optimized` (itself sentencepiece's) step for
//! step, including its tie-breaking (a later candidate wins only if strictly better, candidates
//! come shortest first), the unknown-character score `min_score − 10`, fused unknowns, the id of a
//! piece that appears twice (the last), and byte fallback; so the ids are the same. The tests
//! compare the two models token for token, and the real tokenizer's ids are checked against
//! Python's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokenizers::models::unigram::UnigramTrainer;
use tokenizers::{Model, Token};

pub use super::compact::FlatVocabulary;

/// sentencepiece's penalty for an unknown character, below the lowest piece score.
const UNKNOWN_PENALTY: f64 = 10.0;

struct Tables {
    vocabulary: FlatVocabulary,
    /// Piece ids in byte order of their pieces; of equal pieces only the last id.
    sorted: Vec<u32>,
    /// `sorted[by_first_byte[b]..by_first_byte[b + 1]]` are the pieces that start with byte `b`.
    by_first_byte: Vec<u32>,
    min_score: f64,
    unk_id: Option<u32>,
    byte_fallback: bool,
}

/// The Unigram model (see the module docs). Cloning shares the tables.
#[derive(Clone)]
pub struct FlatUnigram {
    tables: Arc<Tables>,
}

impl std::fmt::Debug for FlatUnigram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlatUnigram")
            .field("pieces", &self.tables.vocabulary.len())
            .field("unk_id", &self.tables.unk_id)
            .field("byte_fallback", &self.tables.byte_fallback)
            .finish()
    }
}

/// One step of the best path: the piece that ends here.
#[derive(Clone, Copy)]
struct BestPath {
    score: f64,
    starts_at: Option<usize>,
    id: u32,
}

impl FlatUnigram {
    /// Builds the model; `unk_id` and `byte_fallback` as in `tokenizer.json`'s `model`. `order`
    /// is [`FlatVocabulary::byte_order`] as `tokenizer.bin` stores it (checked), or `None` to
    /// sort here.
    pub fn new(
        vocabulary: FlatVocabulary,
        order: Option<Vec<u32>>,
        unk_id: Option<usize>,
        byte_fallback: bool,
    ) -> Result<Self, String> {
        let count = vocabulary.len();
        if vocabulary.scores.len() != count {
            return Err(format!(
                "{count} pieces but {} scores",
                vocabulary.scores.len()
            ));
        }
        if vocabulary.ends.windows(2).any(|w| w[0] > w[1])
            || vocabulary
                .ends
                .last()
                .is_some_and(|&end| end as usize != vocabulary.text.len())
        {
            return Err("the piece offsets are not in order".into());
        }
        if u32::try_from(count).is_err() {
            return Err(format!("{count} pieces are more than ids can number"));
        }
        if let Some(unk_id) = unk_id {
            if count == 0 {
                return Err("the vocabulary is empty but at least <unk> is needed".into());
            }
            if unk_id >= count {
                return Err(format!(
                    "unk_id {unk_id} is outside the vocabulary ({count} pieces)"
                ));
            }
        }
        // Every piece must be UTF-8 on its own, not only the concatenation.
        let text = std::str::from_utf8(&vocabulary.text)
            .map_err(|e| format!("the pieces are not UTF-8: {e}"))?;
        if let Some(end) = vocabulary
            .ends
            .iter()
            .find(|&&end| !text.is_char_boundary(end as usize))
        {
            return Err(format!("a piece ends inside a character (byte {end})"));
        }
        let min_score = vocabulary
            .scores
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let sorted = match order {
            None => vocabulary.byte_order(),
            Some(order) => {
                check_byte_order(&vocabulary, &order)?;
                order
            }
        };
        let mut by_first_byte = vec![0u32; 257];
        for &id in &sorted {
            if let Some(&first) = vocabulary.piece(id).first() {
                by_first_byte[usize::from(first) + 1] += 1;
            }
        }
        // The empty piece (if any) sorts before every other.
        by_first_byte[0] = u32::from(
            sorted
                .first()
                .is_some_and(|&id| vocabulary.piece(id).is_empty()),
        );
        let mut running = 0;
        for start in &mut by_first_byte {
            running += *start;
            *start = running;
        }
        Ok(Self {
            tables: Arc::new(Tables {
                vocabulary,
                by_first_byte,
                sorted,
                min_score,
                unk_id: unk_id.map(|id| id as u32),
                byte_fallback,
            }),
        })
    }

    /// The id of a piece, if the vocabulary has it.
    pub fn id_of(&self, piece: &[u8]) -> Option<u32> {
        let t = &self.tables;
        t.sorted
            .binary_search_by(|&id| t.vocabulary.piece(id).cmp(piece))
            .ok()
            .map(|at| t.sorted[at])
    }

    /// Calls `found(length, id)` for every piece that is a prefix of `text`, shortest first.
    fn common_prefixes(&self, text: &[u8], mut found: impl FnMut(usize, u32)) {
        let t = &self.tables;
        let piece = |at: usize| t.vocabulary.piece(t.sorted[at]);
        let Some(&first) = text.first() else {
            return;
        };
        // Invariant: the pieces in sorted[lo..hi] are exactly those that start with text[..depth].
        let (mut lo, mut hi) = (
            t.by_first_byte[usize::from(first)] as usize,
            t.by_first_byte[usize::from(first) + 1] as usize,
        );
        if lo < hi && piece(lo).len() == 1 {
            found(1, t.sorted[lo]);
        }
        for (depth, &byte) in text.iter().enumerate().skip(1) {
            // Within the range, a piece of length `depth` sorts first, then the rest by their
            // byte at `depth`.
            let below = |at: usize| {
                let p = piece(at);
                p.len() <= depth || p[depth] < byte
            };
            lo = partition(lo, hi, below);
            hi = partition(lo, hi, |at| piece(at)[depth] <= byte);
            if lo == hi {
                return;
            }
            if piece(lo).len() == depth + 1 {
                found(depth + 1, t.sorted[lo]);
            }
        }
    }

    /// The best segmentation of `text` as (start, end, id) pieces, unknown characters fused.
    fn segment(&self, text: &str) -> tokenizers::Result<Vec<(usize, usize, Option<u32>)>> {
        let t = &self.tables;
        let size = text.len();
        let unknown_score = t.min_score - UNKNOWN_PENALTY;
        let mut best = vec![
            BestPath {
                score: 0.0,
                starts_at: None,
                id: 0,
            };
            size + 1
        ];
        let bytes = text.as_bytes();
        let mut starts_at = 0;
        while starts_at < size {
            let till_here = best[starts_at].score;
            let char_len = text[starts_at..].chars().next().map_or(1, char::len_utf8);
            let mut has_single_char_piece = false;
            let mut offer = |end: usize, score: f64, id: u32| {
                let node = &mut best[end];
                let candidate = score + till_here;
                if node.starts_at.is_none() || candidate > node.score {
                    *node = BestPath {
                        score: candidate,
                        starts_at: Some(starts_at),
                        id,
                    };
                }
            };
            self.common_prefixes(&bytes[starts_at..], |length, id| {
                offer(starts_at + length, t.vocabulary.scores[id as usize], id);
                has_single_char_piece |= length == char_len;
            });
            if !has_single_char_piece {
                let unk_id = t
                    .unk_id
                    .ok_or("an unknown character, and the Unigram model has no unk_id")?;
                offer(starts_at + char_len, unknown_score, unk_id);
            }
            starts_at += char_len;
        }
        // Back from the end; runs of unknown characters become one piece.
        let mut pieces = Vec::new();
        let mut ends_at = size;
        let mut unknown_run_end = None;
        while ends_at > 0 {
            let node = best[ends_at];
            let starts_at = node.starts_at.expect("every character boundary is reached");
            if Some(node.id) == t.unk_id {
                unknown_run_end.get_or_insert(ends_at);
            } else {
                if let Some(end) = unknown_run_end.take() {
                    pieces.push((ends_at, end, None));
                }
                pieces.push((starts_at, ends_at, Some(node.id)));
            }
            ends_at = starts_at;
        }
        if let Some(end) = unknown_run_end {
            pieces.push((0, end, None));
        }
        pieces.reverse();
        Ok(pieces)
    }
}

/// Checks that `order` is what [`FlatVocabulary::byte_order`] would compute: ids in range, their
/// pieces strictly increasing, and every id left out a duplicate of a later id that is in.
fn check_byte_order(vocabulary: &FlatVocabulary, order: &[u32]) -> Result<(), String> {
    let count = vocabulary.len();
    let bad = || "the stored byte order does not match the pieces".to_string();
    if order.iter().any(|&id| id as usize >= count) {
        return Err(bad());
    }
    if order
        .windows(2)
        .any(|w| vocabulary.piece(w[0]) >= vocabulary.piece(w[1]))
    {
        return Err(bad());
    }
    let mut listed = vec![false; count];
    for &id in order {
        listed[id as usize] = true;
    }
    for (id, _) in listed.iter().enumerate().filter(|(_, listed)| !**listed) {
        let piece = vocabulary.piece(id as u32);
        match order.binary_search_by(|&other| vocabulary.piece(other).cmp(piece)) {
            Ok(at) if order[at] as usize > id => {}
            _ => return Err(bad()),
        }
    }
    Ok(())
}

/// The first index in `lo..hi` where `below` is false (`below` true then false over the range).
fn partition(mut lo: usize, mut hi: usize, below: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

impl Model for FlatUnigram {
    // NOTE: the trait asks for a trainer type; this model is never trained, so it names
    // `tokenizers`' own Unigram trainer.
    type Trainer = UnigramTrainer;

    fn tokenize(&self, sequence: &str) -> tokenizers::Result<Vec<Token>> {
        let t = &self.tables;
        let mut tokens = Vec::new();
        for (start, end, id) in self.segment(sequence)? {
            let value = &sequence[start..end];
            // A fused run of unknown characters may itself be a piece.
            let id = match id.or_else(|| self.id_of(value.as_bytes())) {
                Some(id) => id,
                None => {
                    if t.byte_fallback {
                        let bytes: Option<Vec<u32>> = value
                            .bytes()
                            .map(|b| self.id_of(format!("<0x{b:02X}>").as_bytes()))
                            .collect();
                        if let Some(ids) = bytes {
                            tokens.extend(value.bytes().zip(ids).map(|(b, id)| {
                                Token::new(id, format!("<0x{b:02X}>"), (start, end))
                            }));
                            continue;
                        }
                    }
                    t.unk_id
                        .ok_or("an unknown piece, and the Unigram model has no unk_id")?
                }
            };
            tokens.push(Token::new(id, value.to_string(), (start, end)));
        }
        Ok(tokens)
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.id_of(token.as_bytes())
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        let vocabulary = &self.tables.vocabulary;
        ((id as usize) < vocabulary.len())
            .then(|| String::from_utf8_lossy(vocabulary.piece(id)).into_owned())
    }

    fn get_vocab(&self) -> HashMap<String, u32> {
        let t = &self.tables;
        t.sorted
            .iter()
            .map(|&id| {
                (
                    String::from_utf8_lossy(t.vocabulary.piece(id)).into_owned(),
                    id,
                )
            })
            .collect()
    }

    fn get_vocab_size(&self) -> usize {
        self.tables.vocabulary.len()
    }

    fn save(&self, _folder: &Path, _prefix: Option<&str>) -> tokenizers::Result<Vec<PathBuf>> {
        Err("this Unigram model is loaded, never saved".into())
    }

    fn get_trainer(&self) -> UnigramTrainer {
        UnigramTrainer::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::models::unigram::Unigram;

    fn both(
        pieces: &[(&str, f64)],
        unk_id: Option<usize>,
        fallback: bool,
    ) -> (FlatUnigram, Unigram) {
        let mut vocabulary = FlatVocabulary::default();
        for (piece, score) in pieces {
            vocabulary.push(piece, *score).unwrap();
        }
        let owned = pieces.iter().map(|(p, s)| (p.to_string(), *s)).collect();
        (
            FlatUnigram::new(vocabulary, None, unk_id, fallback).unwrap(),
            Unigram::from(owned, unk_id, fallback).unwrap(),
        )
    }

    fn same_tokens(ours: &FlatUnigram, theirs: &Unigram, text: &str) {
        let ours = ours.tokenize(text).map(|t| {
            t.into_iter()
                .map(|t| (t.id, t.value, t.offsets))
                .collect::<Vec<_>>()
        });
        let theirs = theirs.tokenize(text).map(|t| {
            t.into_iter()
                .map(|t| (t.id, t.value, t.offsets))
                .collect::<Vec<_>>()
        });
        match (ours, theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text:?}"),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{text:?}: ours {a:?}, theirs {b:?}"),
        }
    }

    #[test]
    fn segments_like_tokenizers() {
        // tokenizers' own doc example, plus ties, duplicates, multi-byte characters and pieces
        // made of characters that are unknown on their own.
        let pieces = [
            ("<unk>", 0.0),
            ("a", 0.0),
            ("b", 0.0),
            ("c", 0.0),
            ("d", 0.0),
            ("cd", 1.0),
            ("ab", 2.0),
            ("abc", 5.0),
            ("abcd", 10.0),
            ("é", -1.0),
            ("éa", -0.5),
            ("b", -3.0),
            ("xy", -2.0),
            ("日本", -1.5),
            ("日", -2.0),
            ("▁", -0.1),
            ("▁a", -0.1),
        ];
        let (ours, theirs) = both(&pieces, Some(0), false);
        let text = "abcdacdxx";
        let values: Vec<String> = ours
            .tokenize(text)
            .unwrap()
            .into_iter()
            .map(|t| t.value)
            .collect();
        assert_eq!(values, ["abcd", "a", "cd", "xx"]);
        for text in [
            "",
            "a",
            "abcdacdxx",
            "xx",
            "xy",
            "xyx",
            "qxyq",
            "éa",
            "ééab",
            "日本語",
            "語日本",
            "▁a▁b",
            "bbbb",
            "zzzz",
            "a\u{301}",
            "🦀ab🦀🦀",
        ] {
            same_tokens(&ours, &theirs, text);
        }
        assert_eq!(
            ours.token_to_id("b"),
            Some(11),
            "a repeated piece takes its last id"
        );
        assert_eq!(ours.token_to_id("nope"), None);
        assert_eq!(ours.id_to_token(13).as_deref(), Some("日本"));
        assert_eq!(ours.get_vocab().len(), pieces.len() - 1);
    }

    #[test]
    fn byte_fallback_and_missing_unk_like_tokenizers() {
        let pieces = [
            ("<unk>", 0.0),
            ("<0xE6>", -5.0),
            ("<0x97>", -5.0),
            ("<0xA5>", -5.0),
            ("a", -1.0),
        ];
        let (ours, theirs) = both(&pieces, Some(0), true);
        for text in ["a日a", "日", "aé"] {
            same_tokens(&ours, &theirs, text);
        }
        let (ours, theirs) = both(&pieces[1..], None, false);
        for text in ["a", "ab"] {
            same_tokens(&ours, &theirs, text);
        }
        assert!(ours.tokenize("ab").is_err());
    }

    #[test]
    fn random_texts_over_the_fixture_vocabulary() {
        let json: serde_json::Value = serde_json::from_slice(include_bytes!(
            "../../tests/fixtures/tiny-webgpu/tokenizer.json"
        ))
        .unwrap();
        let vocab = json["model"]["vocab"].as_array().unwrap();
        let pieces: Vec<(&str, f64)> = vocab
            .iter()
            .map(|e| (e[0].as_str().unwrap(), e[1].as_f64().unwrap()))
            .collect();
        let (ours, theirs) = both(&pieces, Some(3), false);
        // Texts glued from pieces, parts of pieces and characters the vocabulary lacks.
        let mut state = 7u64;
        let mut next = |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 33) as usize % n
        };
        for _ in 0..2_000 {
            let mut text = String::new();
            for _ in 0..1 + next(8) {
                let piece = pieces[next(pieces.len())].0;
                match next(4) {
                    0 => text.push_str(&piece[..piece.char_indices().last().map_or(0, |(i, _)| i)]),
                    1 => text.push(['ж', '水', 'ß', '🦀', 'q'][next(5)]),
                    _ => text.push_str(piece),
                }
            }
            same_tokens(&ours, &theirs, &text);
        }
    }

    #[test]
    fn inconsistent_vocabularies_are_errors() {
        let mut v = FlatVocabulary::default();
        v.push("a", 0.0).unwrap();
        assert!(FlatUnigram::new(v.clone(), None, Some(1), false).is_err());
        let mut bad = v.clone();
        bad.scores.push(1.0);
        assert!(FlatUnigram::new(bad, None, None, false).is_err());
        let mut bad = v.clone();
        bad.ends[0] = 5;
        assert!(FlatUnigram::new(bad, None, None, false).is_err());
        let mut bad = FlatVocabulary::default();
        bad.push("é", 0.0).unwrap();
        bad.ends[0] = 1;
        bad.ends.push(2);
        bad.scores.push(0.0);
        assert!(
            FlatUnigram::new(bad, None, None, false).is_err(),
            "a piece split inside a character"
        );
        assert!(FlatUnigram::new(FlatVocabulary::default(), None, Some(0), false).is_err());
    }

    #[test]
    fn a_stored_byte_order_is_checked() {
        let mut v = FlatVocabulary::default();
        for (piece, score) in [
            ("b", 0.0),
            ("a", -1.0),
            ("ab", -2.0),
            ("a", -3.0),
            ("c", -4.0),
        ] {
            v.push(piece, score).unwrap();
        }
        let order = v.byte_order();
        assert_eq!(
            order,
            [3, 2, 0, 4],
            "a before ab before b before c; of the two a, the last"
        );
        let built = FlatUnigram::new(v.clone(), Some(order.clone()), None, false).unwrap();
        let sorted_here = FlatUnigram::new(v.clone(), None, None, false).unwrap();
        assert_eq!(built.tables.sorted, sorted_here.tables.sorted);
        for bad in [
            vec![2, 3, 0, 4],    // out of order
            vec![3, 2, 0],       // a piece left out
            vec![1, 2, 0, 4],    // the first of two equal pieces
            vec![3, 2, 0, 4, 4], // repeated
            vec![3, 2, 0, 9],    // no such id
        ] {
            assert!(
                FlatUnigram::new(v.clone(), Some(bad.clone()), None, false).is_err(),
                "{bad:?}"
            );
        }
    }
}
