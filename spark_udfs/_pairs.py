"""Row-wise scores (query i against code i) built from the core's matrix ``Codec.score``.

Rows are grouped by identical query so each distinct query is scored against all its codes
in one core call: a join of a few queries with many codes costs a few calls per batch.
"""
from __future__ import annotations

import numpy as np

from embcompress.arrow import codes_from_arrow, vectors_from_arrow
from embcompress._validation import raise_on_invalid


def _groups(keys: np.ndarray):
    """Yield ``(first_row, rows)`` for each distinct row of the 2-D array ``keys``."""
    if len(keys) == 0:
        return
    flat = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.shape[1] * keys.itemsize))).ravel()
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    for rows in np.split(order, bounds):
        yield int(first[inverse[rows[0]]]), rows


def score_pairs(codec, queries, codes, *, query_col, code_col) -> tuple:
    """``(scores, null)``: similarity of each float query to the code in the same row."""
    vb = vectors_from_arrow(queries, dim=codec.dim, column=query_col)
    raise_on_invalid(vb.rejected, vb.reasons, column=query_col)
    c, cnull = codes_from_arrow(codes, codec.code_size, column=code_col)
    null = vb.null | cnull
    live = np.flatnonzero(~null)
    out = np.zeros(len(null), dtype=np.float32)
    q, c = vb.matrix[live], c[live]
    for first, rows in _groups(q):
        out[live[rows]] = codec.score(q[first], c[rows])[0]
    return out, null


def sim_pairs(codec, left, right, *, left_col, right_col) -> tuple:
    """``(scores, null)``: similarity of the decoded code ``left[i]`` to the code ``right[i]``."""
    a, anull = codes_from_arrow(left, codec.code_size, column=left_col)
    b, bnull = codes_from_arrow(right, codec.code_size, column=right_col)
    null = anull | bnull
    live = np.flatnonzero(~null)
    out = np.zeros(len(null), dtype=np.float32)
    a, b = a[live], b[live]
    for first, rows in _groups(a):
        out[live[rows]] = codec.score(codec.decode(a[first]), b[rows])[0]
    return out, null
