"""SQL UDFs: {prefix}_encode/_decode/_score/_sim agree with the core and work in SQL joins."""
import numpy as np
import pytest

from spark_udfs import encode_column, register_udfs

from ..topk import assert_same_topk
from .conftest import vectors


@pytest.fixture(scope="module")
def tables(spark, demo_df, codecs):
    register_udfs(spark, codecs["SQ8"], prefix="emb")
    register_udfs(spark, codecs["PCA32,SQ8"], prefix="pca")
    demo_df.where("id % 50 = 0").select("id", "embedding").createOrReplaceTempView("queries")
    encode_column(demo_df, codecs["SQ8"], "embedding", "code").createOrReplaceTempView("corpus")
    return spark


def test_encode_and_decode_udfs_equal_core(tables, demo_matrix, demo_table, sq8):
    df = tables.sql("SELECT id, emb_encode(embedding) AS code, emb_decode(emb_encode(embedding)) AS rec "
                    "FROM corpus ORDER BY id")
    got = np.stack([np.frombuffer(b, np.uint8) for b in df.select("code").toPandas()["code"]])
    order = np.argsort(demo_table["id"].to_numpy())
    np.testing.assert_array_equal(got, sq8.encode(demo_matrix[order]))
    assert vectors(df, "rec").tobytes() == sq8.decode(got).tobytes()


def test_sql_join_ranked_by_score_equals_core_search(tables, demo_matrix, demo_table, sq8):
    top = tables.sql("""
        SELECT qid, cid, score FROM (
            SELECT qid, cid, score, row_number() OVER (PARTITION BY qid ORDER BY score DESC, cid) AS rank
            FROM (SELECT q.id AS qid, c.id AS cid, emb_score(q.embedding, c.code) AS score
                  FROM queries q CROSS JOIN corpus c) AS scored) AS ranked
        WHERE rank <= 5
    """).toPandas().sort_values(["qid", "score", "cid"], ascending=[True, False, True])
    ids = demo_table["id"].to_numpy()
    order = np.argsort(ids)
    x, sorted_ids = demo_matrix[order], ids[order]
    queries = np.flatnonzero(sorted_ids % 50 == 0)
    want_rows, want_sims = sq8.search(x[queries], sq8.encode(x), k=5)
    got = np.array(top.groupby("qid", sort=True)["cid"].apply(list).tolist())
    scores = np.array(top.groupby("qid", sort=True)["score"].apply(list).tolist())
    assert_same_topk(got, scores, sorted_ids[want_rows], want_sims, what="SQL top-5 against Codec.search")


def test_sim_scores_codes_against_codes(tables, demo_matrix, sq8):
    row = tables.sql("SELECT emb_sim(c.code, c.code) AS s, emb_sim(emb_encode(c.embedding), c.code) AS t, "
                     "c.code AS code FROM corpus c WHERE c.id = (SELECT min(id) FROM corpus)").first()
    code = np.frombuffer(row.code, np.uint8)
    want = sq8.score(sq8.decode(code), code[None])[0, 0]
    assert row.s == pytest.approx(want, rel=1e-6) and row.t == pytest.approx(want, rel=1e-6)


def test_two_prefixes_serve_two_codecs(tables, codecs):
    r = tables.sql("SELECT length(emb_encode(embedding)) AS a, length(pca_encode(embedding)) AS b "
                   "FROM queries LIMIT 1").first()
    assert (r.a, r.b) == (codecs["SQ8"].code_size, codecs["PCA32,SQ8"].code_size)


def test_nulls_give_nulls(tables):
    r = tables.sql("SELECT emb_encode(CAST(NULL AS array<float>)) AS e, emb_decode(CAST(NULL AS binary)) AS d, "
                   "emb_score(embedding, CAST(NULL AS binary)) AS s FROM queries LIMIT 1").first()
    assert r.e is None and r.d is None and r.s is None


VEC = "array_repeat(CAST(0.05 AS float), 384)"  # one-row queries: failing tasks are retried, keep them tiny


@pytest.mark.parametrize("query", [
    "SELECT emb_decode(X'0102')",
    f"SELECT emb_score({VEC}, X'0102')",
    f"SELECT emb_sim(emb_encode({VEC}), X'0102')",
])
def test_wrong_code_size_names_expected_and_actual(tables, sq8, query):
    with pytest.raises(Exception, match=rf"wrong code size: expected {sq8.code_size} bytes, got 2"):
        tables.sql(query).collect()


def test_bad_vectors_in_sql(tables):
    with pytest.raises(Exception, match=r"emb_encode argument 1', row 0: wrong length: expected 384, got 2"):
        tables.sql("SELECT emb_encode(array(CAST(1 AS float), CAST(2 AS float)))").collect()
    with pytest.raises(Exception, match="NaN in vector"):
        tables.sql(f"SELECT emb_score(array_repeat(CAST('NaN' AS float), 384), emb_encode({VEC}))").collect()


def test_prefix_must_be_an_identifier(spark, sq8):
    with pytest.raises(ValueError, match="prefix must be a SQL identifier"):
        register_udfs(spark, sq8, prefix="bad-prefix")
