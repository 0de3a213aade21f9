"""faiss's product quantizer PQ{m}[x{bits}]: m sub-vectors, each a k-means codebook of 2**bits."""
from __future__ import annotations

import re

from ..descriptor import MAX_CODEBOOK_BITS, Arrays, Kind, TokenError, numbers

# per row and sub-quantizer work of k-means beyond its distance computations, in multiply-adds
KMEANS_ROW_OVERHEAD = 700


def _pq_args(token: str, match: re.Match) -> tuple:
    m, bits = numbers(token, match.groups())
    bits = 8 if bits is None else bits
    if not 1 <= bits <= MAX_CODEBOOK_BITS:
        raise TokenError(f"{token!r}: bits per sub-quantizer must be 1..{MAX_CODEBOOK_BITS}")
    return m, bits


def _faiss_text(text: str, args: tuple) -> str:
    """``PQ{m}x{bits}np``: without ``np`` faiss's factory adds polysemous training, an annealing
    that reorders each sub-quantizer's centroids for Hamming filtering, which nothing here uses.
    The centroids, and so recall, are the same; the fit is about 30x faster without it (PQ48 on
    2,000 x 384: 2.8 s against 87 s)."""
    return f"PQ{args[0]}x{args[1]}np"


def _check(text: str, args: tuple, d: int) -> str | None:
    if d % args[0]:
        return f"PQ{args[0]} needs the dimension it receives ({d}) to be divisible by {args[0]}"
    return None


def _centroids(args: tuple, d_in: int, d_out: int) -> Arrays:
    return {"centroids": ("float32", ((1 << args[1]) * d_in,))}


def _bytes(args: tuple, d_in: int, d_out: int) -> int:
    return 8 * 1 * (1 << args[1]) * d_in  # the artifact's view and faiss's copy


def _cost(args: tuple, n: int, d_in: int, d_out: int, code_bits: int) -> float:
    # about 25 k-means iterations of n x centroids x dims, plus a fixed cost per row and sub-quantizer
    m = args[0]
    return 25 * n * m * (2 ** code_bits * d_in / m + KMEANS_ROW_OVERHEAD)


PQ = Kind("PQ", "code", r"PQ(\d+)(?:x(\d+))?", "PQ{m}[x{bits}]", parse=_pq_args, check=_check,
          min_rows=lambda args, d: 2 ** args[1], max_rows=lambda args, d: 256 * 2 ** args[1],  # k-means: 256/centroid
          faiss=_faiss_text, arrays=_centroids, memory=_bytes, cost=_cost, codebook_bits=lambda args: args[1])



def _apq_check(text: str, args: tuple, d: int) -> str | None:
    if d % args[0]:
        return f"{text} needs the dimension it receives ({d}) to be divisible by {args[0]}"
    return None


# faiss's PQ{m}x8 codebooks with codes chosen for the angle (embcompress.techniques.angular_pq)
APQ = Kind("APQ", "code", r"APQ(\d+)",
           "APQ{m} (PQ{m}x8 codebooks, codes chosen for the angle, decoded on the unit sphere: cosine embeddings)",
           check=_apq_check, min_rows=lambda args, d: 256, max_rows=lambda args, d: 256 * 256,
           arrays=lambda args, d_in, d_out: {"centroids": ("float32", (256 * d_in,))},
           memory=lambda args, d_in, d_out: 8 * 256 * d_in,  # the artifact's view and the transposed copy
           cost=lambda args, n, d_in, d_out, code_bits: _cost((args[0], 8), n, d_in, d_out, 8),
           codebook_bits=lambda args: 8, code_bytes=lambda args, d: args[0])

KINDS = (PQ, APQ)
