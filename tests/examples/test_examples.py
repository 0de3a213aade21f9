"""Smoke tests: every example runs on the shipped data and exits cleanly."""
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("script, args, expect", [
    ("spark_etl_step.py", ["--spec", "SQ8"], "embedding_code"),
    ("spark_sql_join.py", [], "score"),
    ("beam_compress_parquet.py", ["--spec", "SQ8", "--sample-size", "1000"], "wrote 2,000 rows in"),
    ("beam_etl_step.py", ["--spec", "SQ8"], "2000 rows"),
    ("nightly_recompression.py", ["--engine", "local"], "nothing to do"),
])
def test_example_runs(script, args, expect, tmp_path):
    if script in ("beam_compress_parquet.py", "beam_etl_step.py"):
        (tmp_path / "out").mkdir()
        args = args + ["--output", str(tmp_path / "out" / "part")]
    if script == "nightly_recompression.py":
        args = args + ["--workdir", str(tmp_path)]
    if script == "spark_etl_step.py":
        args = args + ["--output", str(tmp_path / "etl")]
    run = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert expect in run.stdout
