"""Run one input through one entry point and report what came out, in one shape for all five.

Each runner returns a :class:`Result` (codes by row id, dead-lettered reasons by row id)
or raises; the CLI runner raises :class:`CliError` with stderr and also checks that a
failed command left no output file behind.
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
from dataclasses import dataclass, field
from hashlib import sha256

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.testing.util import assert_that

import embcompress as ec
from embcompress import parquet_io
from embcompress.arrow import decode_arrow, encode_arrow
from embcompress.cli import main as cli_main

from .inputs import write_parquet

CODE, REASON = "code", "reason"


class CliError(Exception):
    """The CLI exited non-zero; the message is its stderr."""


@dataclass
class Result:
    rows_in: int
    out: dict = field(default_factory=dict)  # id -> code bytes (None for a null code)
    dead: dict = field(default_factory=dict)  # id -> reason

    def check_conservation(self):
        assert self.rows_in == len(self.out) + len(self.dead), \
            f"rows lost: {self.rows_in} in, {len(self.out)} out + {len(self.dead)} dead letters"
        assert not set(self.out) & set(self.dead), "a row is both in the output and in the dead letter"


class Context:
    """What the runners share: a SparkSession, a scratch folder, saved codecs and registered UDFs."""

    def __init__(self, spark, tmp):
        self.spark, self.tmp = spark, tmp
        self._paths, self._prefixes, self._n = {}, {}, 0

    def scratch(self, name):
        self._n += 1
        return self.tmp / f"{self._n}_{name}"

    def codec_path(self, codec):
        if codec.fingerprint not in self._paths:
            self._paths[codec.fingerprint] = str(codec.save(self.scratch("codec.ecz")))
        return self._paths[codec.fingerprint]

    def udf_prefix(self, codec):
        from spark_udfs import register_udfs

        if codec.fingerprint not in self._prefixes:
            prefix = f"rel{len(self._prefixes)}"
            register_udfs(self.spark, codec, prefix, on_invalid="null")
            self._prefixes[codec.fingerprint] = prefix
        return self._prefixes[codec.fingerprint]

    def view(self, t: pa.Table, name="rel_t"):
        df = self.spark.createDataFrame(t)
        df.createOrReplaceTempView(name)
        return df


def _result(rows_in, ids, codes, dead_ids=(), reasons=()):
    return Result(rows_in, {i: (None if c is None else bytes(c)) for i, c in zip(ids, codes)},
                  dict(zip(dead_ids, reasons)))


# ----- core -----------------------------------------------------------------------------------------
def core_encode(ctx, t, codec, column):
    if column not in t.column_names:  # the core's table entry point is the Parquet streamer
        path = write_parquet(ctx.scratch("in.parquet"), t)
        parquet_io.encode_file(path, str(ctx.scratch("out.parquet")), codec, column)
    enc = encode_arrow(codec, t[column], column=column, on_invalid="dead_letter")
    ids, keep = t["id"].to_pylist(), ~enc.rejected
    return Result(t.num_rows, {i: c for i, c, k in zip(ids, enc.codes.to_pylist(), keep) if k},
                  {i: r for i, r, k in zip(ids, enc.reasons, keep) if not k})


def core_fit(ctx, t, spec):
    return ec.fit(spec, t["embedding"])


def core_decode(ctx, t, codec):
    return decode_arrow(codec, t[CODE], column=CODE)


def core_parquet(ctx, path, codec):
    return parquet_io.encode_file(path, str(ctx.scratch("out.parquet")), codec, "embedding")


def core_artifact(ctx, path, blob):
    return ec.load(path)


# ----- Spark DataFrame API ----------------------------------------------------------------------
def spark_encode(ctx, t, codec, column):
    from spark_udfs import encode_column

    good, bad = encode_column(ctx.spark.createDataFrame(t), codec, column, CODE, on_invalid="dead_letter",
                              reason_col=REASON)
    a, b = good.select("id", CODE).toArrow(), bad.select("id", REASON).toArrow()
    return _result(t.num_rows, a["id"].to_pylist(), a[CODE].to_pylist(), b["id"].to_pylist(), b[REASON].to_pylist())


def spark_fit(ctx, t, spec):
    from spark_udfs import fit_codec

    return fit_codec(ctx.spark.createDataFrame(t), "embedding", spec)


def spark_decode(ctx, t, codec):
    from spark_udfs import decode_column

    return decode_column(ctx.spark.createDataFrame(t), codec, CODE, "vec").toArrow()


def spark_parquet(ctx, path, codec):
    from spark_udfs import compress_parquet

    return compress_parquet(ctx.spark, path, str(ctx.scratch("out")), "embedding", codec)


def spark_artifact(ctx, path, blob):
    """The plugin's own loader: the artifact stored next to a compress_parquet output."""
    from embcompress.provenance import ColumnRecord
    from spark_udfs.parquet import ARTIFACT, SIDECAR, load_codec, sidecar

    folder = ctx.scratch("compressed")
    folder.mkdir()
    record = ColumnRecord(code_column="embedding_code", spec="SQ8", dim=8, metric="ip", code_size=8,
                          fingerprint=sha256(blob).hexdigest())  # a well-formed sidecar; the artifact is the case
    (folder / SIDECAR).write_bytes(sidecar(record, []))
    (folder / ARTIFACT).write_bytes(blob)
    return load_codec(ctx.spark, str(folder))


# ----- Spark SQL UDFs (and the pyspark.ml Estimator for fitting) --------------------------------
def sql_encode(ctx, t, codec, column):
    prefix = ctx.udf_prefix(codec)
    ctx.view(t)
    a = ctx.spark.sql(f"SELECT id, {prefix}_encode({column}) AS {CODE} FROM rel_t").toArrow()
    return _result(t.num_rows, a["id"].to_pylist(), a[CODE].to_pylist())


