"""``docs/benchmarks.md`` is written by ``make bench`` (``benchmarks/bench_report.py``), never by hand.

The writer runs here on canned script outputs (no benchmark runs): the header states the date,
the machine, the load and the command; each benchmark gets its own section with every table it
printed; a failed one says so with its log path; the summary of targets closes the file. The
committed report must start with the generated marker, so a hand edit that drops it shows up.
"""
from __future__ import annotations

import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_report  # noqa: E402
import run_all  # noqa: E402
from bench_report import BenchRun, RunContext, render_report  # noqa: E402

CLI_STDOUT = """PCA128,SQ8, 384-d, 2 cores, load average 1.2
  200,000 rows: 1.0 s, 200,000 rows/s, peak RSS 500 MB
  1,000,000 rows: 5.0 s, 200,000 rows/s, peak RSS 550 MB
raw Codec.encode in memory: 800,000 rows/s

| rows | row groups | input GB | seconds | rows/s | vs raw encode | peak RSS MB |
|---|---|---|---|---|---|---|
| 200,000 | 4 | 0.31 | 1.0 | 200,000 | 0.25x | 500 |
| 1,000,000 | 20 | 1.54 | 5.0 | 200,000 | 0.25x | 550 |

Peak RSS 1,000,000 / 200,000 rows: 1.10 (target <= 1.5)
"""
# Two tables, the first with a caption line right above it, the second after progress lines.
BEAM_STDOUT = """fitting PQ48 on the first 10,000 rows ...
modes at 200,000 rows:
| run | rows/s |
|---|---|
| raw faiss sa_encode, 1 thread(s) | 100,000 |

best 2-worker mode: multi_threading, 0.60x raw faiss on 2 threads (target >= 0.6x)
  per-row: 2,000 rows in 1.0 s, 2,000 rows/s

| pipeline | rows | rows/s |
|---|---|---|
| CompressParquet, DirectRunner, 1 process (best of 2) | 200,000 | 90,000 |

CompressParquet (1 process, 1 worker) / per-row: 45.0x (target >= 3x)
"""
CORE_PARTIAL = """faiss 1.15.1, numpy 2.4.6, 15559 rows x 384
| SQ8 | 384 | 4x | 0.996 |
"""
CONTEXT = RunContext(started=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc),
                     command="python benchmarks/run_all.py --only cli beam core",
                     machine=["CPU: Test CPU 9000, 2 cores, 8.0 GiB RAM", "OS: Linux", "Python: 3.11.7 (CPython)",
                              "Libraries: faiss 1.15.1, numpy 2.4.6"],
                     load_start=(1.0, 2.0, 3.0), load_end=(4.0, 5.0, 6.0), not_run=["spark"])
RUNS = [BenchRun("cli", "python benchmarks/bench_cli_stream.py --rows 200000,1000000", 95.4, CLI_STDOUT, True,
                 log="/tmp/logs/cli.log"),
        BenchRun("beam", "python benchmarks/bench_beam.py --rows 200000 --skip-memory", 61.0, BEAM_STDOUT, True,
                 log="/tmp/logs/beam.log"),
        BenchRun("core", "python benchmarks/bench_core.py --reps 15", 420.2, CORE_PARTIAL, False,
                 error="timed out after 420 s", log="/tmp/logs/core.log")]
TARGETS = [run_all.Target("cli peak RSS 1M / 200k rows", 1.1, 1.5, higher_is_better=False),
           run_all.Target("core benchmark", None, 1, why="failed: see /tmp/logs")]
SUMMARY = f"{run_all.summary_table(TARGETS)}\n\n{run_all.targets_met(TARGETS)}."


@pytest.fixture(scope="module")
def report() -> str:
    return render_report(CONTEXT, RUNS, SUMMARY)


def section(report: str, name: str) -> str:
    """The text of ``## name`` up to the next second-level heading."""
    match = re.search(rf"^## {name}\n(.*?)(?=^## |\Z)", report, re.S | re.M)
    assert match, f"no section '## {name}'"
    return match[1]


def test_the_header_states_marker_date_machine_load_and_command(report):
    assert report.startswith(bench_report.GENERATED_MARKER + "\n")
    head = report.split("\n## ", 1)[0]
    for fact in ["do not edit it by hand", "- Date: 2026-01-02 03:04 UTC",
                 "- Command: `python benchmarks/run_all.py --only cli beam core`",
                 "- CPU: Test CPU 9000, 2 cores, 8.0 GiB RAM", "- Libraries: faiss 1.15.1, numpy 2.4.6",
                 "1.00 / 2.00 / 3.00 at the start, 4.00 / 5.00 / 6.00 at the end",
                 "- Benchmarks: cli, beam, core (not run this time: spark)", "(benchmark_methods.md)"]:
        assert fact in head


def test_one_section_per_benchmark_in_run_order(report):
    headings = re.findall(r"^## (.+)$", report, re.M)
    assert headings == ["cli", "beam", "core", "Summary of targets"]
    cli = section(report, "cli")
    assert "Command: `python benchmarks/bench_cli_stream.py --rows 200000,1000000`, wall time 95 s." in cli


