"""Bad rows: routed to ``.bad`` with the original row and a reason, or failing with a clear error."""
import math

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_transforms import EncodeEmbeddings

NAN, INF = float("nan"), float("inf")
# (name, how to spoil a 384-float vector, the reason the row is refused)
BAD_KINDS = [
    ("nan", lambda v: [NAN] + v[1:], "NaN in vector"),
    ("inf", lambda v: v[:-1] + [-INF], "Inf in vector"),
    ("wrong_length", lambda v: v[:10], "wrong length: expected 384, got 10"),
    ("empty", lambda v: [], "empty vector"),
]
ROW_ONLY_KINDS = [
    ("string", lambda v: "0.1, 0.2", "wrong type: expected a list of floats, got str"),
    ("int", lambda v: 7, "wrong type: expected a list of floats, got int"),
    ("strings_in_list", lambda v: ["a"] * 384, "wrong type: expected a list of floats, got list containing str 'a'"),
]


def _key(record):
    """A comparable view of a dead letter (NaN != NaN, so compare the row's id and the reason)."""
    return record["row"]["id"], record["column"], record["embcompress_reason"]


def _spoil(rows, spoil, at=(3,)):
    rows = [dict(r) for r in rows]
    for i in at:
        rows[i]["embedding"] = spoil(rows[i]["embedding"])
    return rows


@pytest.mark.parametrize("name, spoil, reason", BAD_KINDS + ROW_ONLY_KINDS,
                         ids=lambda v: v if isinstance(v, str) else "")
def test_row_dicts_route_bad_rows(sq8, demo_table, name, spoil, reason):
    rows = _spoil(demo_table.slice(0, 8).to_pylist(), spoil, at=(3, 6))
    with beam.Pipeline() as p:
        result = p | beam.Create(rows) | EncodeEmbeddings("embedding", sq8).with_dead_letters()
        assert_that(result.good | "GoodIds" >> beam.Map(lambda r: r["id"]),
                    equal_to([r["id"] for k, r in enumerate(rows) if k not in (3, 6)]), label="good")
        assert_that(result.bad | "BadKeys" >> beam.Map(_key),
                    equal_to([(rows[k]["id"], "embedding", reason) for k in (3, 6)]), label="bad")


@pytest.mark.parametrize("name, spoil, reason", BAD_KINDS, ids=lambda v: v if isinstance(v, str) else "")
def test_tables_route_bad_rows(sq8, demo_table, name, spoil, reason):
    import pyarrow as pa

    rows = _spoil(demo_table.slice(0, 8).to_pylist(), spoil, at=(3, 6))
    table = pa.Table.from_pylist(rows, schema=demo_table.schema)
    with beam.Pipeline() as p:
        result = p | beam.Create([table]) | EncodeEmbeddings("embedding", sq8).with_dead_letters()
        assert_that(result.good | "GoodIds" >> beam.FlatMap(lambda t: t["id"].to_pylist()),
                    equal_to([r["id"] for k, r in enumerate(rows) if k not in (3, 6)]), label="good")
        assert_that(result.bad | "BadKeys" >> beam.Map(_key),
                    equal_to([(rows[k]["id"], "embedding", reason) for k in (3, 6)]), label="bad")


def test_dead_letter_carries_the_original_row(sq8, demo_table):
    rows = _spoil(demo_table.slice(0, 4).to_pylist(), lambda v: v[:5])
    with beam.Pipeline() as p:
        result = p | beam.Create(rows) | EncodeEmbeddings("embedding", sq8).with_dead_letters()
        assert_that(result.bad | beam.Map(lambda d: d["row"]), equal_to([rows[3]]))


@pytest.mark.parametrize("form", ["tables", "rows"])
def test_rows_in_equal_good_plus_dead_letters(sq8, bad_table, form):
    """Nothing is dropped: 12 rows in = 9 good (one of them a null vector, kept as a null code) + 3 dead letters."""
    elements = [bad_table.slice(0, 6), bad_table.slice(6)] if form == "tables" else bad_table.to_pylist()
    count = (lambda t: t.num_rows) if form == "tables" else (lambda r: 1)
    with beam.Pipeline() as p:
        result = p | beam.Create(elements) | EncodeEmbeddings("embedding", sq8).with_dead_letters()
        good = result.good | "CountGood" >> beam.Map(count) | "SumGood" >> beam.CombineGlobally(sum)
        bad = result.bad | "CountBad" >> beam.combiners.Count.Globally()
        total = (good, bad) | beam.Flatten() | "Total" >> beam.CombineGlobally(sum)
        assert_that(total, equal_to([bad_table.num_rows]), label="total")
        assert_that(bad, equal_to([3]), label="bad")


@pytest.mark.parametrize("form", ["tables", "rows"])
def test_without_dead_letters_a_bad_row_fails_naming_it(sq8, bad_table, form):
    elements = [bad_table] if form == "tables" else bad_table.to_pylist()[:3]
    with pytest.raises(Exception, match=r"column 'embedding', row 2: NaN in vector.*id=" + str(bad_table["id"][2])):
        with beam.Pipeline() as p:
            _ = p | beam.Create(elements) | EncodeEmbeddings("embedding", sq8)


def test_nan_rows_are_never_altered(sq8, demo_table):
    """The dead letter holds the row exactly as it came (the NaN is still there)."""
    rows = _spoil(demo_table.slice(0, 4).to_pylist(), lambda v: [NAN] * len(v), at=(0,))
    with beam.Pipeline() as p:
        result = p | beam.Create(rows) | EncodeEmbeddings("embedding", sq8).with_dead_letters()
        assert_that(result.bad | beam.Map(lambda d: all(math.isnan(v) for v in d["row"]["embedding"])),
                    equal_to([True]))


@pytest.mark.parametrize("form", ["rows", "table"])
def test_on_invalid_null_keeps_bad_rows_with_a_null_code(sq8, bad_table, form):
    """``on_invalid="null"``: every row comes out, bad and null vectors with a null code (as in Spark and the CLI)."""
    elements = bad_table.to_pylist() if form == "rows" else [bad_table]
    expected = [(r["id"], k in (2, 5, 7, 9)) for k, r in enumerate(bad_table.to_pylist())]
    with beam.Pipeline() as p:
        out = p | beam.Create(elements) | EncodeEmbeddings("embedding", sq8, on_invalid="null")
        pairs = out | beam.FlatMap(lambda e: [(r["id"], r["embedding_code"] is None)
                                             for r in (e.to_pylist() if hasattr(e, "to_pylist") else [e])])
        assert_that(pairs, equal_to(expected))


def test_on_invalid_takes_the_shared_values_only(sq8):
    with pytest.raises(ValueError, match="on_invalid must be one of 'raise', 'null', 'dead_letter'"):
        EncodeEmbeddings("embedding", sq8, on_invalid="skip")
