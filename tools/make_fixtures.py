#!/usr/bin/env python3
"""Regenerate every committed test fixture.

Writes:

* ``tests/fixtures/tiny-checkpoint/``: a tiny random-weight XLM-R cross-encoder (2 layers,
  hidden 32, 4 heads, FFN 64, num_labels 1, every parameter random including biases and
  LayerNorm) as a Hugging Face checkpoint, with a small Unigram tokenizer trained on the
  committed text list and given the real XLM-R pipeline (Precompiled normaliser, Metaspace,
  ``<s> A </s></s> B </s>`` template);
* ``tests/fixtures/tiny-webgpu/``, ``tiny-hub/``, ``tiny-transformers/``, ``tiny-sdpa/`` and
  ``tiny-dynamo/``: model folders (``model.onnx``, ``tokenizer.json``, ``config.json``) with the
  ONNX forms made by ``tools/export_onnx.py`` (our WebGPU form; the hub's transformers-4
  TorchScript form; transformers 5's own model traced by TorchScript with eager and with its
  default sdpa attention; the same model through torch's default, dynamo, exporter),
  each with a ``reference.json`` holding token ids and logits from sentence-transformers and
  from onnxruntime for the hard pairs below, one at a time and as one padded batch;
* ``tests/data/xlmr_reference_ids.json``: ids of the real XLM-R tokenizer (Python ``tokenizers``)
  for every text in ``tests/data/multilingual_texts.json``, single and paired/truncated.

    python tools/make_fixtures.py --xlmr-tokenizer PATH/TO/tokenizer.json
    python tools/make_fixtures.py --xlmr-tokenizer PATH --keep-checkpoint --forms transformers
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
DATA = ROOT / "tests" / "data"
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>"]
REAL_MAX_LENGTH = 512
SHORT_MAX_LENGTH = 24
XLMR_PAIR_MAX_LENGTH = 32

LONG_PASSAGE = " ".join(
    [
        "The quick brown fox jumps over the lazy dog.",
        "Der schnelle braune Fuchs springt über den faulen Hund.",
        "敏捷的棕色狐狸跳过了懒狗。",
        "Быстрая коричневая лиса перепрыгивает через ленивую собаку.",
        "الثعلب البني السريع يقفز فوق الكلب الكسول.",
    ]
    * 30
)


def hard_pairs() -> list[list[str]]:
    return [
        ["What is the capital of France?", "Paris is the capital and largest city of France."],
        ["Wie hoch ist die Zugspitze?", "Die Zugspitze ist mit 2962 m der höchste Berg Deutschlands."],
        ["東京の人口は?", "東京都の人口は約1400万人です。"],
        ["北京有多少人口?", "北京市常住人口约为2180万。"],
        ["서울의 인구는?", "서울특별시의 인구는 약 950만 명이다."],
        ["Какая самая длинная река?", "Нил считается самой длинной рекой в мире."],
        ["ما هي عاصمة مصر؟", "القاهرة هي عاصمة جمهورية مصر العربية."],
        ["מהי בירת ישראל?", "ירושלים היא בירת ישראל."],
        ["भारत की राजधानी क्या है?", "नई दिल्ली भारत की राजधानी है।"],
        ["เมืองหลวงของไทยคืออะไร", "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย"],
        ["Ποια είναι η πρωτεύουσα της Ελλάδας;", "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας."],
        ["cross-lingual: where is the Eiffel tower?", "La tour Eiffel se trouve à Paris, en France."],
        ["emoji 🔥 query 👨‍👩‍👧", "🚀 launch 🇯🇵 👍🏽 ❤️ passage"],
        ["ﬁnance ＡＢＣ ① ㎏", "finance ABC 1 kg (NFKC forms)"],
        ["   ", "whitespace-only query"],
        ["whitespace-only passage", " \t\n "],
        ["  padded query  ", "  padded passage\twith tab  "],
        ["literal <s> token", "passage with </s> and <pad> and <mask> inside"],
        ["", "empty query"],
        ["empty passage", ""],
        ["e\u0301cole ca\u0300fe\u0301", "école café (precomposed)"],
        ["zero\u200bwidth", "soft\u00adhyphen and \u200fRTL mark"],
        ["long passage", LONG_PASSAGE],
        [LONG_PASSAGE, LONG_PASSAGE + " " + LONG_PASSAGE],
    ]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_texts() -> list[str]:
    doc = json.loads((DATA / "multilingual_texts.json").read_text(encoding="utf-8"))
    return [t["text"] for t in doc["texts"]]


def train_tiny_tokenizer(real_path: Path, texts: list[str], out_dir: Path) -> Path:
    """A small Unigram vocabulary with the real XLM-R normaliser, pre-tokeniser and template."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

    real = json.loads(real_path.read_text(encoding="utf-8"))
    charsmap = base64.b64decode(real["normalizer"]["normalizers"][0]["precompiled_charsmap"])
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    corpus = texts + [" ".join(p) for p in hard_pairs()]
    trainer = trainers.UnigramTrainer(
        vocab_size=3000, special_tokens=SPECIAL, unk_token="<unk>", max_piece_length=12, shrinking_factor=0.75
    )
    tok.train_from_iterator(corpus, trainer)
    trained = json.loads(tok.to_str())
    vocab = trained["model"]["vocab"]
    if [v[0] for v in vocab[:4]] != SPECIAL:
        raise SystemExit(f"unexpected special tokens at the head of the vocabulary: {vocab[:4]}")
    vocab.append(["<mask>", 0.0])
    mask_id = len(vocab) - 1
    added = [dict(t) for t in real["added_tokens"]]
    for t in added:
        if t["content"] == "<mask>":
            t["id"] = mask_id
    out = dict(real)
    out["added_tokens"] = added
    out["model"] = {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False}
    path = out_dir / "tokenizer.json"
    path.write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")
    Tokenizer.from_file(str(path))  # must load
    (out_dir / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "XLMRobertaTokenizer",
                "model_max_length": REAL_MAX_LENGTH,
                "bos_token": "<s>",
                "eos_token": "</s>",
                "sep_token": "</s>",
                "cls_token": "<s>",
                "unk_token": "<unk>",
                "pad_token": "<pad>",
                "mask_token": "<mask>",
            },
            indent=2,
        )
        + "\n"
    )
    return path


