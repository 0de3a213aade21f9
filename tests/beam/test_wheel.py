"""Ship to real runners: a wheel built from this tree, installed into a fresh venv with its
dependencies from the index, runs the Beam example on the multi-process DirectRunner from a
directory outside the source tree, so the SDK workers import the installed package.

Slow by nature (about a minute, nearly all of it pip): the venv is built once per session.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("embcompress", "spark_udfs", "beam_transforms")


def _run(args, **kwargs) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=900, **kwargs)
    assert out.returncode == 0, f"{args[:3]} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel of this tree and the ``beam`` extra's dependencies."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"  # a clean copy: building in the tree would leave (and reuse) a build/ folder there
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in PACKAGES:
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--quiet", "-w", str(root / "dist")])
    (wheel,) = (root / "dist").glob("embcompress-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[beam]"], cwd=root)
    return venv


def test_the_wheel_holds_every_module_and_the_demo_data(installed):
    site = _run([str(installed / "bin" / "python"), "-c",
                 "import beam_transforms, embcompress.datasets as d; print(beam_transforms.__file__); "
                 "print(d.DEMO_PATH.exists())"], cwd=installed.parent).split()
    assert Path(site[0]).is_relative_to(installed) and site[1] == "True"
    for name in PACKAGES:
        sources = {p.relative_to(REPO) for p in (REPO / name).rglob("*.py")}
        package_root = Path(site[0]).parents[1]
        assert {p.relative_to(package_root) for p in (package_root / name).rglob("*.py")} == sources


def test_the_example_runs_on_multi_process_workers_from_the_installed_wheel(installed, tmp_path):
    work = tmp_path / "elsewhere"  # no source tree on sys.path: cwd outside it, PYTHONPATH unset
    work.mkdir()
    shutil.copy(REPO / "examples" / "beam_compress_parquet.py", work)
    out = _run([str(installed / "bin" / "python"), "beam_compress_parquet.py", "--output", str(work / "out" / "part"),
                "--spec", "SQ8", "--sample-size", "500", "--artifact", str(work / "codec.ecz"),
                "--direct_running_mode", "multi_processing", "--direct_num_workers", "2"], cwd=work)
    assert "wrote 2,000 rows" in out and "SQ8 codes" in out
    written = sum(pq.ParquetFile(f).metadata.num_rows for f in (work / "out").glob("part-*.parquet"))
    assert written == 2000 and (work / "codec.ecz").exists()
