"""Spark's sample of files on s3:// (read with pyarrow on the executors, no S3A connector) draws
the same rows as its sample of a plain local Parquet read of the same files."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embcompress import datasets, storage

DIM = 16


def test_sample_files_on_s3_matches_a_local_read(spark_s3, s3_bucket, tmp_path, make_low_rank):
    from spark_udfs import read_parquet
    from spark_udfs.sampling import sample_files, sample_vectors

    x = make_low_rank(3000, DIM, seed=9)
    local, remote = [], []
    for i in range(3):
        rows = slice(1000 * i, 1000 * (i + 1))
        table = pa.table({"id": np.arange(3000)[rows],
                          "embedding": pa.FixedSizeListArray.from_arrays(pa.array(x[rows].ravel()), DIM)})
        name = f"day={i}/part-0.parquet"
        (tmp_path / f"day={i}").mkdir()
        pq.write_table(table, tmp_path / name, row_group_size=250)
        fs, inner = storage.resolve(f"{s3_bucket}/t/{name}")
        pq.write_table(table, inner, filesystem=fs, row_group_size=250)
        local.append(str(tmp_path / name))
        remote.append(f"{s3_bucket}/t/{name}")
    on_s3 = sample_files(spark_s3, remote, "embedding", 500, seed=3)
    on_disk = sample_vectors(read_parquet(spark_s3, *local), "embedding", 500, seed=3)
    assert len(on_s3) == 500
    np.testing.assert_array_equal(datasets.matrix(pa.table({"embedding": on_s3})),
                                  datasets.matrix(pa.table({"embedding": on_disk})))
