"""Plain Parquet reads (spark_udfs.read_parquet): encode_column and sample_vectors read the row
groups with pyarrow on the executors. Rows, codes and column types equal Spark's own path;
anything that is not a plain read falls back to it, decided from public information only."""
import datetime
import decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from spark_udfs import _scan, _session, encode_column, read_parquet, sample_vectors


@pytest.fixture(scope="module")
def typed_dir(tmp_path_factory, demo_table):
    """The demo table plus typical ETL columns, as two files of several row groups each."""
    n = demo_table.num_rows
    ids = demo_table["id"].to_numpy()
    extra = {
        "ts": pa.array(ids * 1000, pa.timestamp("ms", "UTC")),
        "day": pa.array([datetime.date(2026, 1, 1) + datetime.timedelta(days=int(i % 300)) for i in ids]),
        "price": pa.array([decimal.Decimal(int(i)) / 100 for i in ids], pa.decimal128(10, 2)),
        "small": pa.array(ids % 100, pa.int16()),
        "flag": pa.array(ids % 2 == 0),
    }
    table = demo_table
    for name, values in extra.items():
        table = table.append_column(name, values)
    root = tmp_path_factory.mktemp("typed")
    half = n // 2
    pq.write_table(table.slice(0, half), root / "a.parquet", row_group_size=300)
    pq.write_table(table.slice(half), root / "b.parquet", row_group_size=400)
    return root


@pytest.fixture
def corrected_dates(spark):
    """pyarrow wrote typed_dir's dates: with CORRECTED rebasing Spark reads them as written too."""
    key = "spark.sql.parquet.datetimeRebaseModeInRead"
    before = spark.conf.get(key)
    spark.conf.set(key, "CORRECTED")
    yield
    spark.conf.set(key, before)


@pytest.fixture
def typed_df(spark, typed_dir, corrected_dates):
    return read_parquet(spark, str(typed_dir))


def sorted_arrow(df):
    return _session.to_arrow(df).sort_by("id")


@pytest.mark.parametrize("shape, plain", [
    (lambda df: df, True),
    (lambda df: df.select("id", "embedding"), True),
    (lambda df: df.where("id > 3"), False),
    (lambda df: df.withColumn("one", F.lit(1)), False),
    (lambda df: df.select((F.col("id") + 1).alias("id"), "embedding"), False),
    (lambda df: df.union(df), False),
])
def test_only_plain_scans_are_read_directly(typed_df, shape, plain):
    assert (_scan.parquet_scan(shape(typed_df)) is not None) == plain


def test_cached_and_partition_columns_fall_back(spark, demo_table, tmp_path):
    table = demo_table.append_column("part", pa.array(demo_table["id"].to_numpy() % 3))
    pq.write_to_dataset(table, str(tmp_path / "src"), partition_cols=["part"])
    df = read_parquet(spark, str(tmp_path / "src"))
    assert _scan.parquet_scan(df) is None  # 'part' lives in directory names, typed by Spark's inference
    scan = _scan.parquet_scan(df.select("id", "embedding"))
    assert scan is not None and scan.rows == demo_table.num_rows
    cached = read_parquet(spark, str(tmp_path / "src")).select("id", "embedding").cache()
    try:
        assert _scan.parquet_scan(cached) is None  # the cache holds the rows now, not the files
    finally:
        cached.unpersist()


@pytest.mark.parametrize("drop_input, output_col", [(True, None), (False, "code"), (False, "embedding")])
def test_direct_read_equals_spark_path(typed_df, codecs, drop_input, output_col):
    codec = codecs["PCA32,SQ8"]
    direct = encode_column(typed_df, codec, "embedding", output_col, drop_input=drop_input, engine="pyarrow")
    spark_path = encode_column(typed_df, codec, "embedding", output_col, drop_input=drop_input, engine="spark")
    assert direct.schema == spark_path.schema
    assert sorted_arrow(direct).equals(sorted_arrow(spark_path))


def test_direct_read_codes_equal_the_core(typed_df, typed_dir, codecs):
    codec = codecs["PQ8x4"]
    got = sorted_arrow(encode_column(typed_df, codec, "embedding", "code", engine="pyarrow"))
    table = pq.read_table(typed_dir).sort_by("id")
    x = np.stack(table["embedding"].to_numpy(zero_copy_only=False)).astype(np.float32)
    want = codec.encode(x)
    assert got.num_rows == len(x) and got["id"].equals(table["id"])
    assert b"".join(got["code"].to_pylist()) == want.tobytes()


