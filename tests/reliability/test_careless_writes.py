"""Careless arguments to writers: outputs that alias inputs, output columns that already exist,
and reruns over an earlier run's files, through every entry point that writes.

Every refused write is checked to leave its input byte for byte as it was (a digest of the
file, or of every file under the folder), and a refused CLI command to leave no output.
"""
from __future__ import annotations

import hashlib
import os
import shutil

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embcompress as ec
from embcompress import parquet_io
from embcompress._paths import PathConflictError, check_no_alias

from . import inputs
from .runners import CliError, cli

ROWS = 40


def digest(path) -> str:
    """sha256 over every file under ``path`` (or of the file itself), names included."""
    h = hashlib.sha256()
    paths = [path] if os.path.isfile(path) else sorted(os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs)
    for p in paths:
        h.update(os.path.relpath(p, path).encode())
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


@pytest.fixture(scope="module")
def codec():
    return inputs.fit_codec()


@pytest.fixture
def data(tmp_path):
    """A Parquet file of good rows with ``id``, ``embedding`` and ``label`` columns."""
    labels = pa.array([f"l{i}" for i in range(ROWS)])
    t = inputs.table(inputs.good_vectors(ROWS).tolist()).append_column("label", labels)
    return inputs.write_parquet(tmp_path / "in.parquet", t)


@pytest.fixture
def folder(tmp_path, data):
    """A folder holding the Parquet file, as Spark and Beam inputs are."""
    root = tmp_path / "table"
    root.mkdir()
    os.replace(data, root / "part-0.parquet")
    return str(root)




# ----- the core check -------------------------------------------------------------------------------
@pytest.mark.parametrize("inputs_, outputs, match", [
    ({"in": "a/b"}, {"out": "a/b"}, "is the same path as"),
    ({"in": "a/b"}, {"out": "a/b/c"}, "lies inside"),
    ({"in": "a/b/c"}, {"out": "a/b"}, "contains"),
    ({"in": "a/b/"}, {"out": "./a/x/../b"}, "is the same path as"),
    ({"in": "file:///tmp/t"}, {"out": "/tmp/t"}, "is the same path as"),
    ({"in": "s3://Bucket/t/"}, {"out": "s3://bucket/t/part"}, "lies inside"),
    ({"in": "in/*.parquet"}, {"out": "in/part"}, "lies inside"),
    ({"in": "part-*.parquet"}, {"out": "out/part"}, "lies inside"),
    ({"in": "x"}, {"out": "o", "rejected": "o"}, "are the same path"),
])
def test_alias_check(tmp_path, monkeypatch, inputs_, outputs, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PathConflictError, match=match):
        check_no_alias(inputs_, outputs)


def test_alias_check_sees_symlinks_and_hard_links(tmp_path):
    real = tmp_path / "real.parquet"
    real.write_bytes(b"x")
    (tmp_path / "link.parquet").symlink_to(real)
    os.link(real, tmp_path / "hard.parquet")
    for other in ("link.parquet", "hard.parquet"):
        with pytest.raises(PathConflictError, match="same path"):
            check_no_alias({"input": real}, {"output": tmp_path / other})
    check_no_alias({"input": real}, {"output": tmp_path / "elsewhere.parquet"})


