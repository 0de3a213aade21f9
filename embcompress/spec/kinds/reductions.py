"""Dimension reductions faiss lacks, run as numpy stages (embcompress.techniques): feature
hashing, pruning, Matryoshka truncation and a distilled student."""
from __future__ import annotations

import re

from ..descriptor import MAX_HASH_FUNCTIONS, Arrays, Kind, TokenError, not_wider, numbers


def _first(args: tuple, d: int) -> int:
    return args[0]


def _hash_args(token: str, match: re.Match) -> tuple:
    n, k = numbers(token, match.groups())
    k = 2 if k is None else k
    if k > MAX_HASH_FUNCTIONS:
        raise TokenError(f"{token!r}: at most {MAX_HASH_FUNCTIONS} hash functions")
    return n, k


def _hash_bytes(args: tuple, d_in: int, d_out: int) -> int:
    return 4 * d_in * d_out + 32 * d_in * args[1]  # the dense sketch matrix, and the bucket/sign tables


HASH = Kind("HASH", "transform", r"HASH(\d+)(?:x(\d+))?", "HASH{n}[x{k}] (signed feature hashing)",
            parse=_hash_args, output_dim=_first, memory=_hash_bytes)


def _prune_args(token: str, match: re.Match) -> tuple:
    return numbers(token, match.groups()[:1])[0], match.group(2) is not None


def _prune_arrays(args: tuple, d_in: int, d_out: int) -> Arrays:
    return {"keep": ("int64", (d_out,)), "mean": ("float32", (d_in,))}


PRUNE = Kind("PRUNE", "transform", r"PRUNE(\d+)(_imp)?", "PRUNE{n}[_imp] (keep n dims)", parse=_prune_args,
             output_dim=_first, check=not_wider, min_rows=lambda args, d: 2, arrays=_prune_arrays)

TRUNC = Kind("TRUNC", "transform", r"TRUNC(\d+)", "TRUNC{n} (Matryoshka: first n dims, renormalized)",
             output_dim=_first, check=not_wider)


def _distill_arrays(args: tuple, d_in: int, d_out: int) -> Arrays:
    arrays: Arrays = {"w": ("float32", (d_out, d_in)), "decoder": ("float32", (d_in, d_out))}
    hidden = args[1]
    if hidden:
        arrays.update(u=("float32", (hidden, d_in)), c=("float32", (hidden,)), v=("float32", (d_out, hidden)))
    return arrays


DISTILL = Kind("DISTILL", "transform", r"DISTILL(\d+)(?:_(\d+))?", "DISTILL{n}[_{hidden}] (learned student)",
               output_dim=_first, check=not_wider, min_rows=lambda args, d: 64, arrays=_distill_arrays)

KINDS = (HASH, PRUNE, TRUNC, DISTILL)
