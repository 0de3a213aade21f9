"""Register a codec's vectorized UDFs for Spark SQL under a name prefix.

On pyspark 4.1+ they are Arrow-native (``arrow_udf``: Arrow arrays in and out); before that
they are ``pandas_udf`` functions that hand the same Arrow arrays to the same code. The choice
is made when the UDFs are built, never at import.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from embcompress.arrow import codes_as_binary, decode_arrow, encode_arrow
from embcompress.codec import Codec

from . import _columns, _session
from ._pairs import score_pairs, sim_pairs
from ._worker import broadcast_codec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ARROW_UDF_SINCE = (4, 1)


def _floats(values, null) -> pa.Array:
    return pa.array(values, pa.float32(), mask=null if null.any() else None)


def _vectorized(return_type: str, *kinds: str):
    """A decorator that makes ``f(*pa.Array) -> pa.Array`` a Spark UDF on this pyspark line;
    ``kinds`` says which arguments are vectors and which are codes."""
    if _session.pyspark_version() >= ARROW_UDF_SINCE:
        from pyspark.sql.functions import arrow_udf

        return arrow_udf(return_type)  # type: ignore[call-overload]  # pyspark's stubs want a literal type
    from pyspark.sql.functions import pandas_udf

    def wrap(f):
        def on_series(*series):
            out = f(*[_columns.from_pandas(s, kind) for s, kind in zip(series, kinds)])
            return out.to_pandas()
        on_series.__name__ = f.__name__
        return pandas_udf(return_type)(on_series)
    return wrap


def make_udfs(spark, codec, prefix: str = "emb", *, on_invalid: str = "raise") -> dict:
    """The four vectorized UDFs of ``codec`` by SQL name, sharing one shipped artifact."""
    if on_invalid not in ("raise", "null"):
        raise ValueError(f"on_invalid must be 'raise' or 'null' for SQL UDFs, got {on_invalid!r}")
    _session.check_supported()
    handle = broadcast_codec(spark, codec)
    names = {k: f"{prefix}_{k}" for k in ("encode", "decode", "score", "sim")}
    udf = _vectorized

    @udf("binary", "vector")
    def encode(v: pa.Array) -> pa.Array:
        enc = encode_arrow(handle.get(), _columns.dense(v), column=f"{names['encode']} argument 1",
                           on_invalid=on_invalid)
        return codes_as_binary(enc.codes)

    @udf("array<float>", "code")
    def decode(c: pa.Array) -> pa.Array:
        return _columns.to_list(decode_arrow(handle.get(), c, column=f"{names['decode']} argument 1"))

    @udf("float", "vector", "code")
    def score(q: pa.Array, c: pa.Array) -> pa.Array:
        s, null = score_pairs(handle.get(), _columns.dense(q), c, query_col=f"{names['score']} argument 1 (query)",
                              code_col=f"{names['score']} argument 2 (code)")
        return _floats(s, null)

    @udf("float", "code", "code")
    def sim(a: pa.Array, b: pa.Array) -> pa.Array:
        s, null = sim_pairs(handle.get(), a, b, left_col=f"{names['sim']} argument 1",
                            right_col=f"{names['sim']} argument 2")
        return _floats(s, null)

    funcs = {"encode": encode, "decode": decode, "score": score, "sim": sim}
    return {names[k]: f for k, f in funcs.items()}


def register_udfs(spark: SparkSession, codec: Codec, prefix: str = "emb", *, on_invalid: str = "raise") -> dict:
    """Register ``{prefix}_encode``, ``_decode``, ``_score`` and ``_sim`` for ``spark.sql``.

    ``{prefix}_encode(vector) -> binary``; ``{prefix}_decode(binary) -> array<float>``;
    ``{prefix}_score(vector query, binary code) -> float`` is the core's asymmetric score;
    ``{prefix}_sim(binary, binary) -> float`` scores a decoded code against a code. A vector
    is ``array<float>``, ``array<double>`` or a Spark ML vector (``VectorUDT``, dense or sparse).
    Register several codecs under different prefixes; one codec serves any number of columns.
    Returns the UDFs by name, for DataFrame use too (``emb_score`` is also a ranking expression
    for Spark 4.2's ``DataFrame.nearestByJoin``).
    """
    if not isinstance(prefix, str) or not prefix.isidentifier():
        raise ValueError(f"prefix must be a SQL identifier such as 'emb', got {prefix!r}")
    udfs = make_udfs(spark, codec, prefix, on_invalid=on_invalid)
    for name, f in udfs.items():
        spark.udf.register(name, f)
    return udfs
