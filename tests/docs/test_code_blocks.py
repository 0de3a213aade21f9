"""Every ```python block in README.md and docs/*.md runs, in order per file, like a notebook.

Each file runs in its own empty folder holding the shipped demo data where the blocks expect
their inputs (``docs/``, ``in/``, ``features/date=.../``), with the names the prose assumes:
``spark`` (the suite's session), ``sample``, ``x``, ``data``, ``queries``, ``queries_df``, and
the SQL view ``queries`` (id, embedding).
A block that cannot run here (an object store, a newer Spark, a fragment) is preceded by
``<!-- not run: reason -->``, and the reason must name what runs it instead.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embcompress.datasets import load_demo, matrix
from tests.conftest import dataframe_from_arrow

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- not run: (?P<reason>[^>]*?) -->\n)?```python\n(?P<code>.*?)```", re.S)


def blocks(path: Path) -> list:
    """``(code, reason it is not run or None)`` for each python block of ``path``."""
    return [(m["code"], m["reason"]) for m in BLOCK.finditer(path.read_text())]


RUNNABLE = [p for p in DOCS if any(reason is None for _, reason in blocks(p))]
# Relative paths in the docs mean the user's working folder. Spark resolves them against the
# JVM's folder, which the suite's shared session fixed at start, so they are made absolute here.
RELATIVE = re.compile(r'(?<!TempView\()(f?")((?:docs|in|out|features|codecs|docs_compressed|features_compressed)'
                      r'(?:/[^"]*)?'
                      r'|(?:docs|codec)\.ecz)"')


def anchored(code: str, folder: Path) -> str:
    return RELATIVE.sub(lambda m: f'{m[1]}{folder}/{m[2]}"', code)


def stage_inputs(folder: Path, table: pa.Table) -> None:
    """The inputs the documented jobs read, made from the shipped demo table."""
    for name, parts in (("docs", 1), ("in", 2)):
        (folder / name).mkdir()
        for i, part in enumerate(np.array_split(np.arange(table.num_rows), parts)):
            pq.write_table(table.take(pa.array(part)), folder / name / f"part-{i:05d}.parquet")
    for i, day in enumerate(["2024-01-01", "2024-01-02"]):
        (folder / "features" / f"date={day}").mkdir(parents=True)
        pq.write_table(table.slice(i * 600, 600).select(["id", "embedding"]),
                       folder / "features" / f"date={day}" / "part-00000.parquet")


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: str(p.relative_to(REPO)))
def test_blocks_run(path, spark_session, tmp_path, monkeypatch):
    table = load_demo()
    x = matrix(table)
    stage_inputs(tmp_path, table)
    monkeypatch.chdir(tmp_path)
    queries_df = dataframe_from_arrow(spark_session, table.slice(0, 5).select(["id", "embedding"]))
    queries_df.createOrReplaceTempView("queries")  # the user's query table the SQL examples join
    namespace = {"spark": spark_session, "sample": x[:1000], "x": x, "data": x, "queries": x[:5],
                 "queries_df": queries_df, "__name__": "__docs__"}
    for i, (code, reason) in enumerate(blocks(path)):
        if reason is not None:
            continue
        try:
            exec(compile(anchored(code, tmp_path), f"{path.name} block {i + 1}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{path.name}, python block {i + 1} fails: {exc!r}\n{code}") from exc


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_blocks_not_run_say_why_and_what_runs_them(path):
    for _, reason in blocks(path):
        if reason is not None:
            assert re.search(r"tests/|README", reason), f"{path.name}: 'not run: {reason}' names no test that runs it"


def test_the_readme_has_runnable_blocks():
    assert sum(reason is None for _, reason in blocks(REPO / "README.md")) >= 4
    assert os.path.exists(REPO / "docs" / "conventions.md")
