"""Column plumbing shared by the Spark adapters: check column types, expose vectors as arrays,
and turn the core's Arrow outputs into the Arrow types Spark expects."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
from pyspark.sql import functions as F
from pyspark.sql import types as T

TEMP_PREFIX = "__embcompress_"


def _is_vector_udt(dt) -> bool:
    return type(dt).__name__ == "VectorUDT"


def field(df, column: str) -> T.StructField:
    """The schema field of ``column``, or a KeyError listing the columns that do exist."""
    if not isinstance(column, str) or column not in df.columns:
        raise KeyError(f"column {column!r} not found; the DataFrame has columns {df.columns}")
    return df.schema[column]


def vector_input(df, column: str):
    """Return ``(df, read_col)`` where ``read_col`` holds ``column`` as ``array<float|double>``.

    ``array<float>``/``array<double>`` columns are read as they are. A Spark ML ``VectorUDT``
    column is converted by Spark (``vector_to_array``) into a temporary column, which the
    caller drops again; the original column is kept untouched.
    """
    dt = field(df, column).dataType
    if isinstance(dt, T.ArrayType) and isinstance(dt.elementType, T.NumericType):
        return df, column
    if _is_vector_udt(dt):
        from pyspark.ml.functions import vector_to_array

        temp = f"{TEMP_PREFIX}vec_{column}"
        return df.withColumn(temp, vector_to_array(F.col(column), "float32")), temp
    raise TypeError(f"column {column!r} has type {dt.simpleString()}; expected array<float>, array<double> "
                    f"or a Spark ML vector (VectorUDT). Convert it first, e.g. F.col({column!r}).cast('array<float>')")


def code_input(df, column: str) -> None:
    """Raise unless ``column`` is a ``binary`` column of codes."""
    dt = field(df, column).dataType
    if not isinstance(dt, T.BinaryType):
        raise TypeError(f"column {column!r} has type {dt.simpleString()}; expected binary codes "
                        f"(the output of encode_column or {{prefix}}_encode)")


def to_binary(codes) -> pa.BinaryArray:
    """``fixed_size_binary[w]`` -> ``binary`` without copying the code bytes (Spark has no fixed-width binary)."""
    if pa.types.is_binary(codes.type):
        return codes
    width = codes.type.byte_width
    n = len(codes)
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
    data = codes.buffers()[1]
    if codes.offset:
        data = data.slice(codes.offset * width, n * width)
    return pa.Array.from_buffers(pa.binary(), n, [codes.buffers()[0] if not codes.offset else
                                                  _validity(codes), offsets, data])


def _validity(arr):
    if arr.null_count == 0:
        return None
    return pa.array(arr.is_valid().to_numpy(zero_copy_only=False), pa.bool_()).buffers()[1]


def to_list(vectors) -> pa.ListArray:
    """``fixed_size_list<float>[d]`` -> ``list<float>``, which is what Spark's ``array<float>`` reads."""
    return pa.ListArray.from_arrays(
        pa.array(np.arange(len(vectors) + 1, dtype=np.int32) * vectors.type.list_size),
        vectors.values, mask=vectors.is_null() if vectors.null_count else None)
