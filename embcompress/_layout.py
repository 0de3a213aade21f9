"""What a codec holds, from its spec and input dimension alone: its stages, the exact arrays
of each stage (name, dtype, shape) and the memory the rebuilt codec takes.

Nothing here builds a faiss object or allocates an array. The loader compares an artifact's
arrays with :func:`expected_arrays` before anything else happens, so a hostile artifact cannot
hand faiss an array shorter than the one it will read; :func:`memory_bytes` lets both the
loader and ``fit`` refuse a spec whose codec would exceed the caller's memory ceiling before
they allocate it. :class:`~embcompress._pipeline.Pipeline` builds its stages from
:func:`stages`, so the plan and the codec cannot disagree on names.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ArtifactError
from .spec import Piece, Spec, output_dim

DEFAULT_MAX_MEMORY = 2 << 30  # bytes a loaded or fitted codec may hold, unless the caller says otherwise
STATS = ("stats.mean", "stats.min", "stats.max")
# a numpy stage that declares no memory of its own is counted at three times its arrays
_NUMPY_COPIES = 3


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


def stages(spec: Spec, dim: int) -> list:
    """The stages a codec of ``spec`` on ``dim``-d input is made of, code stage last."""
    out: list[Stage] = []
    run: list = []
    d = dim

    def close_run(code=None):
        nonlocal run, d
        prefix = "code." if code is not None else f"s{len(out)}."
        d_out = output_dim(run, d)
        out.append(Stage(prefix, True, tuple(run), code, d, d_out))
        run, d = [], d_out

    for t in spec.transforms:
        if t.info.faiss is not None:
            run.append(t)
            continue
        if run:
            close_run()
        d_out = t.output_dim(d)
        out.append(Stage(f"s{len(out)}.", False, (t,), None, d, d_out))
        d = d_out
    if spec.code.info.faiss is not None:
        close_run(spec.code)
    else:
        if run:
            close_run()
        out.append(Stage("code.", False, (spec.code,), None, d, d))
    return out


def _faiss_arrays(stage: Stage) -> dict:
    """A segment's arrays: ``t{i}.`` then each transform's own names, ``code.`` then the code's."""
    arrays: dict[str, tuple[str, tuple[int, ...]]] = {}
    d = stage.d_in
    for i, t in enumerate(stage.pieces):
        d_out = t.output_dim(d)
        arrays.update({f"t{i}.{name}": plan for name, plan in t.info.arrays(t.args, d, d_out).items()})
        d = d_out
    code = stage.code
    if code is not None:
        arrays.update({f"code.{name}": plan for name, plan in code.info.arrays(code.args, d, d).items()})
    return arrays


def _custom_arrays(stage: Stage) -> dict:
    piece = stage.pieces[0]
    return piece.info.arrays(piece.args, stage.d_in, stage.d_out)


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


def _piece_bytes(piece: Piece, d_in: int, d_out: int) -> int:
    memory = piece.info.memory
    return 0 if memory is None else memory(piece.args, d_in, d_out)


def _stage_bytes(stage: Stage) -> int:
    """Bytes a rebuilt stage holds beyond its arrays' own float32/int64 storage: what its kinds
    declare, or for a numpy stage that declares nothing, copies of its arrays."""
    if stage.faiss:
        total, d = 0, stage.d_in
        for t in stage.pieces:
            d_out = t.output_dim(d)
            total += _piece_bytes(t, d, d_out)
            d = d_out
        return total if stage.code is None else total + _piece_bytes(stage.code, d, d)
    piece = stage.pieces[0]
    if piece.info.memory is not None:
        return _piece_bytes(piece, stage.d_in, stage.d_out)
    return _NUMPY_COPIES * sum(4 * _elements(shape) if dtype == "float32" else 8 * _elements(shape)
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
