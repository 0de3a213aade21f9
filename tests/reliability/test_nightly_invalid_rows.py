"""The nightly job with invalid rows: the invalid-share threshold decides the night, and below it
the rows go by ``on_invalid`` instead of failing it (rows in = rows out + dead letters).

The local engine is the reference; Spark and Beam encode through the same ``encode_task``.
"""
import os

import pyarrow.parquet as pq
import pytest

from embcompress import nightly

from . import inputs

ROWS = 300


def _table(root, bad_rows):
    vectors = inputs.good_vectors(ROWS, 16, seed=4).tolist()
    for i in bad_rows:
        vectors[i][0] = float("nan")
    folder = root / "table" / "date=2026-01-01"
    folder.mkdir(parents=True)
    inputs.write_parquet(folder / "part-0.parquet", inputs.table(vectors))
    return str(root / "table")


def _run(root, table, **kw):
    return nightly.recompress_local(table, "embedding", str(root / "registry"), "items", spec="PCA8,SQ8",
                                    partition_col="date", output_path=str(root / "out"), **kw)


def _rows(folder):
    files = [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs if f.endswith(".parquet")]
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def test_one_nan_row_among_300_is_dead_lettered_not_fatal(tmp_path):
    table = _table(tmp_path, [17])
    summary = _run(tmp_path, table)
    assert summary["status"] == "committed" and summary["rows_rejected"] == 1
    out = tmp_path / "out"
    data = [p for p in out.rglob("*.parquet") if nightly.REJECTED not in p.parts]
    assert _rows(out / nightly.REJECTED) == 1 and sum(pq.ParquetFile(p).metadata.num_rows for p in data) == ROWS - 1
    rejected = pq.read_table(next((out / nightly.REJECTED).rglob("*.parquet")))
    assert rejected["id"].to_pylist() == [17] and rejected["embcompress_reason"].to_pylist() == ["NaN in vector"]
    assert nightly.vacuum(out, keep=1) == []  # the dead letters live as long as their data file


def test_null_mode_keeps_the_row_with_a_null_code(tmp_path):
    table = _table(tmp_path, [3])
    _run(tmp_path, table, on_invalid="null")
    codes = pq.read_table(next(p for p in (tmp_path / "out").rglob("*.parquet") if "=" in p.parent.name))
    assert codes.num_rows == ROWS and codes["embedding_code"].null_count == 1


def test_over_the_invalid_share_the_night_fails_and_writes_nothing(tmp_path):
    table = _table(tmp_path, range(0, ROWS, 10))  # 10% invalid, limit 5%
    with pytest.raises(nightly.DriftError, match=r"10.0% of rows are invalid \(limit 5%; first: NaN in vector\)"):
        _run(tmp_path, table)
    assert not (tmp_path / "out" / nightly.CURRENT).exists()
    summary = _run(tmp_path, table, thresholds={"invalid_share": 0.2})
    assert summary["rows_rejected"] == ROWS // 10


def test_raise_mode_fails_on_the_bad_row(tmp_path):
    table = _table(tmp_path, [5])
    with pytest.raises(Exception, match="row 5: NaN in vector"):
        _run(tmp_path, table, on_invalid="raise")
