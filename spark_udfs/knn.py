"""Top-k similarity join: each query partition searches the broadcast compressed corpus with
the core's ``Codec.search`` (optionally re-scoring candidates against the original vectors)."""
from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from embcompress.arrow import codes_from_arrow, vectors_from_arrow
from embcompress.validation import raise_on_invalid

from . import _columns
from ._worker import broadcast_codec

CHUNK_BYTES = 64 << 20  # one broadcast variable per 64 MB of codes or vectors
SLICE_BYTES = 1 << 30  # corpus bytes searched per pass; larger corpora are searched in slices and merged
_CORPUS: dict = {}


def _chunks(spark, arr: np.ndarray) -> list:
    """Broadcast the raw bytes of ``arr`` in pieces of at most CHUNK_BYTES."""
    raw = np.ascontiguousarray(arr).view(np.uint8).reshape(-1)
    return [spark.sparkContext.broadcast(raw[i: i + CHUNK_BYTES].tobytes())
            for i in range(0, max(len(raw), 1), CHUNK_BYTES)]


def _join_chunks(parts, dtype, width) -> np.ndarray:
    raw = b"".join(p.value for p in parts)
    return np.frombuffer(raw, dtype=dtype).reshape(-1, width) if width else np.frombuffer(raw, dtype=dtype)


def _corpus(token, code_parts, code_size, id_parts, vec_parts, dim):
    """Rebuild the broadcast corpus slice once per Python worker."""
    if token not in _CORPUS:
        _CORPUS.clear()
        codes = _join_chunks(code_parts, np.uint8, code_size)
        originals = None if vec_parts is None else _join_chunks(vec_parts, np.float32, dim)
        _CORPUS[token] = (codes, _join_chunks(id_parts, np.int64, 0), originals)
    return _CORPUS[token]


def _searcher(handle, token, parts, query_col, qid_col, k, factor):
    code_parts, id_parts, vec_parts = parts

    def run(batches):
        codec = handle.get()
        codes, ids, originals = _corpus(token, code_parts, codec.code_size, id_parts, vec_parts, codec.dim)
        for batch in batches:
            vb = vectors_from_arrow(batch.column(query_col), dim=codec.dim, column=query_col)
            raise_on_invalid(vb.invalid, vb.reasons, column=query_col)
            rescore = None if originals is None else (originals, factor)
            rows, sims = codec.search(vb.matrix, codes, k=k, rescore=rescore)
            found = rows >= 0
            qi = np.broadcast_to(np.arange(len(rows))[:, None], rows.shape)[found]
            rank = np.broadcast_to(np.arange(1, rows.shape[1] + 1, dtype=np.int32), rows.shape)[found]
            yield pa.RecordBatch.from_arrays(
                [batch.column(qid_col).take(pa.array(qi)), pa.array(ids[rows[found]]), pa.array(rank),
                 pa.array(sims[found], pa.float32())],
                names=["query_id", "corpus_id", "rank", "score"])
    return run


def _collect_corpus(corpus_df, codec, code_col, id_col, rescore_col):
    src, read_col = (corpus_df, None) if not rescore_col else _columns.vector_input(corpus_df, rescore_col)
    table = src.select(id_col, code_col, *([read_col] if read_col else [])).toArrow()
    codes, null = codes_from_arrow(table.column(code_col), codec.code_size, column=code_col)
    keep = np.flatnonzero(~null)  # a null code has nothing to match
    ids = table.column(id_col).to_numpy(zero_copy_only=False)[keep].astype(np.int64)
    order = np.argsort(ids, kind="stable")  # ties in score go to the smaller corpus id
    originals = None
    if rescore_col:
        vb = vectors_from_arrow(table.column(read_col), dim=codec.dim, column=rescore_col)
        raise_on_invalid(vb.invalid[keep], vb.reasons[keep], column=rescore_col)
        originals = vb.matrix[keep][order]
    return codes[keep][order], ids[order], originals


def knn_join(queries_df, corpus_df, codec, *, query_col, code_col, k=10, rescore_col=None, rescore_factor=4,
             query_id_col="id", corpus_id_col="id"):
    """Top-``k`` corpus rows per query: DataFrame ``(query_id, corpus_id, rank, score)``, rank 1 = best.

    ``queries_df[query_col]`` holds float vectors and ``corpus_df[code_col]`` the codes of
    ``codec``; ids come from ``query_id_col`` / ``corpus_id_col`` (integers). The codes (and,
    with ``rescore_col``, the original corpus vectors) are collected and broadcast in 64 MB
    chunks; corpora larger than 1 GB are searched slice by slice and merged. With
    ``rescore_col``, the top ``rescore_factor * k`` candidates are re-ranked by exact
    similarity and ``score`` is exact. Null codes never match; a null or bad query fails the job.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    _columns.code_input(corpus_df, code_col)
    for df, col in ((corpus_df, corpus_id_col), (queries_df, query_id_col)):
        if not isinstance(_columns.field(df, col).dataType, T.IntegralType):
            raise TypeError(f"id column {col!r} must be an integer column, got "
                            f"{df.schema[col].dataType.simpleString()}")
    spark = queries_df.sparkSession
    codes, ids, originals = _collect_corpus(corpus_df, codec, code_col, corpus_id_col, rescore_col)
    qsrc, qread = _columns.vector_input(queries_df, query_col)
    qsrc = qsrc.select(query_id_col, qread)
    schema = T.StructType([T.StructField("query_id", queries_df.schema[query_id_col].dataType, False),
                           T.StructField("corpus_id", T.LongType(), False),
                           T.StructField("rank", T.IntegerType(), False),
                           T.StructField("score", T.FloatType(), False)])
    handle = broadcast_codec(spark, codec)
    row_bytes = codec.code_size + 8 + (0 if originals is None else 4 * codec.dim)
    step = max(1, SLICE_BYTES // row_bytes)
    results = []
    for start in range(0, max(len(ids), 1), step):
        sl = slice(start, start + step)
        parts = (_chunks(spark, codes[sl]), _chunks(spark, ids[sl]),
                 None if originals is None else _chunks(spark, originals[sl]))
        token = uuid.uuid4().hex
        results.append(qsrc.mapInArrow(_searcher(handle, token, parts, qread, query_id_col, k, rescore_factor),
                                       schema))
    if len(results) == 1:
        return results[0]
    merged = results[0]
    for r in results[1:]:
        merged = merged.unionByName(r)
    w = Window.partitionBy("query_id").orderBy(F.col("score").desc(), F.col("corpus_id").asc())
    return (merged.withColumn("rank", F.row_number().over(w).cast("int")).where(F.col("rank") <= k)
            .select("query_id", "corpus_id", "rank", "score"))
