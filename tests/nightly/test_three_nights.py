"""Three nights in each engine: fit v1, encode only the new partitions, detect drift and refit v2."""
import numpy as np
import pyarrow.parquet as pq
import pytest

from embcompress.arrow import codes_from_arrow
from embcompress.reader import open_compressed
from embcompress.registry import Registry

from .conftest import ENGINES, NIGHTS, Scenario, run, snapshot_files


def check_codes(scenario, reader):
    """Every partition holds its rows' codes under the codec version the manifest names."""
    registry = Registry(scenario.registry)
    for value, table, codec in reader.iter_files():
        ids, x = scenario.rows[value]
        assert codec.fingerprint == registry.meta("items", reader.versions[value])["fingerprint"]
        np.testing.assert_array_equal(table["id"].to_numpy(), ids)
        codes, _ = codes_from_arrow(table[reader.code_column], codec.code_size)
        np.testing.assert_array_equal(codes, codec.encode(x))


@pytest.mark.parametrize("reencode", ["all", "new"])
@pytest.mark.parametrize("engine", ENGINES)
def test_three_nights(engine, reencode, engine_spark, tmp_path):
    s = Scenario(tmp_path)
    registry = Registry(s.registry)

    s.add_night(1)
    night1 = run(engine, engine_spark, s, reencode=reencode)
    assert night1["status"] == "committed" and night1["codec"]["version"] == 1 and night1["codec"]["refitted"]
    assert night1["partitions"]["encoded"] == NIGHTS[1] and night1["rows_encoded"] == 600
    before = snapshot_files(s.output)

    s.add_night(2)
    night2 = run(engine, engine_spark, s, reencode=reencode)
    assert night2["drift"]["decision"] == "ok", night2["drift"]["reasons"]
    assert not night2["codec"]["refitted"] and night2["codec"]["version"] == 1
    assert night2["partitions"]["new"] == night2["partitions"]["encoded"] == NIGHTS[2]
    after = snapshot_files(s.output)
    assert all(after[rel] == before[rel] for rel in before if "date=" in rel), "night 2 rewrote a night-1 file"

    s.add_night(3)
    night3 = run(engine, engine_spark, s, reencode=reencode)
    assert night3["drift"]["decision"] == "refit" and night3["codec"]["refitted"]
    assert night3["codec"]["version"] == 2 and registry.versions("items") == [1, 2]
    assert registry.meta("items", 2)["parent_version"] == 1
    reader = open_compressed(s.output)
    assert reader.snapshot == 2 and reader.num_rows == 1800  # Delta versions count from 0
    if reencode == "all":
        assert night3["partitions"]["encoded"] == NIGHTS[1] + NIGHTS[2] + NIGHTS[3] and night3["rows_encoded"] == 1800
        assert set(reader.versions.values()) == {2}
    else:
        assert night3["partitions"]["encoded"] == NIGHTS[3]
        assert night3["partitions"]["kept_on_older_version"] == NIGHTS[1] + NIGHTS[2]
        assert reader.versions == {**{v: 1 for v in NIGHTS[1] + NIGHTS[2]}, **{v: 2 for v in NIGHTS[3]}}
    check_codes(s, reader)

    done = snapshot_files(s.output)
    again = run(engine, engine_spark, s, reencode=reencode)
    assert again["status"] == "nothing to do" and "nothing to do" in again["message"]
    assert again["files_written"] == 0 and again["partitions"]["encoded"] == []
    assert snapshot_files(s.output) == done, "a run with nothing new touched the table"


@pytest.mark.parametrize("engine", ["local", "beam"])
def test_rewritten_input_partition_is_reencoded(engine, engine_spark, tmp_path):
    s = Scenario(tmp_path)
    s.add_night(1)
    run(engine, engine_spark, s)
    value = NIGHTS[1][0]
    path = s.table / f"date={value}" / "part-00000.parquet"
    pq.write_table(pq.read_table(path).slice(0, 150), path)  # upstream rewrote the partition
    ids, x = s.rows[value]
    s.rows[value] = (ids[:150], x[:150])
    summary = run(engine, engine_spark, s)
    assert summary["partitions"]["changed"] == summary["partitions"]["encoded"] == [value]
    assert summary["rows_encoded"] == 150
    check_codes(s, open_compressed(s.output))
