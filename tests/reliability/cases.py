"""The bad-input catalogue: every case, and what each entry point must do with it.

An outcome is ``ok`` (encoded, codes equal the core's), ``null`` (row kept, null code),
``dead`` (row moved to the dead letter with this reason) or ``error`` (nothing written,
message matching this regex). Row cases put one bad vector among good ones; the other
kinds replace the whole input (column type, table size, file, artifact, sample, codes).
"""
from __future__ import annotations

from dataclasses import dataclass, field

ENTRY_POINTS = ("core", "spark", "sql", "beam", "cli")
NAN, INF = float("nan"), float("inf")
DIM = 8


@dataclass(frozen=True)
class Outcome:
    kind: str  # ok | null | dead | error
    text: str = ""  # dead-letter reason (exact) or error regex

    def __str__(self):
        return f"{self.kind}({self.text})" if self.text else self.kind


OK, NULL = Outcome("ok"), Outcome("null")


def dead(reason):
    return Outcome("dead", reason)


def error(pattern):
    return Outcome("error", pattern)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # row | column | fit | decode | parquet | artifact
    value: object = None
    expect: dict = field(default_factory=dict)


def _all(outcome, **overrides):
    return {e: overrides.get(e, outcome) for e in ENTRY_POINTS}


def row_case(name, vector, reason):
    """One bad vector among good rows: dead-lettered (the SQL UDFs, which have no dead letter, give null)."""
    return Case(name, "row", vector, _all(dead(reason), sql=NULL))


WRONG = "wrong length: expected 8, got"
BAD_PARQUET = _all(error(r"bad\.parquet is not a readable Parquet file"),
                   spark=error(r"CANNOT_READ_FILE_FOOTER.*bad\.parquet\. Could not read footer"),
                   sql=error(r"FAILED_TO_CREATE_PLAN_FOR_DIRECT_QUERY.*files: parquet"),  # Spark's own message
                   beam=error(r"Parquet magic bytes not found in footer"))
CASES = [
    row_case("nan", [NAN] + [0.5] * 7, "NaN in vector"),
    row_case("pos_inf", [INF] + [0.5] * 7, "Inf in vector"),
    row_case("neg_inf", [0.5] * 7 + [-INF], "Inf in vector"),
    row_case("nan_and_inf", [NAN, INF] + [0.5] * 6, "NaN in vector"),
    row_case("too_short", [0.5] * 7, f"{WRONG} 7"),
    row_case("too_long", [0.5] * 9, f"{WRONG} 9"),
    row_case("null_element", [0.5, None] + [0.5] * 6, "null inside vector"),
    row_case("empty_list", [], "empty vector"),
    row_case("zero_norm", [0.0] * 8, "zero norm vector (cannot be normalized)"),
    Case("null_vector", "row", None, _all(NULL)),
    Case("int_elements", "column", "int", _all(OK)),
    Case("double_elements", "column", "double", _all(OK)),
    Case("string_column", "column", "string",
         _all(error(r"non-numeric type.*string"), spark=error(r"has type string; expected array<float>"))),
    Case("empty_table", "column", "empty", _all(OK)),
    Case("one_row_table", "column", "one_row", _all(OK)),
    Case("all_null_column", "column", "all_null", _all(NULL)),
    Case("codec_dim_differs", "column", "dim16",
         _all(dead("wrong length: expected 16, got 8"), sql=NULL, cli=error(r"encodes 16-dimensional vectors"))),
    Case("missing_column", "column", "missing",
         _all(error(r"column 'vec'.*no such column"), spark=error(r"column 'vec' not found"),
              sql=error(r"UNRESOLVED_COLUMN.*vec"))),
    Case("fit_sample_too_small", "fit", 5, _all(error(r"sample too small: spec 'PQ2x4' needs at least 16 rows"))),
    Case("code_too_long", "decode", +1, _all(error(r"wrong code size: expected 8 bytes.*got 9"))),
    Case("code_too_short", "decode", -1, _all(error(r"wrong code size: expected 8 bytes.*got 7"))),
    Case("parquet_truncated", "parquet", "truncated", BAD_PARQUET),
    Case("parquet_not_parquet", "parquet", "garbage", BAD_PARQUET),
    Case("artifact_empty", "artifact", "empty", _all(error(r"artifact is truncated or empty: 0 bytes"))),
    Case("artifact_truncated", "artifact", "truncated", _all(error(r"artifact is truncated"))),
    Case("artifact_tampered", "artifact", "tampered", _all(error(r"checksum mismatch"))),
    Case("artifact_newer_version", "artifact", "newer", _all(error(r"format version 2 is newer than"))),
    Case("artifact_pickle", "artifact", "pickle", _all(error(r"looks like a pickle"))),
]
