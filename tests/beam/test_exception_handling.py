"""Beam's error handling on our transforms: ``with_exception_handling()`` returns Beam's
``(good, bad)`` with Beam's error records, and an ``ErrorHandler`` receives every bad row."""
import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.error_handling import CollectingErrorHandler, ErrorHandler

from embcompress import EmbeddingError
from beam_transforms import ArrowTable, DecodeEmbeddings, EncodeEmbeddings, ScoreEmbeddings, reason_of

from .conftest import row_groups

BAD_IDS = (2, 5, 7)  # bad_table: NaN, Inf, wrong length; row 9 is a null vector (kept, null code)
REASONS = ["NaN in vector", "Inf in vector", "wrong length: expected 384, got 10"]


def _elements(p, table, form):
    """``table`` as a PCollection of row dicts, beam.Rows (untyped, or schema'd by Create), untyped
    tables or ArrowTable-typed tables."""
    if form == "dicts":
        return p | beam.Create(table.to_pylist())
    if form == "rows":
        return p | beam.Create(table.to_pylist()) | beam.Map(lambda d: beam.Row(**d))
    if form == "schema":
        return p | beam.Create([beam.Row(**d) for d in table.to_pylist()])
    tables = p | beam.Create(row_groups(table, 5))
    return tables if form == "tables" else tables | beam.Map(lambda t: t).with_output_types(ArrowTable)


def _n_rows(element) -> int:
    return element.num_rows if isinstance(element, (pa.Table, pa.RecordBatch)) else 1


def _id_of(element):
    if isinstance(element, (pa.Table, pa.RecordBatch)):
        return element["id"][0].as_py()
    return element["id"] if isinstance(element, dict) else element.id


FORMS = ["dicts", "rows", "schema", "tables", "typed"]


def _ids(table, at):
    return [table["id"][i].as_py() for i in at]


@pytest.mark.parametrize("form", FORMS)
def test_with_exception_handling_gives_beams_good_and_bad(sq8, bad_table, form):
    with beam.Pipeline() as p:
        good, bad = _elements(p, bad_table, form) | EncodeEmbeddings("embedding", sq8).with_exception_handling()
        n_good = good | "CountGood" >> beam.Map(_n_rows) | "SumGood" >> beam.CombineGlobally(sum)
        n_bad = bad | "CountBad" >> beam.combiners.Count.Globally()
        total = (n_good, n_bad) | beam.Flatten() | "Total" >> beam.CombineGlobally(sum)
        assert_that(total, equal_to([bad_table.num_rows]), label="rows in = good + bad")
        shape = bad | beam.Map(lambda r: (_id_of(r[0]), _n_rows(r[0]), r[1][0], isinstance(r[1][1], str),
                                          isinstance(r[1][2], list), reason_of(r)))
        assert_that(shape, equal_to([(i, 1, EmbeddingError, True, True, reason)
                                     for i, reason in zip(_ids(bad_table, BAD_IDS), REASONS)]), label="bad")


@pytest.mark.parametrize("form", FORMS)
def test_an_error_handler_receives_every_bad_row(sq8, bad_table, form):
    with beam.Pipeline() as p:
        with CollectingErrorHandler() as handler:
            good = (_elements(p, bad_table, form)
                    | EncodeEmbeddings("embedding", sq8).with_error_handler(handler))
        ids = good | "GoodIds" >> beam.FlatMap(
            lambda e: e["id"].to_pylist() if isinstance(e, (pa.Table, pa.RecordBatch)) else [_id_of(e)])
        assert_that(ids, equal_to([i for k, i in enumerate(bad_table["id"].to_pylist()) if k not in BAD_IDS]),
                    label="good")
        assert_that(handler.output() | beam.Map(lambda r: (_id_of(r[0]), reason_of(r))),
                    equal_to(list(zip(_ids(bad_table, BAD_IDS), REASONS))), label="bad")


