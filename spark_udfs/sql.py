"""Register a codec's vectorized (Arrow) UDFs for Spark SQL under a name prefix."""
from __future__ import annotations

import pyarrow as pa
from pyspark.sql.functions import arrow_udf

from embcompress.arrow import decode_arrow, encode_arrow

from . import _columns
from ._pairs import score_pairs, sim_pairs
from ._worker import broadcast_codec


def _floats(values, null) -> pa.Array:
    return pa.array(values, pa.float32(), mask=null if null.any() else None)


def make_udfs(spark, codec, prefix: str = "emb", *, on_invalid: str = "raise") -> dict:
    """The four Arrow UDFs of ``codec`` by SQL name, sharing one broadcast of the artifact."""
    if on_invalid not in ("raise", "null"):
        raise ValueError(f"on_invalid must be 'raise' or 'null' for SQL UDFs, got {on_invalid!r}")
    handle = broadcast_codec(spark, codec)
    names = {k: f"{prefix}_{k}" for k in ("encode", "decode", "score", "sim")}

    @arrow_udf("binary")
    def encode(v: pa.Array) -> pa.Array:
        enc = encode_arrow(handle.get(), v, column=f"{names['encode']} argument 1", on_invalid=on_invalid)
        return _columns.to_binary(enc.codes)

    @arrow_udf("array<float>")
    def decode(c: pa.Array) -> pa.Array:
        return _columns.to_list(decode_arrow(handle.get(), c, column=f"{names['decode']} argument 1"))

    @arrow_udf("float")
    def score(q: pa.Array, c: pa.Array) -> pa.Array:
        s, null = score_pairs(handle.get(), q, c, query_col=f"{names['score']} argument 1 (query)",
                              code_col=f"{names['score']} argument 2 (code)")
        return _floats(s, null)

    @arrow_udf("float")
    def sim(a: pa.Array, b: pa.Array) -> pa.Array:
        s, null = sim_pairs(handle.get(), a, b, left_col=f"{names['sim']} argument 1",
                            right_col=f"{names['sim']} argument 2")
        return _floats(s, null)

    funcs = {"encode": encode, "decode": decode, "score": score, "sim": sim}
    return {names[k]: f for k, f in funcs.items()}


def register_udfs(spark, codec, prefix: str = "emb", *, on_invalid: str = "raise") -> dict:
    """Register ``{prefix}_encode``, ``_decode``, ``_score`` and ``_sim`` for ``spark.sql``.

    ``{prefix}_encode(array<float>) -> binary``; ``{prefix}_decode(binary) -> array<float>``;
    ``{prefix}_score(array<float> query, binary code) -> float`` is the core's asymmetric
    score; ``{prefix}_sim(binary, binary) -> float`` scores a decoded code against a code.
    Register several codecs under different prefixes; one codec serves any number of columns.
    Returns the UDFs by name, for DataFrame use too.
    """
    if not isinstance(prefix, str) or not prefix.isidentifier():
        raise ValueError(f"prefix must be a SQL identifier such as 'emb', got {prefix!r}")
    udfs = make_udfs(spark, codec, prefix, on_invalid=on_invalid)
    for name, f in udfs.items():
        spark.udf.register(name, f)
    return udfs
