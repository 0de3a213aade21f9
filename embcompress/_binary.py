"""The BIN code: one sign bit per dimension, byte-identical to faiss's ``IndexLSH`` without
rotation or thresholds (``faiss.IndexLSH(d, d, False, False)``).

Bit ``i`` of the code is 1 when dimension ``i`` is >= 0, packed little-endian within each
byte (dimension 0 is the lowest bit of byte 0), as faiss's ``fvecs2bitvecs`` does. Decoding
gives +/- ``scale``, where ``scale`` is the mean absolute value on the fit sample: it
minimizes the squared error of a constant-magnitude reconstruction and keeps inner-product
rankings equal to those of +/-1 vectors.
"""
from __future__ import annotations

import numpy as np


def code_size(bits: int) -> int:
    return (bits + 7) // 8


def encode(t: np.ndarray) -> np.ndarray:
    return np.packbits(t >= 0, axis=1, bitorder="little")


def unpack_pm1(codes: np.ndarray, bits: int) -> np.ndarray:
    """Codes to +/-1 float32 vectors of length ``bits``."""
    b = np.unpackbits(codes, axis=1, count=bits, bitorder="little")
    return b.astype(np.float32) * 2 - 1


def decode(codes: np.ndarray, bits: int, scale: float) -> np.ndarray:
    return unpack_pm1(codes, bits) * np.float32(scale)


def fit_scale(t: np.ndarray) -> np.ndarray:
    return np.array([np.abs(t).mean() if t.size else 1.0], dtype=np.float32)
