"""Techniques faiss lacks, as pipeline stages: hashing, pruning, truncation, distillation
(transforms) and binary, top-k sparse and mixed-precision codes.

A transform stage has ``d_out``, ``fit(x, seed)``, ``forward(x)``, ``inverse(y)``,
``export()``/``load(arrays)``; a code stage has ``code_size``, ``fit``, ``encode(y, out)``,
``decode(codes)``, ``export``/``load`` and optionally ``similarity(q, codes)``.
"""
from .binary_code import BinaryCode
from .distill import Distill
from .hashing import FeatureHash
from .mixed_precision import MixedPrecision
from .pruning import Prune
from .sparse_topk import TopK
from .truncation import Truncate

CUSTOM_TRANSFORMS = {"HASH": FeatureHash, "PRUNE": Prune, "TRUNC": Truncate, "DISTILL": Distill}
CUSTOM_CODES = {"BIN": BinaryCode, "TOPK": TopK, "MP": MixedPrecision}
