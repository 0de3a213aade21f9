"""EncodeEmbeddings on Arrow tables and on row dicts: the same bytes as the core's encode."""
import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.testing.util import assert_that, equal_to
from .conftest import core_codes, fitted, row_groups

import embcompress as ec
from embcompress import datasets
from beam_transforms import EncodeEmbeddings, FitCodec
from embcompress import provenance


def test_tables_match_core_encode(codec, demo_table, demo_path):
    """Each row group's table gives exactly the bytes of ``codec.encode`` on those rows."""
    expected = [pair for t in row_groups(demo_table)
                for pair in zip(t["id"].to_pylist(), core_codes(codec, datasets.matrix(t)))]
    with beam.Pipeline() as p:
        out = p | beam.io.ReadFromParquetBatched(demo_path) | EncodeEmbeddings("embedding", codec)
        pairs = out | beam.FlatMap(lambda t: zip(t["id"].to_pylist(), t["embedding_code"].to_pylist()))
        assert_that(pairs, equal_to(expected))


@pytest.mark.parametrize("spec", ["SQ8", "BIN", "PQ8x4", "PCA32,SQ8"])
def test_row_dicts_match_core_encode(spec, demo_table, demo_x, demo_path):
    codec = fitted(spec, demo_x)
    expected = list(zip(demo_table["id"].to_pylist(), core_codes(codec, demo_x)))
    with beam.Pipeline() as p:
        out = p | beam.io.ReadFromParquet(demo_path) | EncodeEmbeddings("embedding", codec)
        assert_that(out | beam.Map(lambda r: (r["id"], r["embedding_code"])), equal_to(expected))


def test_record_batches_come_back_as_record_batches(sq8, demo_table):
    batches = demo_table.slice(0, 100).to_batches(max_chunksize=50)
    with beam.Pipeline() as p:
        out = p | beam.Create(batches) | EncodeEmbeddings("embedding", sq8)
        assert_that(out | beam.Map(lambda b: (type(b).__name__, b.num_rows)), equal_to([("RecordBatch", 50)] * 2))


@pytest.mark.parametrize("output_column, drop_input, columns", [
    (None, False, ["id", "text", "embedding", "source", "embedding_code"]),
    (None, True, ["id", "text", "source", "embedding_code"]),
    ("code", False, ["id", "text", "embedding", "source", "code"]),
    ("embedding", False, ["id", "text", "embedding", "source"]),
])
def test_output_column_placement(sq8, demo_table, output_column, drop_input, columns):
    code_column = output_column or "embedding_code"
    with beam.Pipeline() as p:
        out = (p | beam.Create(row_groups(demo_table.slice(0, 20), 10))
               | EncodeEmbeddings("embedding", sq8, output_column=output_column, drop_input=drop_input))
        shape = out | beam.Map(lambda t: (t.column_names, str(t.schema.field(code_column).type)))
        assert_that(shape, equal_to([(columns, "binary")] * 2))


def test_row_dict_output_keeps_other_fields(sq8, demo_table):
    rows = demo_table.slice(0, 3).to_pylist()
    with beam.Pipeline() as p:
        out = p | beam.Create(rows) | EncodeEmbeddings("embedding", sq8, output_column="code", drop_input=True)
        assert_that(out | beam.Map(lambda r: sorted(r)), equal_to([["code", "id", "source", "text"]] * 3))


def test_null_vectors_stay_null_codes(sq8, demo_table, demo_x):
    t = demo_table.slice(0, 4)
    values = t["embedding"].to_pylist()
    values[1] = None
    t = t.set_column(2, "embedding", pa.array(values, type=t.schema.field("embedding").type))
    codes = core_codes(sq8, demo_x[:4])
    expected = [(i, None if k == 1 else codes[k]) for k, i in enumerate(t["id"].to_pylist())]
    with beam.Pipeline() as p:
        tables = p | "Tables" >> beam.Create([t]) | "EncodeTables" >> EncodeEmbeddings("embedding", sq8)
        rows = p | "Rows" >> beam.Create(t.to_pylist()) | "EncodeRows" >> EncodeEmbeddings("embedding", sq8)
        assert_that(tables | beam.FlatMap(lambda b: zip(b["id"].to_pylist(), b["embedding_code"].to_pylist())),
                    equal_to(expected), label="tables")
        assert_that(rows | beam.Map(lambda r: (r["id"], r["embedding_code"])), equal_to(expected), label="rows")


def _matches_core(table, blob):
    codec = ec.Codec.from_bytes(blob)
    return table["embedding_code"].to_pylist() == core_codes(codec, datasets.matrix(table))


@pytest.mark.parametrize("as_side_input", [True, False])
def test_codec_from_a_pipeline(demo_path, as_side_input):
    """The codec arrives as a singleton PCollection of artifact bytes (or AsSingleton of one)."""
    with beam.Pipeline() as p:
        tables = p | "Tables" >> beam.io.ReadFromParquetBatched(demo_path)
        blob = tables | FitCodec("embedding", "SQ8", sample_size=500)
        out = tables | EncodeEmbeddings("embedding", beam.pvalue.AsSingleton(blob) if as_side_input else blob)
        assert_that(out | beam.Map(_matches_core, beam.pvalue.AsSingleton(blob)), equal_to([True] * 4))


def test_output_tables_name_their_codec(sq8, demo_table):
    with beam.Pipeline() as p:
        out = p | beam.Create([demo_table.slice(0, 5)]) | EncodeEmbeddings("embedding", sq8)
        records = out | beam.Map(lambda t: provenance.from_schema(t.schema))
        assert_that(records, equal_to([[provenance.ColumnRecord.of(sq8, "embedding", "embedding_code")]]))


def test_missing_column_is_an_error_naming_it(sq8, demo_table):
    with pytest.raises(Exception, match="column 'vector': no such column"):
        with beam.Pipeline() as p:
            _ = p | beam.Create([demo_table.slice(0, 5)]) | EncodeEmbeddings("vector", sq8)


def test_non_list_column_is_a_table_level_error(sq8, demo_table):
    """A non-list column is wrong for every row: it fails, even with dead letters, naming the column."""
    with pytest.raises(Exception, match="column 'text': non-numeric type"):
        with beam.Pipeline() as p:
            _ = p | beam.Create([demo_table.slice(0, 5)]) | EncodeEmbeddings("text", sq8).with_dead_letters()


def test_rejects_what_is_neither_table_nor_row_dict(sq8):
    with pytest.raises(Exception, match="expected pyarrow Tables, RecordBatches, row dicts or beam.Rows, got list"):
        with beam.Pipeline() as p:
            _ = p | beam.Create([[1.0, 2.0]]) | EncodeEmbeddings("embedding", sq8)
