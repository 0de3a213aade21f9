"""embcompress.storage on every store: the same behaviour on a local folder and on the loopback S3 server."""
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embcompress import storage


def test_fixture_is_a_loopback_s3_server(s3_server, s3_bucket):
    assert s3_server.startswith("http://127.0.0.1:")
    assert storage.s3_endpoint() == s3_server
    assert storage.is_dir(s3_bucket)


def test_s3a_names_the_same_bucket(s3_bucket):
    storage.write_bytes(s3_bucket + "/a/b.bin", b"xyz")
    assert storage.read_bytes(s3_bucket.replace("s3://", "s3a://") + "/a/b.bin") == b"xyz"


def test_bytes_round_trip_and_refusals(store):
    path = storage.join(store, "a", "b.bin")
    storage.write_bytes(path, b"xyz")
    assert storage.read_bytes(path) == b"xyz" and storage.exists(path) and not storage.is_dir(path)
    with pytest.raises(FileExistsError, match="already exists"):
        storage.write_bytes(path, b"2")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        storage.read_bytes(storage.join(store, "nope"))
    with pytest.raises(ValueError, match="3 bytes, more than the 2 allowed|above the 2-byte limit"):
        storage.read_bytes(path, limit=2)


def test_missing_bucket_is_named(s3_bucket):
    err = storage.missing("s3://no-such-bucket-here/in/x.parquet")
    assert "bucket 'no-such-bucket-here' does not exist" in str(err)
    assert "does not exist" not in str(storage.missing(s3_bucket + "/nokey"))



def test_list_parquet_file_directory_and_glob(store):
    table = pa.table({"x": [1, 2]})
    for name in ("d/p=1/a.parquet", "d/p=2/b.parquet", "d/_tmp/c.parquet", "d/.hidden.parquet", "d/notes.txt"):
        out = storage.AtomicOutput(storage.join(store, name))
        pq.write_table(table, out.stream)
        out.commit()
    d = storage.join(store, "d")
    assert storage.list_parquet(d) == [f"{d}/p=1/a.parquet", f"{d}/p=2/b.parquet"]
    assert storage.list_parquet(f"{d}/p=1/a.parquet") == [f"{d}/p=1/a.parquet"]
    assert storage.list_parquet(f"{d}/p=*/b.parquet") == [f"{d}/p=2/b.parquet"]
    assert pq.read_table(storage.open_input_file(f"{d}/p=2/b.parquet")).num_rows == 2
    with pytest.raises(FileNotFoundError, match="no such input file or directory"):
        storage.list_parquet(storage.join(store, "missing"))
    with pytest.raises(FileNotFoundError, match="no Parquet files match"):
        storage.list_parquet(f"{d}/*.csv")


def test_atomic_output_is_invisible_until_commit_and_abort_leaves_nothing(store):
    path = storage.join(store, "out", "f.bin")
    out = storage.AtomicOutput(path)
    out.stream.write(b"partial")
    assert not storage.exists(path)
    out.abort()
    out = storage.AtomicOutput(path)
    out.stream.write(b"whole")
    out.commit()
    assert storage.read_bytes(path) == b"whole"
    fs, inner = storage.resolve(storage.join(store, "out"))
    import pyarrow.fs as pafs

    assert [i.base_name for i in fs.get_file_info(pafs.FileSelector(inner))] == ["f.bin"]


def test_create_exclusive_has_exactly_one_winner(store):
    path = storage.join(store, "v1", "meta.json")
    results, start = [], threading.Barrier(4)

    def create(i):
        start.wait()
        results.append((storage.create_exclusive(path, f"writer {i}".encode()), i))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for won, i in results if won]
    assert len(winners) == 1 and len(results) == 4
    assert storage.read_bytes(path) == f"writer {winners[0]}".encode()
