"""Beam's CompressParquet on s3:// (the loopback S3 server): Beam's own FileSystems reach the
bucket through boto3, which takes the endpoint and credentials from the same environment."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embcompress as ec
from embcompress import storage
from embcompress.arrow import codes_from_arrow
from embcompress.parquet_io import result_record_path, verify_result

DIM = 32


def test_compress_parquet_on_s3(s3_bucket, make_low_rank):
    beam = pytest.importorskip("apache_beam", reason="the Beam transforms need apache-beam")
    pytest.importorskip("boto3", reason="Beam's S3 filesystem needs boto3")
    from beam_transforms import CompressParquet

    x = make_low_rank(300, DIM, seed=3)
    for i in range(2):
        rows = slice(150 * i, 150 * (i + 1))
        table = pa.table({"id": np.arange(300)[rows],
                          "embedding": pa.FixedSizeListArray.from_arrays(pa.array(x[rows].ravel()), DIM)})
        fs, inner = storage.resolve(f"{s3_bucket}/in/part-{i}.parquet")
        pq.write_table(table, inner, filesystem=fs)
    codec = ec.fit("SQ8", x)
    prefix = f"{s3_bucket}/out/enc"
    with beam.Pipeline() as p:
        p | CompressParquet(f"{s3_bucket}/in/*.parquet", prefix, "embedding", codec)
    record = verify_result(result_record_path(prefix))  # the commit point: rows in = rows out + rejected
    assert record["rows_in"] == record["rows_out"] == 300 and record["rows_rejected"] == 0
    got = pa.concat_tables([storage.open_parquet(f).read() for f in storage.list_parquet(f"{s3_bucket}/out")])
    got = got.sort_by("id")
    assert got["id"].to_pylist() == list(range(300))
    codes, _ = codes_from_arrow(got["embedding_code"], codec.code_size)
    np.testing.assert_array_equal(codes, codec.encode(x))