def test_task_split_does_not_change_the_output(typed_df, codecs, monkeypatch):
    codec = codecs["PCA32,SQ8"]
    one = sorted_arrow(encode_column(typed_df, codec, "embedding", engine="pyarrow"))
    monkeypatch.setattr(_scan, "PARTITION_BYTES", 1)  # one row group per task
    scan = _scan.parquet_scan(typed_df)
    assert len(scan.partitions) == len(scan.row_groups) > 2
    assert sorted_arrow(encode_column(typed_df, codec, "embedding", engine="pyarrow")).equals(one)


@pytest.fixture(scope="module")
def bad_file(tmp_path_factory, demo_table):
    emb = demo_table["embedding"].to_pylist()
    emb[5] = None
    emb[650] = [float("nan")] * 384
    path = tmp_path_factory.mktemp("bad") / "bad.parquet"
    pq.write_table(demo_table.set_column(2, "embedding", pa.array(emb, pa.list_(pa.float32()))), path,
                   row_group_size=500)
    return path


def test_bad_row_is_named_by_row_group_and_file(spark, bad_file, sq8):
    df = read_parquet(spark, str(bad_file))
    with pytest.raises(Exception, match=r"column 'embedding', row 150 of row group 1 in .*bad.parquet: NaN"):
        encode_column(df, sq8, "embedding", engine="pyarrow").collect()
    out = sorted_arrow(encode_column(df, sq8, "embedding", "code", on_invalid="null"))
    assert out.num_rows == 2000 and out["code"].null_count == 2
    ids = out.filter(out["code"].is_null())["id"].to_pylist()
    source = pq.read_table(bad_file)["id"].to_pylist()
    assert ids == sorted([source[5], source[650]])


def test_dead_letters_fall_back_and_keep_every_row(spark, bad_file, sq8):
    df = read_parquet(spark, str(bad_file))
    good, bad = encode_column(df, sq8, "embedding", on_invalid="dead_letter")
    assert good.count() + bad.count() == 2000
    assert bad.select("embcompress_reason").first()[0].startswith("NaN")
    with pytest.raises(ValueError, match="engine='pyarrow' does not split out dead letters"):
        encode_column(df, sq8, "embedding", on_invalid="dead_letter", engine="pyarrow")


def test_engine_pyarrow_refuses_what_it_cannot_read(typed_df, sq8):
    with pytest.raises(ValueError, match="needs a DataFrame from spark_udfs.read_parquet"):
        encode_column(typed_df.where("id > 3"), sq8, "embedding", engine="pyarrow")
    with pytest.raises(ValueError, match="engine must be one of"):
        encode_column(typed_df, sq8, "embedding", engine="arrow")


def test_direct_sample_is_seeded_real_and_split_independent(typed_df, demo_matrix, monkeypatch):
    a = sample_vectors(typed_df, "embedding", sample_size=500, seed=4)
    x = np.asarray(a.flatten()).reshape(len(a), -1)
    rows = {r.tobytes() for r in demo_matrix}
    assert x.shape == (500, 384) and all(r.tobytes() in rows for r in x)
    assert len({r.tobytes() for r in x}) == 500
    assert not a.equals(sample_vectors(typed_df, "embedding", sample_size=500, seed=5))
    monkeypatch.setattr(_scan, "PARTITION_BYTES", 1)
    assert a.equals(sample_vectors(typed_df, "embedding", sample_size=500, seed=4))


def test_direct_sample_skips_nulls(spark, bad_file):
    df = read_parquet(spark, str(bad_file))
    assert _scan.parquet_scan(df.select("embedding")) is not None
    everything = sample_vectors(df, "embedding", sample_size=5000)
    assert len(everything) == 1999 and everything.null_count == 0  # the null row is left out, NaN kept