def random_cross_encoder_config(vocab_size: int, hidden: int, layers: int, heads: int, ffn: int):
    """An XLM-R cross-encoder config (one label, XLM-R's special ids, 514 positions) that says
    its weights are random."""
    from transformers import XLMRobertaConfig

    config = XLMRobertaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=ffn,
        max_position_embeddings=REAL_MAX_LENGTH + 2,
        type_vocab_size=1,
        num_labels=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        layer_norm_eps=1e-5,
        hidden_act="gelu",
    )
    # Makes sentence-transformers return the raw logit, as this project does.
    config.sentence_transformers = {"activation_fn": "torch.nn.modules.linear.Identity"}
    # Tells build.sh (and so the demo page) that this model's scores mean nothing.
    config.web_reranker = {"random_weights": True}
    return config


def make_checkpoint(out_dir: Path, vocab_size: int) -> None:
    from transformers import XLMRobertaForSequenceClassification

    config = random_cross_encoder_config(vocab_size, hidden=32, layers=2, heads=4, ffn=64)
    torch.manual_seed(1234)
    model = XLMRobertaForSequenceClassification(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif "out_proj.weight" in name:
                p.copy_(0.7 * torch.randn_like(p))
            else:
                p.copy_(0.25 * torch.randn_like(p))
    model.save_pretrained(str(out_dir), safe_serialization=True)


def st_reference(checkpoint: Path, pairs: list[list[str]], max_length: int) -> tuple[list[list[int]], list[float]]:
    from sentence_transformers import CrossEncoder

    ce = CrossEncoder(str(checkpoint), max_length=max_length, device="cpu")
    ids = []
    for pair in pairs:
        features = ce.preprocess([pair])
        ids.append(features["input_ids"][0].tolist())
    logits = ce.predict(pairs, batch_size=1, activation_fn=torch.nn.Identity(), convert_to_numpy=True)
    return ids, [float(x) for x in np.asarray(logits).reshape(-1)]


def hf_backend(path: Path):
    """The tokenizer that transformers (and so sentence-transformers) really runs for an XLM-R
    tokenizer.json: it rebuilds the pipeline (Precompiled normaliser; WhitespaceSplit + Metaspace)."""
    import tempfile

    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(path, Path(tmp) / "tokenizer.json")
        (Path(tmp) / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "XLMRobertaTokenizer"}))
        return AutoTokenizer.from_pretrained(tmp).backend_tokenizer


def backend_ids(tokenizer_path: Path, pairs: list[list[str]], max_length: int) -> list[list[int]]:
    tok = hf_backend(tokenizer_path)
    tok.enable_truncation(max_length=max_length, strategy="longest_first")
    return [tok.encode(q, p).ids for q, p in pairs]