# ----- class 2: outputs that destroy inputs, per entry point ---------------------------------------------
def _alias_runs(kind, data, folder, table, codec, tmp_path, spark_fn):
    """Run one aliasing write (``table`` is a date-partitioned copy of the data, for the nightly job)."""
    codec_path = str(codec.save(tmp_path / "codec.ecz"))
    if kind == "cli-encode-o-is-input":
        cli("encode", data, "--codec", codec_path, "-o", data, "--overwrite")
    elif kind == "cli-encode-rejected-is-input":
        cli("encode", data, "--codec", codec_path, "-o", tmp_path / "o.parquet", "--on-invalid", "dead-letter",
            "--rejected", data, "--overwrite")
    elif kind == "cli-encode-rejected-is-o":
        out = tmp_path / "o.parquet"
        cli("encode", data, "--codec", codec_path, "-o", out, "--on-invalid", "dead-letter", "--rejected", out,
            output=out)
    elif kind == "cli-decode-o-is-input":
        cli("decode", data, "--codec", codec_path, "--column", "embedding", "-o", data, "--overwrite")
    elif kind == "cli-fit-o-is-input":
        cli("fit", data, "--spec", "SQ8", "-o", data, "--overwrite")
    elif kind == "cli-fit-o-is-codec-symlink-to-input":
        (tmp_path / "alias.parquet").symlink_to(data)
        cli("fit", data, "--spec", "SQ8", "-o", tmp_path / "alias.parquet", "--overwrite")
    elif kind == "parquet_io-output-is-input":
        parquet_io.encode_file(data, data, codec, "embedding", overwrite=True)
    elif kind == "parquet_io-rejected-is-input":
        parquet_io.encode_file(data, tmp_path / "o.parquet", codec, "embedding", on_invalid="dead_letter",
                               rejected_path=data, overwrite=True)
    elif kind == "beam-output-inside-input":
        from beam_transforms import CompressParquet

        CompressParquet(os.path.join(folder, "*.parquet"), os.path.join(folder, "encoded"), "embedding", codec)
    elif kind == "beam-artifact-is-input":
        from beam_transforms import CompressParquet

        CompressParquet(os.path.join(folder, "*.parquet"), str(tmp_path / "out" / "part"), "embedding", "SQ8",
                        artifact_location=os.path.join(folder, "part-0.parquet"))
    elif kind.startswith("spark-"):
        spark_fn(kind, folder, codec)
    elif kind.startswith("nightly-"):
        output = table if kind.endswith("output-is-table") else os.path.join(table, "_compressed")
        args = (table, "embedding", str(tmp_path / "registry"), "items")
        kw = {"spec": "SQ8", "partition_col": "date", "output_path": output}
        if kind.startswith("nightly-spark"):
            from spark_udfs import recompress

            spark_fn(kind, None, None, lambda session: recompress(session, *args, **kw))
        elif kind.startswith("nightly-beam"):
            from beam_transforms import Recompress

            with beam.Pipeline(runner="DirectRunner") as p:
                p | Recompress(*args, **kw)
        else:
            from embcompress import nightly

            nightly.recompress_local(*args, **kw)


ALIAS_KINDS = ["cli-encode-o-is-input", "cli-encode-rejected-is-input", "cli-encode-rejected-is-o",
               "cli-decode-o-is-input", "cli-fit-o-is-input", "cli-fit-o-is-codec-symlink-to-input",
               "parquet_io-output-is-input", "parquet_io-rejected-is-input", "beam-output-inside-input",
               "beam-artifact-is-input", "spark-pyarrow-same-path", "spark-spark-same-path",
               "spark-pyarrow-output-inside-input", "nightly-output-is-table", "nightly-output-inside-table",
               "nightly-spark-output-is-table", "nightly-beam-output-inside-table"]


@pytest.mark.parametrize("kind", ALIAS_KINDS)
def test_output_aliasing_an_input_is_refused_and_the_input_survives(kind, request, data, folder, codec, tmp_path):
    # the folder fixture moved the file into it: the single-file cases get a copy back, and the
    # nightly job a date-partitioned copy
    table = tmp_path / "events"
    (table / "date=2026-01-01").mkdir(parents=True)
    shutil.copy(os.path.join(folder, "part-0.parquet"), data)
    shutil.copy(data, table / "date=2026-01-01" / "part-0.parquet")
    watched = (data, folder, str(table))
    before = {p: digest(p) for p in watched}

    def spark_fn(kind, folder, codec, call=None):
        from spark_udfs import compress_parquet

        session = request.getfixturevalue("spark")
        if call is not None:
            return call(session)
        engine = kind.split("-")[1]
        out = folder if kind.endswith("same-path") else os.path.join(folder, "encoded")
        compress_parquet(session, folder, out, "embedding", codec, mode="overwrite", engine=engine)

    with pytest.raises((PathConflictError, CliError)) as err:
        _alias_runs(kind, data, folder, str(table), codec, tmp_path, spark_fn)
    message = str(err.value)
    assert any(w in message for w in ("is the same path as", "lies inside", "contains", "are the same path")), message
    assert {p: digest(p) for p in watched} == before, "a refused write changed its input"
    assert pq.read_table(data).num_rows == ROWS


