#!/usr/bin/env python3
"""Export an XLM-RoBERTa cross-encoder checkpoint (config.json + safetensors) to ONNX.

Two forms:

* ``webgpu`` (default, what the reranker builds): a thin wrapper with **int32**
  ``input_ids`` / ``attention_mask``, every integer op in int32, position ids computed as
  ``cumsum(non_pad) * non_pad + padding_idx``, token type 0 folded into a constant, and a 4-D
  additive float mask, exported with the dynamo exporter at opset 18.
  NOTE: WGSL has no 64-bit integers, so any int64 tensor produces invalid shaders (or NaN) on
  WebGPU; and the TorchScript export emits a data-dependent ``Expand`` on ``Where(shape == -1)``
  that makes burn-onnx generate synchronous ``to_data()`` calls, which panic in wasm on WebGPU.
* ``hub``: the TorchScript export at opset 14 with int64 inputs, as the ONNX files on model hubs
  were made (transformers 4: int64 position ids, a token-type buffer sliced and expanded to the
  input's shape, which traces to the data-dependent ``Expand``). Kept so the project proves that
  user-supplied hub-style files still run (CPU path).
  NOTE: this reproduces transformers 4's forward (``LegacyCrossEncoder``) rather than tracing
  transformers 5's model, which is the ``transformers`` form.
* ``transformers``: transformers 5's own model traced by the TorchScript exporter at opset 14
  (int64 inputs), as a user exporting a fine-tuned checkpoint with ``torch.onnx.export`` gets it.
  Its mask code traces to bool tensor math (a Gather and an And on the bool mask); the build
  rewrites it (crates/import/src/mask.rs) so that it runs. Loaded with eager attention.
* ``sdpa``: the same TorchScript export of transformers 5's model loaded as a user loads it, with
  its default attention (``sdpa``): torch's ``scaled_dot_product_attention`` symbolic, the scale
  computed in the graph from the query's shape.
* ``dynamo``: transformers 5's model (default attention) through ``torch.onnx.export`` with
  torch's defaults, as a user calls it today: the dynamo exporter at its default opset (``Gelu``
  and ``LayerNormalization`` as single ops), int64 inputs. NOTE: one file (``external_data=False``)
  where the default writes the weights beside it in ``model.onnx.data``; the importer reads both
  (crates/import/src/onnx.rs).

The export is verified against the PyTorch model with onnxruntime before it is written.

    python tools/export_onnx.py CHECKPOINT_DIR OUT.onnx [--form webgpu|hub|transformers|sdpa|dynamo]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

# Fixed so that exports are reproducible byte for byte where torch allows it.
torch.manual_seed(0)


class Int32CrossEncoder(torch.nn.Module):
    """XLM-R sequence classifier re-expressed with int32 inputs and no data-dependent shapes."""

    def __init__(self, hf_model: torch.nn.Module) -> None:
        super().__init__()
        cfg = hf_model.config
        if cfg.model_type not in ("xlm-roberta", "roberta"):
            raise SystemExit(f"expected an XLM-RoBERTa checkpoint, got model_type={cfg.model_type!r}")
        if cfg.hidden_act != "gelu":
            raise SystemExit(f"unsupported hidden_act {cfg.hidden_act!r} (expected 'gelu')")
        self.roberta = hf_model.roberta
        self.classifier = hf_model.classifier
        self.pad = int(cfg.pad_token_id)
        self.heads = int(cfg.num_attention_heads)
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.hidden = int(cfg.hidden_size)
        # NOTE: token type ids are always 0 for XLM-R, so the row is a constant, not a Gather.
        self.register_buffer(
            "token_type0", hf_model.roberta.embeddings.token_type_embeddings.weight[0].detach().clone()
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        emb = self.roberta.embeddings
        not_pad = (input_ids != self.pad).to(torch.int32)
        positions = torch.cumsum(not_pad, dim=1, dtype=torch.int32) * not_pad + self.pad
        x = emb.word_embeddings(input_ids) + emb.position_embeddings(positions) + self.token_type0
        x = emb.LayerNorm(x)
        additive = (1.0 - attention_mask.to(torch.float32))[:, None, None, :] * torch.finfo(torch.float32).min
        batch, seq = input_ids.shape[0], input_ids.shape[1]
        scale = 1.0 / math.sqrt(self.head_dim)
        for layer in self.roberta.encoder.layer:
            att = layer.attention

            def heads(t: torch.Tensor) -> torch.Tensor:
                return t.reshape(batch, seq, self.heads, self.head_dim).transpose(1, 2)

            q = heads(att.self.query(x))
            k = heads(att.self.key(x))
            v = heads(att.self.value(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) * scale + additive
            probs = torch.softmax(scores, dim=-1)
            ctx = torch.matmul(probs, v).transpose(1, 2).reshape(batch, seq, self.hidden)
            x = att.output.LayerNorm(att.output.dense(ctx) + x)
            h = torch.nn.functional.gelu(layer.intermediate.dense(x))
            x = layer.output.LayerNorm(layer.output.dense(h) + x)
        cls = x[:, 0]
        h = torch.tanh(self.classifier.dense(cls))
        return self.classifier.out_proj(h)


class LegacyCrossEncoder(Int32CrossEncoder):
    """transformers 4's XLM-R forward, int64 throughout, as hub ONNX files were traced from."""

    def __init__(self, hf_model: torch.nn.Module) -> None:
        super().__init__(hf_model)
        cfg = hf_model.config
        self.register_buffer("token_type_ids", torch.zeros((1, cfg.max_position_embeddings), dtype=torch.long))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        emb = self.roberta.embeddings
        batch, seq = input_ids.size()
        # create_position_ids_from_input_ids, as in transformers 4
        not_pad = input_ids.ne(self.pad).int()
        positions = (torch.cumsum(not_pad, dim=1).type_as(not_pad) * not_pad).long() + self.pad
        token_types = self.token_type_ids[:, :seq].expand(batch, seq)
        x = emb.word_embeddings(input_ids) + emb.token_type_embeddings(token_types) + emb.position_embeddings(positions)
        x = emb.LayerNorm(x)
        additive = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        scale = 1.0 / math.sqrt(self.head_dim)
        for layer in self.roberta.encoder.layer:
            att = layer.attention

            def heads(t: torch.Tensor) -> torch.Tensor:
                return t.view(t.size()[:-1] + (self.heads, self.head_dim)).permute(0, 2, 1, 3)

            q = heads(att.self.query(x))
            k = heads(att.self.key(x))
            v = heads(att.self.value(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) * scale + additive
            probs = torch.softmax(scores, dim=-1)
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
            ctx = ctx.view(ctx.size()[:-2] + (self.hidden,))
            x = att.output.LayerNorm(att.output.dense(ctx) + x)
            h = torch.nn.functional.gelu(layer.intermediate.dense(x))
            x = layer.output.LayerNorm(layer.output.dense(h) + x)
        h = torch.tanh(self.classifier.dense(x[:, 0, :]))
        return self.classifier.out_proj(h)


class Logits(torch.nn.Module):
    """The checkpoint's own model (transformers 5), returning its logits alone."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def load_checkpoint(checkpoint: Path, attention: str | None = "eager") -> torch.nn.Module:
    """The checkpoint's model; ``attention=None`` takes transformers' default, as a user gets it."""
    from transformers import AutoModelForSequenceClassification

    options = {} if attention is None else {"attn_implementation": attention}
    model = AutoModelForSequenceClassification.from_pretrained(str(checkpoint), **options)
    model.eval()
    if model.config.num_labels != 1:
        raise SystemExit(f"expected a cross-encoder with num_labels=1, got {model.config.num_labels}")
    return model


def sample_inputs(vocab: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """A padded batch of three rows of different lengths."""
    rng = np.random.default_rng(7)
    lengths = [9, 5, 14]
    seq = max(lengths)
    ids = np.full((len(lengths), seq), pad, dtype=np.int64)
    mask = np.zeros((len(lengths), seq), dtype=np.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(4, vocab, size=n)
        ids[row, 0] = 0
        ids[row, n - 1] = 2
        mask[row, :n] = 1
    return ids, mask


def export(checkpoint: Path, out: Path, form: str) -> None:
    import onnx
    import onnxruntime as ort

    hf = load_checkpoint(checkpoint, None if form in ("sdpa", "dynamo") else "eager")
    if form in ("sdpa", "dynamo") and hf.config._attn_implementation != "sdpa":
        raise SystemExit(f"expected transformers' default attention to be sdpa, got {hf.config._attn_implementation!r}")
    cfg = hf.config
    ids, mask = sample_inputs(cfg.vocab_size, cfg.pad_token_id)
    with torch.no_grad():
        expected = hf(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()

    out.parent.mkdir(parents=True, exist_ok=True)
    if form == "webgpu":
        wrapper = Int32CrossEncoder(hf).eval()
        args = (torch.from_numpy(ids.astype(np.int32)), torch.from_numpy(mask.astype(np.int32)))
        batch = torch.export.Dim("batch", min=1, max=4096)
        seq = torch.export.Dim("sequence", min=2, max=cfg.max_position_embeddings - 2)
        program = torch.onnx.export(
            wrapper,
            args,
            dynamo=True,
            opset_version=18,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
            external_data=False,
        )
        program.save(str(out), external_data=False)
        feeds = {"input_ids": ids.astype(np.int32), "attention_mask": mask.astype(np.int32)}
    elif form in ("hub", "transformers", "sdpa", "dynamo"):
        # int64 inputs; they differ in the module traced (transformers 4's forward re-expressed, or
        # transformers 5's own model, eager or sdpa) and in the exporter: TorchScript at opset 14,
        # or for `dynamo` the call a user writes without `dynamo=False` and `opset_version`, so
        # torch's defaults choose the exporter and the opset.
        module = LegacyCrossEncoder(hf) if form == "hub" else Logits(hf)
        exporter = {"external_data": False} if form == "dynamo" else {"dynamo": False, "opset_version": 14}
        torch.onnx.export(
            module.eval(),
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "logits": {0: "batch"},
            },
            **exporter,
        )
        feeds = {"input_ids": ids, "attention_mask": mask}
    else:
        raise SystemExit(f"unknown form {form!r}")

    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    if form == "webgpu":
        int64 = [
            v.name
            for v in list(model.graph.input) + list(model.graph.output)
            if v.type.tensor_type.elem_type == onnx.TensorProto.INT64
        ]
        if int64:
            raise SystemExit(f"webgpu form must have no int64 inputs/outputs, found {int64}")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], feeds)[0]
    diff = float(np.max(np.abs(got - expected)))
    if diff > 1e-4:
        raise SystemExit(f"export check failed: max |onnxruntime - torch| = {diff:.3g}")
    print(f"wrote {out} ({form}, opset {model.opset_import[0].version}); max |ort - torch| = {diff:.2e}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="folder with config.json and model.safetensors")
    parser.add_argument("out", type=Path, help="ONNX file to write")
    parser.add_argument("--form", choices=["webgpu", "hub", "transformers", "sdpa", "dynamo"], default="webgpu")
    args = parser.parse_args(argv)
    export(args.checkpoint, args.out, args.form)


if __name__ == "__main__":
    main(sys.argv[1:])
