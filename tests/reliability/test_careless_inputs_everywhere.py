"""The careless-input classes of issue 14, each through every entry point where it applies,
with the outcome each entry point must give: the same message everywhere.

One test per class, parametrized over entry points. Row classes put one bad row (id 40)
after 40 good ones: an entry point that routes bad rows (dead letters) must route it with
the core's reason and keep rows in = rows out + dead letters; one that cannot (``raise``
mode, ``ec.fit``) must fail naming the row and the problem; the SQL UDFs give a null code.
Refused writes leave the input as it was.
"""
from __future__ import annotations

import glob
import os
import re

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that

import embcompress as ec
from embcompress import parquet_io

from . import inputs
from .runners import CliError, _dump, _load, cli
from .test_careless_writes import digest

N, BAD = 40, 40
GOOD = [0.5] * 8
RANGE = "value out of float32 range"
BOOL_REASON = "wrong type: expected a list of floats, got a list containing bool (booleans are not coordinates)"




def _rows(bad):
    return [list(map(float, v)) for v in inputs.good_vectors(N, seed=7)] + [bad]


def _table(bad, value_type):
    return inputs.table(_rows(bad), value_type)


def _routed(ids, codes, dead_ids=(), reasons=()):
    """The outcome of row BAD, after checking rows in = rows out + dead letters."""
    out, dead = dict(zip(ids, codes)), dict(zip(dead_ids, reasons))
    assert len(out) + len(dead) == N + 1 and not set(out) & set(dead), "rows lost or duplicated"
    if BAD in dead:
        return f"dead: {dead[BAD]}"
    return "null" if out[BAD] is None else "ok"


# ----- encode entry points: (ctx, table) -> outcome of row BAD, or raise --------------------------
def core_encode(ctx, t):
    ctx["codec"].encode(t["embedding"].to_pylist())
    return "ok"


def core_fit(ctx, t):
    ec.fit("SQ8", t["embedding"].to_pylist())
    return "ok"


def parquet_io_dead_letter(ctx, t):
    src, out, rejected = (str(ctx["tmp"] / n) for n in ("in.parquet", "out.parquet", "rej.parquet"))
    pq.write_table(t, src)
    parquet_io.encode_file(src, out, ctx["codec"], "embedding", on_invalid="dead_letter", rejected_path=rejected)
    parquet_io.verify_result(out)
    a = pq.read_table(out)
    b = pq.read_table(rejected) if os.path.exists(rejected) else pa.table({"id": [], parquet_io.REASON_COLUMN: []})
    return _routed(a["id"].to_pylist(), a["embedding_code"].to_pylist(), b["id"].to_pylist(),
                   b[parquet_io.REASON_COLUMN].to_pylist())


def cli_encode(ctx, t):
    src, out = ctx["tmp"] / "in.parquet", ctx["tmp"] / "out.parquet"
    pq.write_table(t, src)
    before = digest(str(src))
    try:
        cli("encode", src, "--codec", ctx["codec"].save(ctx["tmp"] / "c.ecz"), "-o", out, output=out)
    finally:
        assert digest(str(src)) == before
    a = pq.read_table(out)
    return _routed(a["id"].to_pylist(), a["embedding_code"].to_pylist())


def cli_fit(ctx, t):
    src, out = ctx["tmp"] / "in.parquet", ctx["tmp"] / "fit.ecz"
    pq.write_table(t, src)
    cli("fit", src, "--spec", "SQ8", "-o", out, output=out)
    return "ok"


def spark_encode(ctx, t):
    from spark_udfs import encode_column

    good, bad = encode_column(ctx["spark"]().createDataFrame(t), ctx["codec"], "embedding", "c",
                              on_invalid="dead_letter", reason_col="why")
    a, b = good.select("id", "c").toPandas(), bad.select("id", "why").toPandas()
    return _routed(list(a["id"]), [None if c is None else bytes(c) for c in a["c"]], list(b["id"]), list(b["why"]))


