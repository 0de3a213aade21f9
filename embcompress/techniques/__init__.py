"""Techniques faiss lacks, as pipeline stages: hashing, pruning, truncation, distillation
(transforms) and binary, top-k sparse, mixed-precision and angle-chosen product codes.

A transform stage has ``d_out``, ``fit(x, seed)``, ``forward(x)``, ``inverse(y)``,
``export()``/``load(arrays)``; a code stage has ``code_size``, ``fit``, ``encode(y, out)``,
``decode(codes)``, ``export``/``load`` and optionally ``similarity(q, codes)``.
"""
from .angular_pq import AngularPQ  # noqa: E402
from .base import NoFit  # noqa: F401 -- re-exported: stages subclass techniques.NoFit
from .binary_code import BinaryCode  # noqa: E402
from .distill import Distill  # noqa: E402
from .hashing import FeatureHash  # noqa: E402
from .mixed_precision import MixedPrecision  # noqa: E402
from .pruning import Prune  # noqa: E402
from .sparse_topk import TopK  # noqa: E402
from .truncation import Truncate  # noqa: E402
from .unit_norm import UnitNorm  # noqa: E402

# the stage of each spec kind faiss lacks (embcompress.spec.kinds declares the kind itself)
STAGES = {"HASH": FeatureHash, "PRUNE": Prune, "TRUNC": Truncate, "DISTILL": Distill, "UNIT": UnitNorm,
          "BIN": BinaryCode, "TOPK": TopK, "MP": MixedPrecision, "APQ": AngularPQ}
