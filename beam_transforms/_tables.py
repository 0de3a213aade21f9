"""Small Arrow table helpers shared by the transforms: find, replace and describe columns."""
from __future__ import annotations

import pyarrow as pa

from embcompress import EmbeddingError, provenance
from embcompress.provenance import ColumnRecord



def as_table(element):
    """``(table, was_batch)`` for a ``pyarrow.Table`` or ``RecordBatch``."""
    if isinstance(element, pa.RecordBatch):
        return pa.Table.from_batches([element]), True
    return element, False


def restore(table: pa.Table, was_batch: bool):
    """Give the table back in the form it came in."""
    if was_batch:
        return table_to_batch(table)
    return table


def table_to_batch(table: pa.Table) -> pa.RecordBatch:
    """One RecordBatch holding all of ``table`` (an empty batch for an empty table)."""
    if table.num_rows == 0:
        return pa.RecordBatch.from_pylist([], schema=table.schema)
    return table.combine_chunks().to_batches()[0]


def column_of(table: pa.Table, column: str):
    if column not in table.column_names:
        raise EmbeddingError(f"no such column; the table has {table.column_names}", column=column)
    return table[column]


def refuse_existing(names, column: str, output_column: str, replace: bool) -> None:
    """Raise EmbeddingError when ``output_column`` would overwrite another column of ``names``."""
    if output_column != column and output_column in names and not replace:
        raise EmbeddingError(f"output column already exists (it is not {column!r}); writing there would replace "
                             f"its data", column=output_column,
                             hint="choose another output_column, or pass replace=True to overwrite it")


def put_column(table: pa.Table, column: str, output_column: str, values, drop_input: bool,
               replace: bool = False) -> pa.Table:
    """Add ``values`` as ``output_column``: in place of ``column`` when the names match,
    else appended (and ``column`` dropped when ``drop_input``). Another existing column of
    that name is an error unless ``replace``."""
    if output_column == column:
        return table.set_column(table.column_names.index(column), column, values)
    refuse_existing(table.column_names, column, output_column, replace)
    if output_column in table.column_names:
        table = table.drop_columns([output_column])
    if drop_input:
        table = table.drop_columns([column])
    return table.append_column(output_column, values)


def with_provenance(table: pa.Table, record: ColumnRecord) -> pa.Table:
    """``table`` with ``record`` in its schema metadata (the provenance record every engine writes)."""
    return table.replace_schema_metadata(provenance.with_record(table.schema.metadata, record))


def preview(row: dict, skip: str, width: int = 60) -> str:
    """A short description of a row's other fields, to name a bad row in an error message."""
    parts = []
    for key, value in row.items():
        if key == skip or isinstance(value, (list, tuple, bytes, dict)):
            continue
        parts.append(f"{key}={value!r}"[:width])
        if len(parts) == 4:
            break
    return ", ".join(parts)
