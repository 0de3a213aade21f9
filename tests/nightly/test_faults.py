"""A run that dies half-way commits nothing; the rerun finishes it with the bytes of a clean run."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from embcompress import _faults, nightly
from embcompress.reader import open_compressed
from embcompress.registry import Registry

from .conftest import NIGHTS, REPO, Scenario, run, snapshot_files
from .test_three_nights import check_codes


def two_nights(engine, spark, root):
    s = Scenario(root)
    for night in (1, 2):
        s.add_night(night)
        run(engine, spark, s)
    s.add_night(3)
    return s


@pytest.mark.parametrize("engine", ["local", "spark", "beam"])
def test_fault_after_half_the_partitions_then_rerun(engine, engine_spark, tmp_path, monkeypatch):
    clean = two_nights(engine, engine_spark, tmp_path / "clean")
    run(engine, engine_spark, clean)
    faulty = two_nights(engine, engine_spark, tmp_path / "faulty")
    before = snapshot_files(faulty.output)
    table_before = open_compressed(faulty.output).read(decode=True)

    with monkeypatch.context() as m, pytest.raises(Exception, match="injected fault"):
        m.setenv(_faults.FAIL_ENV, "4")  # night 3 re-encodes 9 partitions
        run(engine, engine_spark, faulty)
    after = snapshot_files(faulty.output)
    assert {rel: after[rel] for rel in before} == before, "the failed run changed a committed file"
    reader = open_compressed(faulty.output)
    assert reader.snapshot == 1 and reader.read(decode=True).equals(table_before)
    written = [rel for rel in after if rel not in before and rel.endswith(".parquet")]
    assert len(written) == 4 if engine == "local" else len(written) <= 4, written  # engines run files in any order

    summary = run(engine, engine_spark, faulty)
    assert summary["codec"]["version"] == 2 and len(summary["partitions"]["encoded"]) == 9
    assert sorted(snapshot_files(faulty.output)) == sorted(snapshot_files(clean.output))  # same Delta commits too
    got, want = snapshot_files(faulty.output, log=False), snapshot_files(clean.output, log=False)
    assert all(got[rel][0] == want[rel][0] for rel in want), "the rerun wrote other bytes than a clean run"
    fingerprints = [Registry(t.registry).meta("items", 2)["fingerprint"] for t in (faulty, clean)]
    assert fingerprints[0] == fingerprints[1]


def test_killed_process_leaves_the_previous_snapshot_to_a_concurrent_reader(tmp_path):
    s = two_nights("local", None, tmp_path)
    expected = open_compressed(s.output).read(decode=True)
    job = (f"from embcompress import nightly; nightly.recompress_local({str(s.table)!r}, 'embedding', "
           f"{str(s.registry)!r}, 'items', spec='PCA32,SQ8', partition_col='date', output_path={str(s.output)!r})")
    env = dict(os.environ, **{_faults.KILL_ENV: "4", "PYTHONPATH": REPO})
    proc = subprocess.Popen([sys.executable, "-c", job], env=env)
    seen, errors = [], []

    def read_while_running():
        while proc.poll() is None:
            try:
                table = open_compressed(s.output).read(decode=True)
                seen.append(table.equals(expected))
            except Exception as exc:  # noqa: BLE001 - any failure of a reader during the run is the bug
                errors.append(exc)

    reader = threading.Thread(target=read_while_running)
    reader.start()
    assert proc.wait(timeout=120) == -9  # SIGKILL by the test hook after 4 of 9 partitions
    reader.join()
    assert not errors and seen and all(seen), (errors, len(seen))
    assert any(s.output.glob(f"date={NIGHTS[1][0]}/embedding_code_version=2/*.parquet"))  # written, not committed
    assert open_compressed(s.output).snapshot == 1

    summary = nightly.recompress_local(str(s.table), "embedding", str(s.registry), "items", spec="PCA32,SQ8",
                                       partition_col="date", output_path=str(s.output))
    assert summary["status"] == "committed" and summary["codec"]["version"] == 2
    check_codes(s, open_compressed(s.output))


def test_unusable_new_data_is_an_error_and_commits_nothing(tmp_path):
    s = Scenario(tmp_path)
    s.add_night(1)
    run("local", None, s)
    before = snapshot_files(s.output)
    s.x = s.x.copy()
    s.x[s.order[600:1200:5]] = np.nan  # every fifth new row is NaN: 20% invalid
    s.add_night(2)
    with pytest.raises(nightly.DriftError, match="invalid"):
        run("local", None, s)
    assert snapshot_files(s.output) == before
