"""Move row dicts to and from Arrow columns, so row dicts take the same core path as tables.

Row values that are not a sequence of numbers cannot become an Arrow list: they are
flagged here with a "wrong type" reason (and left null in the column) rather than failing
the whole batch.
"""
from __future__ import annotations

from collections.abc import Mapping

import apache_beam as beam
import numpy as np
import pyarrow as pa

from embcompress._validation import wrong_type

from ._tables import refuse_existing

MISSING = "missing column"
_VECTOR_TYPE = pa.list_(pa.float64())


def _is_schema_row(element) -> bool:
    """A ``beam.Row``, or a NamedTuple (the form Beam decodes schema'd rows into)."""
    return isinstance(element, beam.Row) or (isinstance(element, tuple) and hasattr(element, "_asdict"))


def is_row_dict(element) -> bool:
    """A row dict, or a schema row (taken as the dict of its fields)."""
    return isinstance(element, Mapping) or _is_schema_row(element)


def as_dict(element) -> Mapping:
    """The fields of a row dict, ``beam.Row`` or NamedTuple."""
    if isinstance(element, beam.Row):
        return element.as_dict()
    return element._asdict() if _is_schema_row(element) else element


def like(original, values: dict):
    """``values`` in the form ``original`` came in: a ``beam.Row`` for a schema row, else the dict."""
    return beam.Row(**values) if _is_schema_row(original) else values


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"ndarray of {value.dtype} with shape {value.shape}"
    if isinstance(value, (list, tuple)):
        bad = next((e for e in value if isinstance(e, bool) or not isinstance(e, (int, float, np.number))), None)
        if isinstance(bad, (bool, np.bool_)):
            return "a list containing bool (booleans are not coordinates)"  # the core's words
        if bad is not None:
            return f"{type(value).__name__} containing {type(bad).__name__} {bad!r:.40}"
    return type(value).__name__


def _plausible(value) -> bool:
    """Whether ``value`` may be a vector: a 1-D numeric array, or a list/tuple without bools
    (Arrow would turn True/False into 1.0/0.0, which a numpy bool array is refused for)."""
    if isinstance(value, np.ndarray):
        return value.ndim == 1 and (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer))
    if not isinstance(value, (list, tuple)):
        return False
    kinds = set(map(type, value))
    return bool not in kinds and np.bool_ not in kinds


def vector_column(rows, column):
    """Return ``(array, reasons)``: a ``list<double>`` array of ``rows[i][column]`` and per-row
    reasons (None, or why the value has the wrong type; such rows are null in ``array``)."""
    values, reasons = [], [None] * len(rows)
    for i, row in enumerate(rows):
        if column not in row:
            reasons[i] = MISSING
            values.append(None)
            continue
        value = row[column]
        if value is None or _plausible(value):
            values.append(value)
        else:
            reasons[i] = wrong_type(_describe(value))
            values.append(None)
    try:
        return pa.array(values, type=_VECTOR_TYPE), reasons
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        pass
    for i, value in enumerate(values):  # slow path: find which rows Arrow refuses
        if value is None:
            continue
        try:
            pa.array([value], type=_VECTOR_TYPE)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            reasons[i] = wrong_type(_describe(value))
            values[i] = None
    return pa.array(values, type=_VECTOR_TYPE), reasons


def code_column(rows, column):
    """A ``binary`` array of the code bytes in ``rows[i][column]`` (None stays null)."""
    values = []
    for i, row in enumerate(rows):
        value = row.get(column)
        if value is not None and not isinstance(value, (bytes, bytearray, memoryview)):
            from embcompress import EmbeddingError

            raise EmbeddingError(f"expected code bytes, got {type(value).__name__}", row=i, column=column)
        values.append(None if value is None else bytes(value))
    return pa.array(values, type=pa.binary())


def with_value(row, column, output_column, value, drop_input, replace=False):
    """A copy of ``row`` with ``value`` under ``output_column`` (and ``column`` dropped if asked);
    another existing key of that name is an error unless ``replace``."""
    refuse_existing(row, column, output_column, replace)
    out = dict(row)
    if drop_input and output_column != column:
        out.pop(column, None)
    out[output_column] = value
    return out
