"""Fault injection: retried Spark tasks and Beam bundles give byte-identical output, and a CLI
encode killed with SIGKILL leaves no output (or the previous one), never a truncated file.

See also tests/spark/test_parquet.py::test_first_attempt_failure_still_writes_identical_output
(encode_column + DataFrame.write with every first task attempt failing).
"""
import hashlib
import os
import pickle
import signal
import subprocess
import sys
import time

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that

import embcompress as ec

from . import inputs
from .cases import CASES
from .runners import _dump, _load

ROW_CASES = [c for c in CASES if c.kind == "row"]


def flaky_table(seed=0, n=40):
    """Good rows and one row of every bad kind, in a seeded order."""
    t = inputs.rows_table(ROW_CASES)
    good = inputs.table(inputs.good_vectors(n, seed=seed).tolist(), start=t.num_rows)
    good = good.append_column("case", pa.array([""] * n))
    t = pa.concat_tables([t, good])
    return t.take(pa.array(np.random.default_rng(seed).permutation(t.num_rows)))


# ----- Spark ----------------------------------------------------------------------------------------


def test_spark_dead_letter_job_with_failed_first_attempts_is_byte_identical(spark, tmp_path):
    from pyspark import TaskContext

    from spark_udfs import encode_column

    codec = ec.fit("PCA4,SQ8", inputs.good_vectors(64, seed=3), holdout=0)  # a transform: batch-sensitive if buggy
    df = spark.createDataFrame(flaky_table()).repartition(3)
    marks = tmp_path / "marks"
    marks.mkdir()

    def fail_first_attempt(batches):  # nested: cloudpickle ships it to the workers by value
        ctx = TaskContext.get()
        if ctx.attemptNumber() == 0:
            (marks / f"failed-{ctx.stageId()}-{ctx.partitionId()}").touch()
            raise RuntimeError("injected failure of the first task attempt")
        yield from batches

    outputs = {}
    for name, source in (("clean", df), ("retried", df.mapInArrow(fail_first_attempt, df.schema))):
        good, bad = encode_column(source, codec, "embedding", "code", on_invalid="dead_letter")
        good.write.parquet(str(tmp_path / name / "good"))
        bad.write.parquet(str(tmp_path / name / "bad"))
        outputs[name] = [pq.read_table(tmp_path / name / part).sort_by("id") for part in ("good", "bad")]
    assert len(list(marks.iterdir())) >= 3  # every task of the flaky job failed once
    (good_a, bad_a), (good_b, bad_b) = outputs["clean"], outputs["retried"]
    assert good_a.num_rows + bad_a.num_rows == df.count() == good_b.num_rows + bad_b.num_rows
    assert good_a["code"].to_pylist() == good_b["code"].to_pylist()
    assert repr(bad_a.to_pylist()) == repr(bad_b.to_pylist())  # repr: NaN rows compare equal


# ----- Beam ---------------------------------------------------------------------------------------
class _FailFirstTry(beam.DoFn):
    """Pass tables through, but raise the first time each bundle is processed (retries then succeed)."""

    def __init__(self, marks):
        self._marks = str(marks)

    def start_bundle(self):
        self._seen = []

    def process(self, table):
        self._seen.append(hashlib.sha256(pickle.dumps(table["id"].to_pylist())).hexdigest()[:16])
        yield table

    def finish_bundle(self):
        key = os.path.join(self._marks, "-".join(sorted(self._seen)) or "empty")
        if not os.path.exists(key):
            open(key, "w").close()
            raise RuntimeError("injected failure of the first try of this bundle")


def _beam_encode(tables, codec, tmp_path, marks=None, runner="BundleBasedDirectRunner"):
    from beam_transforms import EncodeEmbeddings

    good_path, bad_path = tmp_path / "good.pkl", tmp_path / "bad.pkl"
    with beam.Pipeline(runner=runner) as p:
        pcoll = p | beam.Create(tables)
        if marks is not None:
            pcoll = pcoll | "Flaky" >> beam.ParDo(_FailFirstTry(marks))
        res = pcoll | EncodeEmbeddings("embedding", codec, output_column="code").with_dead_letters()
        if marks is not None:
            res = type(res)(res.good | "FlakyAfter" >> beam.ParDo(_FailFirstTry(str(marks) + "_after")), res.bad)
        assert_that(res.good, _dump(good_path), label="DumpGood")
        assert_that(res.bad, _dump(bad_path), label="DumpBad")
    good = pa.concat_tables(_load(good_path)).sort_by("id")
    bad = sorted((b["row"]["id"], b["embcompress_reason"]) for b in _load(bad_path))
    return good, bad


