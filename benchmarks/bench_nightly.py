"""Nightly job benchmark: a first run (fit + encode every partition) against a rerun with nothing new.

The table is ``--copies`` noisy copies of the real dev set (15,559 x 384, ../shared/data; the
shipped 2,000-row demo table when it is absent) in ``--partitions`` daily partitions. For each engine:
the first run's time, the median of ``--reruns`` no-op reruns, their ratio (target: under
10%) and how many table files the reruns touched (target: none; only ``_runs/`` summaries
are added). The Spark session is started before timing; its start-up is not counted.

``--stores local,s3`` runs every engine on the local disk and on an S3-compatible server:
moto's standalone server, started here in its own process on 127.0.0.1 (the one the tests
use), with the input table, the Delta output and the registry in one bucket. Each row gives
the first run's rows/s and the 1-minute load average when it finished (a shared machine).
Each engine first runs the job once untimed on the local table (``--warmup 0`` to skip), so
the first store timed does not pay one-off costs (Spark's first Python workers, imports).

    .venv/bin/python benchmarks/bench_nightly.py [--engines local,spark,beam] [--stores local,s3] [--spec PCA64,SQ8]
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
import pyarrow.fs as pafs  # noqa: E402 -- after the path and environment set-up above
import pyarrow.parquet as pq  # noqa: E402 -- after the path and environment set-up above

from embcompress import datasets, nightly, storage  # noqa: E402 -- after the path and environment set-up above


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
        return json.loads(storage.read_bytes(transform.summary_path))
    return run


def table_files(output):
    """``{path: mtime}`` of every file of the output table (local or on S3) except run summaries."""
    fs, inner = storage.resolve(str(output))
    infos = fs.get_file_info(pafs.FileSelector(inner, recursive=True, allow_not_found=True))
    return {i.path: i.mtime for i in infos if i.type == pafs.FileType.File and f"/{nightly.RUNS}/" not in i.path}


def start_s3() -> tuple:
    """moto's S3 server in its own process on 127.0.0.1, a bucket on it, and the environment a
    user would set for it (test credentials, region, ``AWS_ENDPOINT_URL``): ``(process, s3://bucket)``."""
    import boto3

    from tests.s3server import start_moto_server

    proc, url = start_moto_server()
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                       "AWS_ENDPOINT_URL": url})
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(name, None)
    boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="bench-nightly")
    return proc, "s3://bench-nightly"


def upload(local: Path, uri: str) -> None:
    """Copy the local table folder to ``uri``, file by file."""
    fs, inner = storage.resolve(uri)
    for path in sorted(local.rglob("*.parquet")):
        pafs.copy_files(str(path), f"{inner}/{path.relative_to(local).as_posix()}", destination_filesystem=fs)


def bench(run, engine, table, work, spec, reruns):
    registry, output = f"{work}/codecs-{engine}", f"{work}/out-{engine}"
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
    parser.add_argument("--stores", default="local", help="local, s3 (moto's server on 127.0.0.1), or both")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per engine before timing")
    args = parser.parse_args()
    stores = args.stores.split(",")
    work = Path(tempfile.mkdtemp(prefix="embcompress_bench_nightly_"))
    server = None
    try:
        rows = write_table(work / "features", args.partitions, args.copies)
        roots = {"local": str(work)}
        if "s3" in stores:  # before any Spark session: its JVM and Python workers inherit the environment
            server, bucket = start_s3()
            upload(work / "features", f"{bucket}/features")
            roots["s3"] = bucket
        print(f"{rows:,} rows in {args.partitions} partitions, spec {args.spec}, median of {args.reruns} reruns, "
              f"{os.cpu_count()} CPUs")
        print("| engine | store | first run (s) | rows/s | rows encoded | no-op rerun (s) | rerun / first "
              "| table files touched | load avg (1 min) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for engine in args.engines.split(","):
            run = engine_runner(engine)
            for i in range(args.warmup):
                warm = f"{work}/warmup-{i}"
                run(f"{work}/features", "embedding", f"{warm}/codecs", "items", spec=args.spec, partition_col="date",
                    sample_size=20_000, output_path=f"{warm}/out-{engine}")
            for store in stores:
                root = roots[store]
                first, first_s, rerun_s, touched = bench(run, engine, f"{root}/features", root, args.spec,
                                                         args.reruns)
                print(f"| {engine} | {store} | {first_s:.2f} | {first['rows_encoded'] / first_s:,.0f} | "
                      f"{first['rows_encoded']:,} | {rerun_s:.3f} | {rerun_s / first_s:.1%} | {touched} | "
                      f"{os.getloadavg()[0]:.1f} |", flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
