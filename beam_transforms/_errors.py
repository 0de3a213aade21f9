"""Bad rows in Beam's own shapes: ``with_exception_handling()`` / ``ErrorHandler``, and the
legacy ``with_dead_letters()`` records.

Beam's error record is ``(element, (exception type, repr(exception), traceback lines))``.
Our transforms emit one record per bad row (the row in its input form: a row dict, a
``beam.Row``, or a one-row table), whose exception is an :class:`embcompress.EmbeddingError`
naming the column, the row's position in its element and our reason. Whole elements that
fail (say, a missing column) are caught by Beam's own wrapper and routed the same way.
"""
from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterator

import apache_beam as beam

from embcompress import EmbeddingError
from embcompress.conventions import REASON_COLUMN


_WHERE = re.compile(r"^[\w.]+: (column (?:'[^']*'|\"[^\"]*\")(, row \d+)?: |row \d+: )?")


def dead_letter(row: dict, column: str, reason: str) -> dict:
    """A ``with_dead_letters()`` record: the original row, the column checked, and why (``embcompress_reason``)."""
    return {"row": row, "column": column, REASON_COLUMN: reason}


def error_record(element: Any, column: str, reason: str, row: int | None = None) -> tuple:
    """Beam's dead-letter shape for one bad row: ``(element, (EmbeddingError, repr, traceback lines))``."""
    exc = EmbeddingError(reason, row=row, column=column)
    return element, (EmbeddingError, repr(exc), traceback.format_exception_only(EmbeddingError, exc))


def reason_of(record: dict[str, Any] | tuple) -> str:
    """Our reason from either bad-row shape (a ``with_dead_letters()`` dict or Beam's error tuple)."""
    if isinstance(record, dict):
        return record[REASON_COLUMN]
    text = record[1][2][-1].strip()  # "EmbeddingError: column 'embedding', row 2: NaN in vector"
    return _WHERE.sub("", text, count=1)


@dataclass
class Handling:
    """How a transform routes bad rows: ``style`` is "beam" (error tuples) or "dict" (legacy records)."""

    style: str
    main_tag: str = "good"
    dead_letter_tag: str = "bad"
    error_handler: Any = None
    beam_kwargs: dict = field(default_factory=dict)

    def letter(self, element, row_dict, column: str, reason: str, row: int) -> tuple | dict:
        if self.style == "beam":
            return error_record(element, column, reason, row)
        return dead_letter(row_dict, column, reason)


class TaggedResult:
    """``good, bad = ...``, ``result.good`` / ``result[tag]``: what Beam's ``with_exception_handling`` returns."""

    def __init__(self, main_tag: str, dead_letter_tag: str, good: beam.PCollection, bad: beam.PCollection):
        self._tags = {main_tag: good, dead_letter_tag: bad}
        self._order = (good, bad)

    def __iter__(self) -> Iterator[beam.PCollection]:
        return iter(self._order)

    def __getitem__(self, tag) -> beam.PCollection:
        return self._order[tag] if isinstance(tag, int) else self._tags[tag]

    def __getattr__(self, tag: str) -> beam.PCollection:
        if tag.startswith("_"):
            raise AttributeError(tag)
        try:
            return self._tags[tag]
        except KeyError:
            raise AttributeError(tag) from None


class ExceptionHandlingMixin:
    """``with_exception_handling()`` and ``with_error_handler()`` for our PTransforms, as Beam's ParDo has them."""

    _handling: Handling | None = None

    def with_exception_handling(self, main_tag: str = "good", dead_letter_tag: str = "bad", *,
                                exc_class=Exception, error_handler=None, on_failure_callback=None):
        """Route bad rows (and failing elements) to ``dead_letter_tag`` in Beam's error shape.

        Returns ``(good, bad)`` as Beam's does, or only the good PCollection when
        ``error_handler`` (a ``beam.transforms.error_handling.ErrorHandler``) is given: it
        receives the bad records.
        """
        self._handling = Handling("beam", main_tag, dead_letter_tag, error_handler,
                                  {"exc_class": exc_class, "on_failure_callback": on_failure_callback})
        return self

    def with_error_handler(self, error_handler, **kwargs):
        """Beam's alias: ``with_exception_handling(error_handler=error_handler, ...)``; None leaves errors failing."""
        if error_handler is None:
            return self
        return self.with_exception_handling(error_handler=error_handler, **kwargs)

    def _finish(self, good, bad):
        """The transform's result under the chosen handling."""
        h = self._handling
        if h is None:
            return good
        if h.error_handler is not None:
            h.error_handler.add_error_pcollection(bad)
            return good
        return TaggedResult(h.main_tag, h.dead_letter_tag, good, bad)
