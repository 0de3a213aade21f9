"""Nightly job benchmark: a first run (fit + encode every partition) against a rerun with nothing new.

The table is ``--copies`` noisy copies of the real dev set (15,559 x 384, ../shared/data; the
shipped 2,000-row demo table when it is absent) in ``--partitions`` daily partitions. For each engine:
the first run's time, the median of ``--reruns`` no-op reruns, their ratio (target: under
10%) and how many table files the reruns touched (target: none; only ``_runs/`` summaries
are added). The Spark session is started before timing; its start-up is not counted.

    .venv/bin/python benchmarks/bench_nightly.py [--engines local,spark,beam] [--spec PCA64,SQ8] [--copies 4]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO))
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads must not spin on a shared 2-core box
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(REPO)) if p)

import numpy as np  # noqa: E402 -- after the path and environment set-up above
import pyarrow as pa  # noqa: E402 -- after the path and environment set-up above
import pyarrow.parquet as pq  # noqa: E402 -- after the path and environment set-up above

from embcompress import datasets, nightly  # noqa: E402 -- after the path and environment set-up above


def write_table(root: Path, partitions: int, copies: int) -> int:
    """``copies`` noisy copies (sigma 0.01, renormalized) of the dev set, in ``partitions`` daily partitions."""
    data = datasets.shared_data_dir()
    table = (pq.read_table(data / datasets.DEV_FILE, columns=["id", "embedding"]) if data
             else datasets.load_demo().select(["id", "embedding"]))
    x = datasets.matrix(table)
    rng = np.random.default_rng(0)
    big = np.concatenate([x + rng.normal(0, 0.01, x.shape).astype(np.float32) for _ in range(copies)])
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    for i, rows in enumerate(np.array_split(np.arange(len(big)), partitions)):
        folder = root / f"date=2024-01-{i + 1:02d}"
        folder.mkdir(parents=True)
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(big[rows].ravel()), big.shape[1])
        pq.write_table(pa.table({"id": rows.astype(np.int64), "embedding": vectors}), folder / "part-00000.parquet",
                       row_group_size=8192)
    return len(big)


def engine_runner(engine):
    if engine == "local":
        return nightly.recompress_local
    if engine == "spark":
        from pyspark.sql import SparkSession

        from spark_udfs import recompress

        spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        return lambda *a, **k: recompress(spark, *a, **k)
    import apache_beam as beam

    from beam_transforms import Recompress

    def run(*a, **k):
        transform = Recompress(*a, **k)
        with beam.Pipeline() as p:
            p | transform
        with open(transform.summary_path) as f:
            return json.load(f)
    return run


def table_files(output):
    """``{path: mtime_ns}`` of every file of the output table except run summaries."""
    return {os.path.join(d, n): os.stat(os.path.join(d, n)).st_mtime_ns
            for d, _, names in os.walk(output) for n in names if f"/{nightly.RUNS}" not in d}


def bench(engine, table, work, spec, reruns):
    run = engine_runner(engine)
    registry, output = work / f"codecs-{engine}", work / f"out-{engine}"
    args = {"spec": spec, "partition_col": "date", "sample_size": 20_000, "output_path": str(output)}
    t = time.perf_counter()
    first = run(str(table), "embedding", str(registry), "items", **args)
    first_s = time.perf_counter() - t
    before = table_files(output)
    times = []
    for _ in range(reruns):
        t = time.perf_counter()
        again = run(str(table), "embedding", str(registry), "items", **args)
        times.append(time.perf_counter() - t)
        assert again["status"] == "nothing to do", again["message"]
    after = table_files(output)
    touched = sum(after.get(p) != m for p, m in before.items()) + len(set(after) - set(before))
    return first, first_s, statistics.median(times), touched


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="local,spark,beam")
    parser.add_argument("--spec", default="PCA64,SQ8")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--reruns", type=int, default=3)
    parser.add_argument("--copies", type=int, default=4, help="noisy copies of the dev set (4: 62,236 rows)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embcompress_bench_nightly_"))
    try:
        rows = write_table(work / "features", args.partitions, args.copies)
        print(f"{rows:,} rows in {args.partitions} partitions, spec {args.spec}, median of {args.reruns} reruns")
        print("| engine | first run (s) | rows encoded | no-op rerun (s) | rerun / first | table files touched |")
        print("|---|---|---|---|---|---|")
        for engine in args.engines.split(","):
            first, first_s, rerun_s, touched = bench(engine, work / "features", work, args.spec, args.reruns)
            print(f"| {engine} | {first_s:.2f} | {first['rows_encoded']:,} | {rerun_s:.3f} | "
                  f"{rerun_s / first_s:.1%} | {touched} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
