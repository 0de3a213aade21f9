"""CLI encode of a directory of Parquet files: rows/s on the local disk against S3.

The S3 store is moto's standalone server on 127.0.0.1 (the one the tests start), so the
figure measures the object-store path (multipart uploads, server-side copies, ranged reads
over HTTP) without a network; a real bucket adds its own latency and bandwidth. Each run is
``embcompress encode IN/ --codec C -o OUT/`` in a fresh subprocess, given the store through
the environment only (``AWS_ENDPOINT_URL`` and credentials).

    .venv/bin/python benchmarks/bench_cli_stores.py [--files 4] [--rows 25000] [--dim 384] [--spec PCA128,SQ8]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import embcompress as ec  # noqa: E402
from embcompress import storage  # noqa: E402

ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
       "AWS_EC2_METADATA_DISABLED": "true"}


def write_inputs(root: str, files: int, rows: int, dim: int, seed: int = 0) -> np.ndarray:
    """``files`` Parquet files of ``rows`` seeded unit vectors under ``root/in/``; returns a fit sample."""
    rng = np.random.default_rng(seed)
    sample = None
    for i in range(files):
        x = rng.standard_normal((rows, dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        sample = x[:5000] if sample is None else sample
        table = pa.table({"id": pa.array(np.arange(i * rows, (i + 1) * rows, dtype=np.int64)),
                          "embedding": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), dim)})
        out = storage.AtomicOutput(storage.join(root, "in", f"part-{i:03d}.parquet"))
        pq.write_table(table, out.stream, row_group_size=25_000)
        out.commit()
    return sample


def encode(root: str, env: dict) -> float:
    argv = [sys.executable, "-m", "embcompress.cli", "encode", storage.join(root, "in") + "/", "--codec",
            storage.join(root, "c.ecz"), "-o", storage.join(root, "out") + "/", "--drop-input"]
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"encode failed on {root}: {done.stderr.strip()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rows", type=int, default=25_000, help="rows per file")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--spec", default="PCA128,SQ8")
    args = parser.parse_args()
    import logging

    from moto.server import ThreadedMotoServer

    import boto3

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = dict(os.environ, **ENV, AWS_ENDPOINT_URL=f"http://{host}:{port}", PYTHONPATH=str(ROOT))
    os.environ.update(ENV, AWS_ENDPOINT_URL=env["AWS_ENDPOINT_URL"])
    boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket="bench")
    total = args.files * args.rows
    try:
        with tempfile.TemporaryDirectory() as local:
            for name, root in (("local disk", local), ("loopback S3", "s3://bench/run")):
                sample = write_inputs(root, args.files, args.rows, args.dim)
                ec.fit(args.spec, sample).save(storage.join(root, "c.ecz"))
                seconds = encode(root, env)
                print(f"{name:12s} {total:,} rows x {args.dim} in {args.files} files, {args.spec}: "
                      f"{seconds:.1f} s, {total / seconds:,.0f} rows/s (CLI process, start-up included)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
