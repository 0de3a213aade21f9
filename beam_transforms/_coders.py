"""A Beam coder for pyarrow Tables and RecordBatches: Arrow IPC bytes, sizes from ``nbytes``.

Beam's default coder for these types is pickle, and the SDK harness samples element sizes
by encoding elements: with row-group-sized tables (10k x 384 floats, 15 MB each) nearly
every table was pickled just to be measured, about 0.2 s per 200k rows. This coder
estimates a size from ``nbytes`` without encoding, and when a table does cross a shuffle
it travels as an Arrow IPC stream rather than a pickle.

Importing ``beam_transforms`` changes nothing in Beam's coder registry. The coder reaches
PCollections in one of two ways:

- :data:`ArrowTable` / :data:`ArrowBatch`: element types of our own (subclasses of
  ``pa.Table`` / ``pa.RecordBatch`` for type checks, matching every table at run time).
  Our transforms type the tables they produce with them, and users may too
  (``ReadFromParquetBatched(...).with_output_types(ArrowTable)``). Only these private types
  are registered, the first time a transform asks for them, so no other PCollection's coder changes.
- :func:`use_arrow_coder`: the documented opt-in that registers the coder for every
  PCollection typed ``pa.Table`` or ``pa.RecordBatch`` in the process.
"""
from __future__ import annotations

import apache_beam as beam
import pyarrow as pa

from ._tables import table_to_batch

_TABLE, _BATCH = b"T", b"B"


class _MatchesBase(type):
    """Metaclass: an instance of the Arrow base class counts as an instance of the hint class,
    so Beam's runtime type checks accept every table for ``ArrowTable``."""

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, cls.__mro__[1])


class ArrowTable(pa.Table, metaclass=_MatchesBase):
    """Element type hint: a ``pyarrow.Table`` carried with :class:`ArrowTableCoder`. Never instantiated."""


class ArrowBatch(pa.RecordBatch, metaclass=_MatchesBase):
    """Element type hint: a ``pyarrow.RecordBatch`` carried with :class:`ArrowTableCoder`. Never instantiated."""


class ArrowTableCoder(beam.coders.Coder):
    """Encodes a ``pyarrow.Table`` or ``RecordBatch`` as a one-byte kind plus an Arrow IPC stream."""

    def encode(self, value: pa.Table | pa.RecordBatch) -> bytes:
        kind = _BATCH if isinstance(value, pa.RecordBatch) else _TABLE
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, value.schema) as writer:
            writer.write(value)
        return kind + sink.getvalue().to_pybytes()

    def decode(self, encoded: bytes) -> pa.Table | pa.RecordBatch:
        table = pa.ipc.open_stream(pa.py_buffer(encoded)[1:]).read_all()
        return table_to_batch(table) if encoded[:1] == _BATCH else table

    def estimate_size(self, value: pa.Table | pa.RecordBatch) -> int:
        return int(value.nbytes)

    def is_deterministic(self) -> bool:
        return False

    def to_type_hint(self) -> type:
        return pa.Table

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))


_HINTS = {pa.Table: ArrowTable, pa.RecordBatch: ArrowBatch, ArrowTable: ArrowTable, ArrowBatch: ArrowBatch}


def arrow_hint(element_type=pa.Table) -> type:
    """The private hint for ``pa.Table`` or ``pa.RecordBatch`` (registering its coder on first use)."""
    hint = _HINTS[element_type]
    if beam.coders.registry._coders.get(hint) is not ArrowTableCoder:  # our own key only
        beam.coders.registry.register_coder(hint, ArrowTableCoder)
    return hint


def is_arrow_type(element_type) -> bool:
    """Whether a PCollection's element type is ``pa.Table``/``pa.RecordBatch`` or one of our hints."""
    try:
        return element_type in _HINTS
    except TypeError:  # an unhashable type hint
        return False


def use_arrow_coder() -> None:
    """Opt in: make Beam use :class:`ArrowTableCoder` for every PCollection typed ``pa.Table`` or
    ``pa.RecordBatch`` in this process (a global change, hence never done at import)."""
    beam.coders.registry.register_coder(pa.Table, ArrowTableCoder)
    beam.coders.registry.register_coder(pa.RecordBatch, ArrowTableCoder)
