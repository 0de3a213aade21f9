"""Beam schemas: recognise a schema'd PCollection and derive our transforms' output schema.

A PCollection whose element type is a Beam row type (``beam.Row`` from a typed ``Create``,
a ``NamedTuple``, ``beam.Select``, a schema-aware read) whose every field maps to Arrow
takes the batched path: Beam's own Arrow batch converter hands our ``process_batch`` a
``pa.Table`` of the rows, so rows take the same core call as tables. The output row type is
the input's, with the new field added (``Optional[bytes]`` for codes), so SQL and the
schema-aware sinks can consume it.
"""
from __future__ import annotations

import typing
from typing import Any, Optional

import apache_beam as beam
import pyarrow as pa
from apache_beam.typehints.arrow_type_compatibility import arrow_schema_from_beam_schema
from apache_beam.typehints.row_type import RowTypeConstraint
from apache_beam.typehints.schemas import typing_to_runner_api

from embcompress import EmbeddingError

from ._tables import refuse_existing

CODE_TYPE: Any = Optional[bytes]
VECTOR_TYPE: Any = Optional[typing.List[float]]


def row_type(element_type) -> RowTypeConstraint | None:
    """The row type of a schema'd PCollection whose fields all map to Arrow, else None."""
    if element_type is None or isinstance(element_type, type) and issubclass(element_type, (pa.Table,
                                                                                            pa.RecordBatch)):
        return None
    rt = element_type if isinstance(element_type, RowTypeConstraint) else None
    if rt is None:
        try:
            rt = RowTypeConstraint.from_user_type(element_type)
        except (TypeError, ValueError, AttributeError):
            return None
    if rt is None:
        return None
    try:
        arrow_schema_from_beam_schema(typing_to_runner_api(typing.cast(type, rt)).row_type.schema)
    except (TypeError, ValueError, NotImplementedError, KeyError):
        return None
    return rt


def with_field(rt: RowTypeConstraint, column: str, output_column: str, field_type, drop_input: bool,
               replace: bool) -> RowTypeConstraint:
    """The output row type: ``rt`` with ``output_column`` of ``field_type`` (replacing ``column`` when
    the names match, else appended, ``column`` dropped when ``drop_input``)."""
    fields: list[tuple[str, Any]] = list(rt._fields)
    names = [name for name, _ in fields]
    if column not in names:
        raise EmbeddingError(f"no such field; the schema has {names}", column=column)
    refuse_existing(names, column, output_column, replace)
    if output_column == column:
        return RowTypeConstraint.from_fields([(n, field_type if n == column else t) for n, t in fields])
    fields = [(n, t) for n, t in fields if n != output_column and not (drop_input and n == column)]
    return RowTypeConstraint.from_fields(fields + [(output_column, field_type)])


def check_fields(rt: RowTypeConstraint, *columns: str) -> None:
    """Refuse at construction a schema without one of ``columns``."""
    names = [name for name, _ in rt._fields]
    for column in columns:
        if column not in names:
            raise EmbeddingError(f"no such field; the schema has {names}", column=column)


def select(rt: RowTypeConstraint, names) -> RowTypeConstraint:
    """``rt`` restricted to the fields ``names``, in that order."""
    types: dict[str, Any] = dict(rt._fields)
    return RowTypeConstraint.from_fields([(name, types[name]) for name in names])


def list_row_fields(rt: RowTypeConstraint, name: str) -> list | None:
    """The field names of the rows in list field ``name``, or None when its items are not rows."""
    inner = getattr(dict(rt._fields)[name], "inner_type", None)
    if isinstance(inner, RowTypeConstraint):
        return [field for field, _ in inner._fields]
    return None


def as_row(values: dict) -> beam.Row:
    return beam.Row(**values)


def rows_of(batch: pa.Table) -> list:
    """The batch's rows as dicts (Beam's converter adds a schema id to the metadata: dropped here)."""
    return batch.to_pylist()
