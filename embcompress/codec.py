"""The fitted codec: encode, decode, score and search embeddings, and travel as a safe artifact."""
from __future__ import annotations

import os
import platform
from functools import cached_property
from hashlib import sha256

import faiss
import numpy as np
import numpy.typing as npt

from . import storage
from . import _artifact as artifact
from . import _layout as layout
from . import _scoring as scoring
from . import _binary as binary
from . import _files as files
from ._typing import PathOrURL, Vectors
from ._version import __version__
from ._checks import METRICS, check_k
from .arrow import vectors_from_arrow
from .errors import ArtifactError, EmbeddingError
from ._pipeline import Pipeline
from .spec import MAX_DIM, parse_spec
from ._validation import as_float_matrix, check_queries, find_invalid, raise_on_invalid

METRIC_NAMES = METRICS
SCORE_MODES = ("asymmetric", "hamming")
MAX_ARTIFACT_BYTES = artifact.MAX_PAYLOAD_BYTES + artifact.MAX_HEADER_BYTES + 64 + artifact.MAC_BYTES
ENCODE_BLOCK = 65536


def library_versions() -> dict:

    return {"embcompress": __version__, "faiss": faiss.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


class Codec:
    """A fitted codec. Build one with :func:`embcompress.fit` or load one with :func:`embcompress.load`.

    ``encode`` is a pure function of the codec and its input: the same rows give the same
    bytes in any process, which is what makes Spark and Beam retries safe.
    """

    def __init__(self, header: dict, arrays: dict):
        self._header = header
        self._spec = parse_spec(header["spec"])
        self._pipeline = Pipeline(self._spec, header["dim"], header["metric"], header["seed"])
        self._pipeline.load(arrays)
        self._arrays = arrays
        self._blob: bytes | None = None

    # ----- identity -------------------------------------------------------------------------
    @property
    def spec(self) -> str:
        return self._spec.text

    @property
    def dim(self) -> int:
        return self._header["dim"]

    @property
    def metric(self) -> str:
        return self._header["metric"]

    @property
    def seed(self) -> int:
        return self._header["seed"]

    @cached_property
    def code_size(self) -> int:
        return self._pipeline.code_size

    @property
    def columns(self) -> list:
        """The embedding columns this codec was fitted on (it may serve others of the same dim)."""
        return list(self._header.get("columns", []))

    @property
    def fit_stats(self) -> dict:
        """Statistics measured at fit time (sample sizes, held-back MSE and recall@10)."""
        return dict(self._header.get("fit", {}))

    @property
    def header(self) -> dict:
        return dict(self._header)

    @property
    def needs_nonzero_norm(self) -> bool:
        return self._spec.needs_nonzero_norm

    @property
    def fingerprint(self) -> str:
        """sha256 hex digest of the artifact bytes: equal fingerprints mean identical codecs."""
        return sha256(self.to_bytes()).hexdigest()

    def __repr__(self):
        return (f"Codec(spec={self.spec!r}, dim={self.dim}, code_size={self.code_size}, "
                f"metric={self.metric!r}, fingerprint={self.fingerprint[:12]})")

    def array(self, name: str) -> np.ndarray:
        """A named learned array from the artifact (read-only)."""
        return self._arrays[name]

    # ----- encode / decode --------------------------------------------------------------------
    def _matrix(self, x, column=None) -> np.ndarray:
        if type(x).__module__.startswith("pyarrow"):
            batch = vectors_from_arrow(x, dim=self.dim, column=column, nonzero_norm=self.needs_nonzero_norm)
            raise_on_invalid(batch.invalid, batch.reasons, column=column)
            return batch.matrix
        return as_float_matrix(x, column=column, dim=self.dim)

    def encode(self, x: Vectors, *, validate: bool = True, column: str | None = None) -> np.ndarray:
        """Encode (n, dim) vectors to (n, code_size) uint8 codes.

        Bad rows (NaN, Inf, zero norm where the spec normalizes) raise EmbeddingError naming
        the row; ``validate=False`` skips the check for callers that already validated.
        """
        x = self._matrix(x, column)
        if validate:
            mask, reasons = find_invalid(x, nonzero_norm=self.needs_nonzero_norm)
            raise_on_invalid(mask, reasons, column=column)
        out = np.empty((len(x), self.code_size), dtype=np.uint8)
        for start in range(0, len(x), ENCODE_BLOCK):
            stop = min(len(x), start + ENCODE_BLOCK)
            self._pipeline.encode(x[start:stop], out[start:stop])
        return out

    def _check_codes(self, codes) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.dtype != np.uint8:
            raise EmbeddingError(f"codes must be uint8, got dtype {codes.dtype}")
        if codes.ndim == 1 and codes.size == self.code_size:
            codes = codes.reshape(1, -1)
        if codes.ndim != 2 or codes.shape[1] != self.code_size:
            got = codes.shape[-1] if codes.ndim else 0
            raise EmbeddingError(f"wrong code size: expected {self.code_size} bytes per code, got {got} "
                                 f"(shape {codes.shape})", hint="decode with the codec that encoded these codes")
        return np.ascontiguousarray(codes)

    def decode(self, codes: npt.ArrayLike) -> np.ndarray:
        """Decode (n, code_size) uint8 codes to (n, dim) float32 reconstructions."""
        return self._pipeline.decode(self._check_codes(codes))

    # ----- score / search --------------------------------------------------------------------
    def _scorer(self, queries, codes, mode):
        """``(q, n, block, similarity)``: ``block(a, b)`` prepares rows a..b of the codes and
        ``similarity(q_part, prepared, metric)`` scores them, in the space scores live in."""
        if mode not in SCORE_MODES:
            raise ValueError(f"mode must be one of {SCORE_MODES}, got {mode!r}")
        codes = self._check_codes(codes)
        queries = as_float_matrix(queries, dim=self.dim, column="queries")
        check_queries(queries)
        p = self._pipeline
        if mode == "hamming":
            if not self._spec.code.info.hamming:
                raise ValueError(f"mode='hamming' needs a binary code (spec ending in BIN), this codec is "
                                 f"{self.spec!r}")
            bits = self._spec.output_dim(self.dim)
            q = binary.unpack_pm1(self.encode(queries), bits)
            # -hamming = (q . x - bits) / 2 for +/-1 vectors: exact in float32 for bits < 2**24
            return q, len(codes), lambda a, b: binary.unpack_pm1(codes[a:b], bits), _minus_hamming
        q = p.forward(queries, upto=p.score_depth)
        sparse = getattr(p.code, "similarity", None)
        if sparse is not None and p.score_depth == len(p.segments):
            return q, len(codes), lambda a, b: codes[a:b], sparse
        return q, len(codes), lambda a, b: p.decode(codes[a:b], p.score_depth), scoring.similarity

    def score(self, queries: npt.ArrayLike, codes: npt.ArrayLike, *, mode: str = "asymmetric") -> np.ndarray:
        """(nq, n) similarity of float queries to coded vectors.

        ``asymmetric``: inner product with the reconstruction (or -squared L2 for
        metric="l2"), computed in the student space for DISTILL codecs and sparsely for TOPK.
        ``hamming`` (BIN codes): minus the Hamming distance between the binarized query and
        the code.
        """
        q, n, block, similarity = self._scorer(queries, codes, mode)
        out = np.empty((len(q), n), dtype=np.float32)
        for start in range(0, n, scoring.DB_BLOCK):
            stop = min(n, start + scoring.DB_BLOCK)
            out[:, start:stop] = similarity(q, block(start, stop), self.metric)
        return out

    def search(self, queries: npt.ArrayLike, codes: npt.ArrayLike, k: int = 10, *,
               rescore: tuple[npt.ArrayLike, float] | None = None, mode: str = "asymmetric",
               exclude: npt.ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` code rows per query: ``(ids, sims)``, both (nq, min(k, n)), best first.

        ``k`` larger than the number of codes ``n`` is clipped to ``n`` (every row is returned),
        so a careless ``k`` never sizes an allocation. ``rescore=(original_vectors, factor)``
        takes ``factor*k`` candidates by code score and re-ranks them by exact similarity to the
        originals. ``exclude[i]`` is a row id never returned for query ``i`` (e.g. the query's
        own row), or -1; it needs one entry per query. NaN or Inf queries raise EmbeddingError.
        """
        check_k(k)
        q, n, block, similarity = self._scorer(queries, codes, mode)
        k = int(min(k, n))
        fetch = k
        if rescore is not None:
            originals, factor = rescore
            originals = as_float_matrix(originals, dim=self.dim)
            if len(originals) != n:
                raise ValueError(f"rescore originals have {len(originals)} rows, the codes {n}")
            if not isinstance(factor, (int, float, np.number)) or isinstance(factor, bool) \
                    or not (np.isfinite(factor) and factor >= 1):
                raise ValueError(f"rescore factor must be a finite number >= 1, got {factor!r}")
            fetch = min(n, max(k, int(np.ceil(factor * k))))
        exclude = None if exclude is None else _exclusions(exclude, len(q), n)
        sims, ids = scoring.blocked_topk(q, n, fetch, block, self.metric, exclude, score_fn=similarity)
        if rescore is not None:
            sims, ids = scoring.rescore(as_float_matrix(queries, dim=self.dim), ids, originals, k, self.metric)
        return ids[:, :k], sims[:, :k]

    # ----- artifact ---------------------------------------------------------------------------
    def to_bytes(self, *, key: bytes | None = None) -> bytes:
        """The artifact: versioned header, named arrays, sha256 (layout in :mod:`embcompress._artifact`).

        With ``key`` (at least 16 bytes), an HMAC-SHA256 trailer follows, which
        ``load(path, key=...)`` requires: proof that whoever wrote the codec held the key.
        """
        if self._blob is None:
            self._blob = artifact.pack(self._header, self._arrays)
        blob: bytes = self._blob
        return blob if key is None else artifact.sign(blob, key)

    @classmethod
    def from_bytes(cls, blob: bytes | bytearray | memoryview, *, key: bytes | None = None,
                   max_memory: int | None = None) -> "Codec":
        """Verify and rebuild a codec from artifact bytes, trusting nothing in them.

        In order, before faiss sees anything: the HMAC when ``key`` is given, sizes and
        checksum, header fields, the spec's limits, the memory the codec would take against
        ``max_memory`` (default ``layout.DEFAULT_MAX_MEMORY``), and every array's name, dtype and
        shape against what the spec and dim require. Any defect raises ArtifactError.
        """
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise ArtifactError(f"artifact must be bytes, got {type(blob).__name__}")
        blob = artifact.verify_mac(blob, key) if key is not None else artifact.strip_mac(blob)
        header, arrays = artifact.unpack(blob)
        spec = _check_header(header)
        try:
            layout.check_memory(spec, header["dim"], max_memory)
        except ValueError as exc:
            raise ArtifactError(f"artifact refused: {exc}") from None
        layout.check_arrays(spec, header["dim"], arrays)
        try:
            codec = cls(header, arrays)
        except (ValueError, RuntimeError) as exc:
            if isinstance(exc, ArtifactError):
                raise
            raise ArtifactError(f"artifact does not describe a valid codec: {exc}") from None
        codec._blob = blob
        return codec

    def save(self, path: PathOrURL, *, overwrite: bool = False, key: bytes | None = None) -> str:
        """Write the artifact atomically (temporary file, then rename; one PUT on an object
        store such as ``s3://``); signed when ``key`` is given.

        An existing file with different bytes is an error unless ``overwrite=True``.
        """
        path = os.fspath(path)
        blob = self.to_bytes(key=key)
        if not storage.is_local(path):
            if not overwrite and storage.exists(path):
                if storage.size(path) == len(blob) and storage.read_bytes(path, limit=len(blob)) == blob:
                    return path
                raise FileExistsError(f"{path} already holds a different artifact; pass overwrite=True to replace it")
            try:
                storage.write_bytes(path, blob, overwrite=True)
            except OSError as exc:
                raise OSError(f"cannot write {path}: {str(exc).splitlines()[0]}") from None
            return path
        if os.path.exists(path) and not overwrite:
            with open(path, "rb") as f:
                if f.read(len(blob) + 1) == blob:
                    return path
            raise FileExistsError(f"{path} already holds a different artifact; pass overwrite=True to replace it")
        write_atomically(path, blob)
        return path


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, fsync, then rename onto ``path``.

    The file is created read-only for group and others (0o644 whatever the umask): a shared
    codec must not be writable by anyone but its owner.
    """
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _exclusions(exclude, nq: int, n: int) -> np.ndarray:
    """``exclude`` as (nq,) int64 row ids in [-1, n); ValueError naming the problem otherwise."""
    arr = np.asarray(exclude)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"exclude must hold integer row ids, got dtype {arr.dtype}")
    if arr.shape != (nq,):
        raise ValueError(f"exclude needs one row id per query ({nq}), got shape {arr.shape}")
    if arr.size and (arr.min() < -1 or arr.max() >= n):
        raise ValueError(f"exclude holds row ids outside [-1, {n}): min {arr.min()}, max {arr.max()}")
    return arr.astype(np.int64)


def _minus_hamming(q_pm1, x_pm1, metric):
    return (q_pm1 @ x_pm1.T - q_pm1.shape[1]) / 2


def _check_header(header: dict):
    """The parsed spec of a header whose fields have the right types and ranges; ArtifactError if not."""
    scalars: tuple[tuple[str, type], ...] = (("spec", str), ("dim", int), ("metric", str), ("seed", int))
    for key, kind in scalars:
        if type(header.get(key)) is not kind:  # not isinstance: JSON true would pass as the int 1
            raise ArtifactError(f"artifact header field {key!r} is missing or not a {kind.__name__}")
    if header["metric"] not in METRIC_NAMES:
        raise ArtifactError(f"artifact metric {header['metric']!r:.40} is not one of {METRIC_NAMES}")
    if not 1 <= header["dim"] <= MAX_DIM:
        raise ArtifactError(f"artifact dim {header['dim']} is out of range 1..{MAX_DIM}")
    if not 0 <= header["seed"] < 2**31:
        raise ArtifactError(f"artifact seed {header['seed']} is out of range [0, 2**31)")
    containers: tuple[tuple[str, type], ...] = (("columns", list), ("fit", dict), ("versions", dict))
    for key, kind in containers:
        if key in header and not isinstance(header[key], kind):
            raise ArtifactError(f"artifact header field {key!r} is not a {kind.__name__}")
    try:
        spec = parse_spec(header["spec"])
        spec.check_dim(header["dim"])
    except ValueError as exc:
        raise ArtifactError(f"artifact spec is invalid: {str(exc).splitlines()[0]}") from None
    return spec


def load(path: PathOrURL, *, key: bytes | None = None, max_memory: int | None = None) -> Codec:
    """Load and verify a codec artifact written by :meth:`Codec.save`.

    Only a regular file is read (a FIFO or device is refused without blocking), and only when
    it is no larger than ``max_memory``; ``key`` requires and checks an HMAC signature. See
    :meth:`Codec.from_bytes` for what is verified.
    """
    path = os.fspath(path)
    cap = min(MAX_ARTIFACT_BYTES, layout.DEFAULT_MAX_MEMORY if max_memory is None else max_memory)
    if not storage.is_local(path):  # s3://, gs://, ...: the store says the size before any byte is read
        try:
            blob = storage.read_bytes(path, limit=cap)
        except FileNotFoundError:
            raise storage.missing(path, "codec artifact") from None
        except (IsADirectoryError, ValueError) as exc:
            raise ArtifactError(str(exc)) from None
        return Codec.from_bytes(blob, key=key, max_memory=max_memory)
    try:
        blob = files.read_regular_file(storage.resolve(path)[1] if path.startswith("file:") else path, cap,
                                       "codec artifact")
    except files.UnsafeFileError as exc:
        raise ArtifactError(str(exc)) from None
    return Codec.from_bytes(blob, key=key, max_memory=max_memory)
