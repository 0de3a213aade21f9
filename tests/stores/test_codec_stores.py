"""ec.load and Codec.save on every store: a local folder and the loopback S3 server."""
import pytest

import embcompress as ec
from embcompress import storage


@pytest.fixture(scope="module")
def codec(data64):
    return ec.fit("PCA16,SQ8", data64)


def test_save_and_load_round_trip(store, codec, data64):
    path = storage.join(store, "c1.ecz")
    assert codec.save(path) == path
    loaded = ec.load(path)
    assert loaded.fingerprint == codec.fingerprint
    assert (loaded.encode(data64[:5]) == codec.encode(data64[:5])).all()
    assert codec.save(path) == path  # the same bytes again: nothing to do


def test_save_refuses_another_artifact_unless_overwrite(store, codec, data64):
    path = storage.join(store, "c.ecz")
    codec.save(path)
    other = ec.fit("SQ4", data64)
    with pytest.raises(FileExistsError, match="already holds a different artifact"):
        other.save(path)
    other.save(path, overwrite=True)
    assert ec.load(path).fingerprint == other.fingerprint


def test_signed_artifact_on_s3(s3_bucket, codec):
    path = s3_bucket + "/signed.ecz"
    codec.save(path, key=b"k" * 32)
    assert ec.load(path, key=b"k" * 32).fingerprint == codec.fingerprint
    with pytest.raises(ec.ArtifactError):
        ec.load(path, key=b"x" * 32)


def test_load_names_a_missing_key_or_bucket(s3_bucket):
    with pytest.raises(FileNotFoundError, match=r"no such codec artifact; check the path"):
        ec.load(s3_bucket + "/missing.ecz")
    with pytest.raises(FileNotFoundError, match="bucket 'no-such-bucket-16' does not exist"):
        ec.load("s3://no-such-bucket-16/c.ecz")


def test_load_refuses_an_oversized_object_before_reading_it(s3_bucket, codec):
    path = s3_bucket + "/big.ecz"
    storage.write_bytes(path, b"x" * 5000)
    with pytest.raises(ec.ArtifactError, match="5000 bytes"):
        ec.load(path, max_memory=1000)