def test_dates_that_spark_would_rebase_fall_back(spark, typed_dir, tmp_path):
    key = "spark.sql.parquet.datetimeRebaseModeInRead"
    before = spark.conf.get(key)
    spark.conf.set(key, "EXCEPTION")  # pyarrow's files carry no Spark version: Spark checks their dates
    try:
        assert _scan.parquet_scan(read_parquet(spark, str(typed_dir))) is None
        assert _scan.parquet_scan(read_parquet(spark, str(typed_dir)).select("id", "embedding")) is not None
    finally:
        spark.conf.set(key, before)
    days = spark.sql("SELECT id, DATE'2026-11-27' AS day, array(CAST(id AS FLOAT), 1.0F) AS v FROM range(10)")
    days.write.parquet(str(tmp_path / "spark3"))  # written by Spark 3+: proleptic dates, read as written
    assert _scan.parquet_scan(read_parquet(spark, str(tmp_path / "spark3"))) is not None
    spark.conf.set("spark.sql.parquet.datetimeRebaseModeInWrite", "LEGACY")
    try:
        spark.sql("SELECT 1L AS id, DATE'1000-01-01' AS day").write.parquet(str(tmp_path / "legacy"))
    finally:
        spark.conf.unset("spark.sql.parquet.datetimeRebaseModeInWrite")
    assert _scan.parquet_scan(read_parquet(spark, str(tmp_path / "legacy"))) is None  # rebased in any read mode


def test_spark_written_int96_timestamps_are_read_directly(spark, sq8, tmp_path):
    rows = spark.sql("SELECT id, TIMESTAMP'2026-11-27 09:34:00' + make_interval(0, 0, 0, 0, 0, 0, id) AS ts, "
                     "transform(sequence(1, 384), i -> CAST((id + i) % 7 AS FLOAT) + 0.5F) AS embedding "
                     "FROM range(300)")
    rows.write.parquet(str(tmp_path / "int96"))  # Spark's default outputTimestampType is INT96
    df = read_parquet(spark, str(tmp_path / "int96"))
    meta = pq.read_metadata(next((tmp_path / "int96").glob("*.parquet")))
    assert _scan._int96_columns(meta, ["id", "ts", "embedding"]) == {"ts"}
    direct = sorted_arrow(encode_column(df, sq8, "embedding", "code", engine="pyarrow"))
    assert direct.equals(sorted_arrow(encode_column(df, sq8, "embedding", "code", engine="spark")))


@pytest.mark.parametrize("version, int96, as_written", [
    (b"3.0.3", True, False),  # Spark 3.0 rebased INT96 on write
    (b"3.0.3", False, True),
    (b"3.1.0", True, True),
    (b"2.4.8", False, False),
    (b"4.3.0", True, True),
])
def test_which_spark_files_hold_dates_as_written(version, int96, as_written):
    class Meta:
        metadata = {b"org.apache.spark.version": version}

    assert _scan._dates_as_written(Meta(), {"datetime": "CORRECTED", "int96": "CORRECTED"}, int96) == as_written


def test_repeated_paths_tables_and_spark_only_settings_fall_back(spark, typed_dir, tmp_path):
    one = str(typed_dir / "a.parquet")
    twice = read_parquet(spark, one, one)  # Spark reads a file listed twice twice
    assert _scan.parquet_scan(twice.select("id", "embedding")) is None
    assert encode_column(twice.select("id", "embedding"), _codec(), "embedding").count() == 2 * pq.read_metadata(
        one).num_rows
    read_parquet(spark, one).select("id", "embedding").write.saveAsTable("scan_path_t")
    try:  # an overwrite of a catalog table must see that it reads from the table
        assert _scan.parquet_scan(spark.table("scan_path_t")) is None
    finally:
        spark.sql("DROP TABLE scan_path_t")
    spark.conf.set("spark.sql.files.ignoreCorruptFiles", "true")
    try:
        assert _scan.parquet_scan(read_parquet(spark, one).select("id", "embedding")) is None
    finally:
        spark.conf.unset("spark.sql.files.ignoreCorruptFiles")
    assert _scan.parquet_scan(spark.read.option("datetimeRebaseMode", "LEGACY").parquet(one)
                              .select("id", "embedding")) is None


def test_names_differing_only_in_case_fall_back(spark, tmp_path):
    pq.write_table(pa.table({"id": [1], "ID": [2], "v": pa.array([[1.0, 2.0]], pa.list_(pa.float32()))}),
                   tmp_path / "case.parquet")
    df = spark.read.schema("id bigint, v array<float>").parquet(str(tmp_path / "case.parquet"))
    assert _scan.parquet_scan(df) is None  # Spark finds 'id' ambiguous here; a direct read would pick one