def spark_compress_parquet(ctx, t):
    from spark_udfs import compress_parquet

    folder = ctx["tmp"] / "in"
    folder.mkdir()
    pq.write_table(t, folder / "part-0.parquet")
    before = digest(str(folder))
    try:
        compress_parquet(ctx["spark"](), str(folder), str(ctx["tmp"] / "out"), "embedding", ctx["codec"])
    finally:
        assert digest(str(folder)) == before
    a = pq.read_table(ctx["tmp"] / "out")
    return _routed(a["id"].to_pylist(), a["embedding_code"].to_pylist())


def sql_encode(ctx, t):
    from spark_udfs import register_udfs

    spark = ctx["spark"]()
    register_udfs(spark, ctx["codec"], "careless", on_invalid="null")
    spark.createDataFrame(t).createOrReplaceTempView("careless_t")
    a = spark.sql("SELECT id, careless_encode(embedding) AS c FROM careless_t").toPandas()
    return _routed(list(a["id"]), [None if c is None else bytes(c) for c in a["c"]])


def spark_fit(ctx, t):
    from spark_udfs import fit_codec

    fit_codec(ctx["spark"]().createDataFrame(t), "embedding", "SQ8")
    return "ok"


def _beam_run(build):
    with beam.Pipeline(runner="DirectRunner") as p:
        build(p)


def beam_encode(ctx, t, form="table"):
    from beam_transforms import EncodeEmbeddings

    good, bad = ctx["tmp"] / "good.pkl", ctx["tmp"] / "bad.pkl"

    def build(p):
        create = beam.Create([t]).with_output_types(pa.Table) if form == "table" else beam.Create(t.to_pylist())
        res = p | create | EncodeEmbeddings("embedding", ctx["codec"], output_column="c").with_dead_letters()
        assert_that(res.good, _dump(good), label="Good")
        assert_that(res.bad, _dump(bad), label="Bad")
    _beam_run(build)
    got = {"good": _load(good), "bad": _load(bad)}
    rows = [r for e in got["good"] for r in (e.to_pylist() if isinstance(e, pa.Table) else [e])]
    return _routed([r["id"] for r in rows], [r["c"] for r in rows], [b["row"]["id"] for b in got["bad"]],
                   [b["embcompress_reason"] for b in got["bad"]])


def beam_encode_rows(ctx, t):
    return beam_encode(ctx, t, form="rows")


def beam_compress_parquet(ctx, t):
    from beam_transforms import CompressParquet

    folder = ctx["tmp"] / "in"
    folder.mkdir()
    pq.write_table(t, folder / "part-0.parquet")
    before, prefix = digest(str(folder)), str(ctx["tmp"] / "out" / "part")
    try:
        _beam_run(lambda p: p | CompressParquet(str(folder / "*.parquet"), prefix, "embedding", ctx["codec"]))
    finally:
        assert digest(str(folder)) == before
    parquet_io.verify_result(parquet_io.result_record_path(prefix))
    a = pa.concat_tables([pq.read_table(f) for f in sorted(glob.glob(prefix + "-*.parquet"))])
    b = pq.read_table(glob.glob(str(ctx["tmp"] / "out" / "_rejected" / "*.parquet"))[0])
    return _routed(a["id"].to_pylist(), a["embedding_code"].to_pylist(), b["id"].to_pylist(),
                   b["embcompress_reason"].to_pylist())


def beam_fit(ctx, t):
    from beam_transforms import FitCodec

    _beam_run(lambda p: p | beam.Create([t]).with_output_types(pa.Table) | FitCodec("embedding", "SQ8",
                                                                                     sample_size=100))
    return "ok"


ENCODERS = {f.__name__: f for f in (core_encode, core_fit, parquet_io_dead_letter, cli_encode, cli_fit, spark_encode,
                                     spark_compress_parquet, sql_encode, spark_fit, beam_encode, beam_encode_rows,
                                     beam_compress_parquet, beam_fit)}