# ----- class 3: columns overwritten silently -------------------------------------------------------------
def test_cli_output_column_that_exists_is_refused_unless_replace(data, codec, tmp_path):
    codec_path = str(codec.save(tmp_path / "codec.ecz"))
    before, out = digest(data), tmp_path / "o.parquet"
    with pytest.raises(CliError, match="column 'label': output column already exists"):
        cli("encode", data, "--codec", codec_path, "-o", out, "--output-column", "label", output=out)
    assert digest(data) == before and not out.exists()
    cli("encode", data, "--codec", codec_path, "-o", out, "--output-column", "label", "--replace-column")
    t = pq.read_table(out)
    assert t.num_rows == ROWS and t.schema.field("label").type == pa.binary()
    assert t["id"].to_pylist() == list(range(ROWS))


def test_cli_decode_into_an_existing_column_is_refused(data, codec, tmp_path):
    codec_path = str(codec.save(tmp_path / "codec.ecz"))
    encoded, decoded = tmp_path / "e.parquet", tmp_path / "d.parquet"
    cli("encode", data, "--codec", codec_path, "-o", encoded)  # keeps 'embedding'
    with pytest.raises(CliError, match="column 'embedding': output column already exists"):
        cli("decode", encoded, "--codec", codec_path, "-o", decoded, output=decoded)
    cli("decode", encoded, "--codec", codec_path, "-o", decoded, "--output-column", "embedding_hat")
    assert pq.read_table(decoded).num_rows == ROWS


@pytest.mark.parametrize("form", ["table", "rows"])
@pytest.mark.parametrize("replace", [False, True])
def test_beam_output_column_that_exists(codec, form, replace):
    from apache_beam.testing.util import assert_that

    from beam_transforms import EncodeEmbeddings

    t = inputs.table(inputs.good_vectors(4).tolist())
    size = codec.code_size

    def codes_replaced_ids(out):
        rows = [r for element in out for r in (element.to_pylist() if isinstance(element, pa.Table) else [element])]
        assert len(rows) == 4 and all(isinstance(r["id"], bytes) and len(r["id"]) == size for r in rows), rows

    def run():
        with beam.Pipeline(runner="DirectRunner") as p:
            create = beam.Create([t] if form == "table" else t.to_pylist())
            pcoll = p | (create.with_output_types(pa.Table) if form == "table" else create)
            assert_that(pcoll | EncodeEmbeddings("embedding", codec, output_column="id", replace=replace),
                        codes_replaced_ids)

    if replace:
        run()
    else:
        with pytest.raises(Exception, match="column 'id': output column already exists"):
            run()


def test_beam_compress_parquet_refuses_an_existing_column_at_construction(folder, codec, tmp_path):
    from beam_transforms import CompressParquet

    transform = CompressParquet(os.path.join(folder, "*.parquet"), str(tmp_path / "out" / "part"), "embedding", codec,
                                output_column="label")
    with pytest.raises(ec.EmbeddingError, match="column 'label': output column already exists"):
        transform._schemas(codec)


@pytest.mark.parametrize("call", ["encode_column", "encode_column-dead_letter", "decode_column"])
def test_spark_output_column_that_exists_is_refused_unless_replace(spark, codec, call):
    from spark_udfs import decode_column, encode_column

    t = inputs.table(inputs.good_vectors(4).tolist()).append_column("label", pa.array(["a", "b", "c", "d"]))
    df = spark.createDataFrame(t)
    if call == "decode_column":
        df = encode_column(df, codec, "embedding", "code")

    def run(**kw):
        if call == "decode_column":
            return decode_column(df, codec, "code", "label", **kw)
        if call.endswith("dead_letter"):
            return encode_column(df, codec, "embedding", "label", on_invalid="dead_letter", **kw)[0]
        return encode_column(df, codec, "embedding", "label", **kw)

    with pytest.raises(ec.EmbeddingError, match="column 'label': output column already exists"):
        run()
    out = run(replace=True)
    assert out.columns == df.columns and out.count() == 4
    assert dict(out.dtypes)["label"] == ("array<float>" if call == "decode_column" else "binary")


