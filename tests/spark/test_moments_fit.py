"""fit_codec for specs that start with a PCA: moments summed on the executors plus a subsample.

The subsample size is lowered to 300 rows so the 2,000-row demo table exercises the path.
"""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.ml.functions import array_to_vector
from pyspark.sql import functions as F

import embcompress as ec
from embcompress.errors import EmbeddingError
from spark_udfs import _scan, fit_codec, sample_vectors
from spark_udfs._moments import _TaskDraws

SUBSAMPLE = 300


@pytest.fixture(autouse=True)
def small_subsample(monkeypatch):
    monkeypatch.setattr(ec._moments, "RANGE_SUBSAMPLE_ROWS", SUBSAMPLE)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory, demo_table):
    root = tmp_path_factory.mktemp("moments")
    pq.write_table(demo_table, root / "part-0.parquet", row_group_size=250)
    return root


def _mse(codec, x):
    return float(np.mean(np.sum((x - codec.decode(codec.encode(x))) ** 2, axis=1)))


def _sources(spark, demo_dir, demo_df):
    scan = spark.read.parquet(str(demo_dir))
    return {"parquet scan": scan, "spark sample": demo_df,
            "vector": demo_df.withColumn("embedding", array_to_vector("embedding"))}


# 1,200 of 2,000 rows: each task draws fewer than 2*384 rows and sends them; 2,000: tasks send moments
@pytest.mark.parametrize("sample_size", [1200, 2000])
@pytest.mark.parametrize("source", ["parquet scan", "spark sample", "vector"])
def test_moments_of_about_sample_size_rows_and_a_subsample(spark, demo_dir, demo_df, demo_matrix, source,
                                                           sample_size):
    df = _sources(spark, demo_dir, demo_df)[source]
    codec = fit_codec(df, "embedding", "PCA32,SQ8", sample_size=sample_size, seed=3)
    stats = codec.fit_stats
    assert stats["sample_rows"] == SUBSAMPLE and stats["holdout_rows"] == 30  # of the separate statistics fit
    assert stats["train_rows"] == SUBSAMPLE
    expected = sample_size  # the codec's PCA uses every sampled row
    assert abs(stats["moments_rows"] - expected) <= 6 * np.sqrt(sample_size)
    reference = ec.fit("PCA32,SQ8", demo_matrix, seed=3)
    assert _mse(codec, demo_matrix) <= 1.05 * _mse(reference, demo_matrix)
    again = fit_codec(df, "embedding", "PCA32,SQ8", sample_size=sample_size, seed=3)
    assert again.fingerprint == codec.fingerprint  # seeded
    assert fit_codec(df, "embedding", "PCA32,SQ8", sample_size=sample_size, seed=4).fingerprint != codec.fingerprint


def test_tasks_that_send_rows_and_tasks_that_send_moments_agree(spark, demo_dir, monkeypatch):
    """One task per row group (250 rows each, all sent) against two tasks of 1,000 rows (moments)."""
    df = spark.read.parquet(str(demo_dir))
    by_moments = fit_codec(df, "embedding", "PCA32,SQ8", sample_size=2000, seed=3)
    monkeypatch.setattr(_scan, "PARTITION_BYTES", 1)
    by_rows = fit_codec(df, "embedding", "PCA32,SQ8", sample_size=2000, seed=3)
    # the PCA uses all 2,000 rows' moments (the statistics come from a separate fit without 30 of them)
    assert by_rows.fit_stats["moments_rows"] == by_moments.fit_stats["moments_rows"] == 2000
    np.testing.assert_allclose(by_rows.array("code.t0.A"), by_moments.array("code.t0.A"), atol=1e-4)


