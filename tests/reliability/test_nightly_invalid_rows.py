"""The nightly job with invalid rows, in every engine: the invalid-share threshold decides the
night, and below it the rows go by ``on_invalid`` instead of failing it (rows in = rows out +
dead letters).

The local engine is the reference; Spark and Beam take the same ``on_invalid`` (values and
default), write the same dead letters and make the same threshold decision.
"""
import os

import apache_beam as beam
import pyarrow.parquet as pq
import pytest

from embcompress import nightly

from . import inputs

ROWS = 300
ENGINES = ["local", "spark", "beam"]


def _partition(root, day, bad_rows):
    vectors = inputs.good_vectors(ROWS, 16, seed=4).tolist()
    for i in bad_rows:
        vectors[i][0] = float("nan")
    folder = root / "table" / f"date={day}"
    folder.mkdir(parents=True)
    inputs.write_parquet(folder / "part-0.parquet", inputs.table(vectors))
    return str(root / "table")


def _table(root, bad_rows):
    return _partition(root, "2026-01-01", bad_rows)


def _run(request, engine, root, table, **kw):
    """One night of ``engine``; returns its run summary (or raises what the engine raised)."""
    args = dict(spec="PCA8,SQ8", partition_col="date", output_path=str(root / "out"), **kw)
    registry = str(root / "registry")
    if engine == "local":
        return nightly.recompress_local(table, "embedding", registry, "items", **args)
    if engine == "spark":
        from spark_udfs import recompress

        return recompress(request.getfixturevalue("spark"), table, "embedding", registry, "items", **args)
    from beam_transforms import Recompress

    transform = Recompress(table, "embedding", registry, "items", **args)
    with beam.Pipeline(runner="DirectRunner") as p:
        p | transform
    return nightly.last_summary(root / "out")


def _rows(folder):
    files = [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs if f.endswith(".parquet")]
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _data_rows(out):
    return sum(pq.ParquetFile(p).metadata.num_rows for p in out.rglob("*.parquet") if nightly.REJECTED not in p.parts)


@pytest.mark.parametrize("engine", ENGINES)
def test_one_nan_row_among_300_is_dead_lettered_not_fatal(request, engine, tmp_path):
    table = _table(tmp_path, [17])
    summary = _run(request, engine, tmp_path, table)
    assert summary["status"] == "committed" and summary["rows_rejected"] == 1
    out = tmp_path / "out"
    assert _rows(out / nightly.REJECTED) == 1 and _data_rows(out) == ROWS - 1
    rejected = pq.read_table(next((out / nightly.REJECTED).rglob("*.parquet")))
    assert rejected["id"].to_pylist() == [17] and rejected["embcompress_reason"].to_pylist() == ["NaN in vector"]
    assert nightly.vacuum(out, retention_hours=0, enforce_retention_duration=False) == []  # live as their data file


@pytest.mark.parametrize("engine", ENGINES)
def test_a_later_night_dead_letters_its_invalid_row(request, engine, tmp_path):
    table = _table(tmp_path, [])
    _run(request, engine, tmp_path, table)
    _partition(tmp_path, "2026-01-02", [40])
    summary = _run(request, engine, tmp_path, table, reencode="new")
    assert summary["status"] == "committed" and summary["rows_rejected"] == 1
    assert summary["partitions"]["encoded"] == ["2026-01-02"]
    assert 0 < summary["drift"]["invalid_share"] <= 0.05
    assert _rows(tmp_path / "out" / nightly.REJECTED) == 1 and _data_rows(tmp_path / "out") == 2 * ROWS - 1


@pytest.mark.parametrize("engine", ENGINES)
def test_null_mode_keeps_the_row_with_a_null_code(request, engine, tmp_path):
    table = _table(tmp_path, [3])
    summary = _run(request, engine, tmp_path, table, on_invalid="null")
    assert summary["rows_rejected"] == 0 and not (tmp_path / "out" / nightly.REJECTED).exists()
    codes = pq.read_table(next(p for p in (tmp_path / "out").rglob("*.parquet") if "=" in p.parent.name))
    assert codes.num_rows == ROWS and codes["embedding_code"].null_count == 1
    assert codes.filter(codes["embedding_code"].is_null())["id"].to_pylist() == [3]