def test_an_error_handler_with_a_sink_consumes_the_records(sq8, bad_table, tmp_path):
    """The usual pattern: ErrorHandler(some sink) as a context manager, here a text file."""
    out = str(tmp_path / "errors")
    with beam.Pipeline() as p:
        sink = beam.Map(lambda r: f"{_id_of(r[0])}\t{reason_of(r)}") | beam.io.WriteToText(out)
        with ErrorHandler(sink) as handler:
            _ = _elements(p, bad_table, "dicts") | EncodeEmbeddings("embedding", sq8).with_error_handler(handler)
    lines = sorted(line for f in tmp_path.glob("errors*") for line in f.read_text().splitlines())
    assert lines == sorted(f"{i}\t{r}" for i, r in zip(_ids(bad_table, BAD_IDS), REASONS))


@pytest.mark.parametrize("form", ["tables", "typed"])
def test_a_failing_element_goes_to_bad_whole(sq8, demo_table, form):
    """A table without the column fails as a whole: Beam's wrapper routes the element itself."""
    with beam.Pipeline() as p:
        tables = _elements(p, demo_table.slice(0, 10).drop_columns(["embedding"]), form)
        good, bad = tables | EncodeEmbeddings("embedding", sq8).with_exception_handling()
        assert_that(good, equal_to([]), label="good")
        assert_that(bad | beam.Map(lambda r: (r[0].num_rows, r[1][0].__name__, "no such column" in r[1][1])),
                    equal_to([(5, "EmbeddingError", True)] * 2), label="bad")


def test_custom_tags_are_honoured(sq8, bad_table):
    with beam.Pipeline() as p:
        result = (_elements(p, bad_table, "dicts")
                  | EncodeEmbeddings("embedding", sq8).with_exception_handling("ok", "failed"))
        assert_that(result.failed | "CountFailed" >> beam.combiners.Count.Globally(), equal_to([3]), label="failed")
        assert_that(result["ok"] | "CountOk" >> beam.combiners.Count.Globally(), equal_to([9]), label="ok")


@pytest.mark.parametrize("form", ["dicts", "schema", "tables"])
def test_decode_and_score_route_failing_elements(sq8, demo_table, form):
    """Codes of the wrong size fail their element; with an error handler the pipeline goes on."""
    table = demo_table.slice(0, 5).select(["id"]).append_column("code", pa.array([b"\x01\x02"] * 5, pa.binary()))
    with beam.Pipeline() as p:
        with CollectingErrorHandler() as errors:  # one handler for both (Beam labels each handler's Flatten alike)
            elements = _elements(p, table, form)
            decoded = elements | DecodeEmbeddings("code", sq8).with_error_handler(errors)
            top = elements | ScoreEmbeddings("code", sq8, [list(range(384))], k=2).with_error_handler(errors)
        assert_that(decoded, equal_to([]), label="decoded")
        assert_that(top, equal_to([]), label="top")
        n = errors.output() | "Rows" >> beam.Map(lambda r: _n_rows(r[0]) if form == "tables" else len(r[0]))
        assert_that(n | "Sum" >> beam.CombineGlobally(sum), equal_to([10]), label="errors")


def test_with_dead_letters_records_use_the_reason_convention(sq8, bad_table):
    with beam.Pipeline() as p:
        result = _elements(p, bad_table, "dicts") | EncodeEmbeddings("embedding", sq8).with_dead_letters()
        assert_that(result.bad | beam.Map(lambda d: (sorted(d), d["row"]["id"], reason_of(d))),
                    equal_to([(["column", "embcompress_reason", "row"], i, r)
                              for i, r in zip(_ids(bad_table, BAD_IDS), REASONS)]))


@pytest.mark.parametrize("form", ["dicts", "typed"])
def test_exception_handling_with_a_codec_fitted_in_the_pipeline(bad_table, demo_table, form):
    """The codec as a side input (FitCodec's singleton) reaches the DoFn through Beam's wrapper."""
    from beam_transforms import FitCodec

    with beam.Pipeline() as p:
        codec = p | "Sample" >> beam.Create(demo_table.slice(0, 300).to_pylist()) | FitCodec("embedding", "SQ8",
                                                                                             sample_size=300)
        good, bad = (_elements(p, bad_table, form)
                     | EncodeEmbeddings("embedding", beam.pvalue.AsSingleton(codec)).with_exception_handling())
        n_good = good | "CountGood" >> beam.Map(_n_rows) | "SumGood" >> beam.CombineGlobally(sum)
        assert_that(n_good, equal_to([9]), label="good")
        assert_that(bad | beam.Map(reason_of), equal_to(REASONS), label="bad")
