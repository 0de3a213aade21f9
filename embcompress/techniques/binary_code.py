"""The BIN code as a pipeline stage (bit layout in :mod:`embcompress._binary`)."""
from __future__ import annotations

import numpy as np

from .. import _binary as binary


class BinaryCode:
    def __init__(self, piece, d_in, metric, seed):
        self.d_in = d_in
        self.code_size = binary.code_size(d_in)
        self.scale = np.ones(1, np.float32)

    def fit(self, y, seed):
        self.scale = binary.fit_scale(y)

    def export(self):
        return {"bin_scale": self.scale}

    def load(self, arrays):
        scale = arrays["bin_scale"]
        if scale.shape != (1,) or scale.dtype != np.float32:
            raise ValueError("bin_scale must be one float32")
        self.scale = scale

    def encode(self, y, out):
        out[:] = binary.encode(y)

    def decode(self, codes):
        return binary.decode(codes, self.d_in, float(self.scale[0]))
