"""The provenance record: one shape written, every older shape still read, bad metadata refused clearly."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embcompress import provenance
from embcompress.provenance import ColumnRecord, ProvenanceError

FP = "ab" * 32
RECORD = ColumnRecord(code_column="embedding_code", spec="SQ8", dim=4, metric="ip", code_size=4, fingerprint=FP,
                      source_column="embedding")
LEGACY = {  # what earlier releases wrote, byte for byte in shape
    "core": {b"embcompress": json.dumps({"columns": [{
        "column": "embedding", "output_column": "embedding_code", "spec": "SQ8", "dim": 4, "code_size": 4,
        "metric": "ip", "fingerprint": FP}]}).encode()},
    "spark_sidecar": {b"embcompress": json.dumps({
        "format": "embcompress-parquet/1", "column": "embedding", "code_column": "embedding_code", "spec": "SQ8",
        "dim": 4, "metric": "ip", "code_size": 4, "fingerprint": FP, "artifact": "_embcompress.codec",
        "embcompress_version": "0.1.0", "partition_by": []}).encode()},
    "beam": {f"embcompress.{k}".encode(): str(v).encode() for k, v in {
        "fingerprint": FP, "spec": "SQ8", "dim": 4, "metric": "ip", "code_size": 4, "code_column": "embedding_code",
        "source_column": "embedding"}.items()},
    "spark_field": {provenance.SPARK_ROW_METADATA: json.dumps({"type": "struct", "fields": [
        {"name": "id", "type": "long", "nullable": True, "metadata": {}},
        {"name": "embedding_code", "type": "binary", "nullable": True, "metadata": {
            "embcompress": provenance.field_metadata(RECORD)["embcompress"]}}]}).encode()},
}


def test_round_trip_through_parquet(tmp_path):
    table = pa.table({"embedding_code": pa.array([b"abcd"], pa.binary())})
    table = table.replace_schema_metadata(provenance.with_record({b"other": b"kept"}, RECORD))
    pq.write_table(table, tmp_path / "t.parquet")
    assert provenance.read(tmp_path / "t.parquet") == [RECORD]
    assert pq.read_schema(tmp_path / "t.parquet").metadata[b"other"] == b"kept"
    assert json.loads(table.schema.metadata[provenance.KEY])["format"] == provenance.FORMAT


@pytest.mark.parametrize("shape", sorted(LEGACY))
def test_every_older_shape_reads_as_the_same_record(shape):
    (record,) = provenance.from_metadata(LEGACY[shape])
    expected = RECORD if shape == "spark_field" else ColumnRecord(**{**RECORD.to_dict(), "writer": ""})
    assert record == expected


@pytest.mark.parametrize("shape", sorted(LEGACY))
def test_rewriting_an_older_shape_leaves_one_current_record(shape):
    other = ColumnRecord(**{**RECORD.to_dict(), "code_column": "title_code", "source_column": "title"})
    meta = provenance.with_record(LEGACY[shape], other)
    assert not any(k.startswith(b"embcompress.") for k in meta)
    assert {r.code_column for r in provenance.from_metadata(meta)} == {"embedding_code", "title_code"}
    assert [r.code_column for r in provenance.loads(meta[provenance.KEY])] == ["embedding_code", "title_code"] \
        or shape == "spark_field"


def test_a_decoded_column_loses_its_record():
    meta = provenance.with_record(None, RECORD)
    assert provenance.without_column(meta, "embedding_code") is None
    schema = pa.schema([pa.field("id", pa.int64())], metadata=LEGACY["spark_field"])
    assert provenance.from_schema(schema) == []  # the Spark entry names a column the file no longer has


def test_a_renamed_spark_column_keeps_its_record_under_the_new_name():
    renamed = {provenance.SPARK_ROW_METADATA: LEGACY["spark_field"][provenance.SPARK_ROW_METADATA].replace(
        b'"embedding_code"', b'"codes"', 1)}
    (record,) = provenance.from_metadata(renamed)
    assert record.code_column == "codes" and record.fingerprint == FP


@pytest.mark.parametrize("raw, problem", [
    (b"{not json", "not valid JSON"),
    (b"[]", "neither 'columns' nor a flat record"),
    (json.dumps({"columns": [{"code_column": "c"}]}).encode(), "lacks 'spec'"),
    (json.dumps({"columns": [dict(RECORD.to_dict(), dim="four")]}).encode(), "malformed field"),
    (json.dumps({"columns": ["x"]}).encode(), "not an object"),
    (b" " * (2 << 20), "more than a record can be"),
])
def test_bad_metadata_is_a_clear_error_naming_the_file(raw, problem):
    with pytest.raises(ProvenanceError, match=problem) as info:
        provenance.from_metadata({provenance.KEY: raw}, "f.parquet")
    assert str(info.value).startswith("f.parquet:")


def test_sidecar_holds_the_same_record_plus_dataset_fields():
    records, extra = provenance.read_sidecar(provenance.sidecar(RECORD, artifact="_embcompress.ecz"))
    assert records == [RECORD] and extra == {"artifact": "_embcompress.ecz"}
