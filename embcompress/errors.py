"""The exceptions embcompress raises on bad input, bad specs and bad artifacts."""
from __future__ import annotations


class EmbeddingError(ValueError):
    """An input vector (or sample) is unusable: names the column, the row and the problem."""

    def __init__(self, problem: str, *, row: int | str | None = None, column: str | None = None,
                 hint: str | None = None) -> None:
        self.problem = problem
        self.row = row
        self.column = column
        self.hint = hint
        where = []
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        prefix = (", ".join(where) + ": ") if where else ""
        message = prefix + problem
        if hint:
            message += f" ({hint})"
        super().__init__(message)

    def at_offset(self, offset: int) -> "EmbeddingError":
        """The same error with its row counted ``offset`` rows further on (a batch row as a file row)."""
        row = self.row + offset if isinstance(self.row, int) else self.row
        return EmbeddingError(self.problem, row=row, column=self.column, hint=self.hint)


class ArtifactError(ValueError):
    """A codec artifact is truncated, corrupted, tampered with, or of an unknown format version."""


class NotFittedError(RuntimeError):
    """A codec method was called before the codec was fitted or loaded."""
