"""Codes faiss lacks, run as numpy stages (embcompress.techniques): packed signs, top-k sparse
pairs and mixed precision under a byte budget."""
from __future__ import annotations

from ..descriptor import Arrays, Kind

BIN = Kind("BIN", "code", r"BIN", "BIN (1 bit per dimension: sign, packed)",
           arrays=lambda args, d_in, d_out: {"bin_scale": ("float32", (1,))},
           code_bytes=lambda args, d: -(-d // 8), hamming=True)


def _topk_check(text: str, args: tuple, d: int) -> str | None:
    if args[0] > d:
        return f"{text} keeps more values than the {d} dimensions it receives"
    return None


TOPK = Kind("TOPK", "code", r"TOPK(\d+)", "TOPK{k} (k sparse (index, fp16) pairs)", check=_topk_check)


def _mp_check(text: str, args: tuple, d: int) -> str | None:
    if args[0] * 8 < d:
        return (f"{text} is below 1 bit per dimension for the {d} dimensions it receives; use at least "
                f"MP{-(-d // 8)} or reduce the dimension first")
    return None


def _mp_arrays(args: tuple, d_in: int, d_out: int) -> Arrays:
    return {"mean": ("float32", (d_in,)), "std": ("float32", (d_in,)), "bits": ("int64", (d_in,))}


MP = Kind("MP", "code", r"MP(\d+)", "MP{bytes} (mixed precision bits per dimension under a byte budget)",
          check=_mp_check, min_rows=lambda args, d: 2, arrays=_mp_arrays)

KINDS = (BIN, TOPK, MP)
