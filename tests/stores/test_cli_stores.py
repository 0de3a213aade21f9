"""The CLI end to end on every store: a directory of Parquet files (as Spark and Beam write
them) encoded, inspected and decoded, on a local folder and on the loopback S3 server."""
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

import embcompress as ec
from embcompress import storage

DIM = 32




def put_table(path, x, first_id):
    table = pa.table({"id": pa.array(np.arange(first_id, first_id + len(x), dtype=np.int64)),
                      "embedding": pa.array(list(x), type=pa.list_(pa.float32()))})
    out = storage.AtomicOutput(path)
    pq.write_table(table, out.stream, row_group_size=100)
    out.commit()


@pytest.fixture
def dataset(store, make_low_rank):
    """A Hive-partitioned input directory of three files (600 rows) and a codec artifact, on ``store``."""
    x = make_low_rank(600, DIM, seed=3)
    for i, (part, name) in enumerate((("day=1", "a"), ("day=1", "b"), ("day=2", "a"))):
        put_table(storage.join(store, "in", part, f"{name}.parquet"), x[i * 200:(i + 1) * 200], i * 200)
    storage.write_bytes(storage.join(store, "in", "_SUCCESS"), b"")  # Spark's marker: not data
    codec_path = storage.join(store, "c.ecz")
    ec.fit("SQ8", x).save(codec_path)
    return store, x


def read_dir(path):
    fs, inner = storage.resolve(path)
    return pads.dataset(inner, filesystem=fs, format="parquet", partitioning="hive").to_table().sort_by("id")


def test_encode_inspect_decode_a_directory(dataset, cli):
    root, x = dataset
    src, out, dec, codec = (storage.join(root, p) for p in ("in", "out", "dec", "c.ecz"))
    run = cli("encode", src + "/", "--codec", codec, "-o", out + "/", "--drop-input")
    assert run.code == 0, run
    assert "600 rows in 3 files" in run.out
    record = json.loads(storage.read_bytes(storage.join(out, "_part.embcompress.run.json")))
    assert record["files"] == ["day=1/a.parquet", "day=1/b.parquet", "day=2/a.parquet"]
    assert record["rows_out"] == 600
    encoded = read_dir(out)  # a plain reader sees exactly the rows, partitions kept
    assert encoded.num_rows == 600 and "embedding_code" in encoded.column_names
    assert sorted(set(encoded["day"].to_pylist())) == [1, 2]

    run = cli("inspect", out)
    assert run.code == 0, run
    assert "3 Parquet files, 600 rows" in run.out and "result: complete, 600 rows in = 600 out" in run.out
    assert "encoded by SQ8" in run.out

    run = cli("decode", out, "--codec", codec, "-o", dec)
    assert run.code == 0, run
    decoded = read_dir(dec)
    assert decoded["id"].to_pylist() == list(range(600))
    got = np.stack(decoded["embedding"].to_numpy(zero_copy_only=False))
    assert np.abs(got - x).max() < 0.05


def test_encode_a_glob_and_a_single_file(dataset, cli):
    root, _ = dataset
    codec = storage.join(root, "c.ecz")
    run = cli("encode", storage.join(root, "in", "day=1", "*.parquet"), "--codec", codec, "-o",
              storage.join(root, "glob-out"))
    assert run.code == 0, run
    assert storage.list_parquet(storage.join(root, "glob-out")) == [
        storage.join(root, "glob-out", "a.parquet"), storage.join(root, "glob-out", "b.parquet")]
    one = storage.join(root, "one.parquet")
    run = cli("encode", storage.join(root, "in", "day=2", "a.parquet"), "--codec", codec, "-o", one)
    assert run.code == 0, run
    assert "200 rows" in run.out and storage.open_parquet(one).metadata.num_rows == 200
    run = cli("inspect", one)
    assert run.code == 0 and "result: complete, 200 rows in" in run.out, run
    run = cli("inspect", codec)
    assert run.code == 0 and "spec                  SQ8" in run.out, run


def test_an_existing_output_directory_is_refused_unless_overwrite(dataset, cli):
    root, _ = dataset
    args = ("encode", storage.join(root, "in"), "--codec", storage.join(root, "c.ecz"), "-o", storage.join(root, "o"))
    assert cli(*args).code == 0
    run = cli(*args)
    assert run.code == 1 and "already exists and is not empty; pass --overwrite" in run.err, run
    assert cli(*args, "--overwrite").code == 0
    assert read_dir(storage.join(root, "o")).num_rows == 600


