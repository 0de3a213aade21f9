"""``TRUNC{n}``: Matryoshka truncation. Keep the first n dims and re-normalize; no fitting.

Right for models trained with a Matryoshka loss, whose leading dims carry a usable embedding
on their own. Decoding pads with zeros: the dropped tail is not recoverable.
"""
from __future__ import annotations

import numpy as np

from .base import NoFit


class Truncate(NoFit):
    def __init__(self, piece, d_in, metric, seed):
        self.d_in, self.d_out = d_in, piece.args[0]

    def forward(self, x):
        head = x[:, : self.d_out]
        norms = np.sqrt(np.einsum("ij,ij->i", head, head))
        return head / np.where(norms > 0, norms, 1)[:, None]

    def inverse(self, y):
        out = np.zeros((len(y), self.d_in), dtype=np.float32)
        out[:, : self.d_out] = y
        return out
