"""Measure codec specs on the user's own data and choose one for a byte or recall target.

The pieces, each small:

- :func:`load_vectors` reads a seeded sample of an embedding column row group by row group;
- :class:`Bench` holds back queries, computes their exact neighbours once, and
  :meth:`Bench.measure` fits and scores one spec (bytes, recall@1/10/100, rescoring, MSE, speed);
- :data:`GRID` is the candidate list: spec templates expanded per byte size, so a new codec
  (HASH, TRUNC, ...) is one more string;
- :func:`pareto_front` and :func:`choose` turn measured rows into a recommendation with a reason.

None of faiss, Spark, Beam or the vector databases picks a codec from a byte or recall
target on the user's data; this module does, by measuring rather than guessing.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import embcompress as ec
from .arrow import vectors_from_arrow
from . import parquet_io, protocol
from .errors import EmbeddingError
from .spec import MAX_DIM, parse_spec
from ._validation import raise_on_invalid

RECALL_KS = (1, 10, 100)
RESCORE_FACTOR = 4
DEFAULT_SAMPLE = 10_000

# Spec templates. "{B}" is the target byte size, "{B2}"/"{B4}"/"{B6}"/"{B8}" are multiples of it, "{H}"
# half of it (even sizes only) and "{d}" the input dimension. Every template is expanded for every
# size in BYTE_SIZES; expansions the dimension does not allow (PCA wider than d, PQ not dividing d,
# ...) are dropped. Add a codec by adding its template here.
# The grid's own residual quantizers train each codebook with 3 progressive k-means steps on the
# raw residual dimensions, not faiss's 10 in a PCA basis: about 3x faster at 768-d for the same
# recall within noise (docs/quality.md), which keeps what recommend proposes under 10 minutes at
# 100k x 768 on 2 cores (benchmarks/bench_fit_time.py). faiss's RQ{B}x8 stays a baseline.
FAST_RQ_TRAINING = "_p3_nopca"
GRID = [
    "SQfp16", "SQ8", "SQ6", "SQ4", "BIN",
    "PCA{B},SQ8", "PCA{B2},SQ4", "PCA{B8},BIN",
    "PQ{B2}x4", "PCA{B4},PQ{B}", "PCAR{B4},PQ{B}", "PCAR{B6},PQ{B}", "PQ{B}", "OPQ{B},PQ{B}",
    "RQ{B}x8", "LSQ{B}x8", f"RQ{{B}}x8{FAST_RQ_TRAINING}", f"PRQ2x{{H}}x8{FAST_RQ_TRAINING}",
    "UNIT,PCA{B},SQ8", "UNIT,PCA{B2},SQ4", "UNIT,PQ{B}", "UNIT,OPQ{B},PQ{B}", f"UNIT,RQ{{B}}x8{FAST_RQ_TRAINING}",
    f"UNIT,PRQ2x{{H}}x8{FAST_RQ_TRAINING}", "APQ{B}", "OPQ{B},APQ{B}",
    # two 8-bit residual codebooks per OPQ sub-space, greedy (beam 1): encodes at PQ's speed
    "OPQ{H},PRQ{H}x2x8_b1", "UNIT,OPQ{H},PRQ{H}x2x8_b1",
]
# faiss's strongest factory strings at a byte size: always measured by default, whatever the
# time limit, so a recommendation is never worse than what faiss alone offers.
FAISS_BASELINES = ["RQ{B}x8", "OPQ{B},PQ{B}", "PQ{B}", "PCA{B},SQ8", "PCA{B2},SQ4"]
# "UNIT," and APQ templates assume unit-norm vectors; they join the grid only when the sample is unit-norm.
UNIT_PREFIX = "UNIT,"
UNIT_ONLY_CODES = ("APQ",)
UNIT_TOLERANCE = 1e-3
BYTE_SIZES = (8, 16, 24, 32, 48, 64, 96, 128)

# Seconds per "work unit" of the cost model below, measured on the project's 2-core machine
# (faiss PQ32 on 10k x 384 in 38 s); updated from the fits actually timed during a search.
DEFAULT_SECONDS_PER_UNIT = 1.6e-9
# Seconds for the candidates beyond faiss's baselines, which are measured whatever the limit.
DEFAULT_TIME_LIMIT = 300.0


# ----- data ---------------------------------------------------------------------------------
def open_column(path, column: str) -> pq.ParquetFile:
    """Open ``path`` and check that ``column`` exists (the CLI's wording for the hint), and that
    no row group holds vectors longer than any codec accepts (checked from the footer)."""
    source = parquet_io.open_column(path, column, hint="pass one of them with --column")
    parquet_io.check_value_counts(source, column, MAX_DIM, path)
    return source


def load_vectors(path, column: str, *, max_rows=None, seed: int = 0, progress=None) -> np.ndarray:
    """A seeded sample of at most ``max_rows`` vectors (all rows when None), in file order.

    Reads one row group at a time, so memory holds the sample plus one row group.
    """
    source = open_column(path, column)
    n = source.metadata.num_rows
    if max_rows is None or max_rows >= n:
        wanted = None
    else:
        wanted = np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))
    parts, start = [], 0
    for i in range(source.num_row_groups):
        rows = source.metadata.row_group(i).num_rows
        if wanted is not None:
            lo, hi = np.searchsorted(wanted, [start, start + rows])
            local = wanted[lo:hi] - start
        if wanted is None or len(local):
            col = source.read_row_group(i, columns=[column])[column]
            if wanted is not None:
                col = col.take(pa.array(local))
            batch = vectors_from_arrow(col, column=column)
            if wanted is None:
                raise_on_invalid(batch.invalid, batch.reasons, column=column, row_offset=start)
            elif batch.invalid.any():  # name the row of the file, not of the sample
                first = int(np.flatnonzero(batch.invalid)[0])
                raise EmbeddingError(batch.reasons[first], row=int(start + local[first]), column=column,
                                     hint="fix or drop the bad rows before fitting")
            parts.append(np.array(batch.matrix, dtype=np.float32))
        start += rows
        if progress is not None:
            progress(rows)
    if not parts or sum(len(p) for p in parts) == 0:
        raise EmbeddingError(f"{path} has no rows", column=column)
    dims = {p.shape[1] for p in parts}
    if len(dims) > 1:
        raise EmbeddingError(f"vectors of different lengths across row groups: {sorted(dims)}", column=column)
    return np.ascontiguousarray(np.concatenate(parts))


def column_dim(path, column: str) -> int:
    """Vector length of ``column``, from the schema or the first non-null row; checks the type."""
    source = open_column(path, column)
    field_type = source.schema_arrow.field(column).type
    if pa.types.is_fixed_size_list(field_type):
        return field_type.list_size
    for batch in source.iter_batches(batch_size=1024, columns=[column]):  # reads only what it needs
        vectors = vectors_from_arrow(batch.column(0), column=column)
        if vectors.matrix.shape[1]:
            return vectors.matrix.shape[1]
    raise EmbeddingError(f"{path} holds no non-null vector", column=column)


# ----- measurement ----------------------------------------------------------------------------
class Bench:
    """Held-back queries with exact ground truth, and a seeded fit sample from the other rows.

    ``queries`` rows never appear in the fit sample nor the searched database, so recall is
    measured on vectors the codec has not seen.
    """

    def __init__(self, x: np.ndarray, *, queries: int = 1000, sample=DEFAULT_SAMPLE, seed: int = 0,
                 metric: str = "ip"):
        n = len(x)
        n_q = min(queries, n // 2)
        if n_q < 1 or n - n_q < 2:
            raise EmbeddingError(f"too few rows to evaluate: {n}; need at least 4", hint="use a larger file")
        rng = np.random.default_rng(seed)
        q_rows, others = protocol.split_queries(n, n_q, rng)
        self.queries = np.ascontiguousarray(x[q_rows])
        self.database = np.ascontiguousarray(x[others])
        n_db = len(self.database)
        fit_rows = np.arange(n_db) if sample is None or sample >= n_db else np.sort(
            rng.choice(n_db, sample, replace=False))
        self.sample = np.ascontiguousarray(self.database[fit_rows])
        self.metric = metric
        self.seed = seed
        self.k_max = min(max(RECALL_KS), n_db)
        self.truth, _ = ec.exact_search(self.queries, self.database, self.k_max, metric)

    @property
    def dim(self) -> int:
        return self.database.shape[1]

    def fit(self, spec: str):
        """Fit ``spec`` on the sample (every row, as faiss trains); returns ``(codec, seconds)``."""
        start = time.perf_counter()
        codec = ec.fit(spec, self.sample, metric=self.metric, seed=self.seed, holdout=0)
        return codec, time.perf_counter() - start

    def measure(self, spec: str, k: int = 10) -> dict:
        """One report row: fit, encode the database, search the held-back queries."""
        codec, fit_s = self.fit(spec)
        row = self.score(codec, k)
        row["fit_s"] = fit_s
        row["codec"] = codec
        return row

    def score(self, codec, k: int = 10) -> dict:
        start = time.perf_counter()
        codes = codec.encode(self.database)
        encode_s = time.perf_counter() - start
        ids, _ = codec.search(self.queries, codes, k=self.k_max)
        k = min(k, self.k_max)
        rescored, _ = codec.search(self.queries, codes, k=k, rescore=(self.database, RESCORE_FACTOR))
        recon = codec.decode(codes)
        row = {"spec": codec.spec, "bytes": codec.code_size, "ratio": codec.dim * 4 / codec.code_size, "k": k}
        for kk in sorted(set(RECALL_KS) | {k}):
            if kk <= self.k_max:
                row[f"recall@{kk}"] = ec.recall_at_k(ids, self.truth, kk)
        row["recall_rescored"] = ec.recall_at_k(rescored, self.truth, k)
        row["mse"] = float(np.mean(np.sum((self.database - recon) ** 2, axis=1)))
        row["encode_rows_per_s"] = len(codes) / encode_s if encode_s > 0 else float("inf")
        row["artifact_bytes"] = len(codec.to_bytes())
        return row


# ----- candidate grid -------------------------------------------------------------------------
def expand_grid(dim: int, templates=GRID, sizes=BYTE_SIZES) -> list:
    """Concrete specs valid for ``dim``, deduplicated, in template order."""
    out = []
    for template in templates:
        for b in sizes:
            if "{H}" in template and b % 2:
                continue
            spec = template.format(B=b, B2=2 * b, B4=4 * b, B6=6 * b, B8=8 * b, H=b // 2, d=dim)
            if spec in out:
                continue
            try:
                parsed = parse_spec(spec)
                parsed.check_dim(dim)
            except ValueError:
                continue
            if any(_reduces_to_dim_or_more(t, dim) for t in parsed.transforms):
                continue  # a "reduction" to d or more dimensions is just a slower spec
            out.append(spec)
    return out


def _reduces_to_dim_or_more(piece, dim: int) -> bool:
    """Whether ``piece`` explicitly reduces ``dim``-d input to ``dim`` or more dimensions."""
    n = piece.info.reduces_to(piece.args)
    return n is not None and n >= dim


def _sizes(budget_bytes) -> tuple:
    """Byte sizes to expand: all of BYTE_SIZES, or under a budget the budget itself and the
    largest grid size below it (within a family fewer bytes never recall more)."""
    if budget_bytes is None:
        return BYTE_SIZES
    below = [b for b in BYTE_SIZES if b <= budget_bytes]
    return tuple(sorted({budget_bytes, *below[-1:]}))


def is_unit_norm(x: np.ndarray) -> bool:
    """Whether every row has norm 1 (within 1e-3), so ``UNIT`` candidates apply."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
    return bool(len(x)) and bool(np.all(np.abs(norms - 1) <= UNIT_TOLERANCE))


def _for_unit_norm(template: str) -> bool:
    return template.startswith(UNIT_PREFIX) or template.split(",")[-1].startswith(UNIT_ONLY_CODES)


def default_candidates(dim: int, budget_bytes=None, *, unit_norm: bool = False) -> list:
    """The grid for a target (``UNIT`` and ``APQ`` templates only for unit-norm data)."""
    templates = [t for t in GRID if unit_norm or not _for_unit_norm(t)]
    return expand_grid(dim, templates, _sizes(budget_bytes))


def baselines(dim: int, budget_bytes=None) -> list:
    """faiss's strongest factory strings at a byte budget (none for a recall target, where the
    time limit decides which sizes get measured)."""
    return [] if budget_bytes is None else expand_grid(dim, FAISS_BASELINES, (budget_bytes,))


def code_bytes(spec: str, dim: int):
    """Bytes per vector of ``spec`` at ``dim`` without fitting; None when unknown before fitting."""
    parsed = parse_spec(spec)
    known = parsed.code.info.code_bytes
    if known is not None:
        return known(parsed.code.args, parsed.output_dim(dim))
    try:
        import faiss

        return int(faiss.index_factory(dim, parsed.faiss_factory).sa_code_size())
    except Exception:  # noqa: BLE001 -- a spec faiss does not build itself: measure after fitting
        return None


def cost_units(spec: str, n: int, dim: int) -> float:
    """Rough training work of ``spec`` on ``n`` rows, in multiply-adds.

    k-means dominates: about 25 iterations of n x centroids x dims, plus a fixed cost per row
    and sub-quantizer; OPQ alternates PQ training and a rotation update about 50 times; PCA is
    one covariance; scalar quantizers are one pass. Fitted to faiss 1.15 timings on 384-d.
    """
    parsed = parse_spec(spec)
    bits = parsed.code.info.codebook_bits
    code_bits = bits(parsed.code.args) if bits is not None else 8
    units, d = float(n * dim), dim
    for t in (*parsed.transforms, parsed.code):
        d_out = t.output_dim(d)
        units += t.info.cost(t.args, n, d, d_out, code_bits)
        d = d_out
    return units


@dataclass
class Search:
    """The outcome of :func:`search`: measured rows, skipped specs with reasons, the choice."""

    rows: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # (spec, reason)
    choice: dict | None = None
    reason: str = ""
    met: bool = False
    front: list = field(default_factory=list)  # measured Pareto front: recall, bytes, encode speed


def pareto_front(rows, recall_key: str) -> list:
    """Rows no other row beats on both bytes (fewer) and recall (higher), sorted by bytes."""
    front, best = [], -1.0
    for row in sorted(rows, key=lambda r: (r["bytes"], -r[recall_key])):
        if row[recall_key] > best:
            front.append(row)
            best = row[recall_key]
    return front


def dominates(a: dict, b: dict, recall_key: str) -> bool:
    """``a`` is at least as good as ``b`` on recall, bytes and encode speed, and better on one."""
    ge = (a[recall_key] >= b[recall_key], a["bytes"] <= b["bytes"], a["encode_rows_per_s"] >= b["encode_rows_per_s"])
    gt = (a[recall_key] > b[recall_key], a["bytes"] < b["bytes"], a["encode_rows_per_s"] > b["encode_rows_per_s"])
    return all(ge) and any(gt)


def pareto_front_3d(rows, recall_key: str) -> list:
    """Rows no other row dominates on recall (higher), bytes (fewer) and encode speed (faster), by bytes."""
    front = [r for r in rows if not any(dominates(o, r, recall_key) for o in rows if o is not r)]
    return sorted(front, key=lambda r: (r["bytes"], -r[recall_key], -r["encode_rows_per_s"]))


def choose(rows, *, budget_bytes=None, min_recall=None, recall_key: str = "recall@10"):
    """``(row, met, reason)``: the best measured row for the target.

    Byte budget: highest recall within the budget (ties: fewer bytes, then faster encode).
    Recall floor: fewest bytes reaching it (ties: higher recall). When nothing meets the
    target, the closest row is returned with ``met=False``.
    """
    if (budget_bytes is None) == (min_recall is None):
        raise ValueError("give exactly one target: budget_bytes or min_recall")
    if not rows:
        return None, False, "no candidate could be measured within the time limit"
    if budget_bytes is not None:
        fits = [r for r in rows if r["bytes"] <= budget_bytes]
        if not fits:
            best = min(rows, key=lambda r: r["bytes"])
            return best, False, f"no candidate fits {budget_bytes} B/vector; the smallest measured is {best['bytes']} B"
        best = max(fits, key=lambda r: (r[recall_key], -r["bytes"], r["encode_rows_per_s"]))
        others = len(fits) - 1
        return best, True, (f"highest {recall_key} ({best[recall_key]:.3f}) among the {len(fits)} measured "
                            f"candidates within {budget_bytes} B/vector" + ("" if others else " (the only one)"))
    meets = [r for r in rows if r[recall_key] >= min_recall]
    if not meets:
        best = max(rows, key=lambda r: r[recall_key])
        return best, False, (f"no measured candidate reaches {recall_key} >= {min_recall}; the best is "
                             f"{best['spec']} at {best[recall_key]:.3f}")
    best = min(meets, key=lambda r: (r["bytes"], -r[recall_key], -r["encode_rows_per_s"]))
    return best, True, (f"fewest bytes/vector ({best['bytes']}) among the {len(meets)} measured candidates with "
                        f"{recall_key} >= {min_recall} (it reaches {best[recall_key]:.3f})")


def with_unit(codec):
    """``UNIT,<spec>`` on ``codec``'s trained state, or None when the arrays do not carry over.

    UNIT trains nothing, and on unit-norm rows it hands the rest of the spec the same rows, so
    fitting ``UNIT,X`` would train X's state again: this reuses it (no second fit).
    """
    try:
        return ec.Codec({**codec._header, "spec": UNIT_PREFIX + codec.spec}, codec._arrays)
    except Exception:  # noqa: BLE001 -- a spec whose stages are numbered differently: fit it instead
        return None


def plan(bench: Bench, specs, *, budget_bytes=None) -> tuple:
    """Candidates ordered cheapest first, and ``(spec, reason)`` for those ruled out up front."""
    keep, skipped = [], []
    for spec in specs:
        size = code_bytes(spec, bench.dim)
        if budget_bytes is not None and size is not None and size > budget_bytes:
            skipped.append((spec, f"{size} B/vector is over the budget"))
            continue
        try:
            need = parse_spec(spec).min_training_rows(bench.dim)
        except ValueError as exc:
            skipped.append((spec, str(exc).splitlines()[0]))
            continue
        if len(bench.sample) < need:
            skipped.append((spec, f"needs {need} fit rows, the sample has {len(bench.sample)}"))
            continue
        keep.append((cost_units(spec, len(bench.sample), bench.dim), spec))
    keep.sort(key=lambda c: c[0])
    return keep, skipped


def search(bench: Bench, specs=None, *, budget_bytes=None, min_recall=None, k: int = 10,
           time_limit: float = DEFAULT_TIME_LIMIT, min_encode_rows_per_s: float | None = None, always=None,
           on_step=None) -> Search:
    """Measure candidates while the time limit allows, then choose among those fast enough.

    ``always`` (default: faiss's baselines when ``specs`` is None, else none) are measured
    first and whatever the time limit, so the choice is never worse than faiss's best string;
    ``time_limit`` seconds start when they are done. The rest go cheapest first; one whose
    predicted fit time exceeds the time left is skipped
    (faiss training cannot be interrupted), predictions calibrated on the fits timed so far.
    Rows that encode slower than ``min_encode_rows_per_s`` stay in ``rows`` and the front,
    but cannot be chosen. ``on_step(spec, row_or_None, note)`` follows progress.
    """
    if specs is None:
        specs = default_candidates(bench.dim, budget_bytes, unit_norm=is_unit_norm(bench.sample))
        always = baselines(bench.dim, budget_bytes) if always is None else always
    specs = list(specs)
    always = set(always or ()) & set(specs)
    recall_key = f"recall@{min(k, bench.k_max)}"
    deadline = None  # the limit covers the candidates after the baselines: its clock starts with them
    ordered, skipped = plan(bench, specs, budget_bytes=budget_bytes)
    ordered.sort(key=lambda c: (c[1] not in always, c[0]))
    result = Search(skipped=skipped)
    rate = DEFAULT_SECONDS_PER_UNIT
    derived: dict[str, dict] = {}  # "UNIT,X" -> its row, scored on X's trained state as soon as X is measured
    for units, spec in ordered:
        if spec in derived:
            row = derived.pop(spec)
            result.rows.append(row)
            if on_step:
                on_step(spec, row, f"{recall_key}={row[recall_key]:.3f} (on {spec[len(UNIT_PREFIX):]}'s fit)")
            continue
        if deadline is None and spec not in always:
            deadline = time.perf_counter() + time_limit
        left = math.inf if deadline is None else deadline - time.perf_counter()
        predicted = units * rate
        if predicted > left and spec not in always:
            result.skipped.append((spec, f"predicted fit {predicted:.0f} s > {max(left, 0):.0f} s left"))
            if on_step:
                on_step(spec, None, "skipped (time limit)")
            continue
        row = bench.measure(spec, k)
        if budget_bytes is not None and row["bytes"] > budget_bytes:
            result.skipped.append((spec, f"{row['bytes']} B/vector is over the budget"))
        else:
            result.rows.append(row)
        if predicted > 1.0:
            rate = max(rate, row["fit_s"] / units)
        row["faiss_baseline"] = spec in always
        if UNIT_PREFIX + spec in specs and row in result.rows and is_unit_norm(bench.sample):
            unit = with_unit(row["codec"])
            if unit is not None:
                derived[UNIT_PREFIX + spec] = {**bench.score(unit, k), "fit_s": row["fit_s"], "codec": unit,
                                               "faiss_baseline": False}
        if on_step:
            on_step(spec, row, f"{recall_key}={row[recall_key]:.3f}")
    result.front = pareto_front_3d(result.rows, recall_key)
    fast = result.rows
    if min_encode_rows_per_s is not None:
        fast = [r for r in result.rows if r["encode_rows_per_s"] >= min_encode_rows_per_s]
        result.skipped += [(r["spec"], f"encodes {r['encode_rows_per_s']:,.0f} rows/s < {min_encode_rows_per_s:,.0f}")
                           for r in result.rows if r not in fast]
    result.choice, result.met, result.reason = choose(fast, budget_bytes=budget_bytes,
                                                      min_recall=min_recall, recall_key=recall_key)
    return result
