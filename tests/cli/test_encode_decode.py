"""Streaming encode/decode through the CLI: rows, order, columns, metadata, invalid rows."""
import numpy as np
import pyarrow.parquet as pq
import pytest

import embcompress as ec
from embcompress import parquet_io

ROWS = 1500


def test_encode_streams_many_row_groups_keeping_count_order_and_columns(cli, table64, codec64, data64, tmp_path):
    out = tmp_path / "out.parquet"
    run = cli("encode", table64, "--codec", codec64, "-o", out)
    assert run.code == 0, run
    source, result = pq.ParquetFile(table64), pq.read_table(out)
    assert source.num_row_groups == 15
    assert pq.ParquetFile(out).num_row_groups == 15
    assert result.num_rows == ROWS
    assert result["id"].to_pylist() == list(range(ROWS))
    assert result.column_names == ["id", "text", "embedding", "score", "embedding_code"]
    codec = ec.load(codec64)
    codes = parquet_io.read_codes(out, "embedding_code", codec.code_size)
    np.testing.assert_array_equal(codes, codec.encode(data64))
    record, = parquet_io.read_codec_metadata(out)
    assert (record.fingerprint, record.source_column, record.code_column) == \
        (codec.fingerprint, "embedding", "embedding_code")


def test_encode_drop_input_and_output_column(cli, table64, codec64, tmp_path):
    out = tmp_path / "out.parquet"
    assert cli("encode", table64, "--codec", codec64, "-o", out, "--drop-input", "--output-column", "c").code == 0
    assert pq.read_schema(out).names == ["id", "text", "score", "c"]


def test_decode_inverts_encode(cli, table64, codec64, data64, tmp_path):
    enc, dec = tmp_path / "enc.parquet", tmp_path / "dec.parquet"
    assert cli("encode", table64, "--codec", codec64, "-o", enc, "--drop-input").code == 0
    run = cli("decode", enc, "--codec", codec64, "-o", dec)
    assert run.code == 0, run
    table = pq.read_table(dec)
    assert table["id"].to_pylist() == list(range(ROWS))
    codec = ec.load(codec64)
    decoded = np.asarray(table["embedding"].combine_chunks().flatten()).reshape(ROWS, -1)
    np.testing.assert_array_equal(decoded, codec.decode(codec.encode(data64)))


def test_decode_refuses_a_different_codec(cli, table64, codec64, data64, tmp_path):
    other = tmp_path / "other.ecz"
    ec.fit("SQ8", data64[:500], seed=0).save(other)
    enc = tmp_path / "enc.parquet"
    assert cli("encode", table64, "--codec", codec64, "-o", enc).code == 0
    run = cli("decode", enc, "--codec", other, "-o", tmp_path / "dec.parquet")
    assert run.code == 1
    assert "decode with the codec that encoded it" in run.err
    assert not (tmp_path / "dec.parquet").exists()


@pytest.fixture
def with_bad_rows(tmp_path, data64, make_table):
    x = data64[:300].copy()
    x[[7, 150]] = np.nan
    return make_table(tmp_path / "bad.parquet", x)


@pytest.mark.parametrize("mode, rows_out, rejected", [("null", 300, 0), ("dead-letter", 298, 2)])
def test_on_invalid_routes_bad_rows(cli, with_bad_rows, codec64, tmp_path, mode, rows_out, rejected):
    out = tmp_path / "out.parquet"
    run = cli("encode", with_bad_rows, "--codec", codec64, "-o", out, "--on-invalid", mode)
    assert run.code == 0, run
    table = pq.read_table(out)
    assert table.num_rows == rows_out
    if rejected:
        bad = pq.read_table(tmp_path / "out.rejected.parquet")
        assert bad["id"].to_pylist() == [7, 150]
        assert "NaN" in bad[parquet_io.REASON_COLUMN][0].as_py()
    else:
        assert table["embedding_code"].null_count == 2


def test_on_invalid_raise_is_the_default_and_names_the_row(cli, with_bad_rows, codec64, tmp_path):
    run = cli("encode", with_bad_rows, "--codec", codec64, "-o", tmp_path / "out.parquet")
    assert run.code == 1
    assert "row 7" in run.err and "NaN" in run.err
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("batch_rows", [64, 7])
@pytest.mark.parametrize("bad_row", [3, 700, 1499])
def test_a_bad_row_is_named_by_its_row_in_the_file_not_in_its_batch(monkeypatch, data64, codec64, tmp_path,
                                                                      batch_rows, bad_row):
    import pyarrow as pa

    monkeypatch.setattr(parquet_io, "BATCH_ROWS", batch_rows)
    x = data64.copy()
    x[bad_row, 5] = np.nan
    path = tmp_path / "one_group.parquet"
    pq.write_table(pa.table({"embedding": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])}),
                   path, row_group_size=len(x))
    with pytest.raises(ec.EmbeddingError, match=rf"row {bad_row}: NaN"):
        parquet_io.encode_file(path, tmp_path / "out.parquet", ec.load(codec64), "embedding")
    assert not (tmp_path / "out.parquet").exists()
