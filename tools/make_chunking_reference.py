"""Python reference for chunked reranking (``maxChunksPerDoc``) on the tiny WebGPU fixture.

For each case, a query and a long document are tokenized with the tokenizer transformers runs
(no special tokens, no truncation); the document is cut into windows exactly as docs/api.md's
"Long documents" section says, each ``<s> q </s></s> window </s>`` is scored by onnxruntime on
the committed ``model.onnx``, and the document score is the best window. Writes
``tests/fixtures/tiny-webgpu/chunking.json`` (committed; ``tests/parity.rs`` and the Node tests
compare against it).

    ~/.cache/reranker/export-venv/bin/python tools/make_chunking_reference.py
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import hf_backend, load_texts, ort_logits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests/fixtures/tiny-webgpu"
SPECIAL = 4  # <s> q </s></s> p </s>


def chunks(query_ids: list[int], doc_ids: list[int], max_length: int, max_chunks: int) -> list[list[int]]:
    room = max_length - SPECIAL
    if len(query_ids) + len(doc_ids) <= room:
        windows = [doc_ids]
    else:
        query_ids = query_ids[: room // 2]
        width = room - len(query_ids)
        windows = [doc_ids[i : i + width] for i in range(0, len(doc_ids), width)][:max_chunks]
    return [[0, *query_ids, 2, 2, *w, 2] for w in windows]


def main() -> None:
    tok = hf_backend(FIXTURE / "tokenizer.json")
    ids = lambda text: tok.encode(text, add_special_tokens=False).ids  # noqa: E731
    texts = load_texts()
    # A document of at least 3,000 tokens, from the committed multilingual texts, in order.
    document, count = [], 0
    for text in texts:
        document.append(text)
        count += len(ids(text))
        if count >= 3000:
            break
    document = " ".join(document)
    short_query = "Who wrote the letters, and where were they sent?"
    long_query = " ".join(texts[100:140])
    cases = [
        {"query": short_query, "document": document, "max_length": 512, "max_chunks": 16},
        {"query": short_query, "document": document, "max_length": 128, "max_chunks": 5},
        {"query": long_query, "document": document, "max_length": 128, "max_chunks": 4},
        {"query": short_query, "document": texts[7], "max_length": 512, "max_chunks": 4},
    ]
    session_path = FIXTURE / "model.onnx"
    for case in cases:
        rows = chunks(ids(case["query"]), ids(case["document"]), case["max_length"], case["max_chunks"])
        single, _ = ort_logits(session_path, rows, np.int32)
        case["document_tokens"] = len(ids(case["document"]))
        case["chunk_ids"] = rows
        case["chunk_logits"] = single
        case["score"] = max(single)
        print(f"max_length {case['max_length']}: {case['document_tokens']} tokens -> {len(rows)} chunks, score {case['score']:.6f}")
    out = {"source": "tools/make_chunking_reference.py (onnxruntime on model.onnx)", "cases": cases}
    (FIXTURE / "chunking.json").write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
