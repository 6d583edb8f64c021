"""Benchmark 1: the native engine against onnxruntime, same ONNX, same token ids, one thread.

Runs ``examples/bench_native.rs`` (its program BENCH_NATIVE, built with the model folder given, f32 weights) and then
onnxruntime (CPUExecutionProvider, intra- and inter-op threads 1) on that folder's
``model.onnx`` with the very batches the engine ran (length-sorted, padded per batch), and
prints both timings, their ratio, the padding waste and the largest logit difference.

    ~/.cache/reranker/bench-venv/bin/python bench/native.py MODEL_DIR BENCH_NATIVE [RUNS]

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
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    model_dir, program = Path(sys.argv[1]).resolve(), sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ours.json"
        subprocess.run([program, str(out), str(runs)], cwd=ROOT, check=True)
        ours = json.loads(out.read_text())

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    int_type = np.int64 if session.get_inputs()[0].type == "tensor(int64)" else np.int32

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"onnxruntime {ort.__version__}, 1 thread each; model {model_dir.name}; best of {runs} after a warm-up")
    print("| case | tokens | padded | padding waste | ours (ms) | onnxruntime (ms) | onnxruntime / ours | max |Δlogit| |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for case in ours["cases"]:
        rows = case["rows"]
        # NOTE: the hub's forms take int64 ids, our own export int32: as the file's inputs say.
        feeds = [(batch, {"input_ids": ids.astype(int_type), "attention_mask": mask.astype(int_type)})
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
