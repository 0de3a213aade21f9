"""The names and types that every engine shares (docs/conventions.md is the table for users).

Core, CLI, Spark and Beam read these constants instead of spelling their own, so a table
written by one engine reads the same in the others.
"""
from __future__ import annotations

import warnings

# Rejected (dead-letter) rows keep their columns and gain this string column.
REASON_COLUMN = "embcompress_reason"
# How bad rows are handled: fail naming the row, keep the row with a null code, or route it.
ON_INVALID = ("raise", "null", "dead_letter")
# A codec artifact's file extension; the artifact kept next to a dataset, and its sidecar.
ARTIFACT_SUFFIX = ".ecz"
DATASET_ARTIFACT = "_embcompress.ecz"
DATASET_SIDECAR = "_embcompress.json"
# Names written by earlier releases, still read.
LEGACY_DATASET_ARTIFACTS = ("_embcompress.codec",)


def default_code_column(column: str) -> str:
    """The code column's name when the caller gives none: ``{column}_code``."""
    return f"{column}_code"


def default_decoded_column(code_column: str) -> str:
    """The decoded column's name when the caller gives none: the code column without ``_code``."""
    return code_column[: -len("_code")] if code_column.endswith("_code") else f"{code_column}_decoded"


def check_on_invalid(on_invalid: str, allowed: tuple = ON_INVALID) -> str:
    """``on_invalid`` itself, or ValueError listing the values this entry point takes."""
    if on_invalid not in allowed:
        raise ValueError(f"on_invalid must be one of {', '.join(map(repr, allowed))}, got {on_invalid!r}")
    return on_invalid


def resolve_drop_input(drop_input: bool | None, keep_input: bool | None, *, default: bool, where: str) -> bool:
    """``drop_input``, accepting the deprecated ``keep_input`` (its negation) from older callers."""
    if keep_input is None:
        return default if drop_input is None else bool(drop_input)
    warnings.warn(f"{where}: keep_input is deprecated; pass drop_input={not keep_input} instead",
                  DeprecationWarning, stacklevel=3)
    if drop_input is not None and bool(drop_input) == bool(keep_input):
        raise ValueError(f"{where}: drop_input={drop_input} contradicts keep_input={keep_input}")
    return not keep_input
