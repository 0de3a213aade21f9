"""The output is a Delta Lake table: after a refit night every Delta reader (delta-rs, Polars, Spark
through the Delta log) sees exactly the table's current rows with their codec version; time
travel gives each earlier night; each commit records its codecs."""
import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from embcompress import nightly
from embcompress._paths import PathConflictError
from embcompress.reader import open_compressed
from embcompress.registry import Registry

from .conftest import NIGHTS, REPO, ROWS, Scenario, run
from .test_three_nights import check_codes

pl = pytest.importorskip("polars", reason="Polars is the second Delta reader (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def refitted(tmp_path_factory):
    """Three nights with the local engine: night 3 refits (codec v2) and re-encodes every partition."""
    s = Scenario(tmp_path_factory.mktemp("delta"))
    for night in (1, 2, 3):
        s.add_night(night)
        run("local", None, s)
    return s


def ids_of(s, nights) -> list:
    return sorted(int(i) for n in nights for v in NIGHTS[n] for i in s.rows[v][0])


def codes_by_id(table) -> dict:
    return dict(zip(table["id"].to_pylist(), table["embedding_code"].to_pylist()))


def assert_exact_rows(table, s, nights, codec_version):
    """``table`` (any reader's) holds each row of ``nights`` once, with its partition and codec version."""
    ids = table["id"].to_pylist()
    assert len(ids) == len(set(ids)), "duplicate rows"
    assert sorted(ids) == ids_of(s, nights), "stale or missing rows"
    assert set(table["embedding_code_version"].to_pylist()) == {codec_version}
    by_id = dict(zip(ids, table["date"].to_pylist()))
    assert all(by_id[int(i)] == v for n in nights for v in NIGHTS[n] for i in s.rows[v][0])


def test_delta_rs_and_polars_read_exactly_the_current_rows(refitted):
    ours = open_compressed(refitted.output)
    check_codes(refitted, ours)  # each file holds codec v2's codes of its rows
    want = codes_by_id(ours.read())
    got = DeltaTable(str(refitted.output)).to_pyarrow_table()
    assert_exact_rows(got, refitted, (1, 2, 3), 2)
    assert codes_by_id(got) == want
    frame = pl.read_delta(str(refitted.output))
    assert frame.height == 1800
    assert_exact_rows(frame.to_arrow(), refitted, (1, 2, 3), 2)
    assert codes_by_id(frame.to_arrow()) == want


def test_time_travel_gives_every_earlier_night(refitted):
    for version, nights in ((0, (1,)), (1, (1, 2))):
        got = DeltaTable(str(refitted.output), version=version).to_pyarrow_table()
        assert_exact_rows(got, refitted, nights, 1)
        assert_exact_rows(pl.read_delta(str(refitted.output), version=version).to_arrow(), refitted, nights, 1)
        reader = open_compressed(refitted.output, version=version)
        assert reader.snapshot == version and set(reader.versions.values()) == {1}
        decoded = reader.read(decode=True)
        codec = Registry(refitted.registry).get("items", 1)
        for value in NIGHTS[nights[-1]]:
            part = decoded.filter(pa.compute.equal(decoded["date"], value))
            ids, x = refitted.rows[value]
            np.testing.assert_array_equal(part["id"].to_numpy(), ids)
            np.testing.assert_array_equal(np.stack(part["embedding"].to_numpy(zero_copy_only=False)),
                                          codec.decode(codec.encode(x)))


def test_spark_reads_the_active_files_of_the_delta_log(refitted, spark):
    from spark_udfs import read_compressed
    from spark_udfs._session import to_arrow

    want = codes_by_id(DeltaTable(str(refitted.output)).to_pyarrow_table())
    got = to_arrow(read_compressed(spark, str(refitted.output)))
    assert_exact_rows(got, refitted, (1, 2, 3), 2)
    assert codes_by_id(got) == want
    earlier = to_arrow(read_compressed(spark, str(refitted.output), version=1))
    assert_exact_rows(earlier, refitted, (1, 2), 1)


def test_each_night_is_one_commit_that_records_its_codecs(refitted):
    log = refitted.output / nightly.DELTA_LOG
    actions = [json.loads(line) for line in (log / f"{2:020d}.json").read_text().splitlines()]
    adds = [a["add"] for a in actions if "add" in a]
    removes = [a["remove"] for a in actions if "remove" in a]
    assert len(adds) == 9 and len(removes) == 6  # night 3: every partition re-encoded, v1's files removed
    assert all(a["partitionValues"]["embedding_code_version"] == "2" for a in adds)
    assert all("embedding_code_version=1/" in r["path"] for r in removes)
    registry = Registry(refitted.registry)
    history = {c["version"]: c for c in DeltaTable(str(refitted.output)).history()}
    assert sorted(history) == [0, 1, 2]
    manifest = history[2]["embcompress"]
    assert manifest["codecs"] == {"2": registry.meta("items", 2)["fingerprint"]}
    assert {e["version"] for e in manifest["partitions"].values()} == {2}
    assert history[1]["embcompress"]["codecs"] == {"1": registry.meta("items", 1)["fingerprint"]}
    assert sum(e["rows"] for e in manifest["partitions"].values()) == 1800


def test_a_mixed_table_shows_each_rows_codec_version(tmp_path):
    s = Scenario(tmp_path)
    for night in (1, 2, 3):
        s.add_night(night)
        run("local", None, s, reencode="new")  # night 3 keeps nights 1-2 on v1
    frame = pl.read_delta(str(s.output))
    versions = dict(zip(frame["date"].to_list(), frame["embedding_code_version"].to_list()))
    assert versions == {**{v: 1 for v in NIGHTS[1] + NIGHTS[2]}, **{v: 2 for v in NIGHTS[3]}}
    assert frame.height == 1800 and frame["id"].n_unique() == 1800


@pytest.mark.parametrize("where", ["output-inside-table", "table-inside-output", "same"])
def test_output_and_table_must_be_apart(where, tmp_path):
    s = Scenario(tmp_path / "root")
    s.add_night(1)
    if where == "table-inside-output":
        output = s.table.parent
    else:
        output = s.table / "compressed" if where == "output-inside-table" else s.table
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(PathConflictError, match="output_path"):
        run("local", None, s, output_path=str(output))
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_an_input_column_named_like_the_version_column_is_refused(tmp_path):
    s = Scenario(tmp_path)
    s.add_night(1)
    path = s.table / f"date={NIGHTS[1][0]}" / "part-00000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.append_column("embedding_code_version", pa.array([1] * table.num_rows)), path)
    with pytest.raises(ValueError, match="'embedding_code_version'.*codec-version column"):
        run("local", None, s)
    assert not s.output.exists()


def test_without_deltalake_the_error_names_the_extra(tmp_path):
    s = Scenario(tmp_path)
    s.add_night(1)
    job = (f"import sys; sys.modules['deltalake'] = None\n"
           f"from embcompress import nightly\n"
           f"nightly.recompress_local({str(s.table)!r}, 'embedding', {str(s.registry)!r}, 'items', spec='SQ8', "
           f"partition_col='date', output_path={str(s.output)!r})")
    proc = subprocess.run([sys.executable, "-c", job], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": REPO, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1 and "pip install 'embcompress[delta]'" in proc.stderr, proc.stderr[-2000:]


def test_an_output_in_the_old_snapshot_layout_is_refused(tmp_path):
    s = Scenario(tmp_path)
    s.add_night(1)
    s.output.mkdir()
    (s.output / "_CURRENT").write_text("000001.json")
    with pytest.raises(ValueError, match="snapshot layout of earlier releases"):
        run("local", None, s)
    assert sorted(p.name for p in s.output.iterdir()) == ["_CURRENT"]


def test_the_commit_counts_each_partitions_dead_letters(tmp_path):
    s = Scenario(tmp_path)
    s.x = s.x.copy()
    s.x[s.order[5]] = np.nan  # one invalid row in the first partition
    s.add_night(1)
    summary = run("local", None, s)
    assert summary["rows_rejected"] == 1
    entry = DeltaTable(str(s.output)).history(1)[0]["embcompress"]["partitions"][NIGHTS[1][0]]
    assert (entry["rows"], entry["rejected"]) == (ROWS - 1, 1)
    assert entry["rejected_files"] == [f"{nightly.REJECTED}/{entry['files'][0]}"]
    assert (s.output / entry["rejected_files"][0]).exists()
    assert DeltaTable(str(s.output)).to_pyarrow_table().num_rows == 3 * ROWS - 1
