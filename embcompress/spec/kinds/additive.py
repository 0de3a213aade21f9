"""faiss's additive quantizers: residual (RQ) and local search (LSQ), whole or per sub-space
(PRQ, PLSQ). A code is the sum of one entry from each of m codebooks of 2**bits entries.

Parsed args are ``(m, bits, *settings[, splits])``: the beam size, the progressive-dimension
k-means steps per codebook and whether those steps run in a PCA basis (1) or on the raw
residual dimensions (0, ``_nopca``) for RQ and PRQ, or the encode and training iterations (LSQ,
PLSQ), each defaulting to faiss's, then the split count of PRQ and PLSQ.
faiss's factory has no syntax for the settings: embcompress._faiss_backend sets them on the index.
"""
from __future__ import annotations

import re

from ..descriptor import MAX_ADDITIVE_SETTING, MAX_CODEBOOK_BITS, MAX_RQ_CODEBOOKS, Arrays, Kind, TokenError, \
    numbers

# training work per codebook, relative to RQ with beam 5: fitted to faiss 1.15 on 10k x 384 (RQ32x8
# 85 s, RQ96x8 about 250 s, against 38 s for PQ32; PRQ4x8x8 about as long as RQ32x8; LSQ's local
# search several times slower). The previous model also multiplied by the codebook count twice and
# predicted 189,400 s for RQ96x8 (about 250 s).
RELATIVE_COST = {"RQ": 1, "PRQ": 1, "LSQ": 3, "PLSQ": 3}
FAISS_PROGRESSIVE_STEPS = 10


def _steps_effort(steps: int, pca: int) -> float:
    """RQ training time relative to faiss's 10 progressive-dimension steps with PCA, fitted on
    14,559 x 384 (RQ32x8, 2 threads: 10 steps 120 s, 5 steps 77 s, 3 steps 71 s, 2 steps 51 s)
    and 90,000 x 768 (RQ4x8: with PCA 59 s at 10 steps, 44 s at 2; without, 35 s and 21 s)."""
    return (0.3 + 0.07 * steps) * (1 if pca else 0.55)


def _additive(name: str, regex: str, grammar: str, defaults: tuple, split: bool, beam: bool) -> Kind:
    """One additive kind: ``defaults`` are faiss's settings, ``split`` whether it works per sub-space,
    ``beam`` whether it encodes by beam search (RQ) rather than local search (LSQ)."""

    def parse(token: str, match: re.Match) -> tuple:
        groups = match.groups()
        if beam:  # the last group is the "_nopca" flag, not a number
            groups, no_pca = groups[:-1], groups[-1] is not None
        found = numbers(token, groups)
        splits, found = (found[0], found[1:]) if split else (1, found)
        m, bits, *rest = found
        if not 1 <= bits <= MAX_CODEBOOK_BITS:
            raise TokenError(f"{token!r}: bits per codebook must be 1..{MAX_CODEBOOK_BITS}")
        if m * splits > MAX_RQ_CODEBOOKS:
            raise TokenError(f"{token!r}: at most {MAX_RQ_CODEBOOKS} codebooks")
        settings = tuple(d if v is None else v for v, d in zip(rest, defaults))
        if any(not 1 <= s <= MAX_ADDITIVE_SETTING for s in settings):
            raise TokenError(f"{token!r}: beam sizes, steps and iteration counts must be 1..{MAX_ADDITIVE_SETTING}")
        if beam:
            settings += (0 if no_pca else 1,)
        return (m, bits, *settings) + ((splits,) if split else ())

    def faiss_text(text: str, args: tuple) -> str:
        return f"{name}{args[-1]}x{args[0]}x{args[1]}" if split else f"{name}{args[0]}x{args[1]}"

    def check(text: str, args: tuple, d: int) -> str | None:
        if split and d % args[-1]:
            return f"{text} needs the dimension it receives ({d}) to be divisible by its {args[-1]} splits"
        return None

    def codebooks(args: tuple, d_in: int, d_out: int) -> Arrays:  # split across PRQ/PLSQ's parts
        return {"codebooks": ("float32", (args[0] * (1 << args[1]) * d_in,))}

    def memory(args: tuple, d_in: int, d_out: int) -> int:
        per_book, books = 1 << args[1], args[0]
        total = 8 * books * per_book * d_in  # the artifact's view and faiss's copy
        if beam:  # faiss's codebook cross products: each codebook against the earlier ones (per split), float32
            splits = args[-1] if split else 1
            return total + 4 * splits * per_book ** 2 * books * (books - 1) // 2
        return total + 4 * (books * per_book) ** 2  # local search's pairwise terms, built for encoding

    def cost(args: tuple, n: int, d_in: int, d_out: int, code_bits: int) -> float:
        # every codebook is trained on whole (sub-)vectors: work grows with their count and length
        splits = args[-1] if split else 1
        books, d_in = args[0] * splits, d_in // splits
        if beam:
            effort = (1 + args[2] / 5) / 2 * _steps_effort(args[3], args[4])  # beam 5 is 1; beam 16 measured 2x
        else:
            effort = args[3] / 25  # LSQ's training iterations (faiss's default 25)
        return 25 * n * books * 2 ** code_bits * d_in / 16 * effort * RELATIVE_COST[name]

    return Kind(name, "code", regex, grammar, parse=parse, check=check, min_rows=lambda args, d: 2 ** args[1],
                faiss=faiss_text, arrays=codebooks, memory=memory, cost=cost, codebook_bits=lambda args: args[1],
                row_by_row=not beam)  # local search perturbs codes with one random stream per call


RQ = _additive("RQ", r"RQ(\d+)x(\d+)(?:_b(\d+))?(?:_p(\d+))?(_nopca)?",
               "RQ{m}x{bits}[_b{beam}][_p{steps}][_nopca] (residual, beam search; faiss: beam 5, 10 progressive "
               "k-means steps per codebook, in a PCA basis)",
               (5, FAISS_PROGRESSIVE_STEPS), False, True)
LSQ = _additive("LSQ", r"LSQ(\d+)x(\d+)(?:_i(\d+))?(?:_t(\d+))?",
                "LSQ{m}x{bits}[_i{encode iters}][_t{train iters}] (local search; faiss: 16 and 25)", (16, 25), False,
                False)
PRQ = _additive("PRQ", r"PRQ(\d+)x(\d+)x(\d+)(?:_b(\d+))?(?:_p(\d+))?(_nopca)?",
                "PRQ{splits}x{m}x{bits}[_b{beam}][_p{steps}][_nopca] (RQ per sub-space)",
                (5, FAISS_PROGRESSIVE_STEPS), True, True)
PLSQ = _additive("PLSQ", r"PLSQ(\d+)x(\d+)x(\d+)(?:_i(\d+))?(?:_t(\d+))?",
                 "PLSQ{splits}x{m}x{bits}[_i{iters}][_t{iters}] (LSQ per sub-space)", (16, 25), True, False)

KINDS = (RQ, LSQ, PRQ, PLSQ)
