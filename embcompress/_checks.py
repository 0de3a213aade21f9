"""One checker per argument that every entry point shares (core, CLI, Spark, Beam), with one message each."""
from __future__ import annotations

import numbers

METRICS = ("ip", "l2")
SEED_LIMIT = 2**31


def positive_int(name: str, value) -> int:
    """``value`` as an int, or ValueError: a bool, a float or a value below 1 is refused."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_k(k) -> int:
    """Neighbours per query; a ``k`` above the number of rows is clipped by the search itself."""
    return positive_int("k", k)


def check_sample_size(sample_size) -> int:
    return positive_int("sample_size", sample_size)


def check_seed(seed) -> int:
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not 0 <= int(seed) < SEED_LIMIT:
        raise ValueError(f"seed must be an integer in [0, 2**31), got {seed!r}")
    return int(seed)


def check_metric(metric) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return metric
