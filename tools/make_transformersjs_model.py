#!/usr/bin/env python3
"""Write the full-shape random model as a Transformers.js model folder, for the browser benchmark.

The ONNX file is the full-shape folder's own where it has int64 inputs (the hub's forms, as
``bench/run`` makes it: ``--form optimum``, the file users download), else the same weights
(same config, same seed) exported in the hub's form (tools/export_onnx.py --form hub); it is
quantized the way Transformers.js makes its `q8` file: onnxruntime's dynamic quantization with
int8 weights (its `scripts/quantize.py` picks QInt8 for models without Conv).

    python tools/make_transformersjs_model.py FULLSHAPE_DIR OUT_DIR

writes OUT_DIR/{config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx,
onnx/model_quantized.onnx}, and checks that its f32 file computes what FULLSHAPE_DIR/model.onnx
computes (the same weights).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    fullshape, out = Path(argv[0]), Path(argv[1])
    import onnxruntime as ort

    (out / "onnx").mkdir(parents=True, exist_ok=True)
    source = ort.InferenceSession(str(fullshape / "model.onnx"), providers=["CPUExecutionProvider"])
    if source.get_inputs()[0].type == "tensor(int64)":
        # NOTE: the very file our package is built from, so both libraries run the same graph.
        shutil.copy(fullshape / "model.onnx", out / "onnx" / "model.onnx")
        shutil.copy(fullshape / "config.json", out / "config.json")
    else:
        export_hub_form(json.loads((fullshape / "fullshape.json").read_text())["seed"], fullshape, out)
    write_tokenizer_and_quantize(fullshape, out)
    check_same_weights(fullshape, out)


def export_hub_form(seed: int, fullshape: Path, out: Path) -> None:
    """The same random weights (config and seed) exported in the hub's TorchScript form."""
    # NOTE: imported here: the hub's forms (int64 inputs) need only onnxruntime (the benchmarks'
    # environment, tools/requirements-bench.txt); this older form needs the export environment.
    import torch
    from transformers import XLMRobertaForSequenceClassification

    sys.path.insert(0, str(ROOT / "tools"))
    from make_fixtures import random_cross_encoder_config

    config = random_cross_encoder_config(250002, hidden=384, layers=12, heads=12, ffn=1536)
    torch.manual_seed(seed)
    model = XLMRobertaForSequenceClassification(config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        shutil.copy(fullshape / "tokenizer.json", Path(tmp) / "tokenizer.json")
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "export_onnx.py"), tmp, str(out / "onnx" / "model.onnx"),
             "--form", "hub"],
            check=True,
        )
        shutil.copy(Path(tmp) / "config.json", out / "config.json")


def write_tokenizer_and_quantize(fullshape: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    shutil.copy(fullshape / "tokenizer.json", out / "tokenizer.json")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
        "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
        "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
    }, indent=2))
    quantize_dynamic(str(out / "onnx" / "model.onnx"), str(out / "onnx" / "model_quantized.onnx"),
                     weight_type=QuantType.QInt8)


def check_same_weights(fullshape: Path, out: Path) -> None:
    """The Transformers.js folder computes what the folder our engine is built from does."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    ids = rng.integers(5, 250002, size=(2, 24))
    ids[:, 0], ids[:, -1] = 0, 2
    mask = np.ones_like(ids)
    session = ort.InferenceSession(str(fullshape / "model.onnx"), providers=["CPUExecutionProvider"])
    # The folder may hold either form (tools/export_onnx.py): int32 inputs (ours) or int64 (hub).
    int_type = np.int64 if session.get_inputs()[0].type == "tensor(int64)" else np.int32
    ours = session.run(["logits"], {"input_ids": ids.astype(int_type), "attention_mask": mask.astype(int_type)})[0]
    theirs = ort.InferenceSession(str(out / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        ["logits"], {"input_ids": ids, "attention_mask": mask})[0]
    diff = float(np.max(np.abs(ours - theirs)))
    if diff > 1e-5:
        raise SystemExit(f"not the same weights: max |Δlogit| = {diff:.3g}")
    sizes = {p.name: p.stat().st_size for p in (out / "onnx").iterdir()}
    print(f"Transformers.js folder written to {out}: {sizes}; same logits as {fullshape} within {diff:.1e}")


if __name__ == "__main__":
    main(sys.argv[1:])
