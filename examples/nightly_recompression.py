"""Three nights of a feature table's nightly re-compression, printing each night's run summary.

    .venv/bin/python examples/nightly_recompression.py                  # Beam DirectRunner
    .venv/bin/python examples/nightly_recompression.py --engine spark   # local Spark
    .venv/bin/python examples/nightly_recompression.py --engine local   # plain Python

Night 1 writes three daily partitions (rows of the shipped demo table) and fits codec v1;
night 2 adds three more like them, which are only encoded; night 3 adds three whose
embeddings are rotated (as after an embedding-model change): drift is detected, v2 is
fitted and published, and the table is re-encoded (``--reencode new`` keeps the old
partitions on v1). A fourth run finds nothing to do. Then the table is read back.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # spark_udfs / beam_transforms from this checkout

from embcompress import nightly
from embcompress.datasets import load_demo, matrix
from embcompress.reader import open_compressed

ROWS = 200
DAYS = {1: ["2024-01-01", "2024-01-02", "2024-01-03"], 2: ["2024-01-04", "2024-01-05", "2024-01-06"],
        3: ["2024-01-07", "2024-01-08", "2024-01-09"]}


def add_night(table: Path, night: int, x: np.ndarray, order: np.ndarray) -> None:
    """Write night ``night``'s partitions: id, embedding, one other feature."""
    rotation = np.linalg.qr(np.random.default_rng(0).standard_normal((x.shape[1],) * 2))[0].astype(np.float32)
    for i, day in enumerate(DAYS[night]):
        ids = order[((night - 1) * 3 + i) * ROWS:][:ROWS]
        vectors = x[ids] @ rotation if night == 3 else x[ids]
        folder = table / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"id": ids.astype(np.int64),
                                 "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), x.shape[1]),
                                 "clicks": pa.array(ids % 17, pa.int32())}), folder / "part-00000.parquet")


def runner(engine: str):
    """A function running one night with ``engine``."""
    if engine == "local":
        return nightly.recompress_local
    if engine == "spark":
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), sys.path[0]) if p)
        from pyspark.sql import SparkSession

        from spark_udfs import recompress

        spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return lambda *args, **kwargs: recompress(spark, *args, **kwargs)
    import apache_beam as beam

    from beam_transforms import Recompress

    def run(*args, **kwargs):
        transform = Recompress(*args, **kwargs)
        with beam.Pipeline() as p:
            p | transform
        with open(transform.summary_path) as f:
            return json.load(f)
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["beam", "spark", "local"], default="beam")
    parser.add_argument("--spec", default="PCA32,SQ8")
    parser.add_argument("--reencode", choices=list(nightly.POLICIES), default="all")
    parser.add_argument("--workdir", help="where the table, output and registry go (default: a new temp dir)")
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="embcompress_nightly_"))
    table, registry = work / "features", work / "codecs"
    x = matrix(load_demo())
    order = np.random.default_rng(7).permutation(len(x))
    run = runner(args.engine)
    for night in (1, 2, 3, 4):
        if night in DAYS:
            add_night(table, night, x, order)
        summary = run(str(table), "embedding", str(registry), "items", spec=args.spec, partition_col="date",
                      sample_size=10_000, reencode=args.reencode)
        print(f"\n=== night {night} ({args.engine}): {summary['message']} ===")
        print(json.dumps(summary, indent=1))
    reader = open_compressed(nightly.default_output(table))
    print(f"\n{reader}\nversions by partition: {reader.versions}")
    ids, _sims = reader.search(x[order[:2]], k=3)
    print(f"top-3 ids of two stored rows searched across versions: {ids.tolist()}")


if __name__ == "__main__":
    main()