def test_the_fit_command_reads_and_writes_s3(s3_bucket, cli, make_low_rank):
    put_table(s3_bucket + "/t.parquet", make_low_rank(400, DIM, seed=4), 0)
    run = cli("fit", s3_bucket + "/t.parquet", "--spec", "PCA8,SQ8", "-o", s3_bucket + "/codecs/pca.ecz")
    assert run.code == 0, run
    assert ec.load(s3_bucket + "/codecs/pca.ecz").spec == "PCA8,SQ8"


@pytest.mark.parametrize("where", ["bucket", "key", "codec"])
def test_a_missing_bucket_or_key_exits_1_with_one_line(s3_bucket, cli, where, make_low_rank):
    put_table(s3_bucket + "/in/a.parquet", make_low_rank(50, DIM), 0)
    ec.fit("SQ8", make_low_rank(300, DIM)).save(s3_bucket + "/c.ecz")
    data, codec = {"bucket": ("s3://no-such-bucket-16/in/", s3_bucket + "/c.ecz"),
                   "key": (s3_bucket + "/missing/", s3_bucket + "/c.ecz"),
                   "codec": (s3_bucket + "/in/", s3_bucket + "/nope.ecz")}[where]
    run = cli("encode", data, "--codec", codec, "-o", s3_bucket + "/out/")
    assert run.code == 1, run
    assert run.err.count("\n") == 1 and run.err.startswith("embcompress: error: "), run
    expected = {"bucket": "bucket 'no-such-bucket-16' does not exist", "key": "no such input file or directory",
                "codec": "nope.ecz: no such codec file"}[where]
    assert expected in run.err
    assert not storage.exists(s3_bucket + "/out")


def test_an_output_in_a_missing_bucket_exits_1(s3_bucket, cli, make_low_rank):
    put_table(s3_bucket + "/in/a.parquet", make_low_rank(50, DIM), 0)
    ec.fit("SQ8", make_low_rank(300, DIM)).save(s3_bucket + "/c.ecz")
    for out in ("s3://no-such-bucket-16/out/", "s3://no-such-bucket-16/out.parquet"):
        data = s3_bucket + ("/in/" if out.endswith("/") else "/in/a.parquet")
        run = cli("encode", data, "--codec", s3_bucket + "/c.ecz", "-o", out)
        assert run.code == 1 and "bucket 'no-such-bucket-16' does not exist" in run.err, run


def test_an_output_inside_the_input_is_refused_across_s3_and_s3a(s3_bucket, cli, make_low_rank):
    put_table(s3_bucket + "/in/a.parquet", make_low_rank(50, DIM), 0)
    ec.fit("SQ8", make_low_rank(300, DIM)).save(s3_bucket + "/c.ecz")
    out = s3_bucket.replace("s3://", "s3a://") + "/in/out/"
    run = cli("encode", s3_bucket + "/in/", "--codec", s3_bucket + "/c.ecz", "-o", out)
    assert run.code == 1 and "lies inside DATA" in run.err, run
    assert storage.list_parquet(s3_bucket + "/in") == [s3_bucket + "/in/a.parquet"]


def test_a_failed_directory_encode_commits_nothing(store, cli, make_low_rank):
    x = make_low_rank(200, DIM, seed=8)
    put_table(storage.join(store, "in", "a.parquet"), x[:100], 0)
    bad = x[100:].copy()
    bad[50, 3] = np.nan  # the second file holds a bad row: the run stops there
    put_table(storage.join(store, "in", "b.parquet"), bad, 100)
    ec.fit("SQ8", x).save(storage.join(store, "c.ecz"))
    out = storage.join(store, "out")
    run = cli("encode", storage.join(store, "in"), "--codec", storage.join(store, "c.ecz"), "-o", out)
    assert run.code == 1 and "row 50" in run.err, run
    assert not storage.exists(storage.join(out, "_part.embcompress.run.json"))  # never committed
    if storage.is_local(store):  # locally not even the first file is visible
        assert not storage.exists(out)
        assert [p for p in os.listdir(store) if "staging" in p] == []
