"""Row-independent products: the same vector gives the same bytes in any batch.

A float32 BLAS product rounds differently depending on how many rows share the call, so a
vector's code could depend on its neighbours in a Spark batch or a Beam bundle. Computing
in float64 and rounding once to float32 makes each row's result a function of that row
alone (a float64 product that differs in its last bits still rounds to the same float32,
except with probability ~1e-8 per value).
"""
from __future__ import annotations

import numpy as np

BLOCK_ROWS = 8192


def matmul(x: np.ndarray, m: np.ndarray, bias=None) -> np.ndarray:
    """``x @ m (+ bias)`` as float32, computed in float64 in bounded row blocks."""
    m64 = np.asarray(m, dtype=np.float64)
    out = np.empty((len(x), m64.shape[1]), dtype=np.float32)
    for start in range(0, len(x), BLOCK_ROWS):
        y = np.asarray(x[start: start + BLOCK_ROWS], dtype=np.float64) @ m64
        if bias is not None:
            y += bias
        out[start: start + len(y)] = y
    return out