# ----- query entry points: (ctx, queries as rows) -> raise ----------------------------------------------
def core_search(ctx, queries, k=10):
    codec = ctx["codec"]
    return codec.search(queries, codec.encode(inputs.good_vectors(N, seed=7)), k=k)[0]


def core_score(ctx, queries, k=None):
    codec = ctx["codec"]
    return codec.score(queries, codec.encode(inputs.good_vectors(N, seed=7)))


def spark_knn(ctx, queries, k=10):
    from spark_udfs import encode_column, knn_join

    spark = ctx["spark"]()
    corpus = encode_column(spark.createDataFrame(inputs.table(inputs.good_vectors(N, seed=7).tolist())),
                           ctx["codec"], "embedding", "c")
    qdf = spark.createDataFrame(pa.table({"id": list(range(len(queries))),
                                          "q": pa.array(queries, pa.list_(pa.float64()))}))
    found = knn_join(qdf, corpus, ctx["codec"], query_col="q", code_col="c", k=k).toPandas()
    return found.groupby("query_id").size().to_dict()


def sql_score(ctx, queries, k=None):
    from spark_udfs import register_udfs

    spark = ctx["spark"]()
    codes = ctx["codec"].encode(inputs.good_vectors(1, seed=7))
    register_udfs(spark, ctx["codec"], "careless_q", on_invalid="raise")
    spark.createDataFrame(pa.table({"q": pa.array(queries, pa.list_(pa.float64())),
                                    "c": pa.array([bytes(codes[0])] * len(queries))})).createOrReplaceTempView("qs")
    return spark.sql("SELECT careless_q_score(q, c) AS s FROM qs").toPandas()


def beam_score(ctx, queries, k=10):
    from beam_transforms import ScoreEmbeddings

    codec = ctx["codec"]
    codes = codec.encode(inputs.good_vectors(N, seed=7))
    table = pa.table({"id": list(range(N)), "c": pa.array([bytes(c) for c in codes])})
    path = ctx["tmp"] / "scores.pkl"
    _beam_run(lambda p: assert_that(p | beam.Create([table]).with_output_types(pa.Table)
                                    | ScoreEmbeddings("c", codec, queries, k=k), _dump(path)))
    return {key: len(c) for key, c in _load(path)}


def cli_evaluate(ctx, queries, k=None, command="evaluate"):
    """The CLI draws its queries from the data: the rows given come first, then good rows."""
    src = ctx["tmp"] / "q.parquet"
    rows = list(queries) + [list(map(float, v)) for v in inputs.good_vectors(N, seed=7)]
    pq.write_table(pa.table({"embedding": pa.array(rows, pa.list_(pa.float64()))}), src)
    args = ("--spec", "SQ8") if command == "evaluate" else ("--budget-bytes", "8")
    return cli(command, src, *args, "--queries", "5")


def cli_recommend(ctx, queries, k=None):
    return cli_evaluate(ctx, queries, k, command="recommend")


QUERIES = {f.__name__: f for f in (core_search, core_score, spark_knn, sql_score, beam_score, cli_evaluate,
                                   cli_recommend)}
CLI_QUERIES = ("cli_evaluate", "cli_recommend")  # no codec to size the queries against, no k


@pytest.fixture
def ctx(request, codec, tmp_path):
    return {"codec": codec, "tmp": tmp_path, "spark": lambda: request.getfixturevalue("spark")}


def _at(entry, i):
    """How an entry point names query ``i``: SQL UDFs see a Spark batch, so only their row within it."""
    return r"(row|query) \d+" if entry == "sql_score" else f"(row|query) {i}"


def _expect(fn, ctx, arg, want):
    """Run ``fn`` and compare with ``want``: an outcome string, or ``error: <regex>``."""
    if want.startswith("error: "):
        with pytest.raises((ec.EmbeddingError, ValueError, TypeError, CliError, Exception)) as err:
            fn(ctx, arg)
        assert re.search(want[len("error: "):], str(err.value), re.DOTALL), str(err.value)[:3000]
    else:
        assert fn(ctx, arg) == want


