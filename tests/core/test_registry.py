"""The versioned codec registry: atomic, immutable versions, safe under concurrent publishers."""
import json

import pytest

import embcompress as ec
from embcompress.registry import Registry
from tests.conftest import publish_race


@pytest.fixture(scope="module")
def codecs(data64):
    return [ec.fit(spec, data64) for spec in ("SQ8", "SQ4", "PCA32,SQ8")]


def test_publish_get_versions(tmp_path, codecs):
    reg = Registry(tmp_path)
    assert reg.versions("items") == []
    assert reg.publish("items", codecs[0]) == 1
    assert reg.publish("items", codecs[1]) == 2
    assert reg.versions("items") == [1, 2]
    assert reg.get("items").fingerprint == codecs[1].fingerprint
    assert reg.get("items", 1).fingerprint == codecs[0].fingerprint
    meta = reg.meta("items", 2)
    assert meta["parent_version"] == 1 and meta["spec"] == "SQ4" and meta["fingerprint"] == codecs[1].fingerprint
    assert {"mse", "recall_at_10", "sample_rows"} <= set(meta["fit_stats"])
    assert reg.find("items", codecs[0].fingerprint) == 1


def test_republishing_the_latest_codec_is_idempotent(tmp_path, codecs):
    reg = Registry(tmp_path)
    assert reg.publish("items", codecs[0]) == reg.publish("items", codecs[0]) == 1


def test_versions_are_immutable_and_tampering_is_detected(tmp_path, codecs):
    reg = Registry(tmp_path)
    reg.publish("items", codecs[0])
    path = tmp_path / "items" / "v1" / "meta.json"
    meta = json.loads(path.read_text())
    meta["fingerprint"] = "0" * 64
    path.write_text(json.dumps(meta))
    with pytest.raises(ec.ArtifactError, match="tampered"):
        reg.get("items", 1)


@pytest.mark.parametrize("bad, match", [(("items", 7), "no version 7"), (("other", "latest"), "no versions")])
def test_missing_versions(tmp_path, codecs, bad, match):
    reg = Registry(tmp_path)
    reg.publish("items", codecs[0])
    with pytest.raises(KeyError, match=match):
        reg.get(*bad)


def test_bad_names_are_refused(tmp_path, codecs):
    with pytest.raises(ValueError, match="registry name"):
        Registry(tmp_path).publish("../escape", codecs[0])


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_publishers_never_share_a_version(tmp_path, data64, round_):
    reg = Registry(tmp_path)
    codecs = [ec.fit("SQ8", data64, seed=s, holdout=0.1 + 0.01 * s) for s in range(8)]
    results = publish_race(tmp_path, codecs)
    assert sorted(v for v, _ in results) == list(range(1, 9))
    for version, fingerprint in results:
        assert reg.get("items", version).fingerprint == fingerprint
    assert not [p for p in (tmp_path / "items").iterdir() if p.name.startswith(".staging")]
