"""Hostile artifacts: well-formed blobs with valid sha256 trailers that lie about their contents.

Every blob is loaded in a child process (one child for the whole table), so a segfault or an
out-of-bounds read that crashes fails the cases instead of killing pytest. Each case asserts
the ArtifactError it expects, and the child reports how much its peak RSS grew while loading.
The structure-aware fuzzer (tests/core/artifact_fuzz.py) runs in a child for the same reason.
"""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import embcompress as ec
from embcompress import _artifact as artifact
from embcompress import _layout as layout
from embcompress.spec import MAX_PIECES, parse_spec

ROOT = pathlib.Path(__file__).parents[2]
FUZZ_EXAMPLES = int(os.environ.get("EMBCOMPRESS_FUZZ_EXAMPLES", "2000"))
FIT_FUZZ_EXAMPLES = int(os.environ.get("EMBCOMPRESS_FIT_FUZZ_EXAMPLES", "30"))
RSS_GROWTH_LIMIT = 64 << 20  # none of these blobs may grow the loader's peak RSS by more


def _stats(dim):
    return {f"stats.{k}": np.zeros(dim, np.float32) for k in ("mean", "min", "max")}


def forge(spec, dim, arrays, **header):
    """An artifact with a valid checksum that says whatever we like."""
    return artifact.pack({"spec": spec, "dim": dim, "metric": "ip", "seed": 0, **header}, arrays)


def _real(spec, dim=16, rows=600):
    x = np.random.default_rng(3).standard_normal((rows, dim)).astype(np.float32)
    header, arrays = artifact.unpack(ec.fit(spec, x, holdout=0).to_bytes())
    return header, {k: np.array(v) for k, v in arrays.items()}


def _edited(spec, edit, dim=16):
    header, arrays = _real(spec, dim)
    edit(arrays)
    return artifact.pack(header, arrays)


def _chain(n):
    return ",".join(["PCA8"] * (n - 1) + ["SQ8"])


# (case id, blob factory, expected message fragment)
CASES = [
    # the trained array of a scalar quantizer: faiss reads 2*d floats whatever is there
    ("sq8-trained-0-floats", lambda: forge("SQ8", 8, {**_stats(8), "code.code.sq": np.zeros(0, np.float32)}),
     "'code.code.sq' is float32 (0,), spec 'SQ8' at dimension 8 needs float32 (16,)"),
    ("sq8-trained-2-floats", lambda: forge("SQ8", 8, {**_stats(8), "code.code.sq": np.zeros(2, np.float32)}),
     "needs float32 (16,)"),
    ("sq8-trained-too-long", lambda: forge("SQ8", 8, {**_stats(8), "code.code.sq": np.zeros(18, np.float32)}),
     "needs float32 (16,)"),
    ("sq4-trained-missing", lambda: forge("SQ4", 8, _stats(8)), "missing array 'code.code.sq'"),
    ("pq-centroids-short", lambda: _edited("PQ4x4", lambda a: a.update({"code.code.centroids":
                                                                         a["code.code.centroids"][:-1]})),
     "'code.code.centroids'"),
    ("rq-codebooks-short", lambda: _edited("RQ2x4", lambda a: a.update({"code.code.codebooks":
                                                                         a["code.code.codebooks"][:8]})),
     "'code.code.codebooks'"),
    ("pca-matrix-transposed", lambda: _edited("PCA8,SQ8", lambda a: a.update({"code.t0.A": a["code.t0.A"].T.copy()})),
     "'code.t0.A' is float32 (16, 8), spec 'PCA8,SQ8' at dimension 16 needs float32 (8, 16)"),
    ("pca-bias-dropped", lambda: _edited("PCA8,SQ8", lambda a: a.pop("code.t0.b")), "missing array 'code.t0.b'"),
    ("rr-bias-added", lambda: _edited("RR16,SQ4", lambda a: a.update({"code.t0.b": np.zeros(16, np.float32)})),
     "has array 'code.t0.b', which spec 'RR16,SQ4' at dimension 16 does not use"),
    ("itq-mean-missing", lambda: _edited("ITQ8,BIN", lambda a: a.pop("s0.t0.mean")), "missing array 's0.t0.mean'"),
    ("matrix-as-float64", lambda: _edited("PCA8,SQ8", lambda a: a.update({"code.t0.A": a["code.t0.A"].astype(
        np.float64)})), "'code.t0.A' is float64 (8, 16)"),
    ("stats-missing", lambda: _edited("SQ8", lambda a: a.pop("stats.mean")), "missing array 'stats.mean'"),
    ("nan-in-matrix", lambda: _edited("PCA8,SQ8", lambda a: a["code.t0.A"].__setitem__((0, 0), np.nan)),
     "'code.t0.A' holds NaN or Inf"),
    ("inf-in-sq-range", lambda: _edited("SQ8", lambda a: a["code.code.sq"].__setitem__(3, np.inf)),
     "'code.code.sq' holds NaN or Inf"),
    ("prune-index-out-of-range", lambda: _edited("PRUNE8,SQ8", lambda a: a["s0.keep"].__setitem__(0, 10**9)),
     "out of range"),
    ("mp-bit-width-invalid", lambda: _edited("MP8", lambda a: a["code.bits"].__setitem__(0, 3)), "bit widths"),
    ("chain-of-3000-pca8", lambda: forge(_chain(3000), 8, _stats(8)), "the limit is 1024"),
    ("chain-of-17-pieces", lambda: forge(_chain(MAX_PIECES + 1), 8, _stats(8)), f"the limit is {MAX_PIECES}"),
    ("hash-65536x65536-flat", lambda: forge("HASH65536x65536,Flat", 65536, {}), "at most 64 hash functions"),
    ("hash-16-gib-matrix", lambda: forge("HASH65536,Flat", 65536, {}), "above the 2,048.0 MiB ceiling"),
    ("pq1x16-at-4096", lambda: forge("PQ1x16", 4096, {}), "above the 2,048.0 MiB ceiling"),
    ("pq1x16-at-4096-short", lambda: forge("PQ1x16", 512, _stats(512)), "missing array 'code.code.centroids'"),
    ("non-ascii-digits", lambda: forge("PCA\u0668,SQ8", 16, _stats(16)), "unknown transform"),
    ("opq-output-beyond-input", lambda: forge("OPQ4_4096,SQ8", 16, _stats(16)), "more dimensions than the 16"),
    ("dim-is-true", lambda: forge("SQ8", True, _stats(1)), "'dim' is missing or not a int"),
    ("seed-out-of-range", lambda: forge("SQ8", 8, _stats(8), seed=2**40), "seed"),
    ("columns-not-a-list", lambda: forge("Flat", 8, _stats(8), columns="embedding"), "'columns' is not a list"),
]

