"""embcompress: fit, encode, decode, score and search compressed embeddings.

    import embcompress as ec
    codec = ec.fit("PCA128,SQ8", sample, metric="ip", seed=0)
    codes = codec.encode(x); x_hat = codec.decode(codes)
    ids, sims = codec.search(queries, codes, k=10)
"""
from ._version import __version__
from .arrow import validate
from .codec import Codec, load
from .drift import DriftReport, drift
from .errors import ArtifactError, EmbeddingError, NotFittedError
from .evaluation import evaluate
from ._fitting import fit, recall_at_k
from ._moments import Moments
from ._pipeline import code_size
from ._scoring import exact_search
from .spec import GRAMMAR, parse_spec
from .techniques.hashing import hash_features

__all__ = [
    "GRAMMAR", "ArtifactError", "Codec", "DriftReport", "EmbeddingError", "Moments", "NotFittedError", "__version__",
    "code_size", "drift", "evaluate", "exact_search", "fit", "hash_features", "load", "parse_spec", "recall_at_k",
    "validate",
]
