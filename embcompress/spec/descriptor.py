"""What one spec kind is, in one record: :class:`Kind`.

A kind (``PCA``, ``SQ``, ``BIN``, ...) is described once, in its module under
:mod:`embcompress.spec.kinds`; parsing, the grammar text, the array plan the loader checks,
memory bounds, the recommender's cost model and moments fitting all read that record instead
of branching on kind names. Every function of a kind takes the piece's parsed ``args`` and the
dimension the piece receives, so nothing here builds a codec or allocates an array.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

# Limits on the spec itself, shared by fit and load (see SECURITY.md). Sizes that pass them
# can still need too much memory together; embcompress._layout bounds that from spec and dim.
MAX_DIM = 65536  # every number in a spec, and every vector dimension
MAX_PIECES = 16  # transforms plus the code
MAX_HASH_FUNCTIONS = 64  # k of HASH{n}x{k}
MAX_CODEBOOK_BITS = 16  # bits of PQ{m}x{bits} and RQ{m}x{bits}
MAX_RQ_CODEBOOKS = 128  # m of RQ{m}x{bits} (all splits of PRQ/PLSQ together): RQ128x8 is 128 B, the grid's top
MAX_ADDITIVE_SETTING = 1024  # beam size (_b), k-means steps (_p) and iteration counts (_i, _t) of additive codes
MAX_SPEC_CHARS = 1024

Arrays = dict[str, tuple[str, tuple[int, ...]]]  # {name: (dtype, shape)}


class TokenError(ValueError):
    """A token matched a kind's pattern but says something the kind does not accept."""


def numbers(token: str, groups: tuple) -> tuple:
    """The regex ``groups`` of ``token`` as ints in 1..MAX_DIM (None for an absent group)."""
    out: list[int | None] = []
    for g in groups:
        if g is None:
            out.append(None)
            continue
        value = int(g)
        if not 1 <= value <= MAX_DIM:
            raise TokenError(f"{token!r} has {value}, outside 1..{MAX_DIM}")
        out.append(value)
    return tuple(out)


def _numbers_of(token: str, match: re.Match) -> tuple:
    return numbers(token, match.groups())


def _same_dim(args: tuple, d: int) -> int:
    return d


def _one_row(args: tuple, d: int) -> int:
    return 1


def _every_row(args: tuple, d: int) -> int | None:
    return None


def _fits_any_dim(text: str, args: tuple, d: int) -> str | None:
    return None


def first_or_same(args: tuple, d: int) -> int:
    """The piece's first number, or the dimension it receives when the number is left out."""
    return args[0] if args[0] is not None else d


def not_wider(text: str, args: tuple, d: int) -> str | None:
    """The complaint for a piece asking for more dimensions than it receives (None if it does not)."""
    if args[0] is not None and args[0] > d:
        return f"{text} asks for more dimensions than the {d} it receives"
    return None


def as_written(text: str, args: tuple) -> str:
    """faiss's index_factory spells the piece as the spec does."""
    return text


def _no_arrays(args: tuple, d_in: int, d_out: int) -> Arrays:
    return {}


def _no_cost(args: tuple, n: int, d_in: int, d_out: int, code_bits: int) -> float:
    return 0.0


def _no_reduction(args: tuple) -> int | None:
    return None


@dataclass(frozen=True)
class Kind:
    """One kind of spec piece: a transform or a code, and everything the core needs to know of it.

    Defaults describe the simplest kind: numbers parsed from the regex groups, dimension kept,
    one training row, every row read, no arrays, no training cost, not built by faiss.
    """

    name: str
    role: Literal["transform", "code"]
    regex: str  # matched whole against a token (re.ASCII: \\d would also match other scripts' digits)
    grammar: str  # the token's syntax for GRAMMAR, with a short note in parentheses
    parse: Callable[[str, re.Match], tuple] = _numbers_of  # (token, match) -> args; TokenError if bad
    output_dim: Callable[[tuple, int], int] = _same_dim  # (args, d_in) -> dimension after the piece
    check: Callable[[str, tuple, int], str | None] = _fits_any_dim  # (text, args, d_in) -> why it cannot apply
    min_rows: Callable[[tuple, int], int] = _one_row  # fewest training rows faiss (or the stage) accepts
    max_rows: Callable[[tuple, int], int | None] = _every_row  # most rows its trainer reads; None: every row
    faiss: Callable[[str, tuple], str] | None = None  # (text, args) -> faiss index_factory text; None: numpy
    arrays: Callable[[tuple, int, int], Arrays] = _no_arrays  # (args, d_in, d_out) -> its learned arrays
    memory: Callable[[tuple, int, int], int] | None = None  # bytes held beyond the arrays (see layout)
    cost: Callable[[tuple, int, int, int, int], float] = _no_cost  # (args, n, d_in, d_out, code bits)
    codebook_bits: Callable[[tuple], int] | None = None  # bits per codebook entry of a k-means code
    reduces_to: Callable[[tuple], int | None] = _no_reduction  # the dimension it explicitly reduces to
    code_bytes: Callable[[tuple, int], int] | None = None  # bytes per vector known before fitting
    fits_from_moments: bool = False  # moments can fit it in first position (a plain or whitened PCA)
    moments_sample: Literal["none", "ranges", "kmeans"] = "kmeans"  # rows it needs besides moments
    needs_nonzero_norm: bool = False  # rows of norm 0 cannot go through it
    row_by_row: bool = False  # faiss encodes a row differently in a batch: encode one row per call
    hamming: bool = False  # codes are packed signs, comparable with mode="hamming"
    pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(self.regex, re.ASCII))
