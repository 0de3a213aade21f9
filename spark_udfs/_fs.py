"""Small files next to Spark outputs (sidecar JSON, codec artifacts), through the core's
``pyarrow.fs`` layer: the same code on classic sessions and Spark Connect, for local paths,
HDFS and object stores (``s3a://`` names the same bucket as ``s3://``)."""
from __future__ import annotations

from embcompress.storage import exists, join, partition_columns, read_bytes, write_bytes

__all__ = ["exists", "join", "partition_columns", "read_bytes", "write_bytes"]
