"""Quality and fast frontiers on the dev set, leak-free, against faiss's best strings in the same run.

For each byte budget: faiss's factory strings (index_factory, train, sa_encode, sa_decode,
float query . reconstruction) and our specs (embcompress, codes only), all fitted on the
first 10,000 non-query rows (--fit-rows all: the 14,559 non-query rows) and scored on the
1,000 ground-truth queries against all 15,559 rows (embcompress.protocol). Encode speed is
measured on one core by default (--threads), as the issue's frontiers are stated.

For every faiss string X the run also measures ``UNIT,X``: UNIT has nothing to fit, so its
codec is built from the very state faiss trained on these rows (which is what ``ec.fit``
trains, tests/core/test_fit_rows.py), and it encodes and searches through embcompress. For a
string ending in an 8-bit ``PQ{m}`` it also measures ``...,APQ{m}`` on that state: APQ's
codebooks are faiss's PQ codebooks, only its encode differs. Other ``--ours`` specs are
fitted with ``ec.fit``.

    python benchmarks/frontier.py --budgets 32 --out docs/frontier_32.md
    python benchmarks/frontier.py --budgets 48 --faiss 'RQ48x8;OPQ48,PQ48' --ours 'UNIT,PRQ4x12x8'
"""
from __future__ import annotations

import argparse
import re
import time

import faiss

import embcompress as ec
from embcompress import _faiss_backend as fb
from embcompress.protocol import DevProtocol

import devset

FAISS = ["RQ{B}x8", "OPQ{B},PQ{B}", "PQ{B}"]
OURS = []
QUALITY_RATE, FAST_RATE = 1_000, 20_000
THREADS = {"fit": 1, "encode": 1}  # faiss threads while fitting and while encoding (--fit-threads, --threads)


def _faiss_rows(dev, spec, train):
    """faiss's own row for ``spec``, and ours for ``UNIT,spec`` on the same trained state."""
    index = faiss.index_factory(train.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    fit_s, codes, rate = devset.train_and_encode(index, train, dev.x, THREADS["fit"], THREADS["encode"])
    yield {"spec": spec, "who": "faiss", "bytes": codes.shape[1], "recall@10": dev.recall_of_reconstruction(
        index.sa_decode(codes)), "fit_s": fit_s, "encode_rows_per_s": rate}
    arrays = {"code." + name: arr for name, arr in fb.export_state(index).items()}
    unit = ec.Codec({"spec": "UNIT," + spec, "dim": train.shape[1], "metric": "ip", "seed": 0}, arrays)
    row = dev.measure(unit)
    row.pop("codes")
    yield {**row, "who": "embcompress", "fit_s": fit_s}
    pieces = spec.split(",")
    if re.fullmatch(r"PQ\d+(x8)?", pieces[-1]):
        yield _apq_row(dev, ",".join(pieces[:-1] + ["A" + pieces[-1].removesuffix("x8")]), arrays, fit_s)


def _apq_row(dev, spec, faiss_arrays, fit_s):
    """``spec`` (ending in APQ) on the trained state of faiss's matching PQ string: its transforms
    become our first stage (``s0.``), its PQ codebooks APQ's."""
    arrays = {name.replace("code.code.", "code.").replace("code.t", "s0.t"): arr for name, arr in faiss_arrays.items()}
    codec = ec.Codec({"spec": spec, "dim": dev.x.shape[1], "metric": "ip", "seed": 0}, arrays)
    row = dev.measure(codec)
    row.pop("codes")
    return {**row, "who": "embcompress", "fit_s": fit_s}


def _our_rows(dev, spec, train):
    faiss.omp_set_num_threads(THREADS["fit"])
    start = time.perf_counter()
    codec = ec.fit(spec, train, holdout=0)
    fit_s = time.perf_counter() - start
    faiss.omp_set_num_threads(THREADS["encode"])
    row = dev.measure(codec)
    row.pop("codes")
    yield {**row, "who": "embcompress", "fit_s": fit_s}


def _tier(rate):
    return "fast" if rate >= FAST_RATE else "quality" if rate >= QUALITY_RATE else "-"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", default="32,48,96", help="comma-separated bytes per vector")
    parser.add_argument("--faiss", default=";".join(FAISS), help="';'-separated faiss templates ({B}: budget)")
    parser.add_argument("--ours", default=";".join(OURS), help="';'-separated embcompress templates")
    parser.add_argument("--fit-rows", default="10000", help="non-query rows to fit on, or 'all'")
    parser.add_argument("--threads", type=int, default=1, help="faiss OpenMP threads (default: one core)")
    parser.add_argument("--fit-threads", type=int, default=None,
                        help="faiss threads while fitting (default: --threads); encode speed stays on --threads")
    parser.add_argument("--out", default=None, help="also write the Markdown table here")
    parser.add_argument("--data", default=None, help="another set laid out like the dev set (with --gt)")
    parser.add_argument("--gt", default=None, help="its ground truth (query_id, neighbors)")
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(args.threads)
    THREADS.update(fit=args.fit_threads or args.threads, encode=args.threads)
    ids, x, query_ids, truth = devset.load_dev(args.data, args.gt)
    dev = DevProtocol.from_dev(ids, x, query_ids, truth, None if args.fit_rows == "all" else int(args.fit_rows))
    train = dev.fit_sample
    head = (f"faiss {faiss.__version__}, {len(x):,} rows x {x.shape[1]}, {len(dev.query_rows):,} queries, fit on "
            f"{len(train):,} non-query rows, {THREADS['fit']} thread(s) to fit, {args.threads} to encode; "
            f"tier: encode >= {FAST_RATE:,} rows/s "
            f"(fast) or >= {QUALITY_RATE:,} (quality)")
    lines = [head, "", "| budget | by | spec | bytes | recall@10 | fit s | encode rows/s | tier |",
             "|---|---|---|---|---|---|---|---|"]
    print(head, flush=True)
    for budget in [int(b) for b in args.budgets.split(",")]:
        jobs = [(_faiss_rows, t) for t in args.faiss.split(";") if t]
        jobs += [(_our_rows, t) for t in args.ours.split(";") if t]
        rows = (row for measure, template in jobs for row in measure(dev, template.format(B=budget), train))
        for row in rows:
            lines.append(f"| {budget} | {row['who']} | {row['spec']} | {row['bytes']} | {row['recall@10']:.3f} | "
                         f"{row['fit_s']:.0f} | {row['encode_rows_per_s']:,.0f} | {_tier(row['encode_rows_per_s'])} |")
            print(lines[-1], flush=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
