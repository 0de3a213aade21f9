"""What differs between the Spark lines and session kinds we support, decided at call time.

One package serves pyspark 3.5.x and 4.x, on classic sessions and on Spark Connect. Nothing
here runs at import: each check looks at the session or the installed pyspark when a public
function is called, so ``import spark_udfs`` works on every supported line.
"""
from __future__ import annotations

import os
import re

import pyarrow as pa

MIN_SPARK = (3, 5)  # the one place the supported range lives; README and docs quote it
SUPPORTED = "pyspark 3.5.x and 4.x, classic sessions and Spark Connect"


def pyspark_version() -> tuple:
    """The installed pyspark's ``(major, minor)``."""
    import pyspark

    match = re.match(r"(\d+)\.(\d+)", pyspark.__version__)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def check_supported() -> None:
    """Fail with the supported range when the installed pyspark is older than it."""
    if pyspark_version() < MIN_SPARK:
        import pyspark

        raise RuntimeError(f"spark_udfs needs {SUPPORTED}; this is pyspark {pyspark.__version__}")


def require(feature: str, version: tuple) -> None:
    """Fail with a clear message when ``feature`` needs a newer pyspark than the installed one."""
    if pyspark_version() < version:
        import pyspark

        raise RuntimeError(f"{feature} needs pyspark {'.'.join(map(str, version))} or newer; "
                           f"this is pyspark {pyspark.__version__}")


def is_connect(spark) -> bool:
    """True for a Spark Connect session (``SparkSession.builder.remote(...)``)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def session_of(df):
    """The SparkSession a DataFrame belongs to, classic or Connect."""
    return df.sparkSession


def to_arrow(df) -> pa.Table:
    """``df`` collected as one Arrow table: ``DataFrame.toArrow`` on Spark 4, IPC blobs before it.

    Before Spark 4 each task packs its Arrow batches into one IPC stream and the driver
    unpacks them, so no row is ever converted by Python on either side.
    """
    if hasattr(df, "toArrow"):
        return df.toArrow()
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(df.schema)
    blobs = df.mapInArrow(_pack_batches, "blob binary").collect()
    parts = [pa.ipc.open_stream(bytes(row.blob)).read_all() for row in blobs]
    return pa.concat_tables([p.cast(schema) for p in parts]) if parts else schema.empty_table()


def _pack_batches(batches):
    sink, writer = None, None
    for batch in batches:
        if writer is None:
            sink = pa.BufferOutputStream()
            writer = pa.ipc.new_stream(sink, batch.schema)
        writer.write_batch(batch)
    if writer is not None:
        writer.close()
        yield pa.RecordBatch.from_arrays([pa.array([sink.getvalue().to_pybytes()], pa.binary())], names=["blob"])


def arrow_schema(struct, timezone: str | None = None) -> pa.Schema:
    """Spark's Arrow schema for ``struct``: timestamps in ``timezone`` on Spark 4, UTC on 3.5."""
    from pyspark.sql.pandas.types import to_arrow_schema

    try:
        return to_arrow_schema(struct, timezone=timezone)
    except TypeError:  # pyspark 3.5 takes the schema only
        return to_arrow_schema(struct)


def _conf(spark, key: str):
    try:
        value = spark.conf.get(key)
    except Exception:  # unset and without a default on this line
        return None
    return value or None


def parallelism(spark) -> int:
    """How many tasks the session runs at once: the classic context's default parallelism, or on
    Connect ``spark.default.parallelism``, else the cores of a ``local[n]`` master, else 2."""
    if not is_connect(spark):
        return spark.sparkContext.defaultParallelism
    value = _conf(spark, "spark.default.parallelism")
    if value and value.isdigit():
        return int(value)
    master = _conf(spark, "spark.master") or ""
    match = re.match(r"local\[(\d+|\*)", master)
    if match:
        return (os.cpu_count() or 2) if match.group(1) == "*" else int(match.group(1))
    return 2