# ----- class: ragged and null rows ---------------------------------------------------------------------
RAGGED = {
    "core_encode": "error: row 40: wrong length: expected 8, got 7",
    "core_fit": "error: row 40: wrong length: expected 8, got 7",
    "parquet_io_dead_letter": "dead: wrong length: expected 8, got 7",
    "cli_encode": "error: row 40: wrong length: expected 8, got 7",
    "cli_fit": "error: row 40: wrong length: expected 8, got 7",
    "spark_encode": "dead: wrong length: expected 8, got 7",
    "spark_compress_parquet": "error: row 40 of row group 0 in .*: wrong length: expected 8, got 7",
    "sql_encode": "null",
    "spark_fit": "error: wrong length: expected 8, got 7",
    "beam_encode": "dead: wrong length: expected 8, got 7",
    "beam_encode_rows": "dead: wrong length: expected 8, got 7",
    "beam_compress_parquet": "dead: wrong length: expected 8, got 7",
    "beam_fit": "ok",  # FitCodec leaves bad rows out of its sample (counted in fit_rows_skipped)
}
NULL_ROW = {
    "core_encode": "error: row 40: null vector",
    "core_fit": "error: row 40: null vector",
    "parquet_io_dead_letter": "null",
    "spark_encode": "null",
    "sql_encode": "null",
    "beam_encode": "null",
    "beam_encode_rows": "null",
    "beam_compress_parquet": "null",
    "cli_encode": "null",
    "cli_fit": "error: row 40: null vector",  # as ec.fit; Spark and Beam leave nulls out of their samples
    "spark_compress_parquet": "null",
    "spark_fit": "ok",
    "beam_fit": "ok",
}


@pytest.mark.parametrize("entry, bad", [(e, "ragged") for e in RAGGED] + [(e, "null") for e in NULL_ROW]
                         + [(q, "ragged-query") for q in QUERIES] + [(q, "null-query") for q in QUERIES])
def test_ragged_and_null_rows(ctx, entry, bad):
    if bad == "null-query" and entry == "sql_score":  # SQL: a null argument gives a null score
        assert sql_score(ctx, [GOOD, None])["s"].isna().tolist() == [False, True]
        return
    if bad.endswith("query"):
        want = {"ragged-query": "wrong length: expected 8, got 7", "null-query": "null vector"}[bad]
        with pytest.raises(Exception, match=rf"{_at(entry, 1)}: {want}") as err:
            QUERIES[entry](ctx, [GOOD, GOOD[:7] if bad == "ragged-query" else None])
        assert "inhomogeneous" not in str(err.value)
        return
    table = _table(GOOD[:7] if bad == "ragged" else None, pa.float32())
    _expect(ENCODERS[entry], ctx, table, (RAGGED if bad == "ragged" else NULL_ROW)[entry])


# ----- class: float64 values beyond float32's range -----------------------------------------------------
OUT_OF_RANGE = {
    "core_encode": f"error: row 40: {RANGE}",
    "core_fit": f"error: row 40: {RANGE}",
    "parquet_io_dead_letter": f"dead: {RANGE}",
    "cli_encode": f"error: row 40: {RANGE}",
    "cli_fit": f"error: row 40: {RANGE}",
    "spark_encode": f"dead: {RANGE}",
    "spark_compress_parquet": f"error: row 40 of row group 0 in .*: {RANGE}",
    "sql_encode": "null",
    "spark_fit": f"error: {RANGE}",
    "beam_encode": f"dead: {RANGE}",
    "beam_encode_rows": f"dead: {RANGE}",
    "beam_compress_parquet": f"dead: {RANGE}",
}


@pytest.mark.parametrize("entry", list(OUT_OF_RANGE) + list(QUERIES))
def test_float64_beyond_float32_is_out_of_range_not_inf(ctx, entry):
    wide = GOOD[:3] + [-1e39] + GOOD[4:]
    if entry in QUERIES:
        with pytest.raises(Exception, match=rf"{_at(entry, 1)}: {RANGE}"):
            QUERIES[entry](ctx, [GOOD, wide])
        return
    _expect(ENCODERS[entry], ctx, _table(wide, pa.float64()), OUT_OF_RANGE[entry])


