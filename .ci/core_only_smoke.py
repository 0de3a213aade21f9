"""Run in a venv holding `pip install .` only: the core works with numpy, faiss-cpu and pyarrow alone.

Checks that no engine, plotting or progress-bar package came with the core, then fits,
encodes, decodes and runs the CLI's fit/encode/decode on the shipped demo table.
"""
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow as pa

import embcompress as ec
from embcompress.datasets import DEMO_PATH, load_demo, matrix

absent = [m for m in ("pyspark", "apache_beam", "matplotlib", "tqdm", "pandas") if importlib.util.find_spec(m)]
assert not absent, f"the core install pulled in {absent}"
x = matrix(load_demo())
codec = ec.fit("PCA64,SQ8", x[:1500], seed=0)
codes = codec.encode(x[1500:])
assert codes.shape == (len(x) - 1500, 64) and codec.decode(codes).shape == (len(x) - 1500, x.shape[1])
with tempfile.TemporaryDirectory() as tmp:
    run = lambda *a: subprocess.run([sys.executable, "-m", "embcompress.cli", *map(str, a)], check=True)  # noqa: E731
    run("fit", DEMO_PATH, "--column", "embedding", "--spec", "PCA64,SQ8", "-o", os.path.join(tmp, "c.ecz"))
    run("encode", DEMO_PATH, "--codec", os.path.join(tmp, "c.ecz"), "--column", "embedding",
        "-o", os.path.join(tmp, "out.parquet"), "--drop-input")
    run("decode", os.path.join(tmp, "out.parquet"), "--codec", os.path.join(tmp, "c.ecz"),
        "-o", os.path.join(tmp, "back.parquet"))
    gone = subprocess.run([sys.executable, "-m", "embcompress.cli", "evaluate", DEMO_PATH, "--column", "embedding",
                           "--report", os.path.join(tmp, "r")], capture_output=True, text=True)
    assert gone.returncode == 1 and "pip install 'embcompress[report]'" in gone.stderr, gone.stderr
print(f"core-only install OK: embcompress {ec.__version__}, pyarrow {pa.__version__}, numpy {np.__version__}")