_CHILD = r"""
import json, resource, sys
import embcompress as ec
for case, path in json.loads(sys.argv[1]):
    blob = open(path, "rb").read()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"case": case, "started": True}), flush=True)
    try:
        ec.Codec.from_bytes(blob)
        result = {"error": None, "message": ""}
    except Exception as exc:
        result = {"error": type(exc).__name__, "message": str(exc)}
    result["rss_growth"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    print(json.dumps({"case": case, **result}), flush=True)
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Load every case's blob in one child process; a case it never finished is reported as a crash."""
    folder = tmp_path_factory.mktemp("hostile")
    todo = []
    for case, make, _ in CASES:
        path = folder / f"{case}.ecz"
        path.write_bytes(make())
        todo.append((case, str(path)))
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(todo)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    results = {}
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        if not record.get("started"):
            results[record["case"]] = record
    for case, _ in todo:
        results.setdefault(case, {"error": f"child died (exit {proc.returncode}) loading this case",
                                  "message": proc.stderr[-2000:]})
    return results


@pytest.mark.parametrize("case, make, match", CASES, ids=[c[0] for c in CASES])
def test_hostile_artifact_is_refused_without_crash_or_allocation(outcomes, case, make, match):
    result = outcomes[case]
    assert result["error"] == "ArtifactError", result
    assert match in result["message"]
    assert result["rss_growth"] < RSS_GROWTH_LIMIT, f"loading grew peak RSS by {result['rss_growth'] / 2**20:.0f} MiB"


# ----- the plan is the codec: what fit writes is exactly what the loader expects -----------------------
PLAN_SPECS = ["SQ8", "SQ6", "SQ4", "SQfp16", "SQbf16", "Flat", "PQ4", "PQ4x4", "RQ2x4", "RaBitQ", "RaBitQ4",
              "PCA8,SQ8", "PCAW8,SQ8", "PCAR8,SQ8", "OPQ4_8,PQ4x4", "OPQ4,PQ4x4", "RR16,SQ8", "RR20,SQ8", "ITQ8,SQ8",
              "ITQ,BIN", "L2norm,SQ8", "HASH16,SQ8", "HASH16x3,Flat", "PRUNE8,SQ8", "PRUNE8_imp,BIN", "TRUNC8,SQ8",
              "TOPK4", "MP8", "DISTILL4,SQ8", "DISTILL4_8,SQ8", "PCA8,HASH8,PCA4,SQ8", "L2norm,PCA8,Flat",
              "PCA8,DISTILL4,MP2"]


