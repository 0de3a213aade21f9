"""What a codec holds, from its spec and input dimension alone: its stages, the exact arrays
of each stage (name, dtype, shape) and the memory the rebuilt codec takes.

Nothing here builds a faiss object or allocates an array. The loader compares an artifact's
arrays with :func:`expected_arrays` before anything else happens, so a hostile artifact cannot
hand faiss an array shorter than the one it will read; :func:`memory_bytes` lets both the
loader and ``fit`` refuse a spec whose codec would exceed the caller's memory ceiling before
they allocate it. :class:`~embcompress.pipeline.Pipeline` builds its stages from
:func:`stages`, so the plan and the codec cannot disagree on names.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ArtifactError
from .spec import ADDITIVE_CODES, FAISS_CODES, FAISS_TRANSFORMS, Piece, Spec

DEFAULT_MAX_MEMORY = 2 << 30  # bytes a loaded or fitted codec may hold, unless the caller says otherwise
STATS = ("stats.mean", "stats.min", "stats.max")
_LINEAR = {"PCA", "PCAW", "PCAR", "OPQ", "RR", "ITQ"}
_WITH_BIAS = {"PCA", "PCAW", "PCAR"}
# bytes per element of a faiss linear transform once loaded: the artifact's float32 view, faiss's
# float32 copy, the float64 copy the exact chain multiplies with and its float64 inverse
_LINEAR_BYTES = 4 + 4 + 8 + 8


@dataclass(frozen=True)
class Stage:
    """One stage of a codec: a faiss segment (``faiss`` True) or one custom piece.

    ``pieces`` are the faiss transforms of a segment, or the single custom piece; ``code`` is
    the faiss code ending a segment (None for a segment of transforms only).
    """

    prefix: str
    faiss: bool
    pieces: tuple
    code: Piece | None
    d_in: int
    d_out: int


def _d_after(pieces, d: int) -> int:
    return Spec("", tuple(pieces), Piece("Flat", "Flat", ())).output_dim(d)


def stages(spec: Spec, dim: int) -> list:
    """The stages a codec of ``spec`` on ``dim``-d input is made of, code stage last."""
    out: list[Stage] = []
    run: list = []
    d = dim

    def close_run(code=None):
        nonlocal run, d
        prefix = "code." if code is not None else f"s{len(out)}."
        d_out = _d_after(run, d)
        out.append(Stage(prefix, True, tuple(run), code, d, d_out))
        run, d = [], d_out

    for t in spec.transforms:
        if t.kind in FAISS_TRANSFORMS:
            run.append(t)
            continue
        if run:
            close_run()
        d_out = _d_after([t], d)
        out.append(Stage(f"s{len(out)}.", False, (t,), None, d, d_out))
        d = d_out
    if spec.code.kind in FAISS_CODES:
        close_run(spec.code)
    else:
        if run:
            close_run()
        out.append(Stage("code.", False, (spec.code,), None, d, d))
    return out


def _faiss_arrays(stage: Stage) -> dict:
    arrays: dict[str, tuple[str, tuple[int, ...]]] = {}
    d = stage.d_in
    for i, t in enumerate(stage.pieces):
        d_out = _d_after([t], d)
        if t.kind in _LINEAR:
            arrays[f"t{i}.A"] = ("float32", (d_out, d))
        if t.kind in _WITH_BIAS:
            arrays[f"t{i}.b"] = ("float32", (d_out,))
        if t.kind == "ITQ":
            arrays[f"t{i}.mean"] = ("float32", (d,))
            arrays[f"t{i}.itq_norm"] = ("float32", (1,))
        d = d_out
    code = stage.code
    if code is None or code.kind == "Flat":
        return arrays
    if code.kind == "SQ":
        arrays["code.sq"] = ("float32", (0,) if code.args[0] == 16 else (2 * d,))
    elif code.kind == "PQ":
        arrays["code.centroids"] = ("float32", ((1 << code.args[1]) * d,))
    elif code.kind in ADDITIVE_CODES:  # m codebooks of 2**bits entries (split across PRQ/PLSQ's parts)
        arrays["code.codebooks"] = ("float32", (code.args[0] * (1 << code.args[1]) * d,))
    elif code.kind == "RaBitQ":
        arrays["code.center"] = ("float32", (d,))
    return arrays


def _custom_arrays(stage: Stage) -> dict:
    piece, d, n = stage.pieces[0], stage.d_in, stage.d_out
    if piece.kind == "PRUNE":
        return {"keep": ("int64", (n,)), "mean": ("float32", (d,))}
    if piece.kind == "DISTILL":
        arrays: dict[str, tuple[str, tuple[int, ...]]] = {"w": ("float32", (n, d)), "decoder": ("float32", (d, n))}
        h = piece.args[1]
        if h:
            arrays.update(u=("float32", (h, d)), c=("float32", (h,)), v=("float32", (n, h)))
        return arrays
    if piece.kind == "BIN":
        return {"bin_scale": ("float32", (1,))}
    if piece.kind == "MP":
        return {"mean": ("float32", (d,)), "std": ("float32", (d,)), "bits": ("int64", (d,))}
    return {}  # HASH, TRUNC, TOPK, UNIT: nothing learned


def stage_arrays(stage: Stage) -> dict:
    """``{name: (dtype, shape)}`` of one stage, names without the stage prefix."""
    return _faiss_arrays(stage) if stage.faiss else _custom_arrays(stage)


def expected_arrays(spec: Spec, dim: int) -> dict:
    """``{name: (dtype, shape)}`` of every array an artifact of ``spec`` at ``dim`` must hold, no more."""
    out = {name: ("float32", (dim,)) for name in STATS}
    for stage in stages(spec, dim):
        out.update({stage.prefix + k: v for k, v in stage_arrays(stage).items()})
    return out


def _elements(shape) -> int:
    count = 1
    for s in shape:
        count *= s
    return count


def _stage_bytes(stage: Stage) -> int:
    """Bytes a rebuilt stage holds beyond its arrays' own float32/int64 storage."""
    if stage.faiss:
        total, d = 0, stage.d_in
        for t in stage.pieces:
            d_out = _d_after([t], d)
            if t.kind in _LINEAR:
                total += _LINEAR_BYTES * d_out * d
            d = d_out
        code = stage.code
        if code is not None and (code.kind == "PQ" or code.kind in ADDITIVE_CODES):
            per_book = (1 << code.args[1])
            books = code.args[0] if code.kind in ADDITIVE_CODES else 1
            total += 8 * books * per_book * d  # the artifact's view and faiss's copy
            if code.kind in ("RQ", "PRQ"):  # faiss's codebook cross products: each codebook against the
                splits = code.args[-1] if code.kind == "PRQ" else 1  # earlier ones (per split), float32
                total += 4 * splits * per_book ** 2 * books * (books - 1) // 2
            elif code.kind in ADDITIVE_CODES:
                total += 4 * (books * per_book) ** 2  # local search's pairwise terms, built for encoding
        return total
    piece, d, n = stage.pieces[0], stage.d_in, stage.d_out
    if piece.kind == "HASH":
        k = piece.args[1]
        return 4 * d * n + 32 * d * k  # the dense sketch matrix, and the bucket/sign tables that build it
    return 3 * sum(4 * _elements(shape) if dtype == "float32" else 8 * _elements(shape)
                   for dtype, shape in _custom_arrays(stage).values())


