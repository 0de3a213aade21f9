"""The kind descriptors (embcompress.spec.kinds) agree with each other and with the code that runs them.

Adding a kind is one descriptor; these tests catch what a new descriptor can forget: a name
or token another kind already claims, a grammar line GRAMMAR does not show, a numpy kind
without its stage in embcompress.techniques, an array plan the fitted codec does not export.
"""
import numpy as np
import pytest

import embcompress as ec
from embcompress import _artifact as artifact
from embcompress import _layout as layout
from embcompress.spec import GRAMMAR, parse_spec
from embcompress.spec.kinds import BY_NAME, KINDS
from embcompress.techniques import STAGES

# one spec per kind, valid at dimension 16, whose fit is quick
EXAMPLES = {
    "PCA": "PCA8,SQ8", "PCAW": "PCAW8,SQ8", "PCAR": "PCAR8,SQ8", "OPQ": "OPQ2,PQ2x4", "RR": "RR16,SQ8",
    "ITQ": "ITQ8,BIN", "L2norm": "L2norm,SQ8", "UNIT": "UNIT,SQ8", "HASH": "HASH8,SQ8", "PRUNE": "PRUNE8,SQ8",
    "TRUNC": "TRUNC8,SQ8", "DISTILL": "DISTILL8_4,SQ8", "Flat": "Flat", "SQ": "SQ4", "PQ": "PQ4x4",
    "RaBitQ": "RaBitQ", "RQ": "RQ2x4", "LSQ": "LSQ2x4_i2_t3", "PRQ": "PRQ2x2x4", "PLSQ": "PLSQ2x2x4_i2_t3",
    "BIN": "BIN", "TOPK": "TOPK4", "MP": "MP8", "APQ": "APQ4",
}


def test_names_are_unique_and_every_kind_has_an_example():
    assert len(BY_NAME) == len(KINDS)
    assert set(EXAMPLES) == set(BY_NAME), "add an example spec for the new kind"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_grammar_shows_every_kind(kind):
    assert kind.grammar in GRAMMAR


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_token_matches_its_own_kind_only(name):
    parsed = parse_spec(EXAMPLES[name])
    piece = next(p for p in (*parsed.transforms, parsed.code) if p.kind == name)
    claims = [k.name for k in KINDS if k.pattern.fullmatch(piece.text)]
    assert claims == [name]


def test_numpy_kinds_have_a_stage_and_faiss_kinds_do_not():
    numpy_kinds = {k.name for k in KINDS if k.faiss is None}
    assert set(STAGES) == numpy_kinds


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_fitted_codec_exports_exactly_the_declared_arrays(name):
    x = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # UNIT needs unit-norm rows
    codec = ec.fit(EXAMPLES[name], x, seed=0)
    _, arrays = artifact.unpack(codec.to_bytes())
    exported = {k: (v.dtype.name, tuple(v.shape)) for k, v in arrays.items()}
    assert exported == layout.expected_arrays(parse_spec(EXAMPLES[name]), 16)
