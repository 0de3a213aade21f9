"""Readers over a table whose partitions carry codec versions 1 and 2 decode and score each with its own codec."""
import numpy as np
import pyarrow as pa
import pytest

from embcompress.reader import open_compressed
from embcompress.registry import Registry

from ..topk import assert_same_topk
from .conftest import NIGHTS, Scenario, run


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    s = Scenario(tmp_path_factory.mktemp("mixed"))
    for night in (1, 2, 3):
        s.add_night(night)
        run("local", None, s, reencode="new")
    return s


def by_id(table: pa.Table) -> pa.Table:
    return table.sort_by("id")


def test_partitions_carry_two_versions(mixed):
    reader = open_compressed(mixed.output)
    assert reader.versions == {**{v: 1 for v in NIGHTS[1] + NIGHTS[2]}, **{v: 2 for v in NIGHTS[3]}}
    assert "versions=[1, 2]" in repr(reader)


def test_decode_uses_each_partition_codec(mixed):
    reader, registry = open_compressed(mixed.output), Registry(mixed.registry)
    decoded = reader.read(decode=True)
    for value, (ids, x) in mixed.rows.items():
        codec = registry.get("items", reader.versions[value])
        part = decoded.filter(pa.compute.equal(decoded["date"], value))
        np.testing.assert_array_equal(part["id"].to_numpy(), ids)
        got = np.stack(part["embedding"].to_numpy(zero_copy_only=False))
        np.testing.assert_array_equal(got, codec.decode(codec.encode(x)))


def test_search_merges_partitions_scored_by_their_own_codec(mixed):
    reader = open_compressed(mixed.output)
    decoded = reader.read(decode=True)
    db = np.stack(decoded["embedding"].to_numpy(zero_copy_only=False))
    ids = decoded["id"].to_numpy()
    queries = np.concatenate([mixed.rows[NIGHTS[1][0]][1][:3], mixed.rows[NIGHTS[3][0]][1][:3]])
    exact = queries @ db.T  # asymmetric inner product with each row's reconstruction
    want = np.argsort(-exact, axis=1, kind="stable")[:, :11]  # one beyond the cut, for ties across it
    got_ids, got_sims = reader.search(queries, k=10)
    assert_same_topk(got_ids, got_sims, ids[want], np.take_along_axis(exact, want, 1), rtol=1e-4, atol=1e-5,
                     what="CompressedTable.search against exact scores of the reconstructions")


def test_spark_reader_matches(mixed, spark):
    from spark_udfs import read_compressed
    from spark_udfs._session import to_arrow

    want = by_id(open_compressed(mixed.output).read(decode=True))
    got = by_id(to_arrow(read_compressed(spark, str(mixed.output), decode=True)))
    assert got["id"].equals(want["id"]) and got["date"].equals(want["date"])
    np.testing.assert_array_equal(np.stack(got["embedding"].to_numpy(zero_copy_only=False)),
                                  np.stack(want["embedding"].to_numpy(zero_copy_only=False)))
    codes = to_arrow(read_compressed(spark, str(mixed.output)).select("embedding_code"))["embedding_code"]
    assert {len(c) for c in codes.to_pylist()} == {open_compressed(mixed.output).file_codec(
        open_compressed(mixed.output).files()[0]).code_size}


def test_beam_reader_matches(mixed):
    beam = pytest.importorskip("apache_beam")
    from apache_beam.testing.util import assert_that, equal_to

    from beam_transforms import ReadCompressed

    want = open_compressed(mixed.output).read(decode=True).to_pylist()
    expected = [(r["id"], r["date"], tuple(r["embedding"])) for r in want]
    with beam.Pipeline() as p:
        rows = (p | ReadCompressed(str(mixed.output), decode=True)
                | beam.FlatMap(lambda t: [(r["id"], r["date"], tuple(r["embedding"])) for r in t.to_pylist()]))
        assert_that(rows, equal_to(expected))


def test_reader_explains_a_missing_table(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a nightly output table"):
        open_compressed(tmp_path)
