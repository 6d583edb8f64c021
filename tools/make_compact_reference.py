"""onnxruntime reference for the compact (int8) weights, made independently of the Rust code.

The compact weights quantize, symmetric int8 with absmax / 127 scales (round half away from
zero): the word-embedding table with a scale per row, and every linear layer's weight with at
least 16 rows and columns with a scale per output channel. This script applies that rule to
the ONNX initializers itself (numpy), dequantizes them back into the graph, and runs the result
with onnxruntime. For the tiny WebGPU fixture it writes ``tests/fixtures/tiny-webgpu/compact.json``
(committed): the logits of the reference pairs one at a time and as one padded batch. The Rust
and JavaScript tests check the int8 weights against these numbers, and the f32 weights against
``reference.json``.

    ~/.cache/reranker/export-venv/bin/python tools/make_compact_reference.py [MODEL_DIR] [--out FILE]

With another model folder (the full-shape model, say) it prints how far int8 moves the
reference pairs' logits instead of writing a fixture.

On the CPU the int8 linear layers also multiply in integers (``src/kernels/int8_matmul.rs``):
each row of a layer's input is quantized to integers with its own scale, ``absmax / R`` with
``R = min(32767, (2^31 - 1) // (127 * inputs rounded up to even))``, rounding half to even. The
script applies that to the input of every quantized MatMul / Gemm in the graph (ReduceMax, Div,
Round, Mul nodes) and writes those logits as ``ort_int8_integer_logit`` and
``ort_int8_integer_batch_logit``.

With ``activations: 'i7'`` (``src/kernels/int8_i7_matmul.rs``) each row is instead rounded to
7 bits between its min and max (zero included): ``step = (max - min) / 127``, ``q = clip(round(x
/ step) + offset, 0, 127)`` with ``offset = round(-min / step)``; those logits are
``ort_int8_i7_logit`` and ``ort_int8_i7_batch_logit``.
"""

import argparse
import copy
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from int8_rule import quantize  # noqa: E402
from make_fixtures import ort_logits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests/fixtures/tiny-webgpu"


def compact_model(model: onnx.ModelProto, vocab: int, hidden: int) -> tuple[onnx.ModelProto, list[str]]:
    inits = {i.name: i for i in model.graph.initializer}
    axes: dict[str, int] = {}
    for init in model.graph.initializer:
        if list(init.dims) == [vocab, hidden]:
            axes[init.name] = 0  # word embeddings: per row (token)
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2 or node.input[1] not in inits:
            continue
        dims = list(inits[node.input[1]].dims)
        if len(dims) != 2 or min(dims) < 16:
            continue
        trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
        # Scale per output channel: MatMul's B is [in, out] (per column); Gemm's transposed B
        # is [out, in] (per row).
        axes[node.input[1]] = 0 if trans_b else 1
    for name, axis in axes.items():
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        inits[name].CopyFrom(numpy_helper.from_array(quantize(w, axis), name))
    return model, sorted(axes)


