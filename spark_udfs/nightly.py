"""The nightly re-compression job on Spark, and a Spark reader for its mixed-version output.

Planning, the drift decision, the commit and the summary are :mod:`embcompress.nightly`;
Spark samples the fresh partitions on the executors and runs one task per input file, each
writing one content-addressed Parquet file with pyarrow (no row conversion of the vectors).
The driver commits only after every task has succeeded.

On an object-store table (``s3://``...) Spark's own reader is never used: the executors list
nothing, read and write every file with pyarrow (:mod:`embcompress.storage`), so the JVM needs
no S3A connector, but the executors' Python needs the store's environment (credentials,
``AWS_ENDPOINT_URL``...), e.g. through ``spark.executorEnv.*`` or ``SparkContext.environment``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql import types as T

from embcompress import _faults, conventions, nightly, storage
from embcompress.reader import CompressedTable
from embcompress.registry import Registry

from . import _session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
from ._worker import broadcast_codec
from .sampling import sample_files, sample_vectors

_RESULT = T.StructType([T.StructField("task", T.LongType()), T.StructField("rows", T.LongType())])


def _encode_tasks(handle, todo, fail_from, output_path, column, code_column, on_invalid):
    kill = _faults.kill_target()  # test-only hook, read on the driver (embcompress/_faults.py)

    def run(batches):
        codec = handle.get()
        for batch in batches:
            ids, rows = [], []
            for i in batch.column(0).to_pylist():
                task, part_index = todo[i]
                _faults.check(part_index, fail_from, f"partition {task.value}")
                _faults.kill_driver_if_due(part_index, kill)
                ids.append(i)
                rows.append(nightly.encode_task(codec, task, output_path, column, code_column, on_invalid))
            yield pa.RecordBatch.from_arrays([pa.array(ids, pa.int64()), pa.array(rows, pa.int64())],
                                             names=["task", "rows"])
    return run


def _write(spark, plan, decision, todo, fail_after, on_invalid):
    """Encode every task on the executors; returns ``[(task, rows)]`` in task order."""
    values = list(dict.fromkeys(t.value for t in todo))
    indexed = [(t, values.index(t.value)) for t in todo]
    run = _encode_tasks(broadcast_codec(spark, decision.codec), indexed, fail_after, plan.output_path, plan.column,
                        plan.code_column, on_invalid)
    jobs = spark.range(0, len(todo), 1, numPartitions=max(1, len(todo)))
    result = _session.to_arrow(jobs.mapInArrow(run, _RESULT))
    rows = dict(zip(result["task"].to_pylist(), result["rows"].to_pylist()))
    if sorted(rows) != list(range(len(todo))):
        raise RuntimeError(f"{len(todo) - len(rows)} of {len(todo)} encode tasks reported nothing; nothing was "
                           f"committed, rerun the job")
    return [(t, rows[i]) for i, t in enumerate(todo)]


def _sample(spark, plan, sample_size: int, seed: int):
    """The fresh partitions' sample: through Spark's reader for a local table, with pyarrow on the
    executors for an object-store table (the JVM may have no connector for it; the executors'
    Python reaches it with the environment's credentials and endpoint)."""
    files = [f for p in plan.fresh for f in p.files]
    if storage.is_local(plan.table_path):
        df = spark.read.option("basePath", plan.table_path).parquet(*files)
        return sample_vectors(df, plan.column, sample_size, seed)
    return sample_files(spark, files, plan.column, sample_size, seed)


def recompress(spark: SparkSession, table_path: str, column: str, registry: Registry | str, name: str, *, spec: str,
               partition_col: str, sample_size: int = 100_000, thresholds: dict | None = None,
               output_path: str | None = None, reencode: str = "all", metric: str = "ip", seed: int = 0,
               code_column: str | None = None, on_invalid: str = "dead_letter") -> dict:
    """One night: encode new partitions, refit on drift, commit atomically; returns the run summary.

    ``registry`` is an :class:`embcompress.registry.Registry` or its root path; ``name`` the
    codec's name in it. The output (default ``{table_path}_compressed``) is a Delta Lake table,
    one commit per night (see :mod:`embcompress.nightly`); read it with any Delta reader,
    :func:`read_compressed` or :func:`embcompress.reader.open_compressed`. ``reencode="all"`` re-encodes every partition
    on an older codec version (after a refit: all of them); ``"new"`` leaves them as they are.
    ``thresholds`` overrides :data:`embcompress.drift.DEFAULT_THRESHOLDS`. A run with nothing
    new reads only metadata and writes nothing but its summary.

    Invalid rows (NaN, Inf, wrong length, ...) do not fail the night: over
    ``thresholds['invalid_share']`` of the sample, the night fails before anything is written
    (``DriftError``); below it the fit uses the valid rows and the encode routes the invalid ones
    by ``on_invalid``: ``"dead_letter"`` (default) to ``output/_rejected/``, ``"null"`` to null
    codes, ``"raise"`` fails the night naming the row. The same as ``recompress_local``.
    """
    conventions.check_on_invalid(on_invalid)
    clock, registry = nightly.Clock(), nightly.as_registry(registry)
    output_path = output_path or nightly.default_output(table_path)
    plan = nightly.make_plan(table_path, output_path, column, partition_col, registry, name, code_column)
    if plan.up_to_date(registry.versions(name), reencode):
        summary = nightly.summarize(plan, clock, engine="spark", name=name, policy=reencode)
    else:
        sample = _sample(spark, plan, sample_size, seed) if plan.fresh else None
        decision = nightly.decide(registry, name, sample, spec=spec, metric=metric, seed=seed, thresholds=thresholds)
        nightly.store_codec(plan.output_path, decision.codec)
        nightly.remove_temporaries(plan)
        written = _write(spark, plan, decision, nightly.tasks(plan, decision, reencode), _faults.fail_after(),
                         on_invalid)
        snapshot = nightly.commit(plan, decision, written, registry_name=name)
        summary = nightly.summarize(plan, clock, engine="spark", name=name, decision=decision, written=written,
                                    snapshot=snapshot, policy=reencode)
    nightly.write_summary(clock.summary_path(plan.output_path), summary)
    return summary


def _spark_types(table: pa.Table) -> pa.Table:
    """Fixed-size Arrow types Spark cannot take: vectors become ``list<float>``, codes ``binary``."""
    fields = []
    for f in table.schema:
        if pa.types.is_fixed_size_list(f.type):
            f = f.with_type(pa.list_(f.type.value_type))
        elif pa.types.is_fixed_size_binary(f.type):
            f = f.with_type(pa.binary())
        fields.append(f)
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _read_files(state, files, decode):
    def run(batches):
        table = CompressedTable(state["path"], state=state)
        for batch in batches:
            for i in batch.column(0).to_pylist():
                value, file = files[i]
                out, _ = table.read_file(value, file, decode=decode)
                yield from _spark_types(out).to_batches()
    return run


def read_compressed(spark: SparkSession, path: str, *, decode: bool = False, version: int | None = None) -> DataFrame:
    """The output's Delta table as a DataFrame, one Spark task per active file, each decoded with its own codec.

    Spark here has no Delta connector (its jars are not fetched), so the active file list comes
    from the Delta log through delta-rs, at the latest version or at ``version`` (time travel),
    and each task reads its Parquet file with pyarrow. ``decode=True`` replaces the code column
    with the decoded vectors (``array<float>``); the partition column comes back as a string and
    the codec-version column as an int, as any Delta reader gives them.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    table = CompressedTable(path, version)
    files = [(v, f) for v in table.partitions for f in table.files(v)]
    if not files:
        raise ValueError(f"{table.path} version {table.snapshot} has no partitions (all were removed upstream)")
    first, _ = table.read_file(*files[0], decode=decode)
    schema = from_arrow_schema(_spark_types(first).schema)
    run = _read_files(table.state, files, decode)
    return spark.range(0, len(files), 1, numPartitions=len(files)).mapInArrow(run, schema)
