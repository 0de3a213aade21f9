"""A SparkSession for one test module: started here, stopped after the module if it started it.

A session already running (e.g. tests/spark's) is reused; a module that needs task retries
(``local[n,attempts]``) is skipped when the running session has none.
"""
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = str(Path(__file__).resolve().parents[2])


@contextmanager
def module_session(master: str):
    pytest.importorskip("pyspark", reason="needs pyspark (pip install -e '.[spark]')")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), REPO) if p)
    if REPO not in sys.path:
        sys.path.append(REPO)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and "," in master and "," not in active.sparkContext.master:
        pytest.skip(f"needs task retries ({master}), but a SparkSession with master "
                    f"{active.sparkContext.master} is already running")
    session = (SparkSession.builder.master(master).appName("embcompress-reliability")
               .config("spark.sql.shuffle.partitions", "2").config("spark.default.parallelism", "2")
               .config("spark.ui.enabled", "false").config("spark.driver.memory", "1g").getOrCreate())
    session.sparkContext.setLogLevel("OFF")
    try:
        yield session
    finally:
        if active is None:
            session.stop()