# ----- class: NaN or Inf queries -------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["nan", "inf"])
@pytest.mark.parametrize("entry", list(QUERIES))
def test_nan_or_inf_queries_are_refused(ctx, entry, bad):
    value = float(bad)
    with pytest.raises(Exception, match=rf"{_at(entry, 1)}: {'NaN' if bad == 'nan' else 'Inf'} in vector"):
        QUERIES[entry](ctx, [GOOD, GOOD[:2] + [value] + GOOD[3:]])


# ----- class: argument sizes -----------------------------------------------------------------------------
@pytest.mark.parametrize("entry", [q for q in QUERIES if q not in CLI_QUERIES]
                         + ["core_search-exclude", "core_search-rescore"])
def test_argument_sizes_are_checked(ctx, entry):
    if entry == "core_search-exclude":
        codec = ctx["codec"]
        with pytest.raises(ValueError, match=r"exclude needs one row id per query \(2\), got shape \(3,\)"):
            codec.search([GOOD, GOOD], codec.encode(inputs.good_vectors(N)), exclude=[0, 1, 2])
        return
    if entry == "core_search-rescore":
        codec = ctx["codec"]
        x = inputs.good_vectors(N)
        with pytest.raises(ValueError, match=r"rescore originals have 39 rows, the codes 40"):
            codec.search([GOOD], codec.encode(x), rescore=(x[:-1], 4))
        return
    with pytest.raises(Exception, match=rf"{_at(entry, 0)}: wrong length: expected 8, got 6"):
        QUERIES[entry](ctx, [GOOD[:6], GOOD[:6]])


@pytest.mark.parametrize("k", [0, True, 2.5])
@pytest.mark.parametrize("entry", ["core_search", "spark_knn", "beam_score", "beam_topk"])
def test_k_must_be_a_positive_integer(ctx, entry, k):
    with pytest.raises(ValueError, match=rf"k must be a positive integer, got {k!r}"):
        if entry == "beam_topk":
            from beam_transforms import TopKNeighbors

            TopKNeighbors(k)
        else:
            QUERIES[entry](ctx, [GOOD], k=k)


# ----- class: k larger than n is clipped ---------------------------------------------------------------
@pytest.mark.parametrize("entry", ["core_search", "spark_knn", "beam_score"])
def test_k_larger_than_n_is_clipped(ctx, entry):
    got = QUERIES[entry](ctx, [GOOD, GOOD[::-1]], k=10**10)
    if entry == "core_search":
        assert got.shape == (2, N)
    else:
        assert got == {0: N, 1: N}


# ----- class: degenerate samples --------------------------------------------------------------------------
DEGENERATE = "degenerate sample: fitting 'PCAW4,SQ8' gave NaN or Inf"


def _fit_constant(entry, ctx):
    sample = np.ones((200, 8), np.float32)
    t = inputs.table(sample.tolist())
    if entry == "core_fit":
        return ec.fit("PCAW4,SQ8", sample)
    if entry == "cli_fit":
        pq.write_table(t, ctx["tmp"] / "c.parquet")
        return cli("fit", ctx["tmp"] / "c.parquet", "--spec", "PCAW4,SQ8", "-o", ctx["tmp"] / "o.ecz")
    if entry.startswith("spark_fit"):
        from spark_udfs import fit_codec

        return fit_codec(ctx["spark"]().createDataFrame(t), "embedding", "PCAW4,SQ8", sample_size=150,
                         pca_moments=entry == "spark_fit-moments")
    if entry.startswith("nightly"):
        folder = ctx["tmp"] / "in" / "date=2026-01-01"
        folder.mkdir(parents=True)
        pq.write_table(t, folder / "part-0.parquet")
        return _nightly(entry, ctx, spec="PCAW4,SQ8")
    if entry == "spark_ml":
        from spark_udfs import EmbeddingCompressor

        return EmbeddingCompressor(inputCol="embedding", outputCol="c", spec="PCAW4,SQ8").fit(
            ctx["spark"]().createDataFrame(t))
    from beam_transforms import FitCodec

    _beam_run(lambda p: p | beam.Create([t]).with_output_types(pa.Table) | FitCodec("embedding", "PCAW4,SQ8",
                                                                                     sample_size=200))


