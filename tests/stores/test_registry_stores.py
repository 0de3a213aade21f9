"""The codec registry on every store: local (atomic rename) and the loopback S3 server
(conditional create, If-None-Match: *), with 4 concurrent publishers as in tests/core/test_registry.py."""
import json

import pytest

import embcompress as ec
from embcompress import storage
from embcompress.registry import Registry
from tests.conftest import publish_race

PUBLISHERS = 4


@pytest.fixture(scope="module")
def codecs(data64):
    return [ec.fit("SQ8", data64, seed=s, holdout=0.1 + 0.01 * s) for s in range(PUBLISHERS)]




def test_publish_get_versions(store, codecs):
    reg = Registry(store)
    assert reg.versions("items") == []
    assert reg.publish("items", codecs[0]) == 1
    assert reg.publish("items", codecs[0]) == 1  # the latest codec again: no new version
    assert reg.publish("items", codecs[1]) == 2
    assert reg.versions("items") == [1, 2]
    assert reg.get("items").fingerprint == codecs[1].fingerprint
    assert reg.get("items", 1).fingerprint == codecs[0].fingerprint
    assert reg.meta("items", 2)["parent_version"] == 1
    assert reg.find("items", codecs[0].fingerprint) == 1


@pytest.mark.parametrize("round_", range(2))
def test_concurrent_publishers_get_distinct_versions(store, codecs, round_):
    results = publish_race(store, codecs)
    assert sorted(v for v, _ in results) == list(range(1, PUBLISHERS + 1))
    reg = Registry(store)
    for version, fingerprint in results:
        assert reg.get("items", version).fingerprint == fingerprint


def test_concurrent_publishers_of_one_codec_share_one_version(store, codecs):
    results = publish_race(store, [codecs[0]] * PUBLISHERS)
    assert [v for v, _ in results] == [1] * PUBLISHERS
    assert Registry(store).versions("items") == [1]


def test_s3_versions_are_committed_by_a_conditional_create(s3_bucket, codecs):
    reg = Registry(s3_bucket.replace("s3://", "s3a://") + "/reg")  # s3a:// is the same bucket
    reg.publish("items", codecs[0])
    meta = json.loads(storage.read_bytes(f"{s3_bucket}/reg/items/v1/meta.json"))
    assert meta["artifact"] == f"_objects/{codecs[0].fingerprint}.ecz"
    assert not storage.create_exclusive(f"{s3_bucket}/reg/items/v1/meta.json", b"{}")  # taken: refused
    assert Registry(f"{s3_bucket}/reg").get("items", 1).fingerprint == codecs[0].fingerprint


def test_s3_meta_naming_another_artifact_is_refused(s3_bucket, codecs):
    reg = Registry(s3_bucket)
    reg.publish("items", codecs[0])
    path = f"{s3_bucket}/items/v1/meta.json"
    meta = json.loads(storage.read_bytes(path))
    storage.write_bytes(path, json.dumps(dict(meta, artifact="../../elsewhere.ecz")).encode(), overwrite=True)
    with pytest.raises(ec.ArtifactError, match="not where this registry keeps artifacts"):
        reg.get("items", 1)
    storage.write_bytes(path, json.dumps(dict(meta, fingerprint="0" * 64)).encode(), overwrite=True)
    with pytest.raises(ec.ArtifactError, match="tampered"):
        reg.get("items", 1)


def test_a_local_sub_tree_filesystem_still_publishes_by_rename(tmp_path, codecs):
    import pyarrow.fs as pafs

    sub = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    assert Registry("reg", sub).publish("items", codecs[0]) == 1
    assert (tmp_path / "reg" / "items" / "v1" / "codec.ecz").exists()
