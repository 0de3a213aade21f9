"""The nightly job on an ``s3://`` table (the loopback S3 server), in every engine: input table,
Delta output and codec registry all in the bucket. Three nights with a refit; night 3 is
SIGKILLed half-way and rerun, and the rerun gives the rows, codes and data-file bytes of an
uninterrupted night 3 (run on a server-side copy of the state after night 2)."""
import os
import subprocess
import sys

import pyarrow.fs as pafs
import pytest
from deltalake import DeltaTable

from embcompress import _faults, delta_lake, storage
from embcompress.reader import open_compressed
from embcompress.registry import Registry

from .conftest import ENGINES, NIGHTS, REPO, StoreScenario, run
from .test_faults import KILLED_NIGHT
from .test_three_nights import check_codes


def store_files(root, *, log=True) -> dict:
    """``{relative path: (bytes, mtime)}`` of every object under ``root`` but the run summaries
    (and the Delta log unless ``log``)."""
    fs, inner = storage.resolve(root)
    out = {}
    for info in fs.get_file_info(pafs.FileSelector(inner, recursive=True, allow_not_found=True)):
        rel = info.path[len(inner) + 1:]
        if info.type != pafs.FileType.File or rel.startswith("_runs/") or (not log and rel.startswith("_delta_log/")):
            continue
        with fs.open_input_stream(info.path) as f:
            out[rel] = (f.read(), info.mtime)
    return out


def copy_tree(src: str, dst: str) -> None:
    """Server-side copies of every object under ``src`` to the same names under ``dst``."""
    fs, inner = storage.resolve(src)
    _, target = storage.resolve(dst)
    for info in fs.get_file_info(pafs.FileSelector(inner, recursive=True, allow_not_found=True)):
        if info.type == pafs.FileType.File:
            fs.copy_file(info.path, target + info.path[len(inner):])


def delta_rows(output):
    return DeltaTable(delta_lake.table_uri(output), storage_options=delta_lake.storage_options(output)) \
        .to_pyarrow_table().sort_by("id")


@pytest.fixture
def s3_engine(request, s3_bucket):
    """The SparkSession (with the S3 environment for its workers) when the test's engine is Spark, else None."""
    engine = request.getfixturevalue("engine")
    if engine == "beam":
        pytest.importorskip("apache_beam", reason="the Beam engine needs apache-beam")
    return request.getfixturevalue("spark_s3") if engine == "spark" else None


@pytest.mark.parametrize("engine", ENGINES)
def test_three_nights_on_s3_with_a_kill_and_rerun(engine, s3_engine, s3_bucket):
    s = StoreScenario(f"{s3_bucket}/killed")
    for night in (1, 2):
        s.add_night(night)
        summary = run(engine, s3_engine, s)
        assert summary["status"] == "committed" and summary["codec"]["version"] == 1
        assert summary["partitions"]["encoded"] == NIGHTS[night] and summary["rows_encoded"] == 600
    assert Registry(s.registry).versions("items") == [1]  # the registry is in the bucket
    clean = StoreScenario(f"{s3_bucket}/clean", table=s.table)  # the same input; output and registry copied
    for folder in ("features_compressed", "codecs"):
        copy_tree(f"{s.root}/{folder}", f"{clean.root}/{folder}")
    s.add_night(3)
    clean.rows = s.rows
    assert run(engine, s3_engine, clean)["codec"]["version"] == 2  # night 3 uninterrupted: the reference

    before = store_files(s.output)
    env = dict(os.environ, **{_faults.KILL_ENV: "4", "PYTHONPATH": REPO, "PYSPARK_PYTHON": sys.executable,
                              "PYSPARK_DRIVER_PYTHON": sys.executable, "OMP_NUM_THREADS": "1"})
    proc = subprocess.run([sys.executable, "-c", KILLED_NIGHT.format(repo=REPO), engine, s.root], env=env,
                          timeout=300, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-3000:]  # SIGKILLed mid-night, after 4 of 9 partitions
    after = store_files(s.output)
    assert {rel: after[rel] for rel in before} == before, "the dead run changed a committed object"
    assert open_compressed(s.output).snapshot == 1 and delta_rows(s.output).num_rows == 1200

    summary = run(engine, s3_engine, s)
    assert summary["status"] == "committed" and summary["codec"]["version"] == 2
    assert len(summary["partitions"]["encoded"]) == 9 and summary["rows_encoded"] == 1800
    assert sorted(store_files(s.output)) == sorted(store_files(clean.output))  # no temporaries left, same log
    got, want = store_files(s.output, log=False), store_files(clean.output, log=False)
    assert all(got[rel][0] == want[rel][0] for rel in want), "the rerun wrote other bytes than a clean run"
    assert delta_rows(s.output).equals(delta_rows(clean.output))  # the same rows and codes for a Delta reader
    assert Registry(s.registry).meta("items", 2)["fingerprint"] == Registry(clean.registry).meta("items", 2)[
        "fingerprint"]
    reader = open_compressed(s.output)
    assert reader.snapshot == 2 and reader.num_rows == 1800 and set(reader.versions.values()) == {2}
    assert open_compressed(s.output, version=1).num_rows == 1200  # time travel on S3
    check_codes(s, reader)
    if engine == "spark":  # Spark's reader of the output: the Delta log via delta-rs, each file via pyarrow
        from spark_udfs import read_compressed

        assert read_compressed(s3_engine, s.output, decode=True).count() == 1800
    if engine == "beam":  # Beam's reader of the output, on S3 too
        import apache_beam as beam
        from apache_beam.testing.util import assert_that, equal_to

        from beam_transforms import ReadCompressed

        with beam.Pipeline() as p:
            rows = (p | ReadCompressed(s.output, decode=True) | beam.Map(lambda t: t.num_rows)
                    | beam.CombineGlobally(sum))
            assert_that(rows, equal_to([1800]))


def test_racing_commits_on_s3_leave_one_winner(s3_bucket):
    """Two writers that both read version 0 commit version 1: the conditional put of the log's next
    entry (``If-None-Match: *``) lets exactly one in; delta-rs needs no lock and no unsafe rename."""
    import pyarrow as pa
    from deltalake import CommitProperties, write_deltalake
    from deltalake.exceptions import CommitFailedError

    path = f"{s3_bucket}/race"
    options = delta_lake.storage_options(path)
    assert options["conditional_put"] == "etag" and "AWS_S3_ALLOW_UNSAFE_RENAME" not in options
    write_deltalake(path, pa.table({"a": [1, 2]}), storage_options=options)
    first, second = (DeltaTable(path, storage_options=options) for _ in range(2))
    no_retry = CommitProperties(max_commit_retries=0)
    first.create_write_transaction([], mode="append", schema=first.schema(), commit_properties=no_retry)
    with pytest.raises(CommitFailedError):
        second.create_write_transaction([], mode="append", schema=second.schema(), commit_properties=no_retry)
    assert DeltaTable(path, storage_options=options).version() == 1