@pytest.mark.parametrize("entry", ["core_fit", "cli_fit", "spark_fit-moments", "spark_fit-sample", "spark_ml",
                                   "beam_fit", "nightly_local", "nightly_spark", "nightly_beam"])
def test_degenerate_samples_are_refused_by_name(ctx, entry):
    with pytest.raises(Exception, match=DEGENERATE):
        _fit_constant(entry, ctx)
    assert not (ctx["tmp"] / "out" / "_delta_log").exists() and not (ctx["tmp"] / "reg" / "items").exists()


def _nightly(entry, ctx, spec="SQ8"):
    """One night of the nightly job in ``entry``'s engine over ``tmp/in`` (a ``date=`` partitioned table)."""
    args = (str(ctx["tmp"] / "in"), "embedding", str(ctx["tmp"] / "reg"), "items")
    kw = {"spec": spec, "partition_col": "date", "output_path": str(ctx["tmp"] / "out")}
    if entry == "nightly_local":
        from embcompress import nightly

        return nightly.recompress_local(*args, **kw)
    if entry == "nightly_spark":
        from spark_udfs import recompress

        return recompress(ctx["spark"](), *args, **kw)
    from beam_transforms import Recompress

    _beam_run(lambda p: p | Recompress(*args, **kw))


# ----- class: bools are not coordinates ------------------------------------------------------------------
BOOLS = {
    "core_encode": "error: row 40: wrong type: expected a list of floats, got a list containing bool",
    "core_fit": "error: row 40: wrong type: expected a list of floats, got a list containing bool",
    "parquet_io_dead_letter": "error: non-numeric type: vector elements are bool",
    "cli_encode": "error: non-numeric type: vector elements are bool",
    "cli_fit": "error: non-numeric type: vector elements are bool",
    "spark_encode": "error: has type array<boolean>; expected array<float>",
    "spark_compress_parquet": "error: non-numeric type: vector elements are bool",
    "sql_encode": "error: column 'careless_encode argument 1': non-numeric type: vector elements are bool",
    "spark_fit": "error: has type array<boolean>; expected array<float>",
    "beam_encode": "error: non-numeric type: vector elements are bool",
    "beam_encode_rows": f"dead: {BOOL_REASON}",
    "beam_compress_parquet": "error: non-numeric type: vector elements are bool",
    "beam_fit": "error: non-numeric type: vector elements are bool",
}


@pytest.mark.parametrize("entry", list(BOOLS) + ["core_encode-numpy", "core_search", "core_score", "beam_score",
                                   "nightly_local", "nightly_spark", "nightly_beam"])
