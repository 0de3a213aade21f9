"""No false drift alarm end to end: two random halves of the real dev set as two nights."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embcompress import datasets, nightly

PARTS = 4


@pytest.fixture(scope="module")
def halves_table(tmp_path_factory, dev_dir):
    data = dev_dir
    table = pq.read_table(data / datasets.DEV_FILE, columns=["id", "embedding"])
    order = np.random.default_rng(0).permutation(table.num_rows)
    root = tmp_path_factory.mktemp("dev")
    nights = np.array_split(order, 2)
    for night, rows in enumerate(nights, 1):
        for i, part in enumerate(np.array_split(rows, PARTS)):
            folder = root / "features" / f"date=night{night}-{i}"
            folder.mkdir(parents=True)
            pq.write_table(table.take(pa.array(np.sort(part))), folder / "part-00000.parquet")
    return root


def recompress(engine, spark, *args, **kwargs):
    if engine == "spark":
        from spark_udfs import recompress as spark_recompress

        return spark_recompress(spark, *args, **kwargs)
    return nightly.recompress_local(*args, **kwargs)


@pytest.mark.parametrize("engine, spec", [("local", "SQ8"), ("local", "PCA64,SQ8"), ("spark", "SQ8")])
def test_second_half_is_no_drift(halves_table, engine, engine_spark, spec, tmp_path):
    features = halves_table / "features"
    staged = tmp_path / "features"
    staged.mkdir()
    args = {"spec": spec, "partition_col": "date", "sample_size": 10_000, "output_path": str(tmp_path / "out")}
    for night in (1, 2):
        for folder in sorted(features.glob(f"date=night{night}-*")):
            (staged / folder.name).symlink_to(folder)
        summary = recompress(engine, engine_spark, str(staged), "embedding", str(tmp_path / "codecs"), "dev", **args)
        assert summary["codec"]["version"] == 1
    assert summary["drift"]["decision"] == "ok", summary["drift"]["reasons"]
    assert summary["partitions"]["encoded"] == [f"night2-{i}" for i in range(PARTS)]
