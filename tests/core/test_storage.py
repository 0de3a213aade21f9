"""embcompress.storage: one pyarrow.fs layer for the small files next to outputs."""
import pytest

from embcompress import storage


@pytest.mark.parametrize("form", ["plain", "file:", "file://"])
def test_local_forms_reach_the_same_file(tmp_path, form):
    path = tmp_path / "a" / "b.bin"
    name = {"plain": str(path), "file:": f"file:{path}", "file://": f"file://{path}"}[form]
    storage.write_bytes(name, b"xyz")
    assert path.read_bytes() == b"xyz"
    assert storage.exists(name) and not storage.is_dir(name)
    assert storage.read_bytes(name) == b"xyz"


def test_write_refuses_to_replace_unless_asked(tmp_path):
    path = str(tmp_path / "f")
    storage.write_bytes(path, b"1")
    with pytest.raises(FileExistsError, match="already exists"):
        storage.write_bytes(path, b"2")
    storage.write_bytes(path, b"2", overwrite=True)
    assert storage.read_bytes(path) == b"2"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temporary file left behind


def test_read_refuses_directories_missing_files_and_oversized_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        storage.read_bytes(str(tmp_path / "nope"))
    with pytest.raises(IsADirectoryError, match="not a regular file"):
        storage.read_bytes(str(tmp_path))
    (tmp_path / "big").write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="100 bytes, above the 10-byte limit"):
        storage.read_bytes(str(tmp_path / "big"), limit=10)


def test_partition_columns_follow_hive_directories(tmp_path):
    (tmp_path / "date=2026-01-01" / "country=fr").mkdir(parents=True)
    (tmp_path / "_temporary").mkdir()
    assert storage.partition_columns(str(tmp_path)) == ["date", "country"]
    assert storage.partition_columns(str(tmp_path / "missing")) == []


def test_join_keeps_uris_intact():
    assert storage.join("s3://bucket/out/", "/_embcompress.json") == "s3://bucket/out/_embcompress.json"
