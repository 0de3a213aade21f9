"""faiss's codes without codebooks: Flat (float32 as is) and the scalar quantizers."""
from __future__ import annotations

import re

from ..descriptor import Arrays, Kind, as_written

FLAT = Kind("Flat", "code", r"Flat", "Flat", max_rows=lambda args, d: 0, faiss=as_written, moments_sample="none")

_SQ_BITS = {"fp16": 16, "bf16": 16, "8": 8, "6": 6, "4": 4}


def _sq_args(token: str, match: re.Match) -> tuple:
    return (_SQ_BITS[match.group(1)],)


def _sq_arrays(args: tuple, d_in: int, d_out: int) -> Arrays:
    # a trained quantizer's per-dimension min and range; the 16-bit ones train nothing
    return {"sq": ("float32", (0,) if args[0] == 16 else (2 * d_in,))}


SQ = Kind("SQ", "code", r"SQ(fp16|bf16|8|6|4)", "SQfp16 | SQbf16 | SQ8 | SQ6 | SQ4", parse=_sq_args,
          min_rows=lambda args, d: 2, faiss=as_written, arrays=_sq_arrays, moments_sample="ranges")

KINDS = (FLAT, SQ)
