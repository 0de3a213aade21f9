"""Shared fixtures: seeded low-rank data, the shipped demo set, and the project's real dev set."""
import numpy as np
import pytest

from embcompress import datasets


def low_rank(n, d, rank=8, seed=0, normalize=True):
    """Seeded data with a decaying spectrum, like real embeddings (not isotropic noise)."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, d)).astype(np.float32)
    weights = (rng.standard_normal((n, rank)) * (1.0 / np.arange(1, rank + 1))).astype(np.float32)
    x = weights @ basis + 0.05 * rng.standard_normal((n, d)).astype(np.float32)
    if normalize:
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)


@pytest.fixture(scope="session")
def make_low_rank():
    """The ``low_rank`` data factory, for tests that need their own sizes."""
    return low_rank


@pytest.fixture(scope="session")
def data64():
    return low_rank(1200, 64, seed=1)


@pytest.fixture(scope="session")
def demo_matrix():
    return datasets.matrix(datasets.load_demo())


@pytest.fixture(scope="session")
def shared_dev():
    root = datasets.shared_data_dir()
    if root is None:
        pytest.skip("../shared/data (the project's real dev embeddings) is absent on this machine")
    return datasets.load_dev(root)
