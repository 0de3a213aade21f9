"""A structure-aware fuzzer for the artifact loader and for fit, run as a child process.

    python -m tests.core.artifact_fuzz artifacts --examples 2000 --seed 0
    python -m tests.core.artifact_fuzz fit --examples 200 --seed 0

``artifacts`` starts from valid artifacts of many specs and mutates what a hostile writer
controls: header fields (spec, dim, metric, seed), the array table (names, dtypes, shapes,
offsets, byte counts, missing and extra arrays) and the array values (short arrays, NaN,
Inf, huge values), every blob resealed with a valid sha256. Each blob is loaded with a small
memory ceiling; a codec that loads must then encode, decode and search. ``fit`` generates
specs from the grammar (with out-of-range numbers and long chains mixed in) and fits them.

Allowed outcomes are success or our documented exceptions. The process runs under an
address-space limit, so an allocation past the ceiling fails it; a segfault kills it. Either
way the parent test sees a non-zero exit, and the last ``case`` line on stdout names the
input that did it. The last line is a JSON summary of outcomes per mutation.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import struct
import sys
from collections import Counter

import numpy as np

import embcompress as ec
from embcompress import _artifact as artifact

MAX_MEMORY = 64 << 20  # the loader's ceiling in this process
ADDRESS_SPACE_HEADROOM = 1 << 30  # beyond what the process had mapped when the fuzzing began
DIM = 16
BASE_SPECS = ["SQ8", "SQ4", "SQfp16", "Flat", "PQ4x4", "RQ2x4", "RaBitQ", "PCA8,SQ8", "PCAW8,SQ6", "PCAR8,SQ8",
              "OPQ4_8,PQ4x4", "RR16,SQ4", "ITQ8,BIN", "L2norm,SQ8", "HASH32,SQ8", "PRUNE8,SQ8", "TRUNC8,SQ8",
              "DISTILL4_8,SQ8", "TOPK4", "MP8", "PCA8,HASH16x3,PCA4,BIN"]
_DTYPES = ["float32", "float64", "uint8", "int64", "int32", "uint16", "object", "float16", 7, None]
_NUMBERS = [0, 1, 2, 3, 4, 8, 15, 16, 17, 32, 255, 256, 4096, 65536, 65537, 10**9, 2**63, -1]
ALLOWED = (ec.ArtifactError, ec.EmbeddingError, ValueError)


def limit_address_space() -> None:
    """Cap virtual memory at what is mapped now plus headroom: an allocation beyond fails."""
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    cap = mapped + ADDRESS_SPACE_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def seal(header: dict, payload: bytes) -> bytes:
    body = json.dumps(header).encode()
    content = struct.pack("<8sHHIQ", artifact.MAGIC, artifact.FORMAT_VERSION, 0, len(body), len(payload)) + body \
        + payload
    return content + hashlib.sha256(content).digest()


def split(blob: bytes):
    h_len = struct.unpack_from("<I", blob, 12)[0]
    return json.loads(blob[24:24 + h_len]), blob[24 + h_len:-32]


def base_artifacts() -> dict:
    x = np.random.default_rng(0).standard_normal((600, DIM)).astype(np.float32)
    return {spec: ec.fit(spec, x, holdout=0).to_bytes() for spec in BASE_SPECS}


# ----- mutations: each returns (name, blob) --------------------------------------------------------
def _number(rng):
    return rng.choice(_NUMBERS) if rng.random() < 0.7 else rng.randint(-5, 70000)


def random_spec(rng) -> str:
    """A spec from the grammar, mostly valid and small, sometimes out of range or very long."""
    transforms = ["PCA{a}", "PCAW{a}", "PCAR{a}", "OPQ{b}_{a}", "OPQ{b}", "RR{a}", "ITQ{a}", "ITQ", "L2norm",
                  "HASH{a}x{b}", "HASH{a}", "PRUNE{a}", "PRUNE{a}_imp", "TRUNC{a}", "DISTILL{a}", "DISTILL{a}_{b}"]
    codes = ["SQ8", "SQ6", "SQ4", "SQfp16", "SQbf16", "Flat", "PQ{b}", "PQ{b}x{c}", "RQ{b}x{c}", "RaBitQ",
             "RaBitQ{c}", "BIN", "TOPK{a}", "MP{a}", "APQ{b}"]
    small = lambda: rng.choice([1, 2, 4, 8, 16, 32]) if rng.random() < 0.85 else _number(rng)  # noqa: E731
    bits = lambda: rng.choice([1, 2, 4, 8]) if rng.random() < 0.85 else rng.choice([0, 9, 16, 17, 64])  # noqa: E731
    length = rng.choice([0, 0, 1, 1, 2, 3]) if rng.random() < 0.95 else rng.choice([15, 16, 40, 3000])
    pieces = [rng.choice(transforms).format(a=small(), b=small(), c=bits()) for _ in range(length)]
    pieces.append(rng.choice(codes).format(a=small(), b=small(), c=bits()))
    return ",".join(pieces)


def mutate_header(rng, header, payload):
    header = dict(header)
    field = rng.choice(["spec", "dim", "metric", "seed", "spec"])
    if field == "spec":
        header["spec"] = random_spec(rng) if rng.random() < 0.8 else rng.choice(["", "SQ8 ", "PCA٨,SQ8", 5, None])
    elif field == "dim":
        header["dim"] = rng.choice([_number(rng), True, 16.0, "16", None])
    elif field == "metric":
        header["metric"] = rng.choice(["l2", "ip", "cosine", 0, None])
    else:
        header["seed"] = rng.choice([_number(rng), True, 1.5, None])
    return f"header.{field}", seal(header, payload)


def mutate_table(rng, header, payload):
    header = dict(header)
    table = [dict(e) for e in header["arrays"]]
    action = rng.choice(["drop", "extra", "dtype", "shape", "offset", "nbytes", "name"])
    if action == "extra" or not table:
        table.append({"name": rng.choice(["code.code.sq", "s0.t0.A", "code.t0.b", "x", "code.bits"]),
                      "dtype": "float32", "shape": [rng.randint(0, 8)], "offset": 0, "nbytes": 0})
        action = "extra"
    else:
        entry = rng.choice(table)
        if action == "drop":
            table.remove(entry)
        elif action == "dtype":
            entry["dtype"] = rng.choice(_DTYPES)
        elif action == "shape":
            entry["shape"] = rng.choice([[_number(rng)], [_number(rng), _number(rng)], [], [0], "x", [1.5]])
        elif action == "offset":
            entry["offset"] = _number(rng)
        elif action == "nbytes":
            entry["nbytes"] = _number(rng)
        else:
            entry["name"] = rng.choice(["", "code.sq", "s9.t0.A", entry["name"] + ".x", 3])
    header["arrays"] = table
    return f"table.{action}", seal(header, payload)


def mutate_arrays(rng, blob):
    """Rewrite the arrays themselves, consistently packed: wrong lengths and shapes, odd values."""
    header, arrays = artifact.unpack(blob)
    arrays = {k: np.array(v) for k, v in arrays.items()}
    if not arrays:
        return "arrays.none", blob
    name = rng.choice(sorted(arrays))
    arr = arrays[name]
    action = rng.choice(["short", "empty", "long", "reshape", "nan", "inf", "huge", "negative", "retype", "drop"])
    if action == "short":
        arrays[name] = arr.ravel()[: max(0, arr.size - rng.randint(1, 3))]
    elif action == "empty":
        arrays[name] = arr.ravel()[:0]
    elif action == "long":
        arrays[name] = np.concatenate([arr.ravel(), arr.ravel()[:1].repeat(rng.randint(1, 64))])
    elif action == "reshape":
        arrays[name] = arr.reshape(-1)[::-1].reshape(arr.size, 1) if arr.size else arr
    elif action == "drop":
        del arrays[name]
    elif action == "retype":
        arrays[name] = arr.astype(rng.choice([np.float64, np.int64, np.uint8, np.int32]))
    elif arr.size:
        flat = arr.ravel().copy()
        if np.issubdtype(flat.dtype, np.floating):
            value = {"nan": np.nan, "inf": np.inf, "huge": 1e30, "negative": -1e30}[action]
        else:  # index and bit-width arrays: out of range either way
            value = {"nan": -1, "inf": 2**40, "huge": 3, "negative": -(2**40)}[action]
        flat[rng.randrange(flat.size)] = value
        arrays[name] = flat.reshape(arr.shape)
    return f"arrays.{action}", artifact.pack(header, arrays)


def mutate(rng, blob):
    header, payload = split(blob)
    kind = rng.random()
    if kind < 0.3:
        return mutate_header(rng, header, payload)
    if kind < 0.6:
        return mutate_table(rng, header, payload)
    if kind < 0.95:
        return mutate_arrays(rng, blob)
    cut = rng.randrange(len(blob))
    return "bytes.flip", blob[:cut] + bytes([blob[cut] ^ 0xFF]) + blob[cut + 1:]


# ----- running one input ---------------------------------------------------------------------------
def exercise(codec) -> None:
    """A loaded codec must encode, decode and search without crashing."""
    x = np.random.default_rng(1).standard_normal((8, codec.dim)).astype(np.float32)
    codes = codec.encode(x)
    decoded = codec.decode(codes)
    assert decoded.shape == (8, codec.dim) and decoded.dtype == np.float32
    ids, _ = codec.search(x[:2], codes, k=3)
    assert ids.shape == (2, 3)


def run_artifacts(examples: int, seed: int) -> Counter:
    rng = random.Random(seed)
    bases = base_artifacts()
    outcomes = Counter()
    for i in range(examples):
        spec = rng.choice(BASE_SPECS)
        name, blob = mutate(rng, bases[spec])
        print(f"case {i} {spec} {name}", flush=True)
        try:
            codec = ec.Codec.from_bytes(blob, max_memory=MAX_MEMORY)
        except ALLOWED as exc:
            outcomes[f"{name}: refused"] += 1
            _ = str(exc)
            continue
        exercise(codec)
        outcomes[f"{name}: loaded"] += 1
    return outcomes


def run_fit(examples: int, seed: int) -> Counter:
    rng = random.Random(seed)
    x = np.random.default_rng(seed).standard_normal((300, DIM)).astype(np.float32)
    outcomes = Counter()
    for i in range(examples):
        spec = random_spec(rng)
        print(f"case {i} {spec[:80]}", flush=True)
        try:
            codec = ec.fit(spec, x, holdout=0, max_memory=MAX_MEMORY)
        except ALLOWED:
            outcomes["refused"] += 1
            continue
        exercise(ec.Codec.from_bytes(codec.to_bytes(), max_memory=MAX_MEMORY))
        outcomes["fitted"] += 1
    return outcomes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", choices=("artifacts", "fit"))
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import faiss

    faiss.omp_set_num_threads(1)
    limit_address_space()
    run = run_artifacts if args.target == "artifacts" else run_fit
    outcomes = run(args.examples, args.seed)
    print(json.dumps({"examples": args.examples, "outcomes": dict(sorted(outcomes.items()))}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
