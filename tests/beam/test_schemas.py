"""Schema'd PCollections and ``beam.Row``: encode, decode and score keep the schema (codes as a
``bytes`` field), so Beam's schema-aware sinks consume the output as it is."""
import typing

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to

from embcompress import EmbeddingError, datasets
from beam_transforms import DecodeEmbeddings, EncodeEmbeddings, ScoreEmbeddings, TopKNeighbors, reason_of

from .conftest import core_codes


class Doc(typing.NamedTuple):
    id: int
    text: str
    embedding: typing.List[float]


def _rows(table, kind):
    """The table's rows as typed ``beam.Row``s, NamedTuples (both schema'd) or untyped ``beam.Row``s."""
    dicts = table.select(["id", "text", "embedding"]).to_pylist()
    if kind == "namedtuple":
        return [Doc(**d) for d in dicts]
    return [beam.Row(**d) for d in dicts]


def _create(p, table, kind):
    rows = p | f"Create{kind}" >> beam.Create(_rows(table, kind))
    if kind == "untyped_row":
        return rows | "Untype" >> beam.Map(lambda r: r).with_output_types(typing.Any)
    return rows


def _read(path) -> pa.Table:
    return pq.read_table(path)


@pytest.mark.parametrize("kind", ["row", "namedtuple"])
def test_schema_rows_encode_to_a_bytes_field_and_write_with_the_inferred_schema(sq8, demo_table, kind, tmp_path):
    table = demo_table.slice(0, 40)
    with beam.Pipeline() as p:
        coded = _create(p, table, kind) | EncodeEmbeddings("embedding", sq8, drop_input=True)
        assert [name for name, _ in coded.element_type._fields] == ["id", "text", "embedding_code"]
        assert dict(coded.element_type._fields)["embedding_code"] == typing.Optional[bytes]
        _ = coded | beam.io.WriteToParquet(str(tmp_path / "coded"), num_shards=1)  # schema inferred from the rows
    out = pa.concat_tables(_read(f) for f in sorted(tmp_path.glob("coded*")))
    assert out.schema.field("embedding_code").type == pa.binary()
    got = dict(zip(out["id"].to_pylist(), out["embedding_code"].to_pylist()))
    assert got == dict(zip(table["id"].to_pylist(), core_codes(sq8, datasets.matrix(table))))


def test_encode_then_decode_then_a_schema_aware_select_and_sink(sq8, demo_table, tmp_path):
    """The acceptance path: schema'd rows -> encode -> decode -> Select -> Parquet, schema kept throughout."""
    table = demo_table.slice(0, 30)
    with beam.Pipeline() as p:
        decoded = (_create(p, table, "row") | EncodeEmbeddings("embedding", sq8, output_column="code")
                   | DecodeEmbeddings("code", sq8, output_column="restored"))
        assert [name for name, _ in decoded.element_type._fields] == ["id", "text", "embedding", "code", "restored"]
        picked = decoded | beam.Select("id", "code", "restored")
        _ = picked | beam.io.WriteToParquet(str(tmp_path / "decoded"), num_shards=1)
    out = pa.concat_tables(_read(f) for f in sorted(tmp_path.glob("decoded*"))).sort_by("id")
    assert out.column_names == ["id", "code", "restored"]
    expected = sq8.decode(sq8.encode(datasets.matrix(table)))
    np.testing.assert_allclose(np.asarray(out["restored"].to_pylist(), dtype=np.float32), expected, rtol=1e-6)


def test_schema_rows_and_untyped_rows_give_the_same_codes(sq8, demo_table):
    table = demo_table.slice(0, 25)
    expected = sorted(zip(table["id"].to_pylist(), core_codes(sq8, datasets.matrix(table))))
    with beam.Pipeline() as p:
        for kind in ("row", "untyped_row"):
            out = _create(p, table, kind) | f"Encode{kind}" >> EncodeEmbeddings("embedding", sq8)
            assert_that(out | f"Pairs{kind}" >> beam.Map(lambda r: (r.id, r.embedding_code)), equal_to(expected),
                        label=f"codes {kind}")


