"""DecodeEmbeddings, ScoreEmbeddings and TopKNeighbors against the core's decode and search."""
import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to

from embcompress import datasets
from beam_transforms import DecodeEmbeddings, EncodeEmbeddings, ScoreEmbeddings, TopKNeighbors
from beam_transforms.score import best_k
from .conftest import core_codes, fitted, row_groups


def coded_table(codec, table):
    codes = pa.array(core_codes(codec, np.asarray(table["embedding"].to_pylist(), dtype=np.float32)), pa.binary())
    return pa.table({"id": table["id"], "code": codes})


def test_decode_tables_and_rows_match_core(codec, demo_table):
    t = coded_table(codec, demo_table.slice(0, 50))
    parts = [t.slice(0, 20), t.slice(20)]
    decode = lambda part: codec.decode(np.frombuffer(b"".join(part["code"].to_pylist()), np.uint8)  # noqa: E731
                                       .reshape(part.num_rows, -1)).tolist()
    exact = [pair for part in parts for pair in zip(part["id"].to_pylist(), decode(part))]
    with beam.Pipeline() as p:
        tables = p | "Tables" >> beam.Create(parts) | "DT" >> DecodeEmbeddings("code", codec)
        rows = p | "Rows" >> beam.Create(t.to_pylist()) | "DR" >> DecodeEmbeddings("code", codec, drop_input=True)
        assert_that(tables | beam.FlatMap(lambda b: zip(b["id"].to_pylist(), b["code_decoded"].to_pylist())),
                    equal_to(exact), label="tables")
        assert_that(rows | beam.Map(lambda r: (r["id"], r["code_decoded"])), equal_to(exact),
                    label="rows")  # bit-exact: decoding is row-independent, whatever the batch


def test_decode_keeps_null_codes_null(sq8, demo_table):
    t = coded_table(sq8, demo_table.slice(0, 3))
    t = t.set_column(1, "code", pa.array([t["code"][0].as_py(), None, t["code"][2].as_py()], pa.binary()))
    with beam.Pipeline() as p:
        out = p | beam.Create([t]) | DecodeEmbeddings("code", sq8, output_column="code")
        assert_that(out | beam.Map(lambda b: (str(b.schema.field("code").type), b["code"].null_count)),
                    equal_to([("fixed_size_list<item: float>[384]", 1)]))


def test_decode_wrong_code_size_names_the_row(sq8):
    rows = [{"id": 1, "code": b"\x00" * 384}, {"id": 2, "code": b"\x00" * 12}]
    with pytest.raises(Exception, match="column 'code', row 1: wrong code size: expected 384 bytes, got 12"):
        with beam.Pipeline() as p:
            _ = p | beam.Create(rows) | DecodeEmbeddings("code", sq8)


def test_encode_then_decode_round_trip(sq8, demo_path, demo_x):
    """Tables encoded then decoded give the core's reconstructions (SQ8: exact in any grouping)."""
    with beam.Pipeline() as p:
        out = (p | beam.io.ReadFromParquetBatched(demo_path)
               | EncodeEmbeddings("embedding", sq8, output_column="code", drop_input=True)
               | DecodeEmbeddings("code", sq8, output_column="embedding", drop_input=True))
        recon = out | beam.FlatMap(lambda t: zip(t["id"].to_pylist(), t["embedding"].to_pylist()))
        ids = pq.read_table(demo_path, columns=["id"])["id"].to_pylist()
        assert_that(recon, equal_to(list(zip(ids, sq8.decode(sq8.encode(demo_x)).tolist()))))


def _core_topk(codec, table, queries, k):
    """The reference: core search over all codes at once, ids mapped to the table's id column.
    One more than ``k`` per query, so a tie across the k-th place can be seen."""
    codes = np.concatenate([codec.encode(datasets.matrix(t)) for t in row_groups(table)])
    pos, sims = codec.search(queries, codes, k=k + 1)
    ids = table["id"].to_numpy()
    return {q: [(int(ids[p]), float(s)) for p, s in zip(pos[q], sims[q])] for q in range(len(queries))}