def memory_bytes(spec: Spec, dim: int) -> int:
    """Bytes the codec of ``spec`` at ``dim`` holds once fitted or loaded (encode blocks not included).

    An upper estimate: every copy the rebuild makes is counted (artifact view, faiss's copy,
    float64 copies of transform matrices and their inverses, dense hashing matrices).
    """
    return 12 * dim + sum(_stage_bytes(s) for s in stages(spec, dim))


def check_memory(spec: Spec, dim: int, max_memory: int | None) -> int:
    """Raise ValueError when the codec would exceed ``max_memory`` bytes; return its estimate."""
    limit = DEFAULT_MAX_MEMORY if max_memory is None else max_memory
    need = memory_bytes(spec, dim)
    if need > limit:
        raise ValueError(f"spec {spec.text!r} at dimension {dim} needs about {need / 2**20:,.1f} MiB ({need:,} B), "
                         f"above the {limit / 2**20:,.1f} MiB ceiling ({limit:,} B, max_memory=); use a smaller spec "
                         f"or raise the ceiling")
    return need


def check_arrays(spec: Spec, dim: int, arrays: dict) -> None:
    """Raise ArtifactError unless ``arrays`` are exactly the plan's: same names, dtypes and shapes,
    and every float finite (a NaN codebook would decode garbage without any error)."""
    plan = expected_arrays(spec, dim)
    extra = sorted(set(arrays) - set(plan))
    if extra:
        raise ArtifactError(f"artifact has array {extra[0]!r}, which spec {spec.text!r} at dimension {dim} does "
                            f"not use ({len(extra)} unexpected array(s))")
    for name, (dtype, shape) in plan.items():
        arr = arrays.get(name)
        if arr is None:
            raise ArtifactError(f"artifact is missing array {name!r} required by its spec {spec.text!r}")
        if arr.dtype.name != dtype or tuple(arr.shape) != shape:
            raise ArtifactError(f"artifact array {name!r} is {arr.dtype.name} {tuple(arr.shape)}, spec "
                                f"{spec.text!r} at dimension {dim} needs {dtype} {shape}")
        if dtype == "float32" and not np.isfinite(arr).all():
            raise ArtifactError(f"artifact array {name!r} holds NaN or Inf values")
