"""Benchmark 1: the native engine against onnxruntime, same ONNX, same token ids, one thread.

Runs ``examples/bench_native.rs`` (built with the model folder given, f32 weights) and then
onnxruntime (CPUExecutionProvider, intra- and inter-op threads 1) on that folder's
``model.onnx`` with the very batches the engine ran (length-sorted, padded per batch), and
prints both timings, their ratio, the padding waste and the largest logit difference.

    ~/.cache/reranker/export-venv/bin/python bench/native.py MODEL_DIR [RUNS]

(`bench/run native` runs it on the full-shape model.)
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from batches import padded_batches

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    model_dir = Path(sys.argv[1]).resolve()
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ours.json"
        env = dict(os.environ, RERANKER_MODEL_DIR=str(model_dir))
        env.setdefault("CARGO_TARGET_DIR", str(Path.home() / ".cache/reranker/target-fullshape"))
        subprocess.run(["cargo", "run", "--quiet", "--release", "--example", "bench_native", "--", str(out), str(runs)],
                       cwd=ROOT, env=env, check=True)
        ours = json.loads(out.read_text())

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"onnxruntime {ort.__version__}, 1 thread each; model {model_dir.name}; best of {runs} after a warm-up")
    print("| case | tokens | padded | padding waste | ours (ms) | onnxruntime (ms) | onnxruntime / ours | max |Δlogit| |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for case in ours["cases"]:
        rows = case["rows"]
        feeds = [(batch, {"input_ids": ids, "attention_mask": mask})
                 for batch, ids, mask in padded_batches(case)]

        def run() -> tuple[float, np.ndarray]:
            logits = np.zeros(len(rows), dtype=np.float32)
            start = time.perf_counter()
            for batch, feed in feeds:
                logits[batch] = session.run(["logits"], feed)[0][:, 0]
            return (time.perf_counter() - start) * 1e3, logits

        _, ort_logits = run()
        ort_ms = [run()[0] for _ in range(runs)]
        tokens = sum(len(r) for r in rows)
        padded = sum(len(b) * max(len(rows[i]) for i in b) for b in case["batches"])
        worst = float(np.max(np.abs(ort_logits - np.asarray(case["logits"], dtype=np.float32))))
        a, b = min(case["ms"]), min(ort_ms)
        print(f"| {case['name']} | {tokens} | {padded} | {(padded - tokens) / padded:.1%} | {a:.0f} | {b:.0f} | "
              f"{b / a:.2f} | {worst:.1e} |")
        print(f"<!-- {case['name']}: ours {statistics.median(case['ms']):.0f} ms median, onnxruntime "
              f"{statistics.median(ort_ms):.0f} ms median -->")


if __name__ == "__main__":
    main()
