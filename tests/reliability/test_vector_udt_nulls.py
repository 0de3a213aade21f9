"""A Spark ML ``VectorUDT`` column with a null vector: every ``on_invalid`` mode treats it as a
null ``array<float>`` (a null code, never a dead letter), and a bad vector beside it still goes
by the mode. Spark's own ``vector_to_array`` fails the job on a null, so the plugin must not
hand it one. A double beyond float32's range is named as such, not as Inf.
"""
import pytest

from . import inputs

NAN = float("nan")




@pytest.fixture(scope="module")
def frame(spark):
    """ids 0-3 good (2 sparse), 4 a null vector, 5 a NaN vector."""
    from pyspark.ml.linalg import Vectors, VectorUDT
    from pyspark.sql import types as T

    x = inputs.good_vectors(4)
    rows = [(i, Vectors.dense(x[i].tolist())) for i in (0, 1, 3)] + [(2, Vectors.sparse(8, [1], [0.5]))]
    rows += [(4, None), (5, Vectors.dense([NAN] * 8))]
    schema = T.StructType([T.StructField("id", T.LongType()), T.StructField("v", VectorUDT(), True)])
    return spark.createDataFrame(rows, schema).repartition(2)


def _codes(df):
    return {r["id"]: r["c"] for r in df.collect()}


@pytest.mark.parametrize("mode", ["null", "raise", "dead_letter", "sql-null", "sql-raise"])
def test_null_vector_udt_gives_a_null_code_in_every_mode(spark, codec, frame, mode):
    from spark_udfs import encode_column, register_udfs

    if mode.startswith("sql"):
        prefix = f"udt_{mode.split('-')[1]}"
        register_udfs(spark, codec, prefix, on_invalid=mode.split("-")[1])
        frame.createOrReplaceTempView("udt_rows")
        query = f"SELECT id, {prefix}_encode(v) AS c FROM udt_rows"
        if mode == "sql-raise":
            with pytest.raises(Exception, match="NaN in vector"):
                spark.sql(query).collect()
            codes = _codes(spark.sql(query + " WHERE id != 5"))
        else:
            codes = _codes(spark.sql(query))
    elif mode == "dead_letter":
        good, bad = encode_column(frame, codec, "v", "c", on_invalid="dead_letter")
        codes = _codes(good)
        assert [(r["id"], r["embcompress_reason"]) for r in bad.collect()] == [(5, "NaN in vector")]
    elif mode == "raise":
        with pytest.raises(Exception, match=r"column 'v', row \d+ of Spark partition \d+: NaN in vector"):
            encode_column(frame, codec, "v", "c", on_invalid="raise").collect()
        codes = _codes(encode_column(frame.where("id != 5"), codec, "v", "c", on_invalid="raise"))
    else:
        codes = _codes(encode_column(frame, codec, "v", "c", on_invalid="null"))
    if mode.endswith("null"):
        assert codes.pop(5) is None
    assert codes.pop(4) is None and sorted(codes) == [0, 1, 2, 3]
    assert all(len(c) == codec.code_size for c in codes.values())


def test_fit_and_knn_skip_or_name_a_null_vector_udt(spark, codec, frame):
    from spark_udfs import encode_column, fit_codec, knn_join

    clean = frame.where("id != 5")
    fitted = fit_codec(clean, "v", "SQ8")  # the null vector is left out of the sample
    assert fitted.dim == 8
    corpus = encode_column(clean, codec, "v", "c")
    found = knn_join(clean.where("id != 4"), corpus, codec, query_col="v", code_col="c", k=2).collect()
    assert sorted({r["query_id"] for r in found}) == [0, 1, 2, 3]
    with pytest.raises(Exception, match="column 'v', row .*: null vector"):
        knn_join(clean, corpus, codec, query_col="v", code_col="c", k=2).collect()


def test_vector_udt_beyond_float32_is_out_of_range_not_inf(spark, codec):
    from pyspark.ml.linalg import Vectors, VectorUDT
    from pyspark.sql import types as T

    from spark_udfs import encode_column

    schema = T.StructType([T.StructField("id", T.LongType()), T.StructField("v", VectorUDT(), True)])
    rows = [(0, Vectors.dense([0.5] * 8)), (1, Vectors.dense([0.5] * 7 + [-1e39])), (2, Vectors.dense([0.5] * 8))]
    good, bad = encode_column(spark.createDataFrame(rows, schema), codec, "v", "c", on_invalid="dead_letter")
    assert sorted(r["id"] for r in good.collect()) == [0, 2]
    assert [(r["id"], r["embcompress_reason"]) for r in bad.collect()] == [(1, "value out of float32 range")]
