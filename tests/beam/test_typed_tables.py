"""PCollections typed ``pa.Table``: the Arrow coder, the direct table path, windows kept by the
one-ahead encoder, and the same bytes as the untyped path."""
import typing

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import FixedWindows, SlidingWindows, TimestampedValue

from embcompress import datasets
from beam_transforms import DecodeEmbeddings, EncodeEmbeddings, ScoreEmbeddings, reason_of
from beam_transforms._coders import ArrowTable, ArrowTableCoder

from .conftest import counters, core_codes, row_groups


def typed_read(p, path):
    return p | beam.io.ReadFromParquetBatched(path).with_output_types(pa.Table)


def _tables(demo_table):
    nulls = demo_table.slice(0, 4).set_column(
        demo_table.column_names.index("embedding"), "embedding",
        pa.array([None, [1.0, 2.0], None, [3.0]], pa.list_(pa.float32())))
    return {"table": demo_table.slice(0, 30), "empty": demo_table.slice(0, 0), "nulls": nulls,
            "batch": demo_table.slice(0, 30).to_batches()[0]}


@pytest.mark.parametrize("kind", ["table", "empty", "nulls", "batch"])
def test_arrow_coder_round_trips(demo_table, kind):
    value = _tables(demo_table)[kind]
    coder = ArrowTableCoder()
    back = coder.decode(coder.encode(value))
    assert type(back) is type(value)
    assert back.equals(value)
    assert coder.estimate_size(value) == value.nbytes


@pytest.mark.parametrize("kind", [pa.Table, pa.RecordBatch])
def test_our_hints_carry_the_arrow_coder(kind):
    from beam_transforms._coders import arrow_hint

    assert isinstance(beam.coders.registry.get_coder(arrow_hint(kind)), ArrowTableCoder)


def test_typed_tables_match_core_encode_and_keep_their_type(codec, demo_table, demo_path):
    expected = [pair for t in row_groups(demo_table)
                for pair in zip(t["id"].to_pylist(), core_codes(codec, datasets.matrix(t)))]
    with beam.Pipeline() as p:
        out = typed_read(p, demo_path) | EncodeEmbeddings("embedding", codec)
        assert out.element_type is ArrowTable
        pairs = out | beam.FlatMap(lambda t: zip(t["id"].to_pylist(), t["embedding_code"].to_pylist()))
        assert_that(pairs, equal_to(expected))


def test_typed_tables_with_dead_letters_account_for_every_row(sq8, bad_table, tmp_path):
    path = str(tmp_path / "bad.parquet")

    pq.write_table(bad_table, path, row_group_size=5)
    with beam.Pipeline() as p:
        result = typed_read(p, path) | EncodeEmbeddings("embedding", sq8).with_dead_letters()
        assert_that(result.good | "GoodRows" >> beam.Map(lambda t: t.num_rows) | "SumGood" >> beam.CombineGlobally(sum),
                    equal_to([9]), label="good")
        assert_that(result.bad | beam.Map(lambda d: (d["row"]["id"], reason_of(d).split(":")[0].split(" in ")[0])),
                    equal_to([(bad_table["id"][i].as_py(), reason) for i, reason in
                              ((2, "NaN"), (5, "Inf"), (7, "wrong length"))]), label="bad")


def test_one_ahead_encoding_keeps_each_tables_window(sq8, demo_table):
    """Outputs are emitted one element late (and from finish_bundle) with their own window."""
    stamped = [(t, 10 * i + 1) for i, t in enumerate(row_groups(demo_table.slice(0, 30), 10))]
    with beam.Pipeline() as p:
        out = (p | beam.Create(stamped) | beam.Map(lambda tv: TimestampedValue(*tv)).with_output_types(pa.Table)
               | beam.WindowInto(FixedWindows(10)) | EncodeEmbeddings("embedding", sq8))
        where = out | beam.FlatMap(lambda t, w=beam.DoFn.WindowParam: [(int(w.start), t["id"][0].as_py())])
        assert_that(where, equal_to([(0, stamped[0][0]["id"][0].as_py()), (10, stamped[1][0]["id"][0].as_py()),
                                     (20, stamped[2][0]["id"][0].as_py())]))


def test_typed_decode_and_score_match_the_untyped_path(sq8, demo_table, demo_path, demo_x):
    queries = {"q0": demo_x[0], "q1": demo_x[1]}
    decoded_rows = sq8.decode(sq8.encode(demo_x))
    with beam.Pipeline() as p:
        codes = typed_read(p, demo_path) | EncodeEmbeddings("embedding", sq8, output_column="code", drop_input=True)
        decoded = codes | DecodeEmbeddings("code", sq8, output_column="vec")
        assert decoded.element_type is ArrowTable
        firsts = decoded | beam.FlatMap(lambda t: zip(t["id"].to_pylist(), (v[0] for v in t["vec"].to_pylist())))
        assert_that(firsts, equal_to([(i, float(v[0]))
                                      for i, v in zip(demo_table["id"].to_pylist(), decoded_rows)]), label="decode")
        typed = codes | "ScoreTyped" >> ScoreEmbeddings("code", sq8, queries, k=3)
        anything = codes | "Untype" >> beam.Map(lambda t: t).with_output_types(typing.Any)
        assert anything.element_type is not ArrowTable
        untyped = anything | "ScoreUntyped" >> ScoreEmbeddings("code", sq8, queries, k=3)
        ids = (typed, untyped) | beam.Flatten() | beam.Map(lambda kv: (kv[0], [c[0] for c in kv[1]]))
        pairs = ids | beam.GroupByKey() | beam.MapTuple(lambda q, got: (q, all(x == got[0] for x in got), len(got)))
        assert_that(pairs, equal_to([("q0", True, 2), ("q1", True, 2)]), label="score")


def test_dead_letters_pass_runtime_type_checks(sq8, bad_table):
    """Only the main output is typed pa.Table; dead-letter dicts must not be checked against it."""
    options = PipelineOptions(runtime_type_check=True)
    with beam.Pipeline(options=options) as p:
        tables = p | beam.Create(row_groups(bad_table, 6))  # Create infers pa.Table
        result = tables | EncodeEmbeddings("embedding", sq8).with_dead_letters()
        assert_that(result.good | "Rows" >> beam.Map(lambda t: t.num_rows) | "Sum" >> beam.CombineGlobally(sum),
                    equal_to([9]), label="good")
        assert_that(result.bad | beam.Map(lambda d: d["row"]["id"]),
                    equal_to([bad_table["id"][i].as_py() for i in (2, 5, 7)]), label="bad")


def test_an_element_in_several_windows_is_encoded_and_counted_once(sq8, demo_table):
    stamped = [(t, 10 * i + 1) for i, t in enumerate(row_groups(demo_table.slice(0, 20), 10))]
    p = beam.Pipeline()
    out = (p | beam.Create(stamped) | beam.Map(lambda tv: TimestampedValue(*tv)).with_output_types(pa.Table)
           | beam.WindowInto(SlidingWindows(10, 5)) | EncodeEmbeddings("embedding", sq8))
    per_window = out | beam.FlatMap(lambda t, w=beam.DoFn.WindowParam: [(float(w.start), t.num_rows)])
    assert_that(per_window, equal_to([(-5.0, 10), (0.0, 10), (5.0, 10), (10.0, 10)]))
    result = p.run()
    result.wait_until_finish()
    assert counters(result)["rows_encoded"] == 20
