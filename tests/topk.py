"""One tie-safe comparison of top-k results, for every test that compares them.

Scores must agree within tolerance position by position. Ids must agree exactly, except among
near-ties: positions whose expected scores are within tolerance of each other may hold their
ids in any order. At the cut, pass the expected results with more than k columns (k + 1
suffices): ids tied across the k-th place may then be any of the tied ones. With exactly k
expected columns, a tie group that reaches the k-th place is not checked by id.
"""
from __future__ import annotations

import numpy as np


def tie_groups(scores: np.ndarray, rtol: float, atol: float):
    """``(start, end)`` runs of positions whose scores are within tolerance of the run's first."""
    start = 0
    while start < len(scores):
        end = start + 1
        while end < len(scores) and abs(scores[end] - scores[start]) <= atol + rtol * abs(scores[start]):
            end += 1
        yield start, end
        start = end


def assert_same_topk(got_ids, got_scores, want_ids, want_scores, *, rtol: float = 1e-5, atol: float = 1e-6,
                     what: str = "top-k") -> None:
    got_ids, want_ids = np.atleast_2d(np.asarray(got_ids)), np.atleast_2d(np.asarray(want_ids))
    got_scores = np.atleast_2d(np.asarray(got_scores, np.float64))
    want_scores = np.atleast_2d(np.asarray(want_scores, np.float64))
    k = got_ids.shape[1]
    assert len(got_ids) == len(want_ids) and want_ids.shape[1] >= k, \
        f"{what}: got {got_ids.shape}, expected at least {(len(got_ids), k)}"
    np.testing.assert_allclose(got_scores, want_scores[:, :k], rtol=rtol, atol=atol, err_msg=f"{what}: scores differ")
    for q in range(len(want_ids)):
        for start, end in tie_groups(want_scores[q], rtol, atol):
            if start >= k:
                break
            got = set(got_ids[q, start:min(end, k)].tolist())
            want = set(want_ids[q, start:end].tolist())
            if end <= k:
                assert got == want, f"{what}: query {q}, places {start}..{end - 1}: ids {sorted(got)} != {sorted(want)}"
            elif end < want_ids.shape[1]:
                assert got <= want, f"{what}: query {q}, tie across place {k}: ids {sorted(got - want)} are not tied"
