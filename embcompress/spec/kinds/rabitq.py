"""faiss's RaBitQ[{bits}]: rotated sign codes around a learned centre, with a per-row correction."""
from __future__ import annotations

import re

from ..descriptor import Arrays, Kind, TokenError, as_written, numbers


def _args(token: str, match: re.Match) -> tuple:
    bits = 1 if match.group(1) is None else numbers(token, match.groups())[0]
    if not 1 <= bits <= 9:
        raise TokenError(f"{token!r}: RaBitQ bits must be 1..9")
    return (bits,)


def _center(args: tuple, d_in: int, d_out: int) -> Arrays:
    return {"center": ("float32", (d_in,))}


RABITQ = Kind("RaBitQ", "code", r"RaBitQ(\d+)?", "RaBitQ[{bits}]", parse=_args, faiss=as_written, arrays=_center)

KINDS = (RABITQ,)
