"""The installed `embcompress` console script, run as a real subprocess."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _script():
    found = Path(sys.executable).parent / "embcompress"
    return str(found) if found.exists() else shutil.which("embcompress")


@pytest.mark.skipif(_script() is None, reason="the embcompress console script is not installed (pip install -e .)")
def test_console_script_fits_and_fails_cleanly(table64, tmp_path):
    out = tmp_path / "c.ecz"
    ok = subprocess.run([_script(), "fit", str(table64), "--spec", "SQ8", "-o", str(out)], capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert out.exists() and "wrote" in ok.stdout
    bad = subprocess.run([_script(), "encode", str(table64), "--column", "nope", "--codec", str(out), "-o",
                          str(tmp_path / "o.parquet")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert "available columns: id, text, embedding, score" in bad.stderr