def ort_logits(onnx_path: Path, rows: list[list[int]], int_type) -> tuple[list[float], list[float]]:
    """Logits one pair at a time and for all pairs as one right-padded batch."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    single = []
    for ids in rows:
        feeds = {
            "input_ids": np.asarray([ids], dtype=int_type),
            "attention_mask": np.ones((1, len(ids)), dtype=int_type),
        }
        single.append(float(session.run(["logits"], feeds)[0][0, 0]))
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), 1, dtype=int_type)
    mask = np.zeros((len(rows), width), dtype=int_type)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    batch = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0][:, 0]
    return single, [float(x) for x in batch]


#: The ONNX forms of the tiny checkpoint (tools/export_onnx.py's --form) and their integer type.
FORMS = {"webgpu": np.int32, "hub": np.int64, "transformers": np.int64, "sdpa": np.int64, "dynamo": np.int64}


def write_model_folders(checkpoint: Path, pairs: list[list[str]], forms: list[str]) -> None:
    import onnxruntime
    import sentence_transformers
    import tokenizers
    import transformers

    st_ids, st_logits = st_reference(checkpoint, pairs, REAL_MAX_LENGTH)
    tok_ids = backend_ids(checkpoint / "tokenizer.json", pairs, REAL_MAX_LENGTH)
    if st_ids != tok_ids:
        bad = [i for i, (a, b) in enumerate(zip(st_ids, tok_ids)) if a != b]
        raise SystemExit(f"sentence-transformers and tokenizers disagree on pairs {bad}")
    short_pairs = pairs
    short_ids, short_logits = st_reference(checkpoint, short_pairs, SHORT_MAX_LENGTH)
    for form in forms:
        int_type = FORMS[form]
        folder = FIXTURES / f"tiny-{form}"
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "export_onnx.py"), str(checkpoint), str(folder / "model.onnx"),
             "--form", form],
            check=True,
        )
        shutil.copy(checkpoint / "tokenizer.json", folder / "tokenizer.json")
        shutil.copy(checkpoint / "config.json", folder / "config.json")
        single, batch = ort_logits(folder / "model.onnx", st_ids, int_type)
        short_single, _ = ort_logits(folder / "model.onnx", short_ids, int_type)
        worst = max(abs(a - b) for a, b in zip(single, st_logits))
        print(f"{form}: max |onnxruntime - sentence-transformers| = {worst:.2e}")
        reference = {
            "made_by": "tools/make_fixtures.py",
            "versions": {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "sentence_transformers": sentence_transformers.__version__,
                "tokenizers": tokenizers.__version__,
                "onnxruntime": onnxruntime.__version__,
            },
            "model_sha256": sha256(folder / "model.onnx"),
            "max_length": REAL_MAX_LENGTH,
            "cases": [
                {
                    "query": q,
                    "passage": p,
                    "ids": ids,
                    "st_logit": st,
                    "ort_logit": o,
                    "ort_batch_logit": b,
                }
                for (q, p), ids, st, o, b in zip(pairs, st_ids, st_logits, single, batch)
            ],
            "short": {
                "max_length": SHORT_MAX_LENGTH,
                "cases": [
                    {"query": q, "passage": p, "ids": ids, "st_logit": st, "ort_logit": o}
                    for (q, p), ids, st, o in zip(short_pairs, short_ids, short_logits, short_single)
                ],
            },
        }
        (folder / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_xlmr_reference(real_path: Path, texts: list[str]) -> None:
    import tokenizers
    from tokenizers import Tokenizer

    pairs = [[texts[i], texts[(i * 7 + 3) % len(texts)]] for i in range(0, len(texts), 4)]
    ids = {}
    # "raw": the file exactly as shipped, through Python tokenizers. "st": what transformers and
    # sentence-transformers run for the same file (see hf_backend).
    for name, tok in (("raw", Tokenizer.from_file(str(real_path))), ("st", hf_backend(real_path))):
        singles = [tok.encode(t).ids for t in texts]
        tok.enable_truncation(max_length=XLMR_PAIR_MAX_LENGTH, strategy="longest_first")
        ids[name] = {"single": singles, "pairs": [tok.encode(a, b).ids for a, b in pairs]}
    doc = {
        "made_by": "tools/make_fixtures.py",
        "tokenizer_sha256": sha256(real_path),
        "python_tokenizers": tokenizers.__version__,
        "texts": "tests/data/multilingual_texts.json",
        "pair_max_length": XLMR_PAIR_MAX_LENGTH,
        "pairs": pairs,
        "ids": ids,
    }
    (DATA / "xlmr_reference_ids.json").write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote ids for {len(texts)} texts and {len(pairs)} pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xlmr-tokenizer", type=Path, required=True, help="the real XLM-R tokenizer.json")
    parser.add_argument("--forms", default=",".join(FORMS), help="the model folders to write (tiny-<form>)")
    parser.add_argument("--keep-checkpoint", action="store_true",
                        help="reuse the committed tiny checkpoint and write only the --forms folders")
    args = parser.parse_args()
    forms = args.forms.split(",")
    checkpoint = FIXTURES / "tiny-checkpoint"
    if args.keep_checkpoint:
        write_model_folders(checkpoint, hard_pairs(), forms)
        return
    texts = load_texts()
    if checkpoint.exists():
        shutil.rmtree(checkpoint)
    checkpoint.mkdir(parents=True)
    tokenizer_path = train_tiny_tokenizer(args.xlmr_tokenizer, texts, checkpoint)
    vocab = len(json.loads(tokenizer_path.read_text(encoding="utf-8"))["model"]["vocab"])
    make_checkpoint(checkpoint, vocab)
    write_model_folders(checkpoint, hard_pairs(), forms)
    write_xlmr_reference(args.xlmr_tokenizer, texts)


if __name__ == "__main__":
    main()