def test_beam_bundles_failing_on_first_try_give_identical_output(tmp_path):
    codec = ec.fit("PCA4,SQ8", inputs.good_vectors(64, seed=3), holdout=0)
    t = flaky_table(n=60)
    tables = [t.slice(i, 11) for i in range(0, t.num_rows, 11)]
    (tmp_path / "clean").mkdir()
    (tmp_path / "retried").mkdir()
    marks = tmp_path / "marks"
    marks.mkdir()
    (tmp_path / "marks_after").mkdir()
    good_a, bad_a = _beam_encode(tables, codec, tmp_path / "clean", runner="DirectRunner")
    good_b, bad_b = _beam_encode(tables, codec, tmp_path / "retried", marks=marks)
    assert len(os.listdir(marks)) >= 1 and len(os.listdir(str(marks) + "_after")) >= 1  # bundles did fail
    assert good_a["id"].to_pylist() == good_b["id"].to_pylist()
    assert good_a["code"].to_pylist() == good_b["code"].to_pylist()
    assert bad_a == bad_b and good_a.num_rows + len(bad_a) == t.num_rows


@pytest.mark.parametrize("form", ["table", "rows"])
def test_beam_encode_dofn_is_idempotent_across_retries_and_workers(form):
    """A retried bundle re-runs process() on the same input, maybe in a new worker: same bytes out."""
    from beam_transforms.encode import _ArrowTableToCodes, _RowDictsToCodes

    codec = ec.fit("PCA4,SQ8", inputs.good_vectors(64, seed=3), holdout=0)
    t = flaky_table().drop_columns(["case"])
    element = t if form == "table" else t.to_pylist()
    cls = _ArrowTableToCodes if form == "table" else _RowDictsToCodes

    def attempt():
        fn = cls(codec.to_bytes(), "embedding", "code", False, True, 1)
        fn.setup()
        outs = [o.value if isinstance(o, beam.pvalue.TaggedOutput) else o for o in fn.process(element)]
        return [repr((o.schema, o.to_pylist())) if isinstance(o, pa.Table) else repr(o) for o in outs]  # NaN-safe

    first, retry, other_worker = attempt(), attempt(), attempt()
    assert first == retry == other_worker


# ----- CLI ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def many_row_groups(tmp_path_factory):
    """A 300-row-group file (256-d), and a codec for it: encoding it takes a few seconds."""
    folder = tmp_path_factory.mktemp("kill")
    rng = np.random.default_rng(0)
    path = folder / "in.parquet"
    writer = None
    for _ in range(300):
        x = rng.standard_normal((1000, 256)).astype(np.float32)
        chunk = pa.table({"embedding": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), 256)})
        chunk = chunk.cast(pa.schema([("embedding", pa.list_(pa.float32()))]))
        writer = writer or pq.ParquetWriter(path, chunk.schema)
        writer.write_table(chunk)
    writer.close()
    codec_path = folder / "codec.ecz"
    ec.fit("SQ8", rng.standard_normal((500, 256)).astype(np.float32)).save(codec_path)
    return path, codec_path


def _start_encode(src, codec, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "embcompress.cli", "encode", str(src), "--codec", str(codec),
                             "-o", str(out), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_mid_write(proc, out):
    """SIGKILL ``proc`` once its temporary output holds data; return whether it was still running."""
    tmp = f"{out}.tmp-{proc.pid}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(tmp) and os.path.getsize(tmp) > 0:
            break
        time.sleep(0.01)
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return running, tmp


@pytest.mark.parametrize("previous", [None, b"previous output"], ids=["no_previous_output", "previous_output"])
def test_cli_encode_killed_halfway_leaves_no_truncated_output(many_row_groups, tmp_path, previous):
    src, codec = many_row_groups
    out = tmp_path / "out.parquet"
    if previous is not None:
        out.write_bytes(previous)
    proc = _start_encode(src, codec, out, "--overwrite")
    running, tmp = _kill_mid_write(proc, out)
    assert running, "the encode finished before it could be killed; make the input larger"
    assert proc.returncode == -signal.SIGKILL
    assert os.path.getsize(tmp) > 0  # it was killed while writing
    if previous is None:
        assert not out.exists()
    else:
        assert out.read_bytes() == previous
    os.remove(tmp)  # a crashed run leaves its temporary file (named .tmp-<pid>) for the operator