def input_range(inputs: int) -> int:
    """The integer range of a quantized layer input (the Rust kernel's ``input_range``)."""
    terms = max(2 * ((inputs + 1) // 2), 1)
    return min((2**31 - 1) // (127 * terms), 32767)


def row_reduce(op: str, x: str, axes: str, out: str, opset: int) -> onnx.NodeProto:
    """``op`` (ReduceMax, ReduceMin) over the last axis, keeping it: the axes are an input from
    opset 18 (``axes``, an initializer [-1]), an attribute before (the exporters' opset 14)."""
    from onnx import helper

    if opset >= 18:
        return helper.make_node(op, [x, axes], [out], keepdims=1)
    return helper.make_node(op, [x], [out], axes=[-1], keepdims=1)


def opset_of(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def round_layer_inputs(model: onnx.ModelProto, quantized: list[str], vocab: int, hidden: int, suffix: str,
                       rounding) -> onnx.ModelProto:
    """Rounds the input of each quantized linear layer (not the word-embedding table) as
    ``rounding(x, prefix, inputs, opset)`` says: it returns the initializers and nodes that turn
    ``x`` into ``{prefix}_x``, which then feeds the layer instead."""
    opset = opset_of(model)
    inits = {i.name: i for i in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        weight = node.input[1] if node.op_type in ("MatMul", "Gemm") and len(node.input) > 1 else None
        if weight in quantized and list(inits[weight].dims) != [vocab, hidden]:
            trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
            inputs = inits[weight].dims[1 if trans_b else 0]
            p = f"{node.name or weight}_{suffix}"
            initializers, rounded = rounding(node.input[0], p, inputs, opset)
            model.graph.initializer.extend(initializers)
            nodes += rounded
            node.input[0] = f"{p}_x"
        nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def integer_inputs(model: onnx.ModelProto, quantized: list[str], vocab: int, hidden: int) -> onnx.ModelProto:
    """Rounds the input of each quantized linear layer to its integer grid, row by row."""
    from onnx import helper

    def rounding(x: str, p: str, inputs: int, opset: int):
        return [
            numpy_helper.from_array(np.array([-1], dtype=np.int64), f"{p}_axes"),
            numpy_helper.from_array(np.array(input_range(inputs), dtype=np.float32), f"{p}_range"),
            numpy_helper.from_array(np.array(1e-30, dtype=np.float32), f"{p}_tiny"),
        ], [
            helper.make_node("Abs", [x], [f"{p}_abs"]),
            row_reduce("ReduceMax", f"{p}_abs", f"{p}_axes", f"{p}_max0", opset),
            helper.make_node("Max", [f"{p}_max0", f"{p}_tiny"], [f"{p}_max"]),
            # As the kernel: q = round(x · (R / max)), and the row scale max / R.
            helper.make_node("Div", [f"{p}_range", f"{p}_max"], [f"{p}_inverse"]),
            helper.make_node("Mul", [x, f"{p}_inverse"], [f"{p}_scaled"]),
            helper.make_node("Round", [f"{p}_scaled"], [f"{p}_q"]),
            helper.make_node("Div", [f"{p}_max", f"{p}_range"], [f"{p}_scale"]),
            helper.make_node("Mul", [f"{p}_q", f"{p}_scale"], [f"{p}_x"]),
        ]

    return round_layer_inputs(model, quantized, vocab, hidden, "integer", rounding)


def seven_bit_inputs(model: onnx.ModelProto, quantized: list[str], vocab: int, hidden: int) -> onnx.ModelProto:
    """Rounds the input of each quantized linear layer to 7 bits between its row's min and max."""
    from onnx import helper

    def rounding(x: str, p: str, _inputs: int, opset: int):
        return [
            numpy_helper.from_array(np.array([-1], dtype=np.int64), f"{p}_axes"),
            numpy_helper.from_array(np.array(0.0, dtype=np.float32), f"{p}_zero"),
            numpy_helper.from_array(np.array(127.0, dtype=np.float32), f"{p}_levels"),
            numpy_helper.from_array(np.array(1e-30, dtype=np.float32), f"{p}_tiny"),
        ], [
            row_reduce("ReduceMin", x, f"{p}_axes", f"{p}_min0", opset),
            helper.make_node("Min", [f"{p}_min0", f"{p}_zero"], [f"{p}_low"]),
            row_reduce("ReduceMax", x, f"{p}_axes", f"{p}_max0", opset),
            helper.make_node("Max", [f"{p}_max0", f"{p}_zero"], [f"{p}_high"]),
            helper.make_node("Sub", [f"{p}_high", f"{p}_low"], [f"{p}_range0"]),
            helper.make_node("Max", [f"{p}_range0", f"{p}_tiny"], [f"{p}_range"]),
            # As the kernel: inverse = 127 / range, step = range / 127.
            helper.make_node("Div", [f"{p}_levels", f"{p}_range"], [f"{p}_inverse"]),
            helper.make_node("Div", [f"{p}_range", f"{p}_levels"], [f"{p}_step"]),
            helper.make_node("Neg", [f"{p}_low"], [f"{p}_neg_low"]),
            helper.make_node("Mul", [f"{p}_neg_low", f"{p}_inverse"], [f"{p}_offset0"]),
            helper.make_node("Round", [f"{p}_offset0"], [f"{p}_offset"]),
            helper.make_node("Mul", [x, f"{p}_inverse"], [f"{p}_scaled"]),
            helper.make_node("Round", [f"{p}_scaled"], [f"{p}_rounded"]),
            helper.make_node("Add", [f"{p}_rounded", f"{p}_offset"], [f"{p}_shifted"]),
            helper.make_node("Clip", [f"{p}_shifted", f"{p}_zero", f"{p}_levels"], [f"{p}_q"]),
            helper.make_node("Sub", [f"{p}_q", f"{p}_offset"], [f"{p}_level"]),
            helper.make_node("Mul", [f"{p}_level", f"{p}_step"], [f"{p}_x"]),
        ]

    return round_layer_inputs(model, quantized, vocab, hidden, "i7", rounding)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir", nargs="?", type=Path, default=FIXTURE)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = json.loads((args.model_dir / "config.json").read_text())
    model = onnx.load(str(args.model_dir / "model.onnx"))
    compact, quantized = compact_model(model, config["vocab_size"], config["hidden_size"])
    reference = json.loads((args.model_dir / "reference.json").read_text()) if (args.model_dir / "reference.json").exists() else None
    if reference is None:
        sys.exit(f"{args.model_dir} has no reference.json with pairs to score")
    rows = [case["ids"] for case in reference["cases"]]
    # The ids' integer type is the graph's own (int32 in the WebGPU form, int64 in the exporters').
    ids_type = onnx.helper.tensor_dtype_to_np_dtype(model.graph.input[0].type.tensor_type.elem_type)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compact.onnx"
        onnx.save(compact, str(path))
        single, batch = ort_logits(path, rows, ids_type)
        onnx.save(seven_bit_inputs(copy.deepcopy(compact), quantized, config["vocab_size"], config["hidden_size"]), str(path))
        i7_single, i7_batch = ort_logits(path, rows, ids_type)
        onnx.save(integer_inputs(compact, quantized, config["vocab_size"], config["hidden_size"]), str(path))
        integer_single, integer_batch = ort_logits(path, rows, ids_type)
    f32 = [case["ort_logit"] for case in reference["cases"]]
    worst = max(abs(a - b) for a, b in zip(single, f32))
    print(f"{len(quantized)} tensors quantized; int8 vs f32 onnxruntime, max |Δlogit| {worst:.3e}")
    worst = max(abs(a - b) for a, b in zip(integer_single, single))
    print(f"integer inputs vs int8 weights alone, max |Δlogit| {worst:.3e}")
    worst = max(abs(a - b) for a, b in zip(i7_single, single))
    print(f"7-bit inputs vs int8 weights alone, max |Δlogit| {worst:.3e}")
    out = args.out or (args.model_dir / "compact.json" if args.model_dir == FIXTURE else None)
    if out is None:
        return
    import onnxruntime

    json.dump({
        "made_by": "tools/make_compact_reference.py",
        "versions": {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__, "numpy": np.__version__},
        "model_sha256": hashlib.sha256((args.model_dir / "model.onnx").read_bytes()).hexdigest(),
        "quantized": quantized,
        "cases": [
            {"ids": ids, "ort_int8_logit": s, "ort_int8_batch_logit": b,
             "ort_int8_integer_logit": si, "ort_int8_integer_batch_logit": bi,
             "ort_int8_i7_logit": s7, "ort_int8_i7_batch_logit": b7}
            for ids, s, b, si, bi, s7, b7 in zip(rows, single, batch, integer_single, integer_batch, i7_single, i7_batch)
        ],
    }, open(out, "w"), indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
