#!/usr/bin/env python3
"""Write a full-shape random-weight cross-encoder model folder, for benchmarks and accuracy.

Same shapes as cross-encoder/mmarco-mMiniLMv2-L12-H384-v1 (12 layers, hidden 384, 12 heads, FFN
1536, vocab 250002, 514 positions, one label), transformers' own random initialisation (seeded),
exported in the WebGPU-ready form by tools/export_onnx.py, with the real XLM-R tokenizer.json.
Its scores mean nothing (config.json says so); it exists because the real model cannot be
downloaded here, and it is never committed (about 470 MB).

    python tools/make_fullshape_model.py OUT_DIR --tokenizer TOKENIZER_JSON

`bench/run` makes it with the cached tokenizer into $RERANKER_CACHE/models/fullshape.
``--form optimum`` writes the form of the hub's real file (what ``./build.sh`` downloads), through
tools/export_optimum.py: run it in that environment (tools/requirements-optimum.txt).
``--form hub`` writes an eager TorchScript export instead.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tokenizer", type=Path, required=True, help="the real XLM-R tokenizer.json")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--form", default="webgpu", choices=["webgpu", "hub", "transformers", "optimum"],
                        help="the ONNX form (tools/export_onnx.py; optimum: tools/export_optimum.py, the hub's real form)")
    args = parser.parse_args(argv)

    from transformers import XLMRobertaForSequenceClassification

    sys.path.insert(0, str(ROOT / "tools"))
    from make_fixtures import random_cross_encoder_config

    config = random_cross_encoder_config(250002, hidden=384, layers=12, heads=12, ffn=1536)
    torch.manual_seed(args.seed)
    model = XLMRobertaForSequenceClassification(config).eval()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        shutil.copy(args.tokenizer, Path(tmp) / "tokenizer.json")
        if args.form == "optimum":
            (Path(tmp) / "tokenizer_config.json").write_text(
                json.dumps({"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512}))
            command = [sys.executable, str(ROOT / "tools" / "export_optimum.py"), tmp, str(args.out)]
        else:
            command = [sys.executable, str(ROOT / "tools" / "export_onnx.py"), tmp, str(args.out / "model.onnx"),
                       "--form", args.form]
        subprocess.run(command, check=True)
        shutil.copy(Path(tmp) / "config.json", args.out / "config.json")
    shutil.copy(args.tokenizer, args.out / "tokenizer.json")
    json.dump({"seed": args.seed, "made_by": "tools/make_fullshape_model.py"},
              open(args.out / "fullshape.json", "w"), indent=2)
    print(f"full-shape random model written to {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