@pytest.mark.parametrize("engine", ["pyarrow", "spark"])
def test_spark_compress_parquet_output_column_that_exists_is_refused_unless_replace(spark, folder, codec, tmp_path,
                                                                                    engine):
    from spark_udfs import compress_parquet

    before, out = digest(folder), tmp_path / "out"
    with pytest.raises(ec.EmbeddingError, match="column 'label': output column already exists"):
        compress_parquet(spark, folder, str(out), "embedding", codec, output_col="label", engine=engine)
    assert digest(folder) == before and not out.exists()
    compress_parquet(spark, folder, str(out), "embedding", codec, output_col="label", engine=engine, replace=True)
    t = pq.read_table(out)
    assert t.num_rows == ROWS and sorted(t.column_names) == ["id", "label"]
    assert t.schema.field("label").type == pa.binary() and digest(folder) == before


# ----- class 4: reruns and multi-file outputs ------------------------------------------------------------
def test_overwrite_rerun_removes_the_previous_runs_rejected_file(tmp_path, codec):
    codec_path = str(codec.save(tmp_path / "codec.ecz"))
    vectors = inputs.good_vectors(ROWS).tolist()
    bad = [list(v) for v in vectors]
    bad[3][0] = float("nan")
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    rejected = tmp_path / "out.rejected.parquet"
    inputs.write_parquet(src, inputs.table(bad))
    cli("encode", src, "--codec", codec_path, "-o", out, "--on-invalid", "dead-letter")
    assert pq.read_table(out).num_rows + pq.read_table(rejected).num_rows == ROWS
    inputs.write_parquet(src, inputs.table(vectors))  # the input, fixed
    cli("encode", src, "--codec", codec_path, "-o", out, "--on-invalid", "dead-letter", "--overwrite")
    assert pq.read_table(out).num_rows == ROWS and not rejected.exists()


def test_rejected_target_is_checked_before_any_row_is_read(tmp_path, codec, data):
    codec_path = str(codec.save(tmp_path / "codec.ecz"))
    out, rejected = tmp_path / "o.parquet", tmp_path / "o.rejected.parquet"
    rejected.write_bytes(b"earlier run")
    with pytest.raises(CliError, match="already exists"):
        cli("encode", data, "--codec", codec_path, "-o", out, "--on-invalid", "dead-letter", output=out)
    assert rejected.read_bytes() == b"earlier run"


# ----- class 5: bools are not vectors, in every path ------------------------------------------------------
def test_bool_vectors_are_refused_everywhere(codec):
    from beam_transforms import _rows

    with pytest.raises(ec.EmbeddingError, match="bool"):
        codec.encode([[True, False] * 4])
    with pytest.raises(ec.EmbeddingError, match="dtype bool"):
        codec.encode(np.ones((1, 8), dtype=bool))
    with pytest.raises(ec.EmbeddingError, match="non-numeric type"):
        codec.encode(pa.array([[True] * 8], pa.list_(pa.bool_())))
    _, reasons = _rows.vector_column([{"e": [True, False] * 4}, {"e": np.ones(8, bool)}, {"e": [0.5] * 8}], "e")
    assert reasons[0].startswith("wrong type") and "bool" in reasons[0]
    assert reasons[1].startswith("wrong type") and "bool" in reasons[1]
    assert reasons[2] is None


def test_output_and_rejected_file_commit_as_one_result(tmp_path, codec):
    vectors = inputs.good_vectors(ROWS).tolist()
    vectors[5][0] = float("nan")
    src = inputs.write_parquet(tmp_path / "in.parquet", inputs.table(vectors))
    out, rejected = tmp_path / "out.parquet", tmp_path / "out.rejected.parquet"
    counts = parquet_io.encode_file(src, out, codec, "embedding", on_invalid="dead_letter", rejected_path=rejected)
    record = parquet_io.verify_result(out)
    assert record["rows_in"] == ROWS == record["rows_out"] + record["rows_rejected"] and counts["rows_rejected"] == 1
    assert parquet_io.run_record(rejected)["run_id"] == record["run_id"]
    # a run over new input, killed between its two renames, leaves its rejected file next to the old output
    vectors[9][0] = float("inf")
    src2 = inputs.write_parquet(tmp_path / "in2.parquet", inputs.table(vectors))
    parquet_io.encode_file(src2, tmp_path / "b.parquet", codec, "embedding", on_invalid="dead_letter",
                           rejected_path=tmp_path / "b.rejected.parquet")
    os.replace(tmp_path / "b.rejected.parquet", rejected)
    with pytest.raises(ValueError, match="belongs to another run"):
        parquet_io.verify_result(out)
    rejected.unlink()
    with pytest.raises(ValueError, match="is missing: the result is partial"):
        parquet_io.verify_result(out)


