"""Check `make demo`'s output against the table in README.md: every spec printed, bytes equal,
recall@10 and +rescore within 0.01 of the README's figures.

    make demo | tee demo.log && python .ci/check_demo.py demo.log
"""
import re
import sys
from pathlib import Path

ROW = re.compile(r"^(\S+)\s+(\d+)\s+\d+x\s+(\d\.\d{3})\s+(\d\.\d{3})\s", re.M)
TOLERANCE = 0.01


def rows(text: str) -> dict:
    """Per spec, its first table row: the demo's table (make demo then prints evaluate's, whose
    columns differ)."""
    found: dict = {}
    for m in ROW.finditer(text):
        found.setdefault(m[1], (int(m[2]), float(m[3]), float(m[4])))
    return found


def main(log_path: str) -> int:
    readme = Path(__file__).resolve().parents[1] / "README.md"
    want, got = rows(readme.read_text()), rows(Path(log_path).read_text())
    problems = [f"{spec}: not printed by make demo" for spec in want if spec not in got]
    for spec, (size, recall, rescored) in want.items():
        if spec in got:
            g_size, g_recall, g_rescored = got[spec]
            if g_size != size or abs(g_recall - recall) > TOLERANCE or abs(g_rescored - rescored) > TOLERANCE:
                problems.append(f"{spec}: make demo gives {got[spec]}, README says {(size, recall, rescored)}")
    if not want:
        problems.append("README.md has no demo table")
    for p in problems:
        print(f"check_demo: {p}")
    print(f"check_demo: {len(want)} README rows checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