def test_a_task_keeps_rows_back_until_they_outweigh_their_moments(demo_table):
    vectors = demo_table["embedding"].combine_chunks()
    everything = np.ones(len(vectors), dtype=bool)
    none = np.zeros(len(vectors), dtype=bool)
    small = _TaskDraws("embedding", False)
    assert list(small.add(0, 0, vectors.slice(0, 700), everything[:700], none[:700])) == []
    (record,) = small.finish()
    assert record["whole"][0].as_py() and record["drawn"][0].as_py() == 700 and record["moments"].null_count == 1
    large = _TaskDraws("embedding", False)
    sub = np.arange(len(vectors)) % 10 == 0
    sent = list(large.add(0, 0, vectors.slice(0, 700), everything[:700], sub[:700]))
    sent += list(large.add(0, 1, vectors.slice(700, 700), everything[:700], sub[700:1400]))
    sent += list(large.finish())
    assert [r["seq"][0].as_py() for r in sent] == [0, 1, -1]
    assert not sent[-1]["whole"][0].as_py() and sent[-1]["drawn"][0].as_py() == 1400
    moments = ec.Moments.from_bytes(sent[-1]["moments"][0].as_py())
    assert moments.count == 1400 and moments.dim == 384
    everything_sent = _TaskDraws("embedding", False)  # rows it sends anyway do not count towards 2*d
    assert list(everything_sent.add(0, 0, vectors.slice(0, 1400), everything[:1400], everything[:1400])) == []
    (record,) = everything_sent.finish()
    assert record["whole"][0].as_py() and record["moments"].null_count == 1


def test_whole_sample_on_request_equals_the_core_fit(spark, demo_dir):
    df = spark.read.parquet(str(demo_dir))
    codec = fit_codec(df, "embedding", "PCA32,SQ8", sample_size=1200, seed=3, pca_moments=False)
    assert "moments_rows" not in codec.fit_stats
    sample = sample_vectors(df, "embedding", 1200, 3)
    assert codec.fingerprint == ec.fit("PCA32,SQ8", sample, seed=3, column="embedding").fingerprint


@pytest.mark.parametrize("spec", ["SQ8", "PCAR32,SQ8"])
def test_other_specs_send_the_sample(demo_df, spec):
    assert "moments_rows" not in fit_codec(demo_df, "embedding", spec, sample_size=1200).fit_stats


def test_a_bad_vector_fails_the_fit_with_its_reason(spark, demo_table, tmp_path):
    emb = demo_table["embedding"].to_pylist()
    emb[650] = [float("nan")] * 384
    pq.write_table(demo_table.set_column(2, "embedding", pa.array(emb, pa.list_(pa.float32()))),
                   tmp_path / "bad.parquet", row_group_size=500)
    with pytest.raises(EmbeddingError, match="NaN"):
        fit_codec(spark.read.parquet(str(tmp_path)), "embedding", "PCA32,SQ8", sample_size=2000)


@pytest.mark.parametrize("source", ["parquet scan", "spark sample"])
def test_mostly_null_column_still_fits_on_about_sample_size_rows(spark, demo_table, demo_df, tmp_path, source):
    keep = np.arange(demo_table.num_rows) % 4 == 0
    if source == "parquet scan":
        emb = pa.array([v if k else None for v, k in zip(demo_table["embedding"].to_pylist(), keep)],
                       pa.list_(pa.float32()))
        pq.write_table(demo_table.set_column(2, "embedding", emb), tmp_path / "nulls.parquet", row_group_size=500)
        df = spark.read.parquet(str(tmp_path))
    else:
        df = demo_df.withColumn("embedding", F.when(F.col("id") % 4 == 0, F.col("embedding")))
    stats = fit_codec(df, "embedding", "PCA32,SQ8", sample_size=400, seed=1).fit_stats
    assert abs(stats["moments_rows"] + stats["holdout_rows"] - 400) <= 6 * np.sqrt(400)
    assert stats["sample_rows"] == SUBSAMPLE  # the subsample's rate follows the non-null rows too


def test_a_wrong_length_vector_is_named_not_merged(spark, demo_table, tmp_path):
    emb = demo_table["embedding"].to_pylist()
    emb[0] = emb[0][:383]  # the first row of the first batch: the batch's length is its most common one
    pq.write_table(demo_table.set_column(2, "embedding", pa.array(emb, pa.list_(pa.float32()))),
                   tmp_path / "short.parquet", row_group_size=1000)
    with pytest.raises(EmbeddingError, match="wrong length: expected 384, got 383"):
        fit_codec(spark.read.parquet(str(tmp_path)), "embedding", "PCA32,SQ8", sample_size=2000)


@pytest.mark.parametrize("bad, match", [({"seed": -1}, "seed must be"), ({"metric": "cos"}, "metric must be"),
                                        ({"holdout": 1.5}, "holdout must be")])
def test_bad_arguments_fail_before_any_spark_job(demo_df, bad, match):
    with pytest.raises(ValueError, match=match):
        fit_codec(demo_df, "embedding", "PCA32,SQ8", sample_size=2000, **bad)
