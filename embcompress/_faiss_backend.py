"""Everything that touches faiss objects: build, seed, export/import trained state, reverse transforms.

Trained state is exported as plain named float arrays (transform matrices, codebooks, SQ
ranges) and rebuilt by filling an untrained ``index_factory`` object. faiss's own
serializer is never used on load, so a hostile artifact cannot make faiss allocate.
"""
from __future__ import annotations

import contextlib
from typing import Any

import faiss
import numpy as np

from . import _exact as exact
from .errors import ArtifactError
from .spec import Spec

METRICS = {"ip": faiss.METRIC_INNER_PRODUCT, "l2": faiss.METRIC_L2}
_RR_SEED, _KMEANS_SEED, _ITQ_SEED, _LSQ_SEED = 12345, 1234, 123, 0x12345


def new_index(spec: Spec, dim: int, metric: str):
    index = faiss.index_factory(dim, spec.faiss_factory, METRICS[metric])
    for cp in _clustering_parameters(index):
        cp.min_points_per_centroid = 1  # only silences faiss's "too few points" warning
    _configure_additive(index, spec)
    return index


def additive_quantizers(index) -> list:
    """The additive quantizers that encode (the sub-quantizers of a product one), downcast."""
    inner = code_index(index)
    if not isinstance(inner, faiss.IndexAdditiveQuantizer):
        return []
    downcast = faiss.downcast_AdditiveQuantizer  # type: ignore[attr-defined]  # SWIG helpers faiss's stubs omit
    aq = downcast(inner.aq)
    if isinstance(aq, faiss.ProductAdditiveQuantizer):
        return [downcast(aq.subquantizer(i)) for i in range(aq.nsplits)]
    return [aq]


def _configure_additive(index, spec: Spec) -> None:
    """Set the spec's beam size and k-means steps (RQ, PRQ) or local-search iterations (LSQ, PLSQ)
    on the built index."""
    code = spec.code
    for q in additive_quantizers(index):
        if isinstance(q, faiss.ResidualQuantizer):
            q.max_beam_size = code.args[2]
            q.cp.progressive_dim_steps = code.args[3]
            q.cp.apply_pca = bool(code.args[4])
        elif isinstance(q, faiss.LocalSearchQuantizer):
            q.encode_ils_iters, q.train_iters = code.args[2], code.args[3]
            q.nperts = min(q.nperts, q.M)  # faiss perturbs 4 codebooks per step and fails below 4


def chain(index) -> list:
    """The vector transforms of an index, downcast to their concrete faiss classes."""
    if not isinstance(index, faiss.IndexPreTransform):
        return []
    vectors: Any = index.chain  # a SWIG std::vector: at() and size(), not a Python list
    return [faiss.downcast_VectorTransform(vectors.at(i)) for i in range(vectors.size())]


def code_index(index):
    """The index that holds the codes (inside an IndexPreTransform, or the index itself)."""
    if isinstance(index, faiss.IndexPreTransform):
        return faiss.downcast_index(index.index)
    return index


def _clustering_parameters(index) -> list:
    inner = code_index(index)
    if isinstance(inner, faiss.IndexPQ):
        return [inner.pq.cp]
    return [q.cp for q in additive_quantizers(index) if isinstance(q, faiss.ResidualQuantizer)]


def apply_seed(index, seed: int) -> None:
    """Offset faiss's default seeds by ``seed``: seed 0 reproduces faiss's defaults exactly."""
    if seed == 0:
        return
    for vt in chain(index):
        if isinstance(vt, faiss.RandomRotationMatrix):
            vt.init(_RR_SEED + seed)
            vt.is_trained = True
        elif isinstance(vt, faiss.ITQTransform):
            vt.itq.seed = _ITQ_SEED + seed
    for cp in _clustering_parameters(index):
        cp.seed = _KMEANS_SEED + seed
    for q in additive_quantizers(index):
        if isinstance(q, faiss.LocalSearchQuantizer):
            q.random_seed = _LSQ_SEED + seed


@contextlib.contextmanager
def quiet_opq_training(index):
    """Train OPQ with an explicit product quantizer whose k-means does not warn on small samples.

    OPQ's default internal quantizer prints one "please provide at least N training points"
    line per iteration; an identical quantizer with the warning threshold lowered gives the
    same matrices and codes (tested) without flooding the caller's output.
    """
    attached = []
    for vt in chain(index):
        if isinstance(vt, faiss.OPQMatrix) and not vt.is_trained:
            pq = faiss.ProductQuantizer(vt.d_out, vt.M, 8)
            pq.cp.min_points_per_centroid = 1
            vt.pq = pq
            attached.append((vt, pq))
    try:
        yield
    finally:
        for vt, _ in attached:
            vt.pq = None