# ----- class 4 in Beam: CompressParquet's shards and rejected shards commit as one result -----------------
def _beam_compress(folder, prefix, codec, **kw):
    from beam_transforms import CompressParquet

    transform = CompressParquet(os.path.join(folder, "*.parquet"), prefix, "embedding", codec, **kw)
    with beam.Pipeline(runner="DirectRunner") as p:
        p | transform
    return parquet_io.result_record_path(prefix)


def _bad_folder(tmp_path, name, bad_rows):
    vectors = inputs.good_vectors(ROWS).tolist()
    for i in bad_rows:
        vectors[i][0] = float("nan")
    root = tmp_path / name
    root.mkdir()
    inputs.write_parquet(root / "part-0.parquet", inputs.table(vectors), row_group=7)
    return str(root)


def test_beam_compress_parquet_commits_output_and_rejected_rows_as_one_result(tmp_path, codec):
    from beam_transforms.parquet import rejected_prefix

    folder = _bad_folder(tmp_path, "in", [3, 11])
    prefix = str(tmp_path / "out" / "part")
    record_path = _beam_compress(folder, prefix, codec, num_shards=3)
    record = parquet_io.verify_result(record_path)
    assert record["rows_in"] == ROWS and record["rows_out"] == ROWS - 2 and record["rows_rejected"] == 2
    assert f"result: complete, {ROWS} rows in = {ROWS - 2} out in 3 files + 2 rejected in 1 file" \
        in cli("inspect", record_path)
    assert len(record["files"]) == 3 and record["rejected"] == ["_rejected/part-00000-of-00001.parquet"]
    assert pq.read_table(tmp_path / "out").num_rows == ROWS - 2  # a directory reader sees the output rows only
    before = digest(folder)
    with pytest.raises(FileExistsError, match="already holds a result .*pass overwrite=True"):
        _beam_compress(folder, prefix, codec)
    # the fixed input, rerun with overwrite and fewer shards: the earlier run's shards are gone
    fixed = _bad_folder(tmp_path, "fixed", [])
    rerun = parquet_io.verify_result(_beam_compress(fixed, prefix, codec, num_shards=1, overwrite=True))
    assert rerun["run_id"] != record["run_id"] and rerun["rows_out"] == ROWS and rerun["rows_rejected"] == 0
    written = sorted(os.path.relpath(p, tmp_path / "out") for p in map(str, (tmp_path / "out").rglob("*.parquet")))
    assert written == sorted(rerun["files"] + rerun["rejected"]) == [
        "_rejected/part-00000-of-00001.parquet", "part-00000-of-00001.parquet"]
    assert pq.read_table(rejected_prefix(prefix) + "-00000-of-00001.parquet").num_rows == 0
    assert digest(folder) == before


def test_beam_compress_parquet_partial_and_mixed_results_are_told_apart(tmp_path, codec, monkeypatch):
    from beam_transforms import parquet as beam_parquet

    folder = _bad_folder(tmp_path, "in", [5])
    prefix = str(tmp_path / "out" / "part")
    record_path = _beam_compress(folder, prefix, codec, num_shards=1)
    committed = parquet_io.verify_result(record_path)
    rejected = os.path.join(tmp_path, "out", committed["rejected"][0])
    os.replace(rejected, tmp_path / "aside.parquet")
    with pytest.raises(ValueError, match="which is missing: the result is partial"):
        parquet_io.verify_result(record_path)
    os.replace(tmp_path / "aside.parquet", rejected)
    # a rerun killed after its files were renamed into place but before its commit step
    monkeypatch.setattr(beam_parquet, "_commit", lambda *a: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(Exception, match="killed"):
        _beam_compress(_bad_folder(tmp_path, "other", [6, 7]), prefix, codec, num_shards=1, overwrite=True)
    with pytest.raises(ValueError, match="belongs to another run than .*: the result is mixed"):
        parquet_io.verify_result(record_path)
    assert "result: NOT complete" in cli("inspect", record_path)
    assert parquet_io.run_record(prefix + "-00000-of-00001.parquet")["run_id"] != committed["run_id"]
    with pytest.raises(ValueError, match="was never committed"):
        parquet_io.verify_result(parquet_io.result_record_path(str(tmp_path / "elsewhere" / "part")))
