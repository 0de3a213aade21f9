"""CLI streaming encode: rows/s and peak RSS of ``embcompress encode`` at 200k and 1M rows.

Inputs come from ``make_big_parquet.py`` (seeded, 384-d, 50,000-row row groups) and are
cached in the work directory, as is the codec (``embcompress fit`` on a 20,000-row sample).
Each encode is a fresh subprocess; its peak RSS is ``ru_maxrss`` from ``os.wait4`` on that
child alone. The raw baseline is ``Codec.encode`` on 200,000 rows already in memory.

    .venv/bin/python benchmarks/bench_cli_stream.py [--rows 200000,1000000] [--spec PCA128,SQ8]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
WORK = Path(os.environ.get("EMBCOMPRESS_BENCH_DIR", "/tmp/embcompress_bench_cli"))


def run_child(argv) -> tuple[float, float]:
    """Run ``argv``; return (wall seconds, peak RSS in MB of that child alone).

    The child is started through ``/usr/bin/time -f %M`` when it exists: Linux carries a
    process's peak RSS across fork and exec, so a child forked straight from this (larger)
    process would report at least this process's RSS. Without it, ``wait4`` is used and this
    script measures the CLI runs before it loads anything big.
    """
    timer = ["/usr/bin/time", "-f", "maxrss_kb=%M"] if os.path.exists("/usr/bin/time") else []
    start = time.perf_counter()
    proc = subprocess.Popen(timer + list(map(str, argv)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    if code != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed ({code}):\n{out}\n{err[-2000:]}")
    reported = [line for line in err.splitlines() if line.startswith("maxrss_kb=")]
    kb = int(reported[-1].split("=")[1]) if reported else usage.ru_maxrss
    return seconds, kb / 1024


def ensure_input(rows: int) -> Path:
    path = WORK / f"big_{rows}.parquet"
    if not path.exists():
        print(f"writing {rows:,}-row input (cached at {path}) ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "make_big_parquet.py"), "-o", str(path), "--rows", str(rows)],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def ensure_codec(spec: str, data: Path) -> Path:
    path = WORK / f"codec_{spec.replace(',', '_')}.ecz"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "embcompress.cli", "fit", str(data), "--spec", spec, "--sample",
                        "20000", "-o", str(path)], check=True, stdout=subprocess.DEVNULL)
    return path


def raw_rate(codec_path: Path, data: Path) -> float:
    """rows/s of Codec.encode on the first 200,000 rows, in memory (best of 3)."""
    import embcompress as ec
    from embcompress.parquet_io import read_matrix

    codec = ec.load(codec_path)
    x = read_matrix(data, "embedding", max_rows=200_000)
    best = min(_timed(codec.encode, x) for _ in range(3))
    return len(x) / best


def _timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="200000,1000000", help="comma-separated row counts")
    parser.add_argument("--spec", default="PCA128,SQ8")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    sizes = sorted(int(r) for r in args.rows.split(","))
    inputs = {n: ensure_input(n) for n in sizes}
    codec_path = ensure_codec(args.spec, inputs[sizes[0]])
    print(f"{args.spec}, 384-d, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    results = []
    for n in sizes:
        out = WORK / f"codes_{n}.parquet"
        seconds, rss = run_child([sys.executable, "-m", "embcompress.cli", "encode", str(inputs[n]), "--codec",
                                  str(codec_path), "-o", str(out), "--drop-input", "--overwrite"])
        meta = pq.ParquetFile(inputs[n]).metadata
        results.append((n, meta.num_row_groups, os.path.getsize(inputs[n]) / 1e9, seconds, n / seconds, rss))
        print(f"  {n:,} rows: {seconds:.1f} s, {n / seconds:,.0f} rows/s, peak RSS {rss:,.0f} MB", flush=True)
        out.unlink()
    raw = raw_rate(codec_path, inputs[sizes[0]])  # after the CLI runs: see run_child
    print(f"raw Codec.encode in memory: {raw:,.0f} rows/s\n")
    print("| rows | row groups | input GB | seconds | rows/s | vs raw encode | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for n, groups, gb, seconds, rate, rss in results:
        print(f"| {n:,} | {groups} | {gb:.2f} | {seconds:.1f} | {rate:,.0f} | {rate / raw:.2f}x | {rss:,.0f} |")
    if len(results) > 1:
        small, big = results[0], results[-1]
        print(f"\nPeak RSS {big[0]:,} / {small[0]:,} rows: {big[5] / small[5]:.2f} (target <= 1.5); "
              f"rows/s {big[0]:,} / {small[0]:,} rows: {big[4] / small[4]:.2f}")


if __name__ == "__main__":
    main()