def test_every_table_is_kept_with_its_caption_and_notes_but_not_progress_lines(report):
    cli, beam = section(report, "cli"), section(report, "beam")
    assert "| 1,000,000 | 20 | 1.54 | 5.0 | 200,000 | 0.25x | 550 |" in cli
    assert "raw Codec.encode in memory: 800,000 rows/s" in cli
    assert "PCA128,SQ8, 384-d, 2 cores" in cli  # the caption paragraph's unindented lines
    assert "Peak RSS 1,000,000 / 200,000 rows: 1.10 (target <= 1.5)" in cli
    assert "1,000,000 rows: 5.0 s" not in cli  # an indented progress line
    assert "| raw faiss sa_encode, 1 thread(s) | 100,000 |" in beam  # the first table, not only the last
    assert "| CompressParquet, DirectRunner, 1 process (best of 2) | 200,000 | 90,000 |" in beam
    assert "modes at 200,000 rows:" in beam
    assert beam.count("best 2-worker mode") == 1  # notes of one table, caption of the next: once
    assert "per-row: 45.0x (target >= 3x)" in beam
    assert "per-row: 2,000 rows in 1.0 s" not in beam


def test_loose_rows_printed_as_progress_are_left_out():
    """``bench_core.py`` prints each spec's row as it goes, then the whole table."""
    text = CORE_PARTIAL + "| SQ4 | 192 | 8x | 0.937 |\n\n| spec | bytes | ratio | recall |\n|---|---|---|---|\n" \
        "| SQ8 | 384 | 4x | 0.996 |\n| SQ4 | 192 | 8x | 0.937 |\n"
    [excerpt] = bench_report.table_excerpts(text)
    assert excerpt[0].startswith("faiss 1.15.1")
    assert sum(line.startswith("| SQ8") for line in excerpt) == 1


def test_a_failed_benchmark_keeps_its_section_with_reason_and_log(report):
    core = section(report, "core")
    assert "**FAILED**: timed out after 420 s. Full output: `/tmp/logs/core.log`." in core
    assert "wall time 420 s" in core


def test_the_summary_of_targets_closes_the_report(report):
    summary = section(report, "Summary of targets")
    assert summary.strip().startswith("| target | goal | measured | result | why, if missed |")
    assert "| cli peak RSS 1M / 200k rows | <= 1.5x | 1.1x | PASS | |" in summary
    assert "| core benchmark | >= 1x | not measured | MISS | failed: see /tmp/logs |" in summary
    assert report.rstrip().endswith("1 of 2 targets met.")


def test_no_python_blocks_that_the_docs_test_would_run(report):
    assert "```python" not in report


def test_run_all_writes_the_report_atomically(tmp_path, monkeypatch):
    """``run_all.main`` with the benchmark runs replaced by a canned one: the report lands whole."""
    monkeypatch.setattr(run_all, "run", lambda name, logs: (RUNS[0], TARGETS[:1]))
    out = tmp_path / "docs" / "benchmarks.md"
    run_all.main(["--only", "cli", "--logs", str(tmp_path / "logs"), "--report", str(out)])
    text = out.read_text()
    assert text.startswith(bench_report.GENERATED_MARKER)
    assert "## cli\n" in text and "(not run this time: core, spark, beam)" in text
    assert [p.name for p in out.parent.iterdir()] == ["benchmarks.md"]  # no temporary file left


def test_no_report_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(run_all, "run", lambda name, logs: (RUNS[0], TARGETS[:1]))
    out = tmp_path / "benchmarks.md"
    run_all.main(["--only", "cli", "--logs", str(tmp_path / "logs"), "--report", str(out), "--no-report"])
    assert not out.exists()


def test_the_machine_description_names_no_host():
    text = "\n".join(bench_report.machine_description())
    host = platform.node()
    assert text.startswith("CPU: ") and "Python: " in text
    if len(host) >= 4:
        assert not re.search(rf"\b{re.escape(host)}\b", text)


def test_the_committed_report_is_generated():
    text = (REPO / "docs" / "benchmarks.md").read_text()
    assert text.startswith(bench_report.GENERATED_MARKER + "\n"), \
        "docs/benchmarks.md is written by `make bench`; regenerate it instead of editing it"


def test_a_failed_benchmark_keeps_the_tables_it_printed_before_it_stopped():
    crashed = BenchRun("cli", "python benchmarks/bench_cli_stream.py", 3.0, CLI_STDOUT, False,
                       error="exit status 1: MemoryError", log="/tmp/logs/cli.log")
    text = bench_report.benchmark_section(crashed)
    assert "**FAILED**: exit status 1: MemoryError. Full output: `/tmp/logs/cli.log`." in text
    assert "Tables printed before it stopped:" in text
    assert "| 200,000 | 4 | 0.31 | 1.0 | 200,000 | 0.25x | 500 |" in text
