"""``MP{bytes}``: mixed precision, 0/1/2/4/8/16 bits per dimension under a byte budget.

Bits are allocated by reverse water-filling, as in transform coding: greedily give the next
bits to the dimension whose expected squared error drops most per bit, given its variance on
the sample. Meant after a decorrelating transform (``PCA{n},MP{bytes}``), where the leading
components keep high precision and the tail gets few bits or none.

Each dimension with b in {1, 2, 4, 8} bits uses a uniform quantizer centred on its sample mean
with the step that is optimal for a Gaussian of its standard deviation; 16 bits store float16;
0 bits decode to the mean. Code layout: the 16-bit dims (float16 LE), then the 8-, 4-, 2- and
1-bit groups, each packed low bits first, dims ascending; zero padding up to ``bytes``.
"""
from __future__ import annotations

import numpy as np

WIDTHS = (0, 1, 2, 4, 8, 16)
# relative MSE of the Gaussian-optimal uniform quantizer at each width (16: float16)
RELATIVE_MSE = {0: 1.0, 1: 0.3634, 2: 0.1188, 4: 0.009497, 8: 4.0e-5, 16: 1.0e-8}
# quantizer step, in standard deviations
STEP = {1: 1.596, 2: 0.9957, 4: 0.3352, 8: 0.0345}


def _group_bytes(count: int, width: int) -> int:
    return (count * width + 7) // 8


def allocate_bits(variances: np.ndarray, budget_bytes: int) -> np.ndarray:
    """Bits per dimension: greedy largest error reduction per bit, within the byte budget."""
    d = len(variances)
    level = np.zeros(d, dtype=np.int64)  # index into WIDTHS
    counts = {w: 0 for w in WIDTHS}
    counts[0] = d

    def used(c):
        return sum(_group_bytes(n, w) for w, n in c.items() if w)

    rel = np.array([RELATIVE_MSE[w] for w in WIDTHS])
    widths = np.array(WIDTHS)
    while True:
        nxt = np.minimum(level + 1, len(WIDTHS) - 1)
        gain = variances * (rel[level] - rel[nxt]) / np.maximum(widths[nxt] - widths[level], 1)
        gain[level == len(WIDTHS) - 1] = -1
        for i in np.argsort(-gain, kind="stable"):
            if gain[i] <= 0:
                return widths[level]
            old, new = WIDTHS[level[i]], WIDTHS[nxt[i]]
            trial = dict(counts)
            trial[old] -= 1
            trial[new] += 1
            if used(trial) <= budget_bytes:
                counts, level[i] = trial, nxt[i]
                break
        else:
            return widths[level]


def _pack(values: np.ndarray, width: int) -> np.ndarray:
    per = 8 // width
    n, m = values.shape
    padded = np.zeros((n, -(-m // per) * per), dtype=np.uint8)
    padded[:, :m] = values
    shifts = (np.arange(per, dtype=np.uint8) * width)
    return np.bitwise_or.reduce(padded.reshape(n, -1, per) << shifts, axis=2).astype(np.uint8)


def _unpack(packed: np.ndarray, width: int, m: int) -> np.ndarray:
    per = 8 // width
    shifts = (np.arange(per, dtype=np.uint8) * width)
    vals = (packed[:, :, None] >> shifts) & np.uint8((1 << width) - 1)
    return vals.reshape(len(packed), -1)[:, :m]


class MixedPrecision:
    def __init__(self, piece, d_in, metric, seed):
        self.budget, self.d_in = piece.args[0], d_in
        self.code_size = self.budget

    def fit(self, y, seed):
        self.mean = y.mean(axis=0, dtype=np.float64).astype(np.float32)
        self.std = y.std(axis=0, dtype=np.float64).astype(np.float32)
        self.bits = allocate_bits(self.std.astype(np.float64) ** 2, self.budget).astype(np.int64)

    def export(self):
        return {"mean": self.mean, "std": self.std, "bits": self.bits}

    def load(self, arrays):
        mean, std, bits = arrays["mean"], arrays["std"], arrays["bits"]
        if mean.shape != (self.d_in,) or std.shape != (self.d_in,) or bits.shape != (self.d_in,):
            raise ValueError("MP arrays do not match the dimension")
        if not np.isin(bits, WIDTHS).all():
            raise ValueError("MP bit widths must be 0, 1, 2, 4, 8 or 16")
        if sum(_group_bytes(int((bits == w).sum()), w) for w in WIDTHS if w) > self.budget:
            raise ValueError("MP bit allocation exceeds the byte budget")
        self.mean, self.std, self.bits = mean, std, bits

    def _groups(self):
        offset = 0
        for width in (16, 8, 4, 2, 1):
            dims = np.flatnonzero(self.bits == width)
            if dims.size:
                size = _group_bytes(dims.size, width)
                yield width, dims, offset, size
                offset += size

    def encode(self, y, out):
        out[:] = 0
        for width, dims, offset, size in self._groups():
            v = y[:, dims]
            if width == 16:
                out[:, offset: offset + size] = v.astype("<f2").view(np.uint8)
                continue
            levels = 1 << width
            step = STEP[width] * np.maximum(self.std[dims], 1e-12)
            q = np.rint((v - self.mean[dims]) / step + (levels - 1) / 2)
            q = np.clip(q, 0, levels - 1).astype(np.uint8)
            out[:, offset: offset + size] = q if width == 8 else _pack(q, width)

    def decode(self, codes):
        y = np.repeat(self.mean[None, :], len(codes), axis=0)
        for width, dims, offset, size in self._groups():
            part = np.ascontiguousarray(codes[:, offset: offset + size])
            if width == 16:
                y[:, dims] = part.view("<f2").astype(np.float32)
                continue
            q = part if width == 8 else _unpack(part, width, dims.size)
            step = STEP[width] * np.maximum(self.std[dims], 1e-12)
            y[:, dims] = self.mean[dims] + (q.astype(np.float32) - ((1 << width) - 1) / 2) * step
        return y