def test_fixed_size_list_vectors_are_read_directly(spark, demo_table, demo_matrix, sq8, tmp_path):
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(demo_matrix.ravel()), demo_matrix.shape[1])
    pq.write_table(pa.table({"id": demo_table["id"], "embedding": fixed}), tmp_path / "fixed.parquet",
                   row_group_size=700)
    df = read_parquet(spark, str(tmp_path / "fixed.parquet"))
    direct = sorted_arrow(encode_column(df, sq8, "embedding", "code", engine="pyarrow"))
    assert direct.equals(sorted_arrow(encode_column(df, sq8, "embedding", "code", engine="spark")))
    sample = sample_vectors(df, "embedding", sample_size=100)
    assert len(sample) == 100 and pa.types.is_list(sample.type)


def test_sampler_reads_large_binary_results(spark, typed_df):
    key = "spark.sql.execution.arrow.useLargeVarTypes"
    spark.conf.set(key, "true")
    try:
        assert len(sample_vectors(typed_df, "embedding", sample_size=300, seed=2)) == 300
    finally:
        spark.conf.unset(key)


def test_sampling_through_spark_on_request(typed_df):
    a = sample_vectors(typed_df, "embedding", sample_size=300, seed=2, engine="spark")
    assert len(a) == 300
    with pytest.raises(ValueError, match="engine must be 'auto' or 'spark'"):
        sample_vectors(typed_df, "embedding", sample_size=300, engine="pyarrow")


def _codec():
    import embcompress as ec
    from embcompress.datasets import load_demo, matrix

    return ec.fit("SQ8", matrix(load_demo())[:500], seed=0)


@pytest.mark.parametrize("src, dst, same", [
    (pa.int32(), pa.int32(), True),
    (pa.int16(), pa.int32(), True),
    (pa.uint8(), pa.int16(), True),
    (pa.uint32(), pa.int32(), False),
    (pa.int64(), pa.int32(), False),
    (pa.list_(pa.field("element", pa.float32())), pa.list_(pa.float32()), True),
    (pa.list_(pa.float64()), pa.list_(pa.float32()), False),
    (pa.large_string(), pa.string(), True),
    (pa.timestamp("ms", "UTC"), pa.timestamp("us", "Europe/Paris"), True),
    (pa.timestamp("ns", "UTC"), pa.timestamp("us", "UTC"), False),
    (pa.timestamp("us"), pa.timestamp("us", "UTC"), False),
    (pa.dictionary(pa.int32(), pa.string()), pa.string(), False),
    (pa.list_(pa.float32(), 384), pa.list_(pa.float32()), True),
    (pa.list_(pa.float32(), 384), pa.list_(pa.float64()), False),
])
def test_only_lossless_type_differences_are_read_directly(src, dst, same):
    assert _scan.same_values(src, dst) == same


@pytest.mark.parametrize("src, dst, same", [
    (pa.timestamp("us"), pa.timestamp("us", "UTC"), True),  # INT96 holds UTC instants
    (pa.timestamp("us"), pa.timestamp("us"), True),
    (pa.timestamp("ns"), pa.timestamp("us", "UTC"), False),
    (pa.timestamp("us", "UTC"), pa.timestamp("us", "UTC"), True),
])
def test_int96_timestamps_are_instants(src, dst, same):
    assert _scan.same_values(src, dst, int96=True) == same


def test_ml_estimator_and_model_read_plain_scans_directly(typed_df):
    from spark_udfs import EmbeddingCompressor

    model = EmbeddingCompressor(inputCol="embedding", outputCol="code", spec="SQ8", sampleSize=500).fit(typed_df)
    assert model.codec.fit_stats["sample_rows"] == 500
    want = sorted_arrow(encode_column(typed_df, model.codec, "embedding", "code", engine="spark"))
    assert sorted_arrow(model.transform(typed_df)).equals(want)


def test_only_reads_from_read_parquet_are_direct(spark, typed_dir, corrected_dates, tmp_path):
    """spark.read.parquet gives no plan we may inspect on Connect: it takes Spark's own path,
    unless Spark finds it the same plan as a read_parquet of the same path."""
    copy = tmp_path / "copy.parquet"
    copy.write_bytes((typed_dir / "a.parquet").read_bytes())
    assert _scan.parquet_scan(spark.read.parquet(str(copy))) is None
    plain = read_parquet(spark, str(typed_dir))
    assert _scan.parquet_scan(plain) is not None
    assert _scan.parquet_scan(plain.select("embedding", "id")) is not None  # a select, by sameSemantics
    assert _scan.parquet_scan(plain.select("id", (F.col("small") + 1).alias("small"))) is None
    assert _scan.parquet_scan(read_parquet(spark, str(typed_dir), str(typed_dir / "a.parquet"))) is None