def set_leading_pca(index, moments) -> None:
    """Fill the first transform of ``index``, a PCAMatrix, from :class:`~embcompress._moments.Moments`.

    faiss then trains only what follows it (``IndexPreTransform.train`` skips trained transforms).
    """
    vt = chain(index)[0]
    if not isinstance(vt, faiss.PCAMatrix) or vt.random_rotation or vt.balanced_bins:
        raise ValueError("moments can fit only a plain or whitened PCA in first position")
    if moments.dim != vt.d_in:
        raise ValueError(f"moments of {moments.dim}-d vectors cannot fit a PCA of {vt.d_in}-d ones")
    a, b = moments.pca(vt.d_out, vt.eigen_power, vt.epsilon)
    faiss.copy_array_to_vector(a.ravel(), vt.A)
    faiss.copy_array_to_vector(b, vt.b)
    vt.is_trained = True
    vt.set_is_orthonormal()


def _vec(v) -> np.ndarray:
    return faiss.vector_to_array(v)


def export_state(index) -> dict:
    """Trained parameters of ``index`` as named numpy arrays."""
    arrays = {}
    for i, vt in enumerate(chain(index)):
        lt = vt.pca_then_itq if isinstance(vt, faiss.ITQTransform) else vt
        if isinstance(vt, faiss.ITQTransform):
            arrays[f"t{i}.mean"] = _vec(vt.mean)
        if isinstance(lt, faiss.LinearTransform):
            arrays[f"t{i}.A"] = _vec(lt.A).reshape(lt.d_out, lt.d_in)
            if lt.have_bias:
                arrays[f"t{i}.b"] = _vec(lt.b)
    inner = code_index(index)
    if isinstance(inner, faiss.IndexScalarQuantizer):
        arrays["code.sq"] = _vec(inner.sq.trained)
    elif isinstance(inner, faiss.IndexPQ):
        arrays["code.centroids"] = _vec(inner.pq.centroids)
    elif isinstance(inner, faiss.IndexAdditiveQuantizer):
        arrays["code.codebooks"] = np.concatenate([_vec(q.codebooks) for q in additive_quantizers(index)])
    elif isinstance(inner, faiss.IndexRaBitQ):
        arrays["code.center"] = _vec(inner.center)
    return arrays


def _fill(target, arrays: dict, name: str, sizes: tuple) -> None:
    arr = arrays.get(name)
    if arr is None:
        raise ArtifactError(f"artifact is missing array {name!r} required by its spec")
    if arr.dtype != np.float32 or arr.size not in sizes:
        raise ArtifactError(f"artifact array {name!r} has {arr.size} {arr.dtype} values, expected {sizes} float32")
    faiss.copy_array_to_vector(np.ascontiguousarray(arr, dtype=np.float32).ravel(), target)


def import_state(spec: Spec, dim: int, metric: str, arrays: dict):
    """Rebuild a trained index from exported arrays, checking every size against the spec."""
    index = new_index(spec, dim, metric)
    for i, vt in enumerate(chain(index)):
        lt = vt.pca_then_itq if isinstance(vt, faiss.ITQTransform) else vt
        if isinstance(vt, faiss.ITQTransform):
            _fill(vt.mean, arrays, f"t{i}.mean", (vt.d_in,))
            lt.d_in, lt.d_out = vt.d_in, vt.d_out
        if isinstance(lt, faiss.LinearTransform):
            _fill(lt.A, arrays, f"t{i}.A", (lt.d_in * lt.d_out,))
            lt.have_bias = f"t{i}.b" in arrays
            if lt.have_bias:
                _fill(lt.b, arrays, f"t{i}.b", (lt.d_out,))
            lt.is_trained = True
            lt.set_is_orthonormal()
        vt.is_trained = True
    inner = code_index(index)
    d = inner.d
    if isinstance(inner, faiss.IndexScalarQuantizer):
        _fill(inner.sq.trained, arrays, "code.sq", (0, 2, 2 * d))
    elif isinstance(inner, faiss.IndexPQ):
        _fill(inner.pq.centroids, arrays, "code.centroids", (inner.pq.ksub * d,))
    elif isinstance(inner, faiss.IndexAdditiveQuantizer):
        _fill_additive(index, arrays)
    elif isinstance(inner, faiss.IndexRaBitQ):
        _fill(inner.center, arrays, "code.center", (d,))
    inner.is_trained = True
    index.is_trained = True
    return index


