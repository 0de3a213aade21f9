"""Partitions dropped upstream, vacuum of superseded files, and a second writer racing for a snapshot."""
import os
import shutil

import pytest

from embcompress import nightly
from embcompress.reader import open_compressed

from .conftest import NIGHTS, Scenario, run, snapshot_files
from .test_three_nights import check_codes


@pytest.mark.parametrize("engine", ["local", "beam"])
def test_partition_removed_upstream_is_dropped(engine, engine_spark, tmp_path):
    s = Scenario(tmp_path)
    s.add_night(1)
    run(engine, engine_spark, s)
    shutil.rmtree(s.table / f"date={NIGHTS[1][0]}")
    summary = run(engine, engine_spark, s)
    assert summary["status"] == "committed" and summary["partitions"]["removed"] == [NIGHTS[1][0]]
    assert summary["files_written"] == 0
    assert open_compressed(s.output).partitions == NIGHTS[1][1:]
    assert run(engine, engine_spark, s)["status"] == "nothing to do"


def test_vacuum_keeps_what_recent_snapshots_read(tmp_path):
    s = Scenario(tmp_path)
    for night in (1, 2, 3):
        s.add_night(night)
        run("local", None, s)
    pinned = open_compressed(s.output)  # snapshot 3
    assert nightly.vacuum(s.output, keep=2) == ["_manifests/000001.json"]  # snapshot 2 holds all its files
    deleted = nightly.vacuum(s.output, keep=1)  # night 3 re-encoded everything with v2: v1's files go
    assert len([f for f in deleted if f.startswith("date=")]) == 6
    assert [f for f in deleted if not f.startswith("date=")] == [
        f"_codecs/{nightly.as_registry(s.registry).meta('items', 1)['fingerprint']}.ecz", "_manifests/000002.json"]
    assert not set(deleted) & {os.path.relpath(f, s.output) for f in pinned.files()}
    check_codes(s, open_compressed(s.output))
    assert pinned.read(decode=True).num_rows == 1800
    with pytest.raises(ValueError, match="keep must be at least 1"):
        nightly.vacuum(s.output, keep=0)


def test_a_second_writer_cannot_replace_a_committed_snapshot(tmp_path):
    s = Scenario(tmp_path)
    s.add_night(1)
    run("local", None, s)
    s.add_night(2)
    registry = nightly.as_registry(s.registry)
    plan = nightly.make_plan(s.table, s.output, "embedding", "date", registry, "items")
    decision = nightly.Decision(registry.get("items"), 1, False)
    written = [(t, nightly.encode_task(decision.codec, t, plan.output_path, "embedding", plan.code_column))
               for t in nightly.tasks(plan, decision, "all")]
    shutil.rmtree(s.table / f"date={NIGHTS[2][0]}")
    run("local", None, s)  # meanwhile another run commits snapshot 2, without that partition
    before = snapshot_files(s.output)
    with pytest.raises(RuntimeError, match="another run"):
        nightly.commit(plan, decision, written, registry_name="items")
    assert snapshot_files(s.output) == before
    assert open_compressed(s.output).partitions == NIGHTS[1] + NIGHTS[2][1:]