@pytest.mark.parametrize("engine", ENGINES)
def test_over_the_invalid_share_the_night_fails_and_writes_nothing(request, engine, tmp_path):
    table = _table(tmp_path, range(0, ROWS, 10))  # 10% invalid, limit 5%
    with pytest.raises(Exception, match=r"10.0% of rows are invalid \(limit 5%; first: NaN in vector\)") as err:
        _run(request, engine, tmp_path, table)
    if engine != "beam":  # the DirectRunner re-raises the DoFn's error with its message
        assert err.type is nightly.DriftError
    assert not (tmp_path / "out" / nightly.DELTA_LOG).exists() and not (tmp_path / "registry" / "items").exists()
    summary = _run(request, engine, tmp_path, table, thresholds={"invalid_share": 0.2})
    assert summary["rows_rejected"] == ROWS // 10 and _data_rows(tmp_path / "out") == ROWS - ROWS // 10


@pytest.mark.parametrize("engine", ENGINES)
def test_a_later_night_over_the_invalid_share_fails_and_keeps_the_last_snapshot(request, engine, tmp_path):
    table = _table(tmp_path, [])
    _run(request, engine, tmp_path, table)
    _partition(tmp_path, "2026-01-02", range(0, ROWS, 5))  # 20% of the fresh rows
    with pytest.raises(Exception, match=r"20.0% of rows are invalid \(limit 5%"):
        _run(request, engine, tmp_path, table, reencode="new")
    assert [p.name for p in (tmp_path / "out" / nightly.DELTA_LOG).glob("*.json")] == [f"{0:020d}.json"]
    assert _rows(tmp_path / "out" / nightly.REJECTED) == 0 and _data_rows(tmp_path / "out") == ROWS


@pytest.mark.parametrize("engine", ENGINES)
def test_raise_mode_fails_on_the_bad_row(request, engine, tmp_path):
    table = _table(tmp_path, [5])
    with pytest.raises(Exception, match="row 5: NaN in vector"):
        _run(request, engine, tmp_path, table, on_invalid="raise")
    assert not (tmp_path / "out" / nightly.DELTA_LOG).exists()


@pytest.mark.parametrize("engine", ENGINES)
def test_an_unknown_on_invalid_is_refused_before_anything_runs(request, engine, tmp_path):
    table = _table(tmp_path, [5])
    with pytest.raises(ValueError, match="on_invalid must be one of 'raise', 'null', 'dead_letter', got 'skip'"):
        _run(request, engine, tmp_path, table, on_invalid="skip")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("engine", ENGINES)
def test_every_kind_of_invalid_row_is_routed_the_same_way(request, engine, tmp_path):
    """A float64 partition with a ragged row, a null vector, a value beyond float32 and an Inf."""
    import pyarrow as pa

    vectors = inputs.good_vectors(ROWS, 16, seed=4).astype("float64").tolist()
    vectors[10] = vectors[10][:15]
    vectors[20] = None
    vectors[30][2] = 1e39
    vectors[40][5] = float("inf")
    folder = tmp_path / "table" / "date=2026-01-01"
    folder.mkdir(parents=True)
    inputs.write_parquet(folder / "part-0.parquet", inputs.table(vectors, pa.float64()))
    summary = _run(request, engine, tmp_path, str(tmp_path / "table"))
    assert summary["status"] == "committed" and summary["rows_rejected"] == 3
    rejected = pq.read_table(next((tmp_path / "out" / nightly.REJECTED).rglob("*.parquet"))).sort_by("id")
    assert list(zip(rejected["id"].to_pylist(), rejected["embcompress_reason"].to_pylist())) == [
        (10, "wrong length: expected 16, got 15"), (30, "value out of float32 range"), (40, "Inf in vector")]
    codes = pq.read_table(next(p for p in (tmp_path / "out").rglob("*.parquet")
                               if "=" in p.parent.name and nightly.REJECTED not in p.parts))
    assert codes.num_rows == ROWS - 3 and codes.filter(codes["embedding_code"].is_null())["id"].to_pylist() == [20]