def _fill_additive(index, arrays: dict) -> None:
    """Codebooks of an additive quantizer; a product one also gives each sub-quantizer its share, in order."""
    aq = faiss.downcast_AdditiveQuantizer(code_index(index).aq)  # type: ignore[attr-defined]
    subs = additive_quantizers(index)
    _fill(aq.codebooks, arrays, "code.codebooks", (sum(q.total_codebook_size * q.d for q in subs),))
    if isinstance(aq, faiss.ProductAdditiveQuantizer):
        books, start = arrays["code.codebooks"].ravel(), 0
        for q in subs:
            size = q.total_codebook_size * q.d
            faiss.copy_array_to_vector(np.ascontiguousarray(books[start: start + size], dtype=np.float32),
                                       q.codebooks)
            q.is_trained = True
            start += size
    aq.is_trained = True


TRANSFORM_BLOCK = exact.BLOCK_ROWS


class ExactChain:
    """The transforms of a faiss chain, computed so each row's result depends on that row only.

    faiss applies linear transforms with a float32 BLAS call whose rounding depends on how
    many rows share the call, so the same vector can land on either side of a quantization
    boundary depending on its batch: a Spark task and a Beam bundle would disagree. Here the
    products run in float64 and are rounded once to float32, which makes every row's result
    independent of its batch (and of the BLAS build). The inverse uses the transposed matrix
    where faiss would (orthonormal rows) and the pseudo-inverse where faiss cannot invert
    (whitened PCA, ITQ). ITQ centres and L2-normalizes its input, so its inverse restores
    the average centred norm measured on the fit sample (``itq_norms``).
    """

    def __init__(self, index, itq_norms: dict):
        self.steps: list[tuple[str, Any, Any, Any]] = []
        for i, vt in enumerate(chain(index)):
            if isinstance(vt, faiss.ITQTransform):
                a = _vec(vt.pca_then_itq.A).reshape(vt.d_out, vt.d_in).astype(np.float64)
                self.steps.append(("itq", a, _vec(vt.mean).astype(np.float64), float(itq_norms.get(i, 1.0))))
            elif isinstance(vt, faiss.LinearTransform):
                a = _vec(vt.A).reshape(vt.d_out, vt.d_in).astype(np.float64)
                b = _vec(vt.b).astype(np.float64) if vt.have_bias else np.zeros(vt.d_out)
                self.steps.append(("linear", a, b, bool(vt.is_orthonormal)))
            else:
                self.steps.append(("faiss", vt, None, None))
        self._inverses = [None] * len(self.steps)

    def __len__(self):
        return len(self.steps)

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = None
        for start in range(0, len(x), TRANSFORM_BLOCK):
            y = self._forward_block(x[start: start + TRANSFORM_BLOCK])
            if out is None:
                out = np.empty((len(x), y.shape[1]), dtype=np.float32)
            out[start: start + len(y)] = y
        return out if out is not None else np.zeros((0, self.d_out_of(x.shape[1])), np.float32)

    def d_out_of(self, d: int) -> int:
        for kind, a, _, _ in self.steps:
            d = a.shape[0] if kind != "faiss" else a.d_out
        return d

    def _forward_block(self, x):
        for kind, a, b, _ in self.steps:
            if kind == "faiss":
                x = a.apply(np.ascontiguousarray(x, dtype=np.float32))
                continue
            x64 = np.asarray(x, dtype=np.float64)
            if kind == "itq":
                x64 = x64 - b
                norms = np.sqrt(np.einsum("ij,ij->i", x64, x64))
                x64 = x64 / np.where(norms > 0, norms, 1)[:, None]
                x = (x64 @ a.T).astype(np.float32)
            else:
                x = exact.matmul(x64, a.T, b)
        return np.ascontiguousarray(x, dtype=np.float32)

    def _inverse_matrix(self, i):
        if self._inverses[i] is None:
            kind, a, _, orthonormal = self.steps[i]
            self._inverses[i] = a if (kind == "linear" and orthonormal) else np.linalg.pinv(a).T
        return self._inverses[i]

    def inverse(self, y: np.ndarray) -> np.ndarray:
        for i in reversed(range(len(self.steps))):
            kind, a, b, extra = self.steps[i]
            if kind == "faiss":
                y = a.reverse_transform(np.ascontiguousarray(y, dtype=np.float32))
                continue
            back = self._inverse_matrix(i)
            y64 = np.asarray(y, dtype=np.float64)
            if kind == "itq":
                y = (b + extra * (y64 @ back)).astype(np.float32)
            else:
                y = ((y64 - b) @ back).astype(np.float32)
        return np.ascontiguousarray(y, dtype=np.float32)


def apply_chain(index, x: np.ndarray, upto: int | None = None) -> np.ndarray:
    """Apply the first ``upto`` transforms with faiss itself (fit-time statistics only)."""
    for vt in chain(index)[:upto]:
        x = vt.apply(np.ascontiguousarray(x, dtype=np.float32))
    return x
