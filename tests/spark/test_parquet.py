"""compress_parquet: read, fit or reuse a codec, encode, write; sidecar and artifact; partitioning kept;
and a job whose first task attempts fail still writes byte-identical output."""
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark import TaskContext
from pyspark.sql import functions as F

import embcompress as ec
from embcompress import provenance
from embcompress.datasets import DEMO_PATH
from spark_udfs import compress_parquet, encode_column
from spark_udfs.parquet import load_codec


def read_codes(path):
    t = pq.read_table(path, columns=["id", "embedding_code"]).sort_by("id")
    return t["id"].to_numpy(), np.stack([np.frombuffer(b, np.uint8) for b in t["embedding_code"].to_pylist()])


ENGINES = ["pyarrow", "spark"]


@pytest.mark.parametrize("engine", ENGINES)
def test_compress_with_a_spec_fits_encodes_and_records(spark, demo_table, demo_matrix, tmp_path, engine):
    out = str(tmp_path / "out")
    codec = compress_parquet(spark, str(DEMO_PATH), out, "embedding", "SQ8", sample_size=1000, engine=engine)
    expected = provenance.ColumnRecord.of(codec, "embedding", "embedding_code")
    records, _ = provenance.read_sidecar((tmp_path / "out" / "_embcompress.json").read_bytes())
    assert records == [expected]
    assert ec.load(tmp_path / "out" / "_embcompress.ecz").fingerprint == codec.fingerprint
    assert load_codec(spark, out).fingerprint == codec.fingerprint
    written = pq.read_table(out)
    assert sorted(written.column_names) == ["embedding_code", "id", "source", "text"]
    ids, codes = read_codes(out)
    order = np.argsort(demo_table["id"].to_numpy())
    assert ids.tolist() == demo_table["id"].to_numpy()[order].tolist()
    np.testing.assert_array_equal(codes, codec.encode(demo_matrix[order]))
    for part in (tmp_path / "out").glob("part-*.parquet"):  # every data file carries the same record
        assert provenance.read(part) == [expected]


def test_modes_and_append_guard(spark, sq8, codecs, tmp_path):
    out = str(tmp_path / "out")
    compress_parquet(spark, str(DEMO_PATH), out, "embedding", sq8)
    with pytest.raises(FileExistsError, match="already exists; pass mode='overwrite'"):
        compress_parquet(spark, str(DEMO_PATH), out, "embedding", sq8)
    with pytest.raises(ValueError, match="would mix two codecs"):
        compress_parquet(spark, str(DEMO_PATH), out, "embedding", codecs["BIN"], mode="append")
    compress_parquet(spark, str(DEMO_PATH), out, "embedding", sq8, mode="append")
    assert pq.read_table(out).num_rows == 4000
    assert compress_parquet(spark, str(DEMO_PATH), out, "embedding", "SQ8", mode="ignore").fingerprint == \
        sq8.fingerprint


@pytest.mark.parametrize("engine", ENGINES)
def test_partitioned_input_keeps_partitioning(spark, demo_table, sq8, tmp_path, engine):
    src = tmp_path / "src"
    table = demo_table.append_column("part", pa.array(demo_table["id"].to_numpy() % 3))
    pq.write_to_dataset(table, str(src), partition_cols=["part"])
    out = tmp_path / "out"
    compress_parquet(spark, str(src), str(out), "embedding", sq8, drop_input=False, engine=engine)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["part=0", "part=1", "part=2"]
    assert json.loads((out / "_embcompress.json").read_text())["partition_by"] == ["part"]
    back = spark.read.parquet(str(out))
    assert back.where("part = 1").count() == int((demo_table["id"].to_numpy() % 3 == 1).sum())


def test_first_attempt_failure_still_writes_identical_output(spark, demo_df, codecs, tmp_path):
    codec = codecs["PCA32,SQ8"]  # batch-sensitive spec: a retry must still give the same bytes
    clean, retried = str(tmp_path / "clean"), str(tmp_path / "retried")

    def fail_first_attempt(batches):  # nested, so cloudpickle ships it by value to the workers
        ctx = TaskContext.get()
        if ctx.attemptNumber() == 0:
            (tmp_path / f"failed-{ctx.partitionId()}").touch()
            raise RuntimeError("injected failure of the first task attempt")
        yield from batches

    encode_column(demo_df, codec, "embedding").write.parquet(clean)
    flaky = demo_df.mapInArrow(fail_first_attempt, demo_df.schema)
    encode_column(flaky, codec, "embedding").write.parquet(retried)
    partitions = demo_df.select(F.spark_partition_id().alias("p")).distinct().count()
    assert len(list(tmp_path.glob("failed-*"))) == partitions  # every task failed once
    a, b = read_codes(clean), read_codes(retried)
    assert a[0].tolist() == b[0].tolist() and a[1].tobytes() == b[1].tobytes()


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_row_fails_naming_where(spark, demo_table, sq8, tmp_path, engine):
    emb = demo_table["embedding"].to_pylist()
    emb[7] = [float("nan")] * 384
    src = tmp_path / "bad.parquet"
    pq.write_table(demo_table.set_column(2, "embedding", pa.array(emb, pa.list_(pa.float32()))), src)
    with pytest.raises(Exception, match=r"column 'embedding', row 7 of .*: NaN in vector"):
        compress_parquet(spark, str(src), str(tmp_path / "out"), "embedding", sq8, engine=engine)
    compress_parquet(spark, str(src), str(tmp_path / "out2"), "embedding", sq8, engine=engine, on_invalid="null")
    t = pq.read_table(tmp_path / "out2")
    assert t.num_rows == 2000 and t["embedding_code"].null_count == 1
