"""A codec's processing chain: segments of transforms, then one code.

Consecutive faiss-native pieces form one faiss segment (an ``index_factory`` object), so a
spec faiss understands runs entirely inside faiss and stays byte-identical to it. Pieces
faiss lacks (HASH, PRUNE, TRUNC, DISTILL transforms; BIN, TOPK, MP codes) are numpy
stages in between. Every stage exports its learned state as named arrays for the artifact.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _faiss_backend as fb
from . import _layout as layout
from .errors import ArtifactError
from .spec import Piece, Spec, parse_spec
from .techniques import STAGES

FLAT = Piece("Flat", "Flat", ())


class FaissSegment:
    """A run of faiss transforms, optionally ending in a faiss code, as one faiss index."""

    def __init__(self, transforms: tuple, code: Piece | None, d_in: int, metric: str):
        self.spec = Spec(",".join([t.text for t in transforms] + [(code or FLAT).text]), transforms, code or FLAT)
        self.has_code = code is not None
        self.d_in, self.metric = d_in, metric
        self.d_out = self.spec.output_dim(d_in)
        self.index = fb.new_index(self.spec, d_in, metric)
        self._inverse = None
        # faiss's local search perturbs codes with one random stream per call: a row's code
        # would depend on its batch, so each row is encoded in a call of its own
        self.row_by_row = self.spec.code.info.row_by_row

    def fit(self, x: np.ndarray, seed: int, moments=None) -> None:
        """Train on ``x``; given ``moments``, the leading PCA comes from them and ``x`` trains the rest."""
        fb.apply_seed(self.index, seed)
        if moments is not None:
            fb.set_leading_pca(self.index, moments)
        with fb.quiet_opq_training(self.index):
            self.index.train(x)
        self.extra = {}
        for i, t in enumerate(self.spec.transforms):
            if t.kind == "ITQ":
                inputs = fb.apply_chain(self.index, x, upto=i)
                centred = inputs - fb._vec(fb.chain(self.index)[i].mean)
                self.extra[f"t{i}.itq_norm"] = np.array([np.linalg.norm(centred, axis=1).mean()], np.float32)

    def export(self) -> dict:
        return {**fb.export_state(self.index), **self.extra}

    def load(self, arrays: dict) -> None:
        self.index = fb.import_state(self.spec, self.d_in, self.metric, arrays)
        self.extra = {k: v for k, v in arrays.items() if k.endswith(".itq_norm")}

    @property
    def code_size(self) -> int:
        return int(self.index.sa_code_size())

    def _exact(self):
        if self._inverse is None:
            norms = {int(k[1:-len(".itq_norm")]): float(v[0]) for k, v in self.extra.items()}
            self._inverse = fb.ExactChain(self.index, norms)
        return self._inverse

    def forward(self, x):
        return self._exact().forward(x)

    def inverse(self, y):
        return self._exact().inverse(y)

    def encode(self, x, out) -> None:
        if len(self._exact()) == 0:
            index, y = self.index, x
        else:
            index, y = fb.code_index(self.index), self.forward(x)
        if not self.row_by_row:
            index.sa_encode(y, out)
            return
        y = np.ascontiguousarray(y, dtype=np.float32)
        for i in range(len(y)):
            out[i] = index.sa_encode(y[i: i + 1])[0]

    def decode(self, codes):
        if len(self._exact()) == 0:
            return self.index.sa_decode(codes)
        return self.inverse(fb.code_index(self.index).sa_decode(codes))


class Pipeline:
    """Transform segments then a code; built from a spec, then fitted or loaded."""

    def __init__(self, spec: Spec, dim: int, metric: str, seed: int):
        self.spec, self.dim, self.metric, self.seed = spec, dim, metric, seed
        self.segments = []
        for stage in layout.stages(spec, dim):
            part: Any
            if stage.faiss:
                part = FaissSegment(stage.pieces, stage.code, stage.d_in, metric)
            else:
                piece = stage.pieces[0]
                part = STAGES[piece.kind](piece, stage.d_in, metric, seed)
            if stage.prefix == "code.":
                self.code = part
            else:
                self.segments.append(part)
        # scores are computed after the last transform that only makes sense for queries too
        self.score_depth = max((j + 1 for j, s in enumerate(self.segments) if getattr(s, "score_in_output", False)),
                               default=0)

    def _stages(self):
        return [(f"s{j}.", s) for j, s in enumerate(self.segments)] + [("code.", self.code)]

    @property
    def leads_with_pca(self) -> bool:
        """Whether the first stage starts with a PCA or whitened PCA, which moments can fit."""
        first = self._stages()[0][1]
        return isinstance(first, FaissSegment) and bool(first.spec.transforms) \
            and first.spec.transforms[0].info.fits_from_moments

    def fit(self, x: np.ndarray, seed: int, moments=None) -> None:
        """Train stage by stage on ``x``; ``moments`` (of a larger sample) fit a leading PCA instead."""
        if moments is not None and not self.leads_with_pca:
            raise ValueError(f"spec {self.spec.text!r} does not start with PCA or PCAW; moments cannot fit it")
        for _, stage in self._stages():
            if moments is not None:
                stage.fit(x, seed, moments)
                moments = None
            else:
                stage.fit(x, seed)
            if stage is not self.code:
                x = np.ascontiguousarray(stage.forward(x), dtype=np.float32)

    def export(self) -> dict:
        return {prefix + name: arr for prefix, stage in self._stages() for name, arr in stage.export().items()}

    def load(self, arrays: dict) -> None:
        for prefix, stage in self._stages():
            mine = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            try:
                stage.load(mine)
            except (KeyError, ValueError, TypeError) as exc:
                if isinstance(exc, ArtifactError):
                    raise
                raise ArtifactError(f"artifact arrays for {prefix[:-1]} do not fit spec {self.spec.text!r}: {exc}") \
                    from None

    @property
    def code_size(self) -> int:
        return self.code.code_size

    def forward(self, x, upto=None):
        for stage in self.segments[:upto]:
            x = np.ascontiguousarray(stage.forward(x), dtype=np.float32)
        return x

    def encode(self, x, out) -> None:
        self.code.encode(self.forward(x), out)

    def decode(self, codes, depth: int = 0):
        """Reconstruct codes in the space after the first ``depth`` segments (0: the input space)."""
        y = self.code.decode(codes)
        for stage in reversed(self.segments[depth:]):
            y = stage.inverse(y)
        return np.ascontiguousarray(y, dtype=np.float32)


def code_size(spec: str | Spec, dim: int) -> int:
    """Bytes per vector that ``spec`` produces for ``dim``-dimensional input, without fitting."""
    parsed = parse_spec(spec)
    parsed.check_dim(dim)
    return Pipeline(parsed, dim, "ip", 0).code_size
