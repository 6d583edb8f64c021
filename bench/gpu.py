"""Benchmark 4 on a GPU machine: our native wgpu run against PyTorch on CUDA, same shapes.

Reads the JSON that ``examples/bench_native.rs`` wrote with ``--device webgpu`` and runs an
XLM-R cross-encoder of the same configuration in PyTorch (fp32, eager, CUDA) on the very batches
our engine ran (same token ids, padded the same way), then prints both timings and their ratio.
PyTorch's weights are its own seeded random initialisation, so its logits are not compared; the
numbers that check ours come from ``--cpu-reference``: the same binary's run on the CPU backend
with the same weights file, whose logits ours must match.

    python bench/gpu.py OURS.json --config MODEL_DIR/config.json [--runs 10]
        [--cpu-reference CPU.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time

import torch

from batches import padded_batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ours", help="bench_native's JSON from a --device webgpu run")
    parser.add_argument("--config", required=True, help="the model folder's config.json")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cpu-reference", help="bench_native's JSON from a CPU run on the same weights")
    parser.add_argument("--torch-device", default="cuda", help="where PyTorch runs (cpu: to try the script)")
    args = parser.parse_args()

    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    ours = json.load(open(args.ours))
    config = XLMRobertaConfig.from_dict(json.load(open(args.config)))
    torch.manual_seed(0)
    device = torch.device(args.torch_device)
    model = XLMRobertaForSequenceClassification(config).eval().to(device)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True).stdout.strip()
        where = f"{torch.cuda.get_device_name(0)}, driver {driver}"
    else:
        where = f"{args.torch_device} (not a GPU)"
    print(f"PyTorch on {where}; torch {torch.__version__} (fp32, eager, "
          f"{model.config._attn_implementation} attention, TF32 "
          f"{'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'})")
    print(f"ours: {ours['backend']} on {ours['adapter']}, {ours['precision']} weights file "
          f"(computes in f32){', random word-embedding table' if ours['random_table'] else ''}; "
          f"device {ours['device_ms']:.0f} ms, weights {ours['load_ms']:.0f} ms")
    # The CPU run's logits, looked up by the pairs themselves (its case names can differ: the
    # extra mixed-set case runs the other batch split there).
    reference = {}
    if args.cpu_reference:
        reference = {json.dumps(c["rows"]): c["logits"] for c in json.load(open(args.cpu_reference))["cases"]}

    print(f"best of {args.runs} after a warm-up (ours: best of {len(ours['cases'][0]['ms'])}); "
          "'first' is our warm-up run, which compiles the pipelines of new shapes")
    print("| case | batches | tokens | padded | ours first (ms) | ours (ms) | PyTorch (ms) "
          "| PyTorch / ours | max |Δlogit| vs our CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in ours["cases"]:
        rows = case["rows"]
        feeds = [(torch.from_numpy(ids).long().to(device), torch.from_numpy(mask).long().to(device))
                 for _, ids, mask in padded_batches(case)]

        def run() -> float:
            sync()
            start = time.perf_counter()
            with torch.inference_mode():
                for ids, mask in feeds:
                    model(input_ids=ids, attention_mask=mask).logits.cpu()
            sync()
            return (time.perf_counter() - start) * 1e3

        run()
        theirs = min(run() for _ in range(args.runs))
        best = min(case["ms"], default=case["first_ms"])
        tokens = sum(len(r) for r in rows)
        padded = sum(len(b) * max(len(rows[i]) for i in b) for b in case["batches"])
        delta = "-"
        expected = reference.get(json.dumps(rows))
        if expected is not None:
            delta = f"{max(abs(a - b) for a, b in zip(case['logits'], expected)):.1e}"
        print(f"| {case['name']} | {len(case['batches'])} | {tokens} | {padded} | {case['first_ms']:.0f} "
              f"| {best:.1f} | {theirs:.1f} | {theirs / best:.2f}× | {delta} |")
        if case["ms"]:
            print(f"  ours, every run (ms): {[round(m, 1) for m in case['ms']]}; "
                  f"median {statistics.median(case['ms']):.1f}")


if __name__ == "__main__":
    main()