@pytest.mark.parametrize("spec", PLAN_SPECS)
def test_fitted_arrays_match_the_plan_exactly(spec):
    header, arrays = _real(spec)
    plan = layout.expected_arrays(parse_spec(spec), 16)
    assert {k: (v.dtype.name, v.shape) for k, v in arrays.items()} == plan
    assert ec.Codec.from_bytes(artifact.pack(header, arrays)).spec == spec


def test_memory_estimate_covers_the_rebuilt_codec():
    """Loading a codec grows RSS by less than its estimate (measured in a child process)."""
    code = r"""
import resource, sys, numpy as np, embcompress as ec
from embcompress import _layout as layout
blob = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
codec = ec.Codec.from_bytes(blob)
codec.decode(codec.encode(np.ones((1, codec.dim), np.float32)))
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
print(grown, layout.memory_bytes(ec.parse_spec(codec.spec), codec.dim))
"""
    x = np.random.default_rng(0).standard_normal((1100, 1024)).astype(np.float32)
    path = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"mem-{os.getpid()}.ecz"
    ec.fit("PCA1024,SQ8", x, holdout=0).save(path, overwrite=True)
    try:
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    finally:
        path.unlink()
    grown, estimate = int(out[0]), int(out[1])
    assert grown < estimate, f"RSS grew {grown} B, estimate {estimate} B"


# ----- spec limits and the memory ceiling are shared by fit and load ----------------------------------
def test_sixteen_pieces_fit_and_load_in_a_child():
    code = f"""
import numpy as np, embcompress as ec
x = np.random.default_rng(0).standard_normal((200, 8)).astype(np.float32)
c = ec.fit({_chain(MAX_PIECES)!r}, x)
print(ec.Codec.from_bytes(c.to_bytes()).decode(c.encode(x[:2])).shape)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0 and "(2, 8)" in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize("spec, match", [
    (_chain(3000), "the limit is 1024"),
    (_chain(MAX_PIECES + 1), f"the limit is {MAX_PIECES}"),
    ("PCA\u0668,SQ8", "unknown transform"),
    ("HASH8x65,SQ8", "at most 64 hash functions"),
    ("RQ129x4", "at most 128 codebooks"),
    ("PQ4x17", "bits per sub-quantizer must be 1..16"),
])
def test_fit_refuses_specs_beyond_the_limits(spec, match):
    with pytest.raises(ValueError, match=match):
        ec.fit(spec, np.ones((10, 8), np.float32))


def test_fit_refuses_a_codec_above_the_memory_ceiling():
    x = np.random.default_rng(0).standard_normal((50, 64)).astype(np.float32)
    with pytest.raises(ValueError, match="ceiling"):
        ec.fit("HASH4096,SQ8", x, max_memory=1 << 20)


def test_loader_ceiling_is_settable():
    blob = ec.fit("PCA8,SQ8", np.random.default_rng(0).standard_normal((100, 16)).astype(np.float32)).to_bytes()
    with pytest.raises(ec.ArtifactError, match="ceiling"):
        ec.Codec.from_bytes(blob, max_memory=1000)
    assert ec.Codec.from_bytes(blob, max_memory=1 << 20).spec == "PCA8,SQ8"


# ----- the structure-aware fuzzers, in child processes --------------------------------------------------
@pytest.mark.parametrize("target, examples", [("artifacts", FUZZ_EXAMPLES), ("fit", FIT_FUZZ_EXAMPLES)])
def test_structure_aware_fuzzer(target, examples):
    proc = subprocess.run([sys.executable, "-m", "tests.core.artifact_fuzz", target, "--examples", str(examples)],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, f"fuzzer died (exit {proc.returncode}) at {lines[-1:]}: {proc.stderr[-2000:]}"
    summary = json.loads(lines[-1])
    assert summary["examples"] == examples >= (2000 if target == "artifacts" and "EMBCOMPRESS_FUZZ_EXAMPLES" not in
                                                os.environ else 1)
    outcomes = summary["outcomes"]
    assert sum(outcomes.values()) == examples
    if target == "artifacts":  # the mutations reach the loader's checks, and some codecs still load and run
        assert sum(v for k, v in outcomes.items() if k.endswith("refused")) > examples // 2
        assert sum(v for k, v in outcomes.items() if k.endswith("loaded")) > 0
