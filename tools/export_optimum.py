#!/usr/bin/env python3
"""Export a cross-encoder checkpoint to ONNX exactly as the hub's ``onnx/model.onnx`` files of the
cross-encoder repositories were made: sentence-transformers' ``CrossEncoder(path, backend="onnx")``
(which exports through Optimum's ``ORTModelForSequenceClassification``), in the environment of
``tools/requirements-optimum.txt``. The result is the "Optimum form": opset 14, int64 inputs, the
attention through torch's ``scaled_dot_product_attention`` export (scale computed in the graph
from the head size, the query and the transposed key each multiplied by its square root).

    python tools/export_optimum.py CHECKPOINT OUT_DIR [--fixture REFERENCE]

Writes ``OUT_DIR/model.onnx`` with the checkpoint's ``tokenizer.json`` and ``config.json``.
``--fixture REFERENCE`` also writes ``OUT_DIR/reference.json`` (tools/make_fixtures.py's form):
the token ids and sentence-transformers' logits of REFERENCE (the same checkpoint's, e.g.
tests/fixtures/tiny-hub/reference.json), and onnxruntime's logits on the exported file, one pair
at a time and as one padded batch. (transformers 4.51's tokenizer differs from the reference
pipeline on whitespace-only and empty texts, so the ids are not made again here.)

How close to the real file: a full-shape random checkpoint (tools/make_fullshape_model.py
--form optimum) exports here to 1,652 nodes and 470,654,898 bytes, the hub's ``onnx/model.onnx``
has 1,532 nodes and 470,883,696 bytes: the same form (opset 14, SDPA attention), not the same bytes.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import ROOT, ort_logits, sha256  # noqa: E402


def export(checkpoint: Path, out_dir: Path) -> Path:
    from sentence_transformers import CrossEncoder

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model = CrossEncoder(str(checkpoint), backend="onnx", device="cpu")
        model.save_pretrained(tmp)
        shutil.copy(Path(tmp) / "onnx" / "model.onnx", out_dir / "model.onnx")
    for name in ("tokenizer.json", "config.json"):
        shutil.copy(checkpoint / name, out_dir / name)
    return out_dir / "model.onnx"


def write_reference(folder: Path, ids_from: Path) -> None:
    """reference.json for the exported file: the token ids and sentence-transformers' logits of
    ``ids_from`` (the same checkpoint's reference, made by tools/make_fixtures.py with the
    project's reference tokenization), onnxruntime's logits on this file."""
    base = json.loads(ids_from.read_text(encoding="utf-8"))
    cases = base["cases"]
    short = base["short"]["cases"]
    single, batch = ort_logits(folder / "model.onnx", [c["ids"] for c in cases], np.int64)
    short_single, _ = ort_logits(folder / "model.onnx", [c["ids"] for c in short], np.int64)
    worst = max(abs(c["st_logit"] - o) for c, o in zip(cases, single))
    print(f"optimum: max |onnxruntime - sentence-transformers| = {worst:.2e}")
    versions = {
        name: importlib.metadata.version(dist)
        for name, dist in [("torch", "torch"), ("transformers", "transformers"), ("optimum", "optimum"),
                           ("sentence_transformers", "sentence-transformers"), ("onnxruntime", "onnxruntime")]
    }
    reference = {
        "made_by": "tools/export_optimum.py",
        "versions": versions,
        "ids_and_st_logits_from": str(ids_from.relative_to(ROOT)),
        "model_sha256": sha256(folder / "model.onnx"),
        "max_length": base["max_length"],
        "cases": [{**c, "ort_logit": o, "ort_batch_logit": b} for c, o, b in zip(cases, single, batch)],
        "short": {
            "max_length": base["short"]["max_length"],
            "cases": [{**c, "ort_logit": o} for c, o in zip(short, short_single)],
        },
    }
    (folder / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--fixture", type=Path, metavar="REFERENCE",
                        help="also write reference.json, with the ids and logits of this reference.json")
    args = parser.parse_args()
    path = export(args.checkpoint, args.out_dir)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    if args.fixture:
        write_reference(args.out_dir, args.fixture.resolve())


if __name__ == "__main__":
    main()
