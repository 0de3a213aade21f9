"""Show that the suite can fail: plant one known bug at a time and check its tests go red.

Each mutant is a one-line change to the code under test (never to a test). For each, the tree
at HEAD is checked out into a temporary git worktree, the line is replaced, and the named tests
run there; a mutant the tests do not catch is reported and the script exits 1. ``make mutants``
runs it; docs/testing.md records the last run.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: tuple


MUTANTS = (
    Mutant("recall counts one truth id too many", "embcompress/protocol.py",
           "a, b = ids[:, :k], truth[:, :k]", "a, b = ids[:, :k], truth[:, :k + 1]",
           ("tests/cli/test_evaluate_numbers.py", "tests/core/test_protocol.py")),
    Mutant("exact search forgets the excluded self-matches", "embcompress/_scoring.py",
           "s[np.flatnonzero(hit), ex[hit] - start] = -np.inf",
           "s[np.flatnonzero(hit), ex[hit] - start] = s[np.flatnonzero(hit), ex[hit] - start]",
           ("tests/core/test_search.py", "tests/core/test_protocol.py", "tests/cli/test_evaluate_numbers.py")),
    Mutant("recommend breaks recall ties towards more bytes", "embcompress/recommend.py",
           'best = max(fits, key=lambda r: (r[recall_key], -r["bytes"], r["encode_rows_per_s"]))',
           'best = max(fits, key=lambda r: (r[recall_key], r["bytes"], r["encode_rows_per_s"]))',
           ("tests/cli/test_recommend.py::test_ties_go_to_fewer_bytes_then_faster_encode",)),
    Mutant("validation lets NaN rows through", "embcompress/_validation.py",
           "mask[suspect[has_nan | has_inf]] = True", "mask[suspect[has_inf]] = True",
           ("tests/core/test_validation.py", "tests/core/test_arrow.py")),
    Mutant("a lost registry race is not retried", "embcompress/registry.py",
           "            except VersionConflict:\n                continue",
           "            except VersionConflict:\n                raise",
           ("tests/core/test_registry.py",)),
    Mutant("the nightly commit appends instead of replacing partitions", "embcompress/delta_lake.py",
           'mode="overwrite" if filters else "append"', 'mode="append"',
           ("tests/nightly/test_delta.py",)),
    Mutant("Beam's exception handling gets our dead-letter dict", "beam_transforms/_errors.py",
           "            return error_record(element, column, reason, row)",
           "            return dead_letter(row_dict, column, reason)",
           ("tests/beam/test_exception_handling.py",)),
)


def run(mutant: Mutant, python: str) -> tuple:
    """``(caught, seconds, last line of pytest's output)`` for one mutant."""
    with tempfile.TemporaryDirectory(prefix="embcompress-mutant-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(tree), "HEAD"], check=True)
        try:
            target = tree / mutant.path
            text = target.read_text()
            if text.count(mutant.old) != 1:
                raise SystemExit(f"{mutant.name}: the line to mutate is not exactly once in {mutant.path}")
            target.write_text(text.replace(mutant.old, mutant.new))
            start = time.perf_counter()
            env = {**os.environ, "PYTHONPATH": str(tree)}
            done = subprocess.run([python, "-m", "pytest", "-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider",
                                   *mutant.tests], cwd=tree, env=env, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.strip()]
            return done.returncode == 1, time.perf_counter() - start, lines[-1] if lines else done.stderr[-200:]
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=True)


def main(argv: list) -> int:
    """Run every mutant, or those whose name contains one of ``argv``."""
    python = sys.executable
    missed = 0
    print("| mutant | tests | caught | seconds | pytest |\n|---|---|---|---|---|")
    for mutant in MUTANTS:
        if argv and not any(word in mutant.name for word in argv):
            continue
        caught, seconds, last = run(mutant, python)
        missed += not caught
        print(f"| {mutant.name} (`{mutant.path}`) | {', '.join(mutant.tests)} | {'yes' if caught else 'NO'} "
              f"| {seconds:.0f} | {last} |", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
