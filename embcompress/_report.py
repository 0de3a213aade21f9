"""Render measured specs as a console table, a Markdown report and two PNG plots.

Rows come from :meth:`embcompress.recommend.Bench.measure`; this module only formats them.
The plots use matplotlib's non-interactive Agg backend, so they work on headless machines.
"""
from __future__ import annotations

import os

from .recommend import pareto_front

INSTALL_HINT = "pip install 'embcompress[report]'"


def require_plotting() -> None:
    """Raise RuntimeError saying how to install matplotlib (the ``report`` extra) when it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise RuntimeError(f"--report draws its plots with matplotlib, which is not installed: "
                           f"{INSTALL_HINT}") from None

COLUMNS = [  # (header, row key, format)
    ("spec", "spec", "{}"),
    ("bytes/vec", "bytes", "{:d}"),
    ("ratio", "ratio", "{:.0f}x"),
    ("recall@1", "recall@1", "{:.3f}"),
    ("recall@10", "recall@10", "{:.3f}"),
    ("recall@100", "recall@100", "{:.3f}"),
    ("recall@k rescored", "recall_rescored", "{:.3f}"),
    ("MSE", "mse", "{:.4f}"),
    ("fit s", "fit_s", "{:.1f}"),
    ("encode rows/s", "encode_rows_per_s", "{:,.0f}"),
    ("artifact B", "artifact_bytes", "{:,d}"),
]
PARETO_PNG = "pareto.png"
SPEED_PNG = "encode_speed.png"
REPORT_MD = "report.md"


def _cells(row: dict, k: int) -> list:
    out = []
    for _, key, fmt in COLUMNS:
        value = row.get(key)
        out.append("-" if value is None else fmt.format(value))
    return out


def _headers(k: int) -> list:
    return [h.replace("recall@k", f"recall@{k}") for h, _, _ in COLUMNS]


def table_text(rows, k: int = 10) -> str:
    """A fixed-width console table, one line per spec, in the given order."""
    headers = _headers(k)
    body = [_cells(r, k) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(b) for b in body])


def table_markdown(rows, k: int = 10, front_specs=()) -> str:
    headers = _headers(k) + ["Pareto"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 2) + [":-:"]) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_cells(r, k) + ["yes" if r["spec"] in front_specs else ""]) + " |")
    return "\n".join(lines)


def _label_points(ax, rows, ykey):
    for r in rows:
        ax.annotate(r["spec"], (r["bytes"], r[ykey]), textcoords="offset points", xytext=(4, 4), fontsize=7,
                    alpha=0.85)


def _bytes_axis(ax, rows):
    ax.set_xscale("log", base=2)
    ticks = sorted({r["bytes"] for r in rows})
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("bytes per vector (log scale)")
    ax.grid(True, alpha=0.3)


def plot_pareto(rows, path, *, k: int = 10, title: str = "", budget_bytes=None, min_recall=None, chosen=None):
    """recall@k against bytes/vector, every spec labelled, the Pareto front drawn as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = f"recall@{k}"
    front = pareto_front(rows, key)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=100)
    ax.scatter([r["bytes"] for r in rows], [r[key] for r in rows], color="tab:gray", s=22, label="measured spec",
               zorder=2)
    ax.step([r["bytes"] for r in front], [r[key] for r in front], where="post", color="tab:red", lw=1.8,
            zorder=3)
    ax.plot([r["bytes"] for r in front], [r[key] for r in front], "o", color="tab:red", ms=7,
            label="Pareto front (no spec is smaller and better)", zorder=4)
    rescored = [r for r in rows if r.get("recall_rescored") is not None]
    if rescored:
        ax.scatter([r["bytes"] for r in rescored], [r["recall_rescored"] for r in rescored], marker="^",
                   facecolors="none", edgecolors="tab:blue", s=26,
                   label=f"with exact rescoring (top-{4 * k} re-ranked)", zorder=2)
    if chosen is not None:
        ax.plot([chosen["bytes"]], [chosen[key]], "*", color="gold", mec="black", ms=16, label=f"recommended: "
                f"{chosen['spec']}", zorder=5)
    if budget_bytes is not None:
        ax.axvline(budget_bytes, color="tab:green", ls="--", lw=1, label=f"budget {budget_bytes} B")
    if min_recall is not None:
        ax.axhline(min_recall, color="tab:green", ls="--", lw=1, label=f"target recall {min_recall}")
    _label_points(ax, rows, key)
    _bytes_axis(ax, rows)
    ax.set_ylabel(f"recall@{k} vs exact search (held-back queries)")
    ax.set_title(title or f"recall@{k} against size", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_speed(rows, path, *, k: int = 10, title: str = ""):
    """Encode rows/s against bytes/vector; specs on the recall Pareto front are highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = f"recall@{k}"
    front = pareto_front(rows, key)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=100)
    ax.scatter([r["bytes"] for r in rows], [r["encode_rows_per_s"] for r in rows], color="tab:gray", s=22,
               label="measured spec", zorder=2)
    ax.plot([r["bytes"] for r in front], [r["encode_rows_per_s"] for r in front], "o--", color="tab:red", ms=7,
            lw=0.8, label=f"on the recall@{k} Pareto front", zorder=3)
    _label_points(ax, rows, "encode_rows_per_s")
    _bytes_axis(ax, rows)
    ax.set_yscale("log")
    ax.set_ylabel("encode speed (rows/s, log scale)")
    ax.set_title(title or "encode speed against size", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(rows, directory, *, k: int = 10, context: str = "", title: str = "embcompress evaluation") -> str:
    """Write ``report.md`` and its two PNG plots into ``directory``; returns the Markdown path."""
    os.makedirs(directory, exist_ok=True)
    key = f"recall@{k}"
    front = pareto_front(rows, key)
    plot_pareto(rows, os.path.join(directory, PARETO_PNG), k=k, title=title)
    plot_speed(rows, os.path.join(directory, SPEED_PNG), k=k, title=title)
    front_text = " → ".join(f"{r['spec']} ({r['bytes']} B, {r[key]:.3f})" for r in front)
    md = [f"# {title}", "", context, "", table_markdown(rows, k, {r["spec"] for r in front}), "",
          f"**Pareto front** (recall@{k} against bytes/vector): {front_text}", "",
          f"![recall@{k} against bytes per vector]({PARETO_PNG})", "",
          f"![encode speed against bytes per vector]({SPEED_PNG})", "",
          "Columns: *recall@k* is |codec top-k ∩ exact top-k| / k averaged over the held-back queries "
          "(never in the fit sample nor the database); *rescored* re-ranks the top "
          f"{4 * k} by code with the original vectors; *MSE* is the mean squared reconstruction error per "
          "vector; *encode rows/s* is `Codec.encode` on the database in memory; *artifact B* is the "
          "saved codec's size.", ""]
    path = os.path.join(directory, REPORT_MD)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(md))
    os.replace(tmp, path)
    return path