def test_bools_are_refused_in_every_path(ctx, entry):
    """Python rows hold one bool row among floats; Arrow tables are a list<bool> column."""
    if entry.startswith("nightly"):
        folder = ctx["tmp"] / "in" / "date=2026-01-01"
        folder.mkdir(parents=True)
        flags = pa.array([[True, False] * 4] * 50, pa.list_(pa.bool_()))
        pq.write_table(pa.table({"id": list(range(50)), "embedding": flags}), folder / "part-0.parquet")
        want = "has type array<boolean>" if entry == "nightly_spark" else "non-numeric type: vector elements are bool"
        with pytest.raises(Exception, match=want):
            _nightly(entry, ctx)
        assert not (ctx["tmp"] / "out" / "_delta_log").exists()
        return
    if entry == "core_encode-numpy":
        with pytest.raises(ec.EmbeddingError, match="non-numeric type: expected float vectors, got dtype bool"):
            ctx["codec"].encode(np.ones((2, 8), bool))
        return
    if entry in QUERIES:
        with pytest.raises(Exception, match=f"row 1: {re.escape(BOOL_REASON)}"):
            QUERIES[entry](ctx, [GOOD, [True] * 8])
        return
    want = BOOLS[entry]
    if entry in ("core_encode", "core_fit"):
        call = ctx["codec"].encode if entry == "core_encode" else (lambda rows: ec.fit("SQ8", rows))
        with pytest.raises(ec.EmbeddingError, match=want[len("error: "):]):
            call(_rows([True] * 8))
        return
    if entry == "beam_encode_rows":
        assert _beam_rows(ctx, [{"id": i, "embedding": v} for i, v in enumerate(_rows([True] * 8))]) == want
        return
    flags = [[bool(v > 0) for v in row] for row in _rows([True] * 8)]
    table = pa.table({"id": list(range(N + 1)), "embedding": pa.array(flags, pa.list_(pa.bool_()))})
    _expect(ENCODERS[entry], ctx, table, want)


def _beam_rows(ctx, rows):
    from beam_transforms import EncodeEmbeddings

    good, bad = ctx["tmp"] / "good.pkl", ctx["tmp"] / "bad.pkl"

    def build(p):
        res = p | beam.Create(rows) | EncodeEmbeddings("embedding", ctx["codec"], output_column="c").with_dead_letters()
        assert_that(res.good, _dump(good), label="Good")
        assert_that(res.bad, _dump(bad), label="Bad")
    _beam_run(build)
    got = {"good": _load(good), "bad": _load(bad)}
    return _routed([r["id"] for r in got["good"]], [r["c"] for r in got["good"]],
                   [b["row"]["id"] for b in got["bad"]], [b["embcompress_reason"] for b in got["bad"]])


# ----- class: a huge row is refused from the footer, before it is read ------------------------------------
HUGE = r"row group 0 of .* holds 20,000,0\d\d values for 2 rows, far more than (8|65536) per row"


@pytest.mark.parametrize("entry", ["parquet_io", "cli_encode", "cli_fit", "spark_compress_parquet-pyarrow",
                                   "spark_compress_parquet-spark", "beam_compress_parquet", "beam_compress_parquet-fit",
                                   "nightly_local", "nightly_spark", "nightly_beam"])
def test_a_huge_row_is_refused_before_it_is_read(ctx, entry):
    folder = ctx["tmp"] / "in" / "date=2026-01-01"
    folder.mkdir(parents=True)
    src = folder / "part-0.parquet"
    pq.write_table(pa.table({"id": [0, 1], "embedding": pa.array([GOOD, np.zeros(20_000_000, np.float32)],
                                                                  pa.list_(pa.float32()))}), src, compression="zstd")
    before = digest(str(ctx["tmp"] / "in"))
    codec = ctx["codec"]
    with pytest.raises(Exception, match=HUGE):
        if entry == "parquet_io":
            parquet_io.encode_file(src, ctx["tmp"] / "o.parquet", codec, "embedding", on_invalid="null")
        elif entry.startswith("cli"):
            out = ctx["tmp"] / "o"
            args = ("--codec", codec.save(ctx["tmp"] / "c.ecz")) if entry == "cli_encode" else ("--spec", "SQ8")
            cli(entry[4:], src, *args, "-o", out, output=out)
        elif entry.startswith("spark"):
            from spark_udfs import compress_parquet

            compress_parquet(ctx["spark"](), str(folder), str(ctx["tmp"] / "out"), "embedding", codec,
                             on_invalid="null", engine=entry.split("-")[1])
        elif entry.startswith("beam"):
            from beam_transforms import CompressParquet

            CompressParquet(str(folder / "*.parquet"), str(ctx["tmp"] / "out" / "part"), "embedding",
                            "SQ8" if entry.endswith("fit") else codec)
        else:
            _nightly(entry, ctx)
    assert digest(str(ctx["tmp"] / "in")) == before and not (ctx["tmp"] / "out").exists()
