"""fit_codec: a seeded sample drawn in Spark, fitted by the core; the artifact works in plain Python."""
import numpy as np
import pytest
from pyspark.ml.functions import array_to_vector
from pyspark.sql import functions as F

import embcompress as ec
from spark_udfs import fit_codec, sample_vectors


@pytest.mark.parametrize("kind", ["float", "double", "vector"])
def test_sample_accepts_every_vector_type(demo_df, demo_matrix, kind):
    df = demo_df
    if kind != "float":
        df = df.withColumn("embedding", F.col("embedding").cast("array<double>"))
    if kind == "vector":
        df = df.withColumn("embedding", array_to_vector("embedding"))
    sample = sample_vectors(df, "embedding", sample_size=300, seed=3)
    x = np.asarray(sample.flatten()).reshape(len(sample), -1).astype(np.float32)
    assert x.shape == (300, 384)
    rows = {r.tobytes() for r in demo_matrix}
    assert all(r.tobytes() in rows for r in x)  # real rows, not altered
    assert len({r.tobytes() for r in x}) == 300  # without replacement


def test_sample_is_seeded_and_skips_nulls(spark, demo_df):
    with_nulls = demo_df.withColumn("embedding", F.when(F.col("id") % 2 == 0, F.col("embedding")))
    a = sample_vectors(with_nulls, "embedding", sample_size=200, seed=7)
    b = sample_vectors(with_nulls, "embedding", sample_size=200, seed=7)
    c = sample_vectors(with_nulls, "embedding", sample_size=200, seed=8)
    assert a.null_count == 0 and len(a) == 200
    assert a.equals(b) and not a.equals(c)  # seeded
    assert len(sample_vectors(with_nulls, "embedding", sample_size=5000)) == with_nulls.where("id % 2 = 0").count()


def test_fit_codec_artifact_rebuilds_the_same_codec_in_plain_python(demo_df, demo_matrix, tmp_path):
    codec = fit_codec(demo_df, "embedding", "SQ8", sample_size=1000, seed=0)
    assert codec.spec == "SQ8" and codec.dim == 384 and codec.fit_stats["sample_rows"] == 1000
    codec.save(tmp_path / "c.emb")
    plain = ec.load(tmp_path / "c.emb")
    assert plain.fingerprint == codec.fingerprint
    codes = codec.encode(demo_matrix)
    assert plain.decode(codes).tobytes() == codec.decode(codes).tobytes()
    assert plain.encode(demo_matrix).tobytes() == codes.tobytes()


def test_fit_codec_errors_are_clear(demo_df, spark):
    with pytest.raises(ValueError, match="invalid codec spec 'PQ'"):
        fit_codec(demo_df, "embedding", "PQ")
    with pytest.raises(ValueError, match="sample_size must be a positive integer"):
        fit_codec(demo_df, "embedding", "SQ8", sample_size=0)
    empty = spark.createDataFrame([(1, None)], "id long, embedding array<float>")
    with pytest.raises(ValueError, match="column 'embedding' has no non-null vectors"):
        fit_codec(empty, "embedding", "SQ8")


@pytest.mark.parametrize("sample_size, rows", [(100_000, 200_000), (300, 2_000), (10, 10**9), (5, 6)])
def test_oversampling_margin_is_a_few_standard_deviations(sample_size, rows):
    from spark_udfs._draws import SAFETY_SIGMAS
    from spark_udfs._draws import oversampled_fraction as _fraction

    fraction = _fraction(sample_size, rows)
    expected = fraction * rows
    assert expected - SAFETY_SIGMAS * np.sqrt(expected) >= sample_size - 1e-6 or fraction == 1.0
    assert expected <= sample_size + 2 * SAFETY_SIGMAS * np.sqrt(sample_size) + SAFETY_SIGMAS ** 2  # not 10%


def test_first_draw_short_of_rows_is_rare():
    """Binomial draws at the chosen rate fall short of the target about once in a billion."""
    from spark_udfs._draws import oversampled_fraction as _fraction

    rng = np.random.default_rng(0)
    for sample_size, rows in [(1, 10**6), (100, 10**6), (100_000, 200_000)]:
        fraction = _fraction(sample_size, rows)
        assert (rng.binomial(rows, fraction, size=20_000) >= sample_size).all()


def test_mostly_null_column_still_gives_the_full_sample(spark):
    from pyspark.sql import functions as F

    sparse = spark.range(200_000).select("id", F.when(F.col("id") % 1000 == 0, F.array(F.col("id").cast("float"),
                                                                                      F.lit(1.0).cast("float")))
                                         .alias("embedding"))
    for seed in range(8):  # 200 non-null rows; the first draw holds none or a few
        assert len(sample_vectors(sparse, "embedding", sample_size=150, seed=seed)) == 150


def test_everything_is_taken_when_the_table_is_smaller_than_the_sample():
    from spark_udfs._draws import oversampled_fraction as _fraction

    assert _fraction(1000, 1000) == _fraction(1000, 10) == 1.0
