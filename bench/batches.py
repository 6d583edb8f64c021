"""The batches a peer runs in the benchmarks: the very ones our engine ran.

``examples/bench_native.rs`` writes each case's token ids (``rows``) and its batch plan
(``batches``: lists of row indices); a peer pads each batch to its longest pair, as the engine
does, with the pad id 1 and an attention mask of 0 there.
"""

from __future__ import annotations

import numpy as np


def padded_batches(case: dict) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
    """(row indices, input ids, attention mask) for each batch of a case, as int32 arrays."""
    rows = case["rows"]
    out = []
    for batch in case["batches"]:
        width = max(len(rows[i]) for i in batch)
        ids = np.ones((len(batch), width), dtype=np.int32)
        mask = np.zeros((len(batch), width), dtype=np.int32)
        for r, i in enumerate(batch):
            ids[r, : len(rows[i])] = rows[i]
            mask[r, : len(rows[i])] = 1
        out.append((batch, ids, mask))
    return out
