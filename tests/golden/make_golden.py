"""Regenerate the golden artifacts and codes: run only when a format or codec change is deliberate.

    python tests/golden/make_golden.py

Each spec kind gets one small codec (32-d: the first 32 dims of the shipped real embeddings,
renormalized, fitted on 600 rows with seed 0), saved as ``<name>.ecz``. ``golden.npz`` holds
the 8 input rows, and per codec its fingerprint, codes and decoded vectors, plus pinned outputs
of ``ec.hash_features``. tests/golden/test_golden.py checks today's code against them.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import embcompress as ec  # noqa: E402
from embcompress.datasets import load_demo, matrix  # noqa: E402

DIM = 32
SPECS = {  # one per spec kind: every code, and every transform in front of a cheap code
    "flat": "Flat", "sqfp16": "SQfp16", "sqbf16": "SQbf16", "sq8": "SQ8", "sq6": "SQ6", "sq4": "SQ4",
    "pq": "PQ8x4", "rq": "RQ4x4", "lsq": "LSQ4x4_i2_t2", "prq": "PRQ2x2x4", "plsq": "PLSQ2x2x4_i2_t2",
    "bin": "BIN", "topk": "TOPK4", "mp": "MP8", "rabitq": "RaBitQ", "apq": "APQ8",
    "pca": "PCA16,SQ8", "pcaw": "PCAW16,SQ8", "pcar": "PCAR16,SQ8", "opq": "OPQ4,PQ4x4", "rr": "RR32,SQ8",
    "itq": "ITQ16,BIN", "l2norm": "L2norm,SQ8", "hash": "HASH64x2,SQ8", "prune": "PRUNE16,SQ8",
    "prune_imp": "PRUNE16_imp,SQ8", "trunc": "TRUNC16,SQ8", "distill": "DISTILL16,SQ8", "unit": "UNIT,PQ4x4",
}
TOKENS = ["alpha", "beta", "gamma", "alpha"]
WEIGHTS = {"red": 0.5, "green": -1.25, "blue": 2.0}


def data() -> tuple[np.ndarray, np.ndarray]:
    """(fit sample, 8 probe rows): real embeddings cut to DIM dims and renormalized."""
    x = matrix(load_demo())[:, :DIM]
    x = np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)
    return x[:600], x[1900:1908]


def hashed() -> dict:
    return {"hash_tokens": ec.hash_features(TOKENS, 16, k=2, seed=3),
            "hash_weights": ec.hash_features(WEIGHTS, 16, k=1, seed=0)}


def main() -> None:
    sample, probe = data()
    out = {"probe": probe, **hashed()}
    for name, spec in SPECS.items():
        codec = ec.fit(spec, sample, seed=0, holdout=0)
        codec.save(HERE / f"{name}.ecz", overwrite=True)
        codes = codec.encode(probe)
        out[f"{name}.codes"] = codes
        out[f"{name}.decoded"] = codec.decode(codes)
        out[f"{name}.fingerprint"] = np.frombuffer(bytes.fromhex(codec.fingerprint), np.uint8)
    np.savez(HERE / "golden.npz", **out)
    print(f"wrote {len(SPECS)} artifacts and golden.npz in {HERE}")


if __name__ == "__main__":
    main()
