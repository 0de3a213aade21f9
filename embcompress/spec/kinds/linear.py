"""faiss's linear transforms: PCA (plain, whitened, rotated), OPQ, random rotation and ITQ.

Each is one matrix ``A`` (d_out x d_in, PCAs add a bias ``b``); faiss trains and applies them.
"""
from __future__ import annotations

from ..descriptor import Arrays, Kind, as_written, first_or_same, not_wider

# bytes per element of a faiss linear transform once loaded: the artifact's float32 view, faiss's
# float32 copy, the float64 copy the exact chain multiplies with and its float64 inverse
LINEAR_BYTES = 4 + 4 + 8 + 8


def _matrix(args: tuple, d_in: int, d_out: int) -> Arrays:
    return {"A": ("float32", (d_out, d_in))}


def _matrix_and_bias(args: tuple, d_in: int, d_out: int) -> Arrays:
    return {"A": ("float32", (d_out, d_in)), "b": ("float32", (d_out,))}


def _matrix_bytes(args: tuple, d_in: int, d_out: int) -> int:
    return LINEAR_BYTES * d_out * d_in


def _pca_rows(args: tuple, d: int) -> int:
    # faiss's PCA on fewer rows than dimensions has only as many components as rows
    return max(2, args[0])


def _covariance_cost(args: tuple, n: int, d_in: int, d_out: int, code_bits: int) -> float:
    return 2.5 * n * d_in * d_in


def _pca(name: str, grammar: str, fits_from_moments: bool) -> Kind:
    return Kind(name, "transform", name + r"(\d+)", grammar, output_dim=first_or_same, check=not_wider,
                min_rows=_pca_rows, max_rows=lambda args, d: 1000 * d,  # faiss subsamples 1,000 rows per dim
                faiss=as_written, arrays=_matrix_and_bias, memory=_matrix_bytes, cost=_covariance_cost,
                reduces_to=lambda args: args[0], fits_from_moments=fits_from_moments)


PCA = _pca("PCA", "PCA{n}", True)
PCAW = _pca("PCAW", "PCAW{n} (whitened)", True)
PCAR = _pca("PCAR", "PCAR{n} (PCA + rotation)", False)


def _opq_dim(args: tuple, d: int) -> int:
    return args[1] if args[1] is not None else d


def _opq_check(text: str, args: tuple, d: int) -> str | None:
    m, out = args[0], _opq_dim(args, d)
    if out > d:  # faiss pads, training on an out x out rotation: slow and never useful
        return f"{text} asks for more dimensions than the {d} it receives"
    if out % m:
        return f"{text} needs its output dimension {out} divisible by {m}"
    return None


def _opq_cost(args: tuple, n: int, d_in: int, d_out: int, code_bits: int) -> float:
    # OPQ alternates PQ training and a rotation update about 50 times
    return 67 * n * 2 ** code_bits * d_out


OPQ = Kind("OPQ", "transform", r"OPQ(\d+)(?:_(\d+))?", "OPQ{m}[_{n}]", output_dim=_opq_dim, check=_opq_check,
           min_rows=lambda args, d: 256, max_rows=lambda args, d: 256 * 256, faiss=as_written, arrays=_matrix,
           memory=_matrix_bytes, cost=_opq_cost, reduces_to=lambda args: args[1])


def _rr_check(text: str, args: tuple, d: int) -> str | None:
    return f"{text} must be >= the input dimension {d}" if args[0] < d else None


RR = Kind("RR", "transform", r"RR(\d+)", "RR{n} (random rotation)", output_dim=lambda args, d: args[0],
          check=_rr_check, min_rows=lambda args, d: 2, max_rows=lambda args, d: 0, faiss=as_written,
          arrays=_matrix, memory=_matrix_bytes, moments_sample="none")


def _itq_arrays(args: tuple, d_in: int, d_out: int) -> Arrays:
    return {"A": ("float32", (d_out, d_in)), "mean": ("float32", (d_in,)), "itq_norm": ("float32", (1,))}


ITQ = Kind("ITQ", "transform", r"ITQ(\d+)?", "ITQ[{n}]", output_dim=first_or_same, check=not_wider,
           min_rows=lambda args, d: max(2, first_or_same(args, d)), max_rows=lambda args, d: max(10 * d, 32768),
           faiss=as_written, arrays=_itq_arrays, memory=_matrix_bytes, cost=_covariance_cost,
           needs_nonzero_norm=True)

KINDS = (PCA, PCAW, PCAR, OPQ, RR, ITQ)
