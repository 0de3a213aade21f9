"""The BIN code: one sign bit per dimension, packed big-endian within each byte (numpy's packbits).

Bit 1 means the value was > 0. Decoding gives +/- ``scale``, where ``scale`` is the mean
absolute value on the fit sample, which minimizes the squared error of a constant-magnitude
reconstruction and leaves inner-product rankings equal to those of +/-1 vectors.
"""
from __future__ import annotations

import numpy as np


def code_size(bits: int) -> int:
    return (bits + 7) // 8


def encode(t: np.ndarray) -> np.ndarray:
    return np.packbits(t > 0, axis=1)


def unpack_pm1(codes: np.ndarray, bits: int) -> np.ndarray:
    """Codes to +/-1 float32 vectors of length ``bits``."""
    b = np.unpackbits(codes, axis=1, count=bits)
    return b.astype(np.float32) * 2 - 1


def decode(codes: np.ndarray, bits: int, scale: float) -> np.ndarray:
    return unpack_pm1(codes, bits) * np.float32(scale)


def fit_scale(t: np.ndarray) -> np.ndarray:
    return np.array([np.abs(t).mean() if t.size else 1.0], dtype=np.float32)