@pytest.mark.parametrize("kind", ["row", "untyped_row"])
def test_bad_schema_rows_go_to_beams_error_records(sq8, bad_table, kind):
    """Rows in = good + bad; the record holds the row as a Row and our reason."""
    with beam.Pipeline() as p:
        rows = _create(p, bad_table, kind)
        good, bad = rows | EncodeEmbeddings("embedding", sq8).with_exception_handling()
        assert_that(good | "GoodIds" >> beam.Map(lambda r: r.id),
                    equal_to([i for k, i in enumerate(bad_table["id"].to_pylist()) if k not in (2, 5, 7)]),
                    label="good")
        assert_that(bad | beam.Map(lambda r: (r[0].id, reason_of(r))),
                    equal_to([(bad_table["id"][2].as_py(), "NaN in vector"),
                              (bad_table["id"][5].as_py(), "Inf in vector"),
                              (bad_table["id"][7].as_py(), "wrong length: expected 384, got 10")]), label="bad")


def test_a_schema_without_the_column_is_refused_when_applied(sq8, demo_table):
    p = beam.Pipeline()
    rows = _create(p, demo_table.slice(0, 3), "row")
    with pytest.raises(EmbeddingError, match=r"column 'vector': no such field; the schema has \['id', 'text', "):
        _ = rows | EncodeEmbeddings("vector", sq8)
    with pytest.raises(EmbeddingError, match="output column already exists"):
        _ = rows | "Again" >> EncodeEmbeddings("embedding", sq8, output_column="text")


def test_schema_rows_are_scored_like_tables(sq8, demo_table, demo_x):
    table = demo_table.slice(0, 50)
    with beam.Pipeline() as p:
        coded = _create(p, table, "row") | EncodeEmbeddings("embedding", sq8, output_column="code", drop_input=True)
        top = coded | ScoreEmbeddings("code", sq8, {"q": demo_x[3]}, k=3)
        codes = np.stack([np.frombuffer(c, np.uint8) for c in core_codes(sq8, datasets.matrix(table))])
        pos, _ = sq8.search(demo_x[3:4], codes, k=3)
        expected_ids = [table["id"][int(j)].as_py() for j in pos[0]]
        assert_that(top | beam.MapTuple(lambda q, c: (q, [i for i, _ in c])), equal_to([("q", expected_ids)]))


CANDIDATES = [("q1", [(1, 0.5), (2, 0.9)]), ("q1", [(3, 0.7)]), ("q2", [(4, 0.1)])]
MERGED = {"q1": [(2, 0.9), (3, 0.7)], "q2": [(4, 0.1)]}


@pytest.mark.parametrize("form", ["pairs", "schema_rows", "dicts"])
def test_top_k_neighbors_takes_pairs_and_rows(form):
    """Schema'd rows hold their candidates as rows: Beam 2.77 encodes a tuple inside a row (even
    a ``beam.Row`` in an untyped PCollection) as a list of ints, before any transform of ours."""
    if form == "pairs":
        elements = CANDIDATES
    elif form == "schema_rows":
        elements = [beam.Row(query=q, candidates=[beam.Row(id=i, score=s) for i, s in c]) for q, c in CANDIDATES]
    else:
        elements = [{"query": q, "candidates": c} for q, c in CANDIDATES]
    with beam.Pipeline() as p:
        create = beam.Create(elements)
        pc = p | (create if form == "schema_rows" else create.with_output_types(typing.Any))
        top = pc | TopKNeighbors(2)
        if form == "schema_rows":
            assert [name for name, _ in top.element_type._fields] == ["query", "candidates"]
        flat = top | beam.Map(lambda e: e if isinstance(e, tuple) and not hasattr(e, "_asdict") else
                              (e.query, [(c.id, c.score) if hasattr(c, "score") else c for c in e.candidates]))
        assert_that(flat | beam.MapTuple(lambda q, c: (q, [tuple(x) for x in c])), equal_to(list(MERGED.items())))
