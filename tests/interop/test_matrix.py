"""Every writer x every reader: byte-identical codes and identical decoded vectors, whichever engine wrote.

A failing cell's test id names the writer and the reader (``test_cell[spark_encode_column-cli]``).
The expected values come from the core: ``codec.encode`` / ``codec.decode`` of the input rows,
with the codec the writer used.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embcompress import parquet_io, provenance
from embcompress.arrow import codes_from_arrow
from embcompress.registry import Registry

from .conftest import SPEC, Written, data_files, run_cli

NIGHTLY_ENGINES = ("local", "spark", "beam")


# ----- writers ---------------------------------------------------------------------------------
def write_cli(shared, out, spark):
    out.mkdir()
    for i, src in enumerate(data_files(shared.table)):
        run_cli("encode", src, "--codec", shared.codec_path, "--column", "embedding", "-o", out / f"{i}.parquet",
                "--drop-input")
    return Written(data_files(out), shared.codec, "embedding_code", shared.codec_path)


def write_parquet_io(shared, out, spark):
    out.mkdir()
    for i, src in enumerate(data_files(shared.table)):
        parquet_io.encode_file(src, out / f"{i}.parquet", shared.codec, "embedding", drop_input=True)
    return Written(data_files(out), shared.codec, "embedding_code", shared.codec_path)


def write_spark_encode_column(shared, out, spark):
    from spark_udfs import encode_column

    df = spark.read.parquet(str(shared.table))
    encode_column(df, shared.codec, "embedding", drop_input=True).write.parquet(str(out))
    return Written(data_files(out), shared.codec, "embedding_code", shared.codec_path)


def _compress_parquet(engine):
    def write(shared, out, spark):
        from spark_udfs import compress_parquet

        compress_parquet(spark, str(shared.table), str(out), "embedding", shared.codec, engine=engine)
        return Written(data_files(out), shared.codec, "embedding_code", str(out / "_embcompress.ecz"))
    return write


def write_beam_compress_parquet(shared, out, spark):
    import apache_beam as beam

    from beam_transforms import CompressParquet

    with beam.Pipeline() as p:
        _ = p | CompressParquet(str(shared.table / "*" / "*.parquet"), str(out / "part"), "embedding", shared.codec)
    return Written(data_files(out), shared.codec, "embedding_code", shared.codec_path)


def _nightly(engine):
    def write(shared, out, spark):
        args = dict(spec=SPEC, partition_col="date", sample_size=2000, output_path=str(out))
        registry = str(out.parent / f"{out.name}_registry")
        if engine == "local":
            from embcompress.nightly import recompress_local

            recompress_local(str(shared.table), "embedding", registry, "items", **args)
        elif engine == "spark":
            from spark_udfs import recompress

            recompress(spark, str(shared.table), "embedding", registry, "items", **args)
        else:
            import apache_beam as beam

            from beam_transforms import Recompress

            with beam.Pipeline() as p:
                _ = p | Recompress(str(shared.table), "embedding", registry, "items", **args)
        codec = Registry(registry).get("items", 1)
        path = str(codec.save(out.parent / f"{out.name}.ecz"))
        return Written(data_files(out), codec, "embedding_code", path, nightly_root=str(out))
    return write


WRITERS = {
    "cli": write_cli,
    "parquet_io": write_parquet_io,
    "spark_encode_column": write_spark_encode_column,
    "compress_parquet_pyarrow": _compress_parquet("pyarrow"),
    "compress_parquet_spark": _compress_parquet("spark"),
    "beam_compress_parquet": write_beam_compress_parquet,
    **{f"nightly_{e}": _nightly(e) for e in NIGHTLY_ENGINES},
}
_written: dict = {}


@pytest.fixture
def written(request, shared, tmp_path_factory):
    """The writer's output, made once per run (the first cell that needs it writes it)."""
    name = request.param
    if name not in _written:
        spark = request.getfixturevalue("spark") if "spark" in name or "compress_parquet" in name else None
        if "beam" in name:
            pytest.importorskip("apache_beam", reason="Beam writers need apache-beam (pip install -e '.[beam]')")
        _written[name] = WRITERS[name](shared, tmp_path_factory.mktemp(name) / "out", spark)
    return _written[name]


# ----- readers: each returns {id: (code bytes or None, decoded float32 bytes)} or checks in-pipeline -----
def _rows(ids, codes, decoded) -> dict:
    return {int(i): (None if c is None else bytes(c), np.asarray(v, np.float32).tobytes())
            for i, c, v in zip(ids, codes, decoded)}


def read_core(w, tmp_path, request):
    out = {}
    for f in w.files:
        (record,) = provenance.read(f)  # the record names the code column and the codec
        assert (record.code_column, record.fingerprint, record.spec) == (w.code_column, w.codec.fingerprint,
                                                                         w.codec.spec)
        t = pq.read_table(f, columns=["id", record.code_column])
        codes, _ = codes_from_arrow(t[record.code_column], w.codec.code_size)
        out.update(_rows(t["id"].to_pylist(), codes, w.codec.decode(codes)))
    return out


