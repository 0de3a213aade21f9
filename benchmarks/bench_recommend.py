"""Acceptance benchmark for `embcompress recommend --budget-bytes 32` on the dev set.

One run, one protocol: 1,000 seeded held-back queries (never fitted on nor searched), the
other 14,559 rows as the database, one seeded fit sample from the database. `recommend`
searches its candidate grid within the time limit; then raw faiss (index_factory, train,
sa_encode, sa_decode) fits the reference specs on the same sample and is scored on the same
queries. The recommended codec must recall@10 at least as well as the best reference.
A reference spec that recommend already measured is taken from its run (our codes are
byte-identical to faiss's, see tests/core); --refit-references retrains it with raw faiss.

    python benchmarks/bench_recommend.py                          # budget 32 B, 10k sample, 600 s
    python benchmarks/bench_recommend.py --time-limit 300 --sample 5000

Equivalent CLI search: embcompress recommend ../shared/data/dev_docstrings_minilm384.parquet
    --budget-bytes 32 --sample 10000 --queries 1000 --time-limit 600
"""
from __future__ import annotations

import argparse
import sys
import time

import faiss

import embcompress as ec
from embcompress import recommend

import devset

REFERENCE_SPECS = ["PQ32", "OPQ32,PQ32", "PCA64,SQ4", "PCA32,SQ8"]
K = 10


def faiss_row(bench, spec):
    """recall@10 of raw faiss for ``spec``, fitted on the bench sample, on the bench queries."""
    start = time.perf_counter()
    index = faiss.index_factory(bench.dim, spec, faiss.METRIC_INNER_PRODUCT)
    index.train(bench.sample)
    fit_s = time.perf_counter() - start
    recon = index.sa_decode(index.sa_encode(bench.database))
    ids, _ = ec.exact_search(bench.queries, recon, K)
    return {"spec": spec, "bytes": index.sa_code_size(), "recall@10": ec.recall_at_k(ids, bench.truth, K),
            "fit_s": fit_s}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-bytes", type=int, default=32)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--refit-references", action="store_true",
                        help="train every reference spec with raw faiss even if recommend measured it")
    args = parser.parse_args(argv)
    _, x, _, _ = devset.load_dev()
    bench = recommend.Bench(x, queries=args.queries, sample=args.sample, seed=args.seed)
    print(f"faiss {faiss.__version__}: {len(bench.database):,} database rows x {bench.dim}, {len(bench.queries)} "
          f"held-back queries, fit sample {len(bench.sample):,}, budget {args.budget_bytes} B, "
          f"time limit {args.time_limit:g} s", flush=True)

    def step(spec, row, note):
        print(f"  recommend: {spec:<16} {note}" + (f" (fit {row['fit_s']:.1f} s)" if row else ""), flush=True)

    start = time.perf_counter()
    result = recommend.search(bench, budget_bytes=args.budget_bytes, k=K, time_limit=args.time_limit, on_step=step)
    search_s = time.perf_counter() - start
    choice = result.choice
    print(f"recommend took {search_s:.0f} s and chose {choice['spec']}: {result.reason}", flush=True)
    measured = {r["spec"]: r for r in result.rows}
    refs = []
    for spec in REFERENCE_SPECS:
        if spec in measured and not args.refit_references:
            # our codes are byte-identical to faiss's for the same spec and sample (tests/core)
            refs.append({**measured[spec], "source": "faiss spec, measured by recommend (byte-identical codes)"})
        else:
            refs.append({**faiss_row(bench, spec), "source": "raw faiss reference"})
        print(f"  reference: {spec:<12} recall@10 {refs[-1]['recall@10']:.3f} ({refs[-1]['source']})", flush=True)
    best = max((r for r in refs if r["bytes"] <= args.budget_bytes), key=lambda r: r["recall@10"])
    print("\n| codec | source | bytes/vector | recall@10 | fit s |\n|---|---|---:|---:|---:|")
    print(f"| **{choice['spec']}** | embcompress recommend (chosen) | {choice['bytes']} | "
          f"**{choice['recall@10']:.3f}** | {choice['fit_s']:.1f} |")
    for r in sorted(result.rows, key=lambda r: -r["recall@10"]):
        if r is not choice and r["spec"] not in REFERENCE_SPECS:
            print(f"| {r['spec']} | recommend candidate | {r['bytes']} | {r['recall@10']:.3f} | {r['fit_s']:.1f} |")
    for r in refs:
        print(f"| {r['spec']} | {r['source']} | {r['bytes']} | {r['recall@10']:.3f} | {r['fit_s']:.1f} |")
    for spec, why in result.skipped:
        print(f"| {spec} | not measured: {why} | | | |")
    ok = choice["bytes"] <= args.budget_bytes and choice["recall@10"] >= best["recall@10"]
    print(f"\n{'PASS' if ok else 'FAIL'}: recommended {choice['spec']} recall@10 {choice['recall@10']:.3f} "
          f"{'>=' if ok else '<'} best faiss reference {best['spec']} {best['recall@10']:.3f} "
          f"(search {search_s:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
