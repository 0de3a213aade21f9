"""CompressParquet end to end: Parquet in, binary codes + codec metadata out, rejects beside it."""
import glob

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embcompress as ec
from embcompress import datasets, provenance
from embcompress.conventions import REASON_COLUMN
from embcompress.arrow import codes_from_arrow
from beam_transforms import CompressParquet
from beam_transforms.parquet import rejected_prefix
from .conftest import core_codes, row_groups, write_parquet


def read_output(prefix):
    files = sorted(glob.glob(prefix + "-*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]), files


def test_fit_encode_write(demo_table, demo_path, tmp_path):
    prefix, location = str(tmp_path / "out" / "part"), str(tmp_path / "codec.ecz")
    with beam.Pipeline() as p:
        _ = p | CompressParquet(demo_path, prefix, "embedding", "SQ8", sample_size=500, artifact_location=location)
    codec = ec.load(location)
    out, files = read_output(prefix)
    record, = provenance.read(files[0])
    assert (record.fingerprint, record.spec, record.source_column) == (codec.fingerprint, "SQ8", "embedding")
    assert out.schema.field("embedding_code").type == pa.binary()
    assert out.column_names == [c for c in demo_table.column_names if c != "embedding"] + ["embedding_code"]
    out = out.sort_by("id")
    src = demo_table.sort_by("id")
    assert out.drop_columns(["embedding_code"]).equals(src.drop_columns(["embedding"]))
    expected = {i: c for t in row_groups(demo_table) for i, c in zip(t["id"].to_pylist(),
                                                                       core_codes(codec, datasets.matrix(t)))}
    assert out["embedding_code"].to_pylist() == [expected[i] for i in out["id"].to_pylist()]
    rejected, _ = read_output(rejected_prefix(prefix))
    assert rejected.num_rows == 0 and rejected.column_names == demo_table.column_names + [REASON_COLUMN]


def test_given_codec_and_rejected_rows(sq8, bad_table, tmp_path):
    src = write_parquet(bad_table, tmp_path / "bad.parquet", row_group_size=5)
    prefix = str(tmp_path / "out" / "part")
    with beam.Pipeline() as p:
        _ = p | CompressParquet(src, prefix, "embedding", sq8)
    out, files = read_output(prefix)
    rejected, _ = read_output(rejected_prefix(prefix))
    assert out.num_rows + rejected.num_rows == bad_table.num_rows
    assert sorted(rejected["id"].to_pylist()) == [bad_table["id"][i].as_py() for i in (2, 5, 7)]
    assert sorted(rejected[REASON_COLUMN].to_pylist()) == sorted(
        ["NaN in vector", "Inf in vector", "wrong length: expected 384, got 10"])
    original = {r["id"]: r for r in bad_table.to_pylist()}
    for row in rejected.to_pylist():  # each rejected row is written exactly as it came in
        row.pop(REASON_COLUMN)
        before = original[row["id"]]
        others = {k: v for k, v in before.items() if k != "embedding"}
        assert {k: v for k, v in row.items() if k != "embedding"} == others
        assert np.array_equal(row["embedding"], before["embedding"], equal_nan=True)
    assert out.sort_by("id")["embedding_code"].null_count == 1  # the null vector stays a null code
    assert provenance.read(files[0])[0].fingerprint == sq8.fingerprint


def test_a_codec_fitted_in_the_pipeline_is_the_one_stored(demo_path, tmp_path):
    """The artifact FitCodec writes is the codec that encoded the files (Spark and the CLI read
    these files in tests/interop)."""
    prefix, location = str(tmp_path / "out" / "part"), str(tmp_path / "codec.ecz")
    with beam.Pipeline() as p:
        _ = p | CompressParquet(demo_path, prefix, "embedding", "PCA32,SQ8", sample_size=400,
                                artifact_location=location)
    codec = ec.load(location)
    out, files = read_output(prefix)
    assert {provenance.read(f)[0].fingerprint for f in files} == {codec.fingerprint}
    out = out.sort_by("id")
    codes, _ = codes_from_arrow(out["embedding_code"], codec.code_size)
    src = {r["id"]: r["embedding"] for r in pq.read_table(demo_path, columns=["id", "embedding"]).to_pylist()}
    x = np.array([src[i] for i in out["id"].to_pylist()], np.float32)
    assert codes.tobytes() == codec.encode(x).tobytes()


def test_input_without_the_column_fails_at_construction(demo_path, tmp_path):
    with pytest.raises(ValueError, match="column 'vec' is not in"):
        with beam.Pipeline() as p:
            _ = p | CompressParquet(demo_path, str(tmp_path / "x"), "vec", "SQ8")