def _same_topk(got, expected):
    """Same queries; per query the same scores (to float32 rounding) and the same ids wherever
    a score is not tied (within rounding) with a neighbour, since ties may order either way."""
    got = dict(got)
    assert sorted(got) == sorted(expected), (sorted(got), sorted(expected))
    for q, ref in expected.items():
        ids, scores = [c[0] for c in got[q]], np.array([c[1] for c in got[q]])
        n = len(ids)  # the reference holds one more, to see ties across the last place
        ref_ids, ref_scores = [r[0] for r in ref], np.array([r[1] for r in ref])
        np.testing.assert_allclose(scores, ref_scores[:n], rtol=1e-5, atol=1e-6)
        gaps = np.diff(ref_scores, prepend=np.inf, append=-np.inf)
        clear = ((np.abs(gaps[:-1]) > 1e-5) & (np.abs(gaps[1:]) > 1e-5))[:n]
        ref_ids = ref_ids[:n]
        assert [i for i, c in zip(ids, clear) if c] == [i for i, c in zip(ref_ids, clear) if c], (q, ids, ref_ids)
    return True


@pytest.mark.parametrize("form", ["tables", "rows"])
@pytest.mark.parametrize("spec", ["SQ8", "PQ8x4"])
def test_score_top_k_matches_core_search(spec, form, demo_table, demo_x, demo_path):
    codec = fitted(spec, demo_x)
    queries = demo_x[[5, 300, 777]] + 0.01
    expected = _core_topk(codec, demo_table, queries, k=7)
    encoded_rows = [dict(r, code=c) for r, c in zip(demo_table.select(["id"]).to_pylist(),
                                                     core_codes(codec, demo_x))]
    with beam.Pipeline() as p:
        if form == "tables":
            coded = (p | beam.io.ReadFromParquetBatched(demo_path)
                     | EncodeEmbeddings("embedding", codec, output_column="code", drop_input=True))
        else:
            coded = p | beam.Create(encoded_rows)
        top = coded | ScoreEmbeddings("code", codec, queries, k=7)
        assert_that(top | beam.combiners.ToList(),
                    lambda lists: _same_topk(lists[0], expected))


def test_score_with_query_side_input_keyed_by_name(sq8, demo_table, demo_x, demo_path):
    queries = {"first": demo_x[0], "last": demo_x[799]}
    ref = _core_topk(sq8, demo_table, np.stack([demo_x[0], demo_x[799]]), k=3)
    expected = {"first": ref[0], "last": ref[1]}
    with beam.Pipeline() as p:
        qs = p | "Queries" >> beam.Create(list(queries.items()))
        coded = (p | beam.io.ReadFromParquetBatched(demo_path)
                 | EncodeEmbeddings("embedding", sq8, output_column="code"))
        top = coded | ScoreEmbeddings("code", sq8, qs, k=3)
        assert_that(top | beam.combiners.ToList(), lambda lists: _same_topk(lists[0], expected))


def test_top_k_neighbors_merges_candidates_globally():
    rng = np.random.default_rng(0)
    cands = [(f"q{q}", [(int(i), float(s)) for i, s in zip(rng.choice(1000, 6, replace=False), rng.random(6))])
             for q in range(3) for _ in range(5)]
    expected = {}
    for q, c in cands:
        expected.setdefault(q, []).extend(c)
    expected = [(q, best_k(c, 4)) for q, c in expected.items()]
    with beam.Pipeline() as p:
        out = p | beam.Create(cands) | TopKNeighbors(4)
        assert_that(out, equal_to(expected))


def test_best_k_breaks_ties_by_smaller_id():
    assert best_k([(5, 1.0), (2, 1.0), (9, 2.0), (1, 0.5)], 3) == [(9, 2.0), (2, 1.0), (5, 1.0)]
