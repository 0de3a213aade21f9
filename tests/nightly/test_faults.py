"""A run that dies half-way commits nothing; the rerun finishes it with the bytes of a clean run."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from deltalake import DeltaTable

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


# Night 3 in a child process that the kill hook SIGKILLs (its driver, from a Spark task or Beam DoFn)
KILLED_NIGHT = """
import sys
sys.path.insert(0, {repo!r})
from tests.nightly.conftest import run, scenario_at
engine, root = sys.argv[1], sys.argv[2]
spark = None
if engine == "spark":
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
run(engine, spark, scenario_at(root))
"""


@pytest.fixture(scope="module")
def clean_runs(tmp_path_factory):
    """Three uninterrupted nights per engine, made once for the fault tests of this module."""
    made = {}

    def get(engine, spark):
        if engine not in made:
            s = two_nights(engine, spark, tmp_path_factory.mktemp(f"clean-{engine}"))
            run(engine, spark, s)
            made[engine] = s
        return made[engine]
    return get


def delta_rows(output):
    return DeltaTable(str(output)).to_pyarrow_table().sort_by("id")


@pytest.mark.parametrize("engine, fault", [("local", "fail"), ("spark", "fail"), ("beam", "fail"),
                                           ("local", "kill"), ("spark", "kill"), ("beam", "kill")])
def test_fault_in_the_refit_night_then_rerun(engine, fault, engine_spark, clean_runs, tmp_path, monkeypatch):
    """Night 3 (drift: refit to v2, re-encode all 9 partitions) dies after 4 partitions, by an
    exception or by SIGKILL of the whole driver; nothing is committed, and the rerun gives the
    rows, codes and data-file bytes of an uninterrupted run."""
    clean = clean_runs(engine, engine_spark)
    faulty = two_nights(engine, engine_spark, tmp_path / "faulty")
    before = snapshot_files(faulty.output)
    table_before = open_compressed(faulty.output).read(decode=True)

    if fault == "fail":
        with monkeypatch.context() as m, pytest.raises(Exception, match="injected fault"):
            m.setenv(_faults.FAIL_ENV, "4")  # night 3 re-encodes 9 partitions
            run(engine, engine_spark, faulty)
    else:
        # one OpenMP thread, as in this process (conftest): a faiss fit's float sums follow the thread count
        env = dict(os.environ, **{_faults.KILL_ENV: "4", "PYTHONPATH": REPO, "PYSPARK_PYTHON": sys.executable,
                                  "PYSPARK_DRIVER_PYTHON": sys.executable, "OMP_NUM_THREADS": "1"})
        for key in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE"):
            env.pop(key, None)  # the killed driver is a classic session, also when this run is on Connect
        proc = subprocess.run([sys.executable, "-c", KILLED_NIGHT.format(repo=REPO), engine, str(tmp_path / "faulty")],
                              env=env, timeout=300, capture_output=True, text=True)
        assert proc.returncode == -9, proc.stderr[-3000:]  # SIGKILLed mid-night
    after = snapshot_files(faulty.output)
    assert {rel: after[rel] for rel in before} == before, "the dead run changed a committed file"
    reader = open_compressed(faulty.output)
    assert reader.snapshot == 1 and reader.read(decode=True).equals(table_before)
    assert DeltaTable(str(faulty.output)).version() == 1 and delta_rows(faulty.output).num_rows == 1200
    written = [rel for rel in after if rel not in before and rel.endswith(".parquet")]
    assert len(written) == 4 if engine == "local" else len(written) <= 8, written  # engines run files in any order

    summary = run(engine, engine_spark, faulty)
    assert summary["codec"]["version"] == 2 and len(summary["partitions"]["encoded"]) == 9
    assert sorted(snapshot_files(faulty.output)) == sorted(snapshot_files(clean.output))  # same Delta commits too
    got, want = snapshot_files(faulty.output, log=False), snapshot_files(clean.output, log=False)
    assert all(got[rel][0] == want[rel][0] for rel in want), "the rerun wrote other bytes than a clean run"
    assert delta_rows(faulty.output).equals(delta_rows(clean.output))  # the same rows and codes for a Delta reader
    fingerprints = [Registry(t.registry).meta("items", 2)["fingerprint"] for t in (faulty, clean)]
    assert fingerprints[0] == fingerprints[1]
    check_codes(faulty, open_compressed(faulty.output))


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
