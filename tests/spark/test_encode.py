"""encode_column / decode_column: equal to the core, every row kept, nulls kept, bad rows routed."""
import numpy as np
import pytest
from pyspark.ml.functions import array_to_vector
from pyspark.sql import functions as F

import embcompress as ec
from spark_udfs import decode_column, encode_column

from .conftest import assert_codes_match, vectors

SPECS = ["SQ8", "PCA32,SQ8", "BIN", "PQ8x4"]


def codes_of(df, column, order="id"):
    rows = df.orderBy(order).select(column).toPandas()[column]
    return rows


def as_matrix(series):
    return np.stack([np.frombuffer(b, np.uint8) for b in series])


@pytest.mark.parametrize("spec", SPECS)
def test_encode_equals_core(demo_df, demo_table, demo_matrix, codecs, spec):
    codec = codecs[spec]
    out = encode_column(demo_df, codec, "embedding", "code")
    assert out.columns == demo_df.columns + ["code"]
    assert dict(out.dtypes)["code"] == "binary"
    got = as_matrix(codes_of(out, "code"))
    order = np.argsort(demo_table["id"].to_numpy())
    assert_codes_match(got, codec.encode(demo_matrix[order]))
    assert got.shape[1] == codec.code_size


@pytest.mark.parametrize("spec", ["SQ8", "PCA32,SQ8"])
def test_decode_equals_core(demo_df, codecs, spec):
    codec = codecs[spec]
    enc = encode_column(demo_df, codec, "embedding", "code")
    dec = decode_column(enc, codec, "code", "rec").orderBy("id")
    codes = as_matrix(dec.select("code").toPandas()["code"])
    assert vectors(dec, "rec").tobytes() == codec.decode(codes).tobytes()  # transforms are row-independent


@pytest.mark.parametrize("kind", ["double", "vector"])
def test_array_double_and_vector_udt_inputs(demo_df, sq8, kind):
    src = demo_df.withColumn("embedding", F.col("embedding").cast("array<double>"))
    if kind == "vector":
        src = src.withColumn("embedding", array_to_vector("embedding"))
    got = encode_column(src, sq8, "embedding", "code")
    assert dict(got.dtypes)["embedding"] == dict(src.dtypes)["embedding"]  # the input is kept as it was
    ref = encode_column(demo_df, sq8, "embedding", "code")
    assert codes_of(got, "code").tolist() == codes_of(ref, "code").tolist()


def test_drop_input_and_replace_in_place(demo_df, sq8):
    dropped = encode_column(demo_df, sq8, "embedding", "code", drop_input=True)
    assert dropped.columns == ["id", "text", "source", "code"]
    replaced = encode_column(demo_df, sq8, "embedding", "embedding")
    assert replaced.columns == demo_df.columns and dict(replaced.dtypes)["embedding"] == "binary"
    assert replaced.count() == demo_df.count()


def test_existing_output_column_is_an_error(demo_df, sq8):
    with pytest.raises(ValueError, match="column 'text': output column already exists"):
        encode_column(demo_df, sq8, "embedding", "text")


def test_missing_and_wrongly_typed_columns(demo_df, sq8):
    with pytest.raises(KeyError, match="'nope' not found"):
        encode_column(demo_df, sq8, "nope")
    with pytest.raises(TypeError, match="column 'text' has type string"):
        encode_column(demo_df, sq8, "text")
    with pytest.raises(TypeError, match="expected binary codes"):
        decode_column(demo_df, sq8, "embedding", "rec")


@pytest.fixture(scope="module")
def dirty_df(spark, demo_matrix):
    """Ten good rows, a null vector, a NaN vector, a wrong-length vector, an Inf vector."""
    good = [(i, demo_matrix[i].tolist()) for i in range(10)]
    nan = demo_matrix[10].copy()
    nan[5] = np.nan
    inf = demo_matrix[12].copy()
    inf[0] = np.inf
    rows = good + [(10, None), (11, nan.tolist()), (12, [0.1, 0.2, 0.3]), (13, inf.tolist())]
    return spark.createDataFrame(rows, "id long, embedding array<float>").repartition(2)


BAD = {11: "NaN in vector", 12: "wrong length: expected 384, got 3", 13: "Inf in vector"}


def test_nulls_stay_null(dirty_df, sq8):
    out = encode_column(dirty_df.where("id <= 10"), sq8, "embedding", "code")
    rows = {r.id: r.code for r in out.collect()}
    assert rows[10] is None and all(rows[i] is not None for i in range(10))


@pytest.mark.parametrize("bad_id", sorted(BAD))
def test_raise_names_column_row_and_problem(dirty_df, sq8, bad_id):
    df = dirty_df.where(f"id < 10 or id = {bad_id}")
    with pytest.raises(Exception, match=rf"column 'embedding', row \d+ of Spark partition \d+: {BAD[bad_id]}"):
        encode_column(df, sq8, "embedding", "code").collect()


def test_null_mode_keeps_bad_rows_with_null_codes(dirty_df, sq8):
    rows = {r.id: r for r in encode_column(dirty_df, sq8, "embedding", "code", on_invalid="null").collect()}
    assert sorted(rows) == list(range(14))
    assert all(rows[i].code is None and rows[i].embedding is not None for i in BAD)
    assert rows[10].code is None and all(len(rows[i].code) == sq8.code_size for i in range(10))


def test_dead_letter_routes_bad_rows_with_reasons(dirty_df, sq8):
    good, bad = encode_column(dirty_df, sq8, "embedding", on_invalid="dead_letter", reason_col="why")
    bad_rows = bad.collect()
    assert {r.id: r.why for r in bad_rows} == BAD
    assert bad.columns == ["id", "embedding", "why"] and all(r.embedding is not None for r in bad_rows)
    assert sorted(r.id for r in good.collect()) == list(range(11))  # the null row stays, as a null code
    assert good.count() + len(bad_rows) == dirty_df.count()


def test_decode_wrong_code_size_names_sizes(spark, sq8):
    df = spark.createDataFrame([(0, bytes(sq8.code_size)), (1, bytes(7))], "id long, code binary").coalesce(1)
    with pytest.raises(Exception, match=rf"column 'code', row 1 of Spark partition 0: wrong code size: "
                                        rf"expected {sq8.code_size} bytes, got 7"):
        decode_column(df, sq8, "code", "rec").collect()


def test_spark_codes_equal_plain_python_codes_from_the_artifact(demo_df, demo_table, demo_matrix, codecs):
    """A codec rebuilt from its artifact bytes in plain Python gives Spark's codes for the same rows."""
    plain = ec.Codec.from_bytes(codecs["PCA32,SQ8"].to_bytes())
    codes = as_matrix(codes_of(encode_column(demo_df, codecs["PCA32,SQ8"], "embedding", "code"), "code"))
    order = np.argsort(demo_table["id"].to_numpy())
    assert codes.tobytes() == plain.encode(demo_matrix[order]).tobytes()
