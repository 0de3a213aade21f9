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
    caller drops again; the original column is kept untouched. A null vector stays a null
    array (``vector_to_array`` itself fails the job on a null), so it gets a null code or goes
    by ``on_invalid`` exactly as a null ``array<float>`` does. The values stay doubles, as the
    vector holds them, so a value beyond float32's range is named as such by the core rather
    than turned into Inf by a cast.
    """
    dt = field(df, column).dataType
    if isinstance(dt, T.ArrayType) and isinstance(dt.elementType, T.NumericType):
        return df, column
    if _is_vector_udt(dt):
        from pyspark.ml.functions import vector_to_array

        temp = f"{TEMP_PREFIX}vec_{column}"
        vec = F.col(column)
        dense = F.when(vec.isNull(), F.lit(None).cast(T.ArrayType(T.DoubleType()))).otherwise(
            vector_to_array(vec, "float64"))
        return df.withColumn(temp, dense), temp
    raise TypeError(f"column {column!r} has type {dt.simpleString()}; expected array<float>, array<double> "
                    f"or a Spark ML vector (VectorUDT). Convert it first, e.g. F.col({column!r}).cast('array<float>')")


def code_input(df, column: str) -> None:
    """Raise unless ``column`` is a ``binary`` column of codes."""
    dt = field(df, column).dataType
    if not isinstance(dt, T.BinaryType):
        raise TypeError(f"column {column!r} has type {dt.simpleString()}; expected binary codes "
                        f"(the output of encode_column or {{prefix}}_encode)")


def to_list(vectors) -> pa.ListArray:
    """``fixed_size_list<float>[d]`` -> ``list<float>``, which is what Spark's ``array<float>`` reads."""
    return pa.ListArray.from_arrays(
        pa.array(np.arange(len(vectors) + 1, dtype=np.int32) * vectors.type.list_size),
        vectors.values, mask=vectors.is_null() if vectors.null_count else None)



def dense(values) -> pa.Array:
    """Vectors as an Arrow list array: lists pass as they are; a Spark ML vector (``VectorUDT``,
    which reaches vectorized UDFs as ``struct<type, size, indices, values>``) becomes its dense
    values, sparse ones scattered into zeros, with no Python loop over rows."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_struct(values.type):
        return values
    n = len(values)
    kind, size, indices, vals = values.flatten()
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    sparse = (kind.fill_null(1).to_numpy(zero_copy_only=False) == 0) & valid
    v_off = vals.offsets.to_numpy().astype(np.int64)
    counts = np.where(valid, np.diff(v_off), 0)
    lengths = np.where(sparse, size.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64), counts)
    out_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_off[1:])
    rows = np.repeat(np.arange(n), counts)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    picked = vals.values.to_numpy(zero_copy_only=False)[v_off[rows] + within] if len(rows) else np.zeros(0)
    pos = within
    if sparse.any():
        i_off = indices.offsets.to_numpy().astype(np.int64)
        if np.any(np.diff(i_off)[sparse] != counts[sparse]):
            raise ValueError("a sparse Spark ML vector has different numbers of indices and values")
        at_sparse = sparse[rows]
        pos = within.copy()
        pos[at_sparse] = indices.values.to_numpy(zero_copy_only=False)[i_off[rows[at_sparse]] + within[at_sparse]]
    keep = (pos >= 0) & (pos < lengths[rows])  # Spark's SparseVector keeps indices below its size
    out = np.zeros(out_off[-1], dtype=np.float64)
    out[out_off[rows[keep]] + pos[keep]] = picked[keep]
    return pa.ListArray.from_arrays(pa.array(out_off.astype(np.int32)), pa.array(out, pa.float64()),
                                    mask=pa.array(~valid) if not valid.all() else None)


def from_pandas(series, kind: str) -> pa.Array:
    """A pandas_udf argument (pyspark < 4.1) as the Arrow array an Arrow-native UDF receives.

    ``kind`` is ``"vector"`` or ``"code"``: it types a batch that holds only nulls. A Spark ML
    vector arrives as a DataFrame of its struct fields and becomes that struct. NaN elements stay
    NaN (``from_pandas=False``), so validation names them as the Arrow path does."""
    if hasattr(series, "columns"):
        return _udt_struct(series)
    values = pa.array(series.to_numpy(dtype=object) if series.dtype == object else series.to_numpy())
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), pa.list_(pa.float32()) if kind == "vector" else pa.binary())
    return values


UDT_FIELDS = (("type", pa.int8()), ("size", pa.int32()), ("indices", pa.list_(pa.int32())),
              ("values", pa.list_(pa.float64())))


def _udt_struct(frame) -> pa.StructArray:
    """The ``struct<type, size, indices, values>`` of Spark ML vectors from pandas_udf's DataFrame."""
    kind = pa.array(frame["type"].to_numpy(dtype=object), from_pandas=True)
    arrays = [kind.cast(pa.int8())]
    for name, dtype in UDT_FIELDS[1:]:
        arrays.append(pa.array(frame[name].to_numpy(dtype=object), from_pandas=name == "size").cast(dtype))
    return pa.StructArray.from_arrays(arrays, fields=[pa.field(n, t) for n, t in UDT_FIELDS],
                                      mask=kind.is_null())