def sql_fit(ctx, t, spec):
    from spark_udfs import EmbeddingCompressor

    return EmbeddingCompressor(inputCol="embedding", outputCol=CODE, spec=spec).fit(ctx.spark.createDataFrame(t))


def sql_decode(ctx, t, codec):
    prefix = ctx.udf_prefix(codec)
    ctx.view(t, "rel_c")
    return ctx.spark.sql(f"SELECT id, {prefix}_decode({CODE}) AS vec FROM rel_c").toArrow()


def sql_parquet(ctx, path, codec):
    prefix = ctx.udf_prefix(codec)
    return ctx.spark.sql(f"SELECT {prefix}_encode(embedding) FROM parquet.`{path}`").collect()


def sql_artifact(ctx, path, blob):
    """What a SQL UDF's worker does with the broadcast artifact bytes."""
    from spark_udfs._worker import CodecHandle, Shipped, worker_codec

    return worker_codec(CodecHandle(Shipped(ctx.spark.sparkContext.broadcast(blob)), sha256(blob).hexdigest()))


# ----- Beam (DirectRunner) ------------------------------------------------------------------------
def _dump(path):
    def matcher(actual):
        with open(path, "wb") as f:
            pickle.dump(list(actual), f)
    return matcher


def _load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def beam_encode(ctx, t, codec, column):
    from beam_transforms import EncodeEmbeddings

    good_path, bad_path = ctx.scratch("good.pkl"), ctx.scratch("bad.pkl")
    with beam.Pipeline(runner="DirectRunner") as p:
        res = p | beam.Create([t]) | EncodeEmbeddings(column, codec, output_column=CODE).with_dead_letters()
        assert_that(res.good, _dump(good_path), label="DumpGood")
        assert_that(res.bad, _dump(bad_path), label="DumpBad")
    tables, bad = _load(good_path), _load(bad_path)
    out = pa.concat_tables(tables) if tables else t.slice(0, 0).append_column(CODE, pa.array([], pa.binary()))
    return _result(t.num_rows, out["id"].to_pylist(), out[CODE].to_pylist(),
                   [b["row"]["id"] for b in bad], [b["embcompress_reason"] for b in bad])


def beam_fit(ctx, t, spec):
    from beam_transforms import FitCodec

    with beam.Pipeline(runner="DirectRunner") as p:
        p | beam.Create([t]) | FitCodec("embedding", spec, sample_size=100)


def beam_decode(ctx, t, codec):
    from beam_transforms import DecodeEmbeddings

    with beam.Pipeline(runner="DirectRunner") as p:
        p | beam.Create([t]) | DecodeEmbeddings(CODE, codec)


def beam_parquet(ctx, path, codec):
    from beam_transforms import CompressParquet

    with beam.Pipeline(runner="DirectRunner") as p:
        p | CompressParquet(path, str(ctx.scratch("out")), "embedding", codec)


def beam_artifact(ctx, path, blob):
    from beam_transforms import ReadCodec

    with beam.Pipeline(runner="DirectRunner") as p:
        p | ReadCodec(path)


# ----- CLI ------------------------------------------------------------------------------------------
def cli(*argv, output=None):
    """Run ``embcompress argv`` in-process; raise CliError (after checking no output was left) on failure."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main([str(a) for a in argv])
    if code != 0:
        assert output is None or not os.path.exists(output), f"failed command left {output} behind"
        raise CliError(err.getvalue().strip())
    return out.getvalue()


def cli_encode(ctx, t, codec, column):
    src, out = write_parquet(ctx.scratch("in.parquet"), t), str(ctx.scratch("out.parquet"))
    cli("encode", src, "--codec", ctx.codec_path(codec), "--column", column, "-o", out, "--output-column", CODE,
        "--on-invalid", "dead-letter", output=out)
    a = pq.read_table(out)
    rejected = out[: -len(".parquet")] + ".rejected.parquet"
    b = pq.read_table(rejected) if os.path.exists(rejected) else pa.table({"id": [], "embcompress_reason": []})
    return _result(t.num_rows, a["id"].to_pylist(), a[CODE].to_pylist(), b["id"].to_pylist(),
                   b["embcompress_reason"].to_pylist())


def cli_fit(ctx, t, spec):
    src, out = write_parquet(ctx.scratch("in.parquet"), t), str(ctx.scratch("fit.ecz"))
    return cli("fit", src, "--spec", spec, "-o", out, output=out)


def cli_decode(ctx, t, codec):
    src, out = write_parquet(ctx.scratch("codes.parquet"), t), str(ctx.scratch("decoded.parquet"))
    return cli("decode", src, "--codec", ctx.codec_path(codec), "--column", CODE, "-o", out, output=out)


def cli_parquet(ctx, path, codec):
    out = str(ctx.scratch("out.parquet"))
    return cli("encode", path, "--codec", ctx.codec_path(codec), "-o", out, output=out)


def cli_artifact(ctx, path, blob):
    src = write_parquet(ctx.scratch("in.parquet"), pa.table({"id": [0], "embedding": [[0.5] * 8]}))
    out = str(ctx.scratch("out.parquet"))
    return cli("encode", src, "--codec", path, "-o", out, output=out)


RUNNERS = {
    entry: {kind: globals()[f"{entry}_{kind}"] for kind in ("encode", "fit", "decode", "parquet", "artifact")}
    for entry in ("core", "spark", "sql", "beam", "cli")
}
