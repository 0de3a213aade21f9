"""embcompress: fit, encode, decode, score and search compressed embeddings.

    import embcompress as ec
    codec = ec.fit("PCA128,SQ8", sample, metric="ip", seed=0)
    codes = codec.encode(x); x_hat = codec.decode(codes)
    ids, sims = codec.search(queries, codes, k=10)
"""
from ._version import __version__  # noqa: E402

from .codec import Codec, load  # noqa: E402
from .drift import DriftReport, drift  # noqa: E402
from .errors import ArtifactError, EmbeddingError, NotFittedError  # noqa: E402
from .evaluation import evaluate  # noqa: E402
from .fitting import fit, recall_at_k  # noqa: E402
from .moments import Moments  # noqa: E402
from .scoring import exact_search  # noqa: E402
from .pipeline import code_size  # noqa: E402
from .spec import GRAMMAR, parse_spec  # noqa: E402
from .techniques.hashing import hash_features  # noqa: E402
from .arrow import validate  # noqa: E402

__all__ = ["Codec", "load", "fit", "Moments", "evaluate", "exact_search", "recall_at_k", "validate", "parse_spec", "code_size", "hash_features", "drift", "DriftReport", "GRAMMAR",
           "ArtifactError", "EmbeddingError", "NotFittedError", "__version__"]
