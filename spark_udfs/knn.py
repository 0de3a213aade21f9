"""Top-k similarity join that keeps the corpus distributed.

The queries are the small side: they are collected once and shipped to every task with the
codec. Each corpus partition searches them against its own codes with the core's
``Codec.search`` (optionally re-scoring against the original vectors it holds), keeps the
best ``k`` per query, and a Spark window merges the partitions' candidates into the final
top ``k``. No corpus row ever reaches the driver, so the corpus can be any size.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from embcompress.arrow import codes_from_arrow, vectors_from_arrow
from embcompress._checks import check_k
from embcompress.codec import Codec
from embcompress._validation import raise_on_invalid

from . import _columns, _session
from ._worker import broadcast_codec, ship_bytes

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

QIDX = "__embcompress_qidx"


def _queries(queries_df, query_col, query_id_col, dim) -> bytes:
    """The small side, collected once: an Arrow IPC stream of the query ids and float32 vectors."""
    src, read = _columns.vector_input(queries_df, query_col)
    table = _session.to_arrow(src.select(query_id_col, read))
    vb = vectors_from_arrow(table.column(read), dim=dim, column=query_col)
    raise_on_invalid(vb.invalid, vb.reasons, column=query_col)  # a null query too: it has nothing to search with
    matrix = np.ascontiguousarray(vb.matrix, dtype=np.float32)
    shipped = pa.table({"id": table.column(query_id_col),
                        "v": pa.FixedSizeListArray.from_arrays(matrix.reshape(-1), dim)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, shipped.schema) as writer:
        writer.write_table(shipped)
    return sink.getvalue().to_pybytes()


def _unpack_queries(blob: bytes, dim: int) -> tuple:
    table = pa.ipc.open_stream(blob).read_all()
    vectors = table.column("v").combine_chunks()
    return table.column("id").combine_chunks(), vectors.values.to_numpy().reshape(-1, dim)


def _top_k(table: pa.Table, k: int) -> pa.Table:
    """The best ``k`` rows per query index ``q``: score ``s`` descending, then ``id`` ascending
    (so ties resolve the same way in every partition and in the final window)."""
    table = table.sort_by([("q", "ascending"), ("s", "descending"), ("id", "ascending")])
    qs = table.column("q").to_numpy()
    rank = np.arange(len(qs)) - np.searchsorted(qs, qs, side="left")
    return table.filter(pa.array(rank < k))


def _searcher(handle, query_payload, code_col, id_col, rescore_read, rescore_col, k, factor):
    def run(batches):
        codec = handle.get()
        qids, queries = _unpack_queries(query_payload.blob(), codec.dim)
        best = None
        for batch in batches:
            codes, null = codes_from_arrow(batch.column(code_col), codec.code_size, column=code_col)
            live = np.flatnonzero(~null)  # a null code has nothing to match
            if len(live) == 0:
                continue
            rescore = None
            if rescore_read is not None:
                vb = vectors_from_arrow(batch.column(rescore_read), dim=codec.dim, column=rescore_col)
                raise_on_invalid(vb.invalid[live], vb.reasons[live], column=rescore_col)
                rescore = (vb.matrix[live], factor)
            rows, sims = codec.search(queries, codes[live], k=min(k, len(live)), rescore=rescore)
            found = rows >= 0
            q = np.broadcast_to(np.arange(len(queries))[:, None], rows.shape)[found]
            ids = batch.column(id_col).take(pa.array(live[rows[found]]))
            cand = pa.table({"q": q, "id": ids, "s": sims[found].astype(np.float32)})
            best = _top_k(cand if best is None else pa.concat_tables([best, cand]), k)
        if best is not None and best.num_rows:
            q = best.column("q").combine_chunks()
            yield pa.RecordBatch.from_arrays([q.cast(pa.int64()), qids.take(q), best.column("id").combine_chunks(),
                                              best.column("s").combine_chunks()],
                                             names=[QIDX, "query_id", "corpus_id", "score"])
    return run


def knn_join(queries_df: DataFrame, corpus_df: DataFrame, codec: Codec, *, query_col: str, code_col: str,
             k: int = 10, rescore_col: str | None = None, rescore_factor: float = 4, query_id_col: str = "id",
             corpus_id_col: str = "id") -> DataFrame:
    """Top-``k`` corpus rows per query: DataFrame ``(query_id, corpus_id, rank, score)``, rank 1 = best.

    ``queries_df[query_col]`` holds float vectors (the small side, collected once) and
    ``corpus_df[code_col]`` the codes of ``codec`` (the big side, never collected). Ids come
    from ``query_id_col`` / ``corpus_id_col`` and may be of any type. Each corpus partition
    searches every query and keeps its best ``k``; a window keeps the best ``k`` overall,
    ties going to the smaller corpus id. With ``rescore_col`` (the corpus's original
    vectors), each partition re-ranks its top ``rescore_factor * k`` by exact similarity and
    ``score`` is exact. Null codes never match; a null or bad query fails the job.
    """
    check_k(k)
    _columns.code_input(corpus_df, code_col)
    for df, col in ((corpus_df, corpus_id_col), (queries_df, query_id_col)):
        _columns.field(df, col)
    spark = queries_df.sparkSession
    queries = _queries(queries_df, query_col, query_id_col, codec.dim)
    rescore_read = None
    src = corpus_df
    if rescore_col is not None:
        src, rescore_read = _columns.vector_input(corpus_df, rescore_col)
    keep = [corpus_id_col, code_col] + ([rescore_read] if rescore_read and rescore_read != code_col else [])
    src = src.select(*dict.fromkeys(keep))
    id_field, qid_field = corpus_df.schema[corpus_id_col], queries_df.schema[query_id_col]
    schema = T.StructType([T.StructField(QIDX, T.LongType(), False),
                           T.StructField("query_id", qid_field.dataType, qid_field.nullable),
                           T.StructField("corpus_id", id_field.dataType, id_field.nullable),
                           T.StructField("score", T.FloatType(), False)])
    run = _searcher(broadcast_codec(spark, codec), ship_bytes(spark, queries), code_col, corpus_id_col,
                    rescore_read, rescore_col, k, rescore_factor)
    found = src.mapInArrow(run, schema)
    w = Window.partitionBy(QIDX).orderBy(F.col("score").desc(), F.col("corpus_id").asc())
    top = found.withColumn("rank", F.row_number().over(w).cast("int")).where(F.col("rank") <= k)
    return top.select("query_id", "corpus_id", "rank", "score")
