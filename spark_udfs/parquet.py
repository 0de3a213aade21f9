"""Compress the embedding column of a Parquet dataset: read, fit if needed, encode, write,
and leave the codec artifact and a sidecar JSON describing it next to the output."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import embcompress as ec
from embcompress import provenance, storage
from embcompress.codec import MAX_ARTIFACT_BYTES
from embcompress.conventions import (DATASET_ARTIFACT, DATASET_SIDECAR, LEGACY_DATASET_ARTIFACTS, check_on_invalid,
                                     default_code_column, resolve_drop_input)
from embcompress.parquet_io import refuse_existing
from embcompress.parquet_io import check_value_counts
from embcompress._paths import check_no_alias
from embcompress.provenance import ColumnRecord
from embcompress.spec import MAX_DIM

from . import _fs, _rowgroups, _scan
from .encode import encode_column
from .sampling import fit_codec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SIDECAR = DATASET_SIDECAR
ARTIFACT = DATASET_ARTIFACT
MODES = ("errorifexists", "error", "overwrite", "append", "ignore")
ENGINES = ("auto", "pyarrow", "spark")


def read_parquet(spark: SparkSession, *paths: str) -> DataFrame:
    """``spark.read.parquet(*paths)``, marked as a plain read: :func:`encode_column`,
    :func:`fit_codec` and :func:`sample_vectors` then read its row groups with pyarrow on the
    executors, skipping Spark's element-by-element conversion of the vectors (docs/spark.md).

    The mark survives a ``select`` of plain columns; any other change (a filter, a computed
    column, a join) gives an ordinary DataFrame that goes through ``mapInArrow``. Works the
    same on classic sessions and Spark Connect.
    """
    if not paths:
        raise ValueError("read_parquet needs at least one path")
    df = spark.read.parquet(*paths)
    _scan.register(df, paths)
    return df


def sidecar(record: ColumnRecord, partition_by) -> bytes:
    """The dataset's sidecar: the provenance record every engine writes, the artifact's name, the partitioning."""
    return provenance.sidecar(record, artifact=ARTIFACT, partition_by=list(partition_by or []))


def read_sidecar(spark, path: str) -> tuple[ColumnRecord, str]:
    """``(record, artifact file name)`` from the sidecar of a ``compress_parquet`` output (any release's shape)."""
    where = _fs.join(path, SIDECAR)
    records, extra = provenance.read_sidecar(_fs.read_bytes(where, limit=1 << 20), where)
    if len(records) != 1:
        raise ec.ArtifactError(f"{where} records {len(records)} code columns; compress_parquet writes one")
    artifact = extra.get("artifact", ARTIFACT)
    if artifact not in (ARTIFACT, *LEGACY_DATASET_ARTIFACTS):
        raise ec.ArtifactError(f"{where} names artifact {artifact!r}; expected {ARTIFACT!r}")
    return records[0], artifact


def load_codec(spark, path: str):
    """The codec stored next to a ``compress_parquet`` output, checked against the sidecar fingerprint."""
    record, artifact = read_sidecar(spark, path)
    codec = ec.Codec.from_bytes(_fs.read_bytes(_fs.join(path, artifact), limit=MAX_ARTIFACT_BYTES))
    if codec.fingerprint != record.fingerprint:
        raise ec.ArtifactError(f"{path}: the artifact's fingerprint does not match {SIDECAR}")
    return codec


def _check_append(spark, output_path, codec):
    if _fs.exists(_fs.join(output_path, SIDECAR)):
        old = read_sidecar(spark, output_path)[0].fingerprint
        if old != codec.fingerprint:
            raise ValueError(f"{output_path} holds codes of codec {old[:12]}; appending codes of codec "
                             f"{codec.fingerprint[:12]} would mix two codecs in one column. Use the stored codec "
                             f"(spark_udfs.parquet.load_codec) or write to a new path")


def _open_dataset(input_path):
    """The input as one pyarrow dataset (Hive partitioning), opened once so each footer is read
    once; None where only the JVM can open it (engine='spark' with Hadoop credentials), whose
    own read then reports any problem in Spark's words."""
    import pyarrow as pa
    import pyarrow.dataset as pads

    try:
        fs, root = storage.resolve(input_path)
        return pads.dataset(root, filesystem=fs, format="parquet", partitioning="hive")
    except (OSError, ValueError, pa.ArrowException):
        return None


def _check_footers(dataset, column, dim):
    """Refuse, from the footers alone, input whose vectors hold far more values than ``dim`` per
    row, before the fit's sample or an encode task materialises such a row."""
    import pyarrow as pa

    if dataset is None:
        return
    try:
        footers = [(frag.path, frag.metadata) for frag in dataset.get_fragments()]
    except (OSError, pa.ArrowException):
        return  # unreadable here: Spark's read reports it in its own words
    for path, meta in footers:
        check_value_counts(meta, column, dim, path)


def _pyarrow_can_open(path) -> bool:
    """Whether pyarrow reaches ``path`` from this process (its filesystem, credentials and endpoint)."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    try:
        fs, inner = storage.resolve(str(path))
        return fs.get_file_info(inner).type != pafs.FileType.NotFound
    except (OSError, ValueError, pa.ArrowException):
        return False


def choose_engine(input_path, engine: str = "auto", partition_by=None) -> str:
    """The engine ``compress_parquet`` runs: ``engine`` itself unless ``"auto"``, which is Spark's
    engine when ``partition_by`` is given or pyarrow cannot open ``input_path`` (a glob, or a
    store only the JVM holds credentials or a connector for), and the pyarrow engine otherwise."""
    if engine != "auto":
        return engine
    if partition_by is not None or not _pyarrow_can_open(input_path):
        return "spark"
    return "pyarrow"


def compress_parquet(spark: SparkSession, input_path: str, output_path: str, column: str, spec: str | ec.Codec, *,
                     sample_size: int = 100_000, seed: int = 0, metric: str = "ip", output_col: str | None = None,
                     drop_input: bool | None = None, partition_by: Sequence[str] | None = None,
                     mode: str = "errorifexists", on_invalid: Literal["raise", "null"] = "raise", engine: str = "auto",
                     replace: bool = False, keep_input: bool | None = None) -> ec.Codec:
    """Read Parquet at ``input_path``, encode ``column`` and write Parquet to ``output_path``.

    ``spec`` is a spec string (fitted here on ``sample_size`` rows) or a fitted Codec. The code
    column is ``output_col`` (default ``{column}_code``); the vectors are dropped unless
    ``drop_input=False`` (``keep_input`` is its deprecated negation). Hive-style partitioning of
    the input is kept unless ``partition_by`` says otherwise. An ``output_col`` naming another
    existing column is refused (before anything is deleted or fitted) unless ``replace=True``.
    ``_embcompress.json`` (the provenance record) and ``_embcompress.ecz`` (the artifact) are
    written into ``output_path``; every data file's footer holds the same record
    (docs/conventions.md). Returns the codec.

    ``engine="pyarrow"`` runs one Spark task per row group that reads, encodes and writes with
    pyarrow (no Spark row conversion of the vectors: the faster path, see docs/spark.md);
    ``"spark"`` uses ``spark.read``/``encode_column``/``DataFrame.write`` and can repartition
    with ``partition_by``. ``"auto"`` (:func:`choose_engine`) picks pyarrow where pyarrow can
    open ``input_path`` and no ``partition_by`` is given, and Spark's engine otherwise. With a
    fitted Codec the pyarrow engine never reads the input through Spark, so it also works on a
    store only pyarrow reaches (an ``s3://`` bucket with no Hadoop S3A connector in the JVM).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "pyarrow" and partition_by is not None:
        raise ValueError("engine='pyarrow' keeps the input's partitioning; pass engine='spark' to use partition_by")
    if on_invalid == "dead_letter":
        raise ValueError("compress_parquet takes on_invalid='raise' or 'null'; "
                         "use encode_column(..., on_invalid='dead_letter') to route bad rows")
    check_on_invalid(on_invalid)
    drop_input = resolve_drop_input(drop_input, keep_input, default=True, where="compress_parquet")
    check_no_alias({"input_path": input_path}, {"output_path": output_path})  # before anything is deleted
    exists = _fs.exists(output_path)
    if exists and mode == "ignore":
        return load_codec(spark, output_path)
    if exists and mode in ("errorifexists", "error"):
        raise FileExistsError(f"{output_path} already exists; pass mode='overwrite' or mode='append'")
    chosen = choose_engine(input_path, engine, partition_by)
    dataset = _open_dataset(input_path)
    _check_footers(dataset, column, spec.dim if isinstance(spec, ec.Codec) else MAX_DIM)
    fitted = isinstance(spec, ec.Codec)
    columns = dataset.schema.names if chosen == "pyarrow" and fitted and dataset is not None else None
    df = None  # nothing to fit and pyarrow reads the input: Spark need not read it (a store only pyarrow reaches)
    if columns is None:
        df = read_parquet(spark, input_path)
        columns = df.columns
    output_col = output_col or default_code_column(column)
    refuse_existing(columns, output_col, replace, input_path, removed=(column,) if drop_input else ())
    if df is not None and output_col in df.columns and output_col != column:
        df = df.drop(output_col)  # replace=True: the codes take its place
    read_engine = "spark" if engine == "spark" else "auto"  # how fit_codec/encode_column read the vectors
    if isinstance(spec, ec.Codec):
        codec = spec
    else:
        assert df is not None  # only a fitted codec skips the Spark read
        codec = fit_codec(df, column, spec, sample_size=sample_size, seed=seed, metric=metric, engine=read_engine)
    if exists and mode == "append":
        _check_append(spark, output_path, codec)
    parts = _fs.partition_columns(input_path) if partition_by is None else list(partition_by)
    record = ColumnRecord.of(codec, column, output_col)
    if chosen == "spark":
        assert df is not None
        encoded = encode_column(df, codec, column, output_col, on_invalid=on_invalid, drop_input=drop_input,
                                engine=read_engine)
        writer = encoded.write.mode("error" if mode == "errorifexists" else mode)  # Connect knows only 'error'
        if parts:
            writer = writer.partitionBy(*parts)
        writer.parquet(output_path)
    else:
        if dataset is None:
            raise FileNotFoundError(f"{input_path}: pyarrow cannot open it; pass engine='spark'")
        _rowgroups.compress_row_groups(spark, dataset, input_path, output_path, column, codec, output_col=output_col,
                                       drop_input=drop_input, on_invalid=on_invalid, record=record,
                                       overwrite=mode == "overwrite")
    _fs.write_bytes(_fs.join(output_path, ARTIFACT), codec.to_bytes(), overwrite=True)
    _fs.write_bytes(_fs.join(output_path, SIDECAR), sidecar(record, parts), overwrite=True)
    return codec
