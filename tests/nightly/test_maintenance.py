"""Partitions dropped upstream, vacuum of superseded files, and a second writer racing for a Delta version."""
import os
import shutil

import pytest
from deltalake import DeltaTable

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


def test_vacuum_follows_delta_retention(tmp_path):
    s = Scenario(tmp_path)
    for night in (1, 2, 3):
        s.add_night(night)
        run("local", None, s)
    pinned = open_compressed(s.output)  # version 2: night 3 re-encoded everything with codec v2
    assert nightly.vacuum(s.output) == []  # within Delta's default retention (a week) every version stays
    assert open_compressed(s.output, version=1).read(decode=True).num_rows == 1200
    with pytest.raises(Exception, match="retention"):  # delta-rs refuses a retention below the table's
        nightly.vacuum(s.output, retention_hours=0)

    deleted = nightly.vacuum(s.output, retention_hours=0, enforce_retention_duration=False)
    assert len([f for f in deleted if f.startswith("date=")]) == 6  # v1's files, removed by night 3
    assert all("embedding_code_version=1/" in f for f in deleted if f.startswith("date="))
    v1 = nightly.as_registry(s.registry).meta("items", 1)["fingerprint"]
    assert [f for f in deleted if not f.startswith("date=")] == [f"_codecs/{v1}.ecz"]
    assert not set(deleted) & {os.path.relpath(f, s.output) for f in pinned.files()}
    check_codes(s, open_compressed(s.output))
    assert pinned.read(decode=True).num_rows == 1800
    assert DeltaTable(str(s.output)).to_pyarrow_table().num_rows == 1800
    assert run("local", None, s)["status"] == "nothing to do"  # vacuum's own commits carry no manifest
    shutil.rmtree(s.table / f"date={NIGHTS[1][0]}")
    summary = run("local", None, s)
    assert summary["status"] == "committed" and summary["snapshot"] == DeltaTable(str(s.output)).version()
    assert DeltaTable(str(s.output)).to_pyarrow_table().num_rows == 1600


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
    assert snapshot_files(s.output) == before and DeltaTable(str(s.output)).version() == 1
    assert open_compressed(s.output).partitions == NIGHTS[1] + NIGHTS[2][1:]
