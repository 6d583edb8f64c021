"""The compact weights' int8 rule in numpy, the twin of ``crates/formats/src/quant.rs``.

Symmetric int8 with absmax / 127 scales, rounding half away from zero. Shared by the int8
reference fixture (make_compact_reference.py) and the trained-weights check
(bench/compact_trained_check.py); needs nothing but numpy.
"""

import numpy as np


def quantize(w: np.ndarray, axis: int) -> np.ndarray:
    """Quantizes and dequantizes ``w`` with one scale per slice along ``axis`` (0: per row)."""
    reduce = 1 - axis
    scale = np.abs(w).max(axis=reduce, keepdims=True) / np.float32(127.0)
    safe = np.where(scale == 0, np.float32(1.0), scale)
    q = np.clip(np.sign(w) * np.floor(np.abs(w) / safe + 0.5), -127, 127)
    return (q.astype(np.float32) * scale).astype(np.float32)