def read_cli(w, tmp_path, request):
    out = {}
    for i, f in enumerate(w.files):
        assert w.codec.fingerprint in run_cli("inspect", f)
        target = tmp_path / f"decoded-{i}.parquet"
        run_cli("decode", f, "--codec", w.codec_path, "-o", target)  # the column comes from the provenance record
        t = pq.read_table(target, columns=["id", "embedding"])
        codes = pq.read_table(f, columns=[w.code_column])[w.code_column].to_pylist()
        out.update(_rows(t["id"].to_pylist(), codes, t["embedding"].to_pylist()))
    return out


def read_spark(w, tmp_path, request):
    from spark_udfs import decode_column

    spark = request.getfixturevalue("spark")
    df = spark.read.parquet(*w.files).select("id", w.code_column)
    rows = decode_column(df, w.codec, w.code_column).collect()
    return _rows([r["id"] for r in rows], [r[w.code_column] for r in rows], [r["embedding"] for r in rows])


def read_beam(w, tmp_path, request, expected):
    beam = pytest.importorskip("apache_beam", reason="Beam readers need apache-beam")
    from apache_beam.testing.util import assert_that, equal_to

    from beam_transforms import DecodeEmbeddings

    want = [(i, c, v) for i, (c, v) in expected.items()]
    column = w.code_column
    with beam.Pipeline() as p:
        tables = (p | beam.Create(w.files) | beam.io.ReadAllFromParquetBatched(columns=["id", column])
                  .with_output_types(pa.Table) | DecodeEmbeddings(column, w.codec))
        got = tables | beam.FlatMap(lambda t: list(_rows(t["id"].to_pylist(), t[column].to_pylist(),
                                                         t["embedding"].to_pylist()).items()))
        assert_that(got | beam.Map(lambda kv: (kv[0], *kv[1])), equal_to(want))


def read_nightly_core(w, tmp_path, request):
    from embcompress.reader import open_compressed

    table = open_compressed(w.nightly_root)
    codes, decoded = table.read(), table.read(decode=True)
    assert codes["id"].equals(decoded["id"])
    return _rows(codes["id"].to_pylist(), codes[w.code_column].to_pylist(), decoded["embedding"].to_pylist())


def read_nightly_spark(w, tmp_path, request):
    from spark_udfs import read_compressed

    spark = request.getfixturevalue("spark")
    codes = {r["id"]: r[w.code_column] for r in read_compressed(spark, w.nightly_root).collect()}
    rows = read_compressed(spark, w.nightly_root, decode=True).collect()
    return _rows([r["id"] for r in rows], [codes[r["id"]] for r in rows], [r["embedding"] for r in rows])


def read_nightly_beam(w, tmp_path, request, expected):
    beam = pytest.importorskip("apache_beam", reason="Beam readers need apache-beam")
    from apache_beam.testing.util import assert_that, equal_to

    from beam_transforms import ReadCompressed

    want = [(i, v) for i, (_, v) in expected.items()]
    with beam.Pipeline() as p:
        got = (p | ReadCompressed(w.nightly_root, decode=True)
               | beam.FlatMap(lambda t: [(int(i), np.asarray(v, np.float32).tobytes())
                                         for i, v in zip(t["id"].to_pylist(), t["embedding"].to_pylist())]))
        assert_that(got, equal_to(want))


READERS = {"core": read_core, "cli": read_cli, "spark": read_spark, "beam": read_beam}
NIGHTLY_READERS = {"nightly_core": read_nightly_core, "nightly_spark": read_nightly_spark,
                   "nightly_beam": read_nightly_beam}
IN_PIPELINE = {"beam", "nightly_beam"}  # these check inside the pipeline (Beam's assert_that)
CELLS = [(w, r) for w in WRITERS for r in READERS] + \
        [(w, r) for w in WRITERS if w.startswith("nightly_") for r in NIGHTLY_READERS]


@pytest.mark.parametrize("written, reader", CELLS, indirect=["written"], ids=[f"{w}-{r}" for w, r in CELLS])
def test_cell(written, reader, shared, tmp_path, request):
    w = written
    x = np.stack([shared.vectors[i] for i in sorted(shared.vectors)])
    codes = w.codec.encode(x)
    expected = _rows(sorted(shared.vectors), codes, w.codec.decode(codes))
    assert len(w.files) >= 1
    read = {**READERS, **NIGHTLY_READERS}[reader]
    if reader in IN_PIPELINE:
        read(w, tmp_path, request, expected)
        return
    got = read(w, tmp_path, request)
    assert sorted(got) == sorted(expected), f"{reader} read other rows than {len(expected)} written"
    bad_codes = [i for i in expected if got[i][0] is not None and got[i][0] != expected[i][0]]
    bad_vectors = [i for i in expected if got[i][1] != expected[i][1]]
    assert not bad_codes, f"codes differ for ids {bad_codes[:5]}"
    assert not bad_vectors, f"decoded vectors differ for ids {bad_vectors[:5]}"
