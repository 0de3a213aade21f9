"""Parse faiss-style codec specs: comma-separated transforms, then exactly one code.

A spec is parsed into :class:`Spec`, which knows the pieces, the faiss factory string
that implements them, and how many training rows the spec needs. What each kind of piece
means is declared once, in its :class:`~embcompress.spec.descriptor.Kind` under
:mod:`embcompress.spec.kinds`; nothing here names a kind.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .descriptor import (MAX_ADDITIVE_SETTING, MAX_CODEBOOK_BITS, MAX_DIM, MAX_HASH_FUNCTIONS, MAX_PIECES,  # noqa: F401
                         MAX_RQ_CODEBOOKS, MAX_SPEC_CHARS, Kind, TokenError)
from .kinds import BY_NAME, KINDS

EXAMPLES = ('"SQ8", "PCA128,SQ8", "OPQ32,PQ32", "PQ48x8", "RR384,SQ4", "ITQ64,BIN", "HASH512x2,SQ8",',
            '"PCA256,MP48", "DISTILL128,SQ8", "TRUNC128,SQ8", "UNIT,RQ32x8_b16", "UNIT,OPQ32,PQ32"')
_GRAMMAR_WIDTH = 106


def _alternatives(label: str, role: str) -> list:
    """``label := a | b | ...`` over the kinds of ``role``, wrapped to lines of at most _GRAMMAR_WIDTH."""
    lines, line = [], f"{label:<9} := "
    for i, kind in enumerate(k for k in KINDS if k.role == role):
        piece = kind.grammar if i == 0 else f" | {kind.grammar}"
        if i and len(line) + len(piece) > _GRAMMAR_WIDTH:
            lines.append(line)
            line, piece = " " * 11, f"| {kind.grammar}"
        line += piece
    return lines + [line]


GRAMMAR = "\n".join(["spec      := [transform \",\"]* code", *_alternatives("transform", "transform"),
                     *_alternatives("code", "code"), f"examples  : {EXAMPLES[0]}", " " * 12 + EXAMPLES[1]])

# each role's kinds by name, the token patterns parse_spec tries
_TRANSFORM_PATTERNS = {k.name: k.pattern for k in KINDS if k.role == "transform"}
_CODE_PATTERNS = {k.name: k.pattern for k in KINDS if k.role == "code"}


@dataclass(frozen=True)
class Piece:
    """One parsed element of a spec: its kind (e.g. ``"PCA"``), its text and its numbers."""

    kind: str
    text: str
    args: tuple

    @property
    def info(self) -> Kind:
        """The descriptor of this piece's kind."""
        return BY_NAME[self.kind]

    def output_dim(self, d: int) -> int:
        """Dimension after this piece, for ``d``-dimensional input."""
        return self.info.output_dim(self.args, d) if self.info.role == "transform" else d


def output_dim(pieces, dim: int) -> int:
    """Dimension after ``pieces`` in turn, for ``dim``-dimensional input."""
    for piece in pieces:
        dim = piece.output_dim(dim)
    return dim


@dataclass(frozen=True)
class Spec:
    text: str
    transforms: tuple
    code: Piece

    @property
    def faiss_factory(self) -> str:
        """The faiss ``index_factory`` string; a code faiss lacks is built on a faiss ``Flat`` code.

        Settings faiss's factory has no syntax for (beam size, iterations) are left out here
        and set on the built index (:func:`embcompress._faiss_backend.new_index`).
        """
        spell = self.code.info.faiss
        code = spell(self.code.text, self.code.args) if spell is not None else "Flat"
        return ",".join([t.text for t in self.transforms] + [code])

    def output_dim(self, dim: int) -> int:
        """Dimension the code sees after all transforms, for input dimension ``dim``."""
        return output_dim(self.transforms, dim)

    def _inputs(self, dim: int):
        """``(piece, dimension it receives)`` for every transform, then the code."""
        d = dim
        for t in self.transforms:
            yield t, d
            d = t.output_dim(d)
        yield self.code, d

    def min_training_rows(self, dim: int) -> int:
        """Fewest sample rows faiss can fit this spec on (k-means needs one row per centroid)."""
        return max(p.info.min_rows(p.args, d) for p, d in self._inputs(dim))

    def max_training_rows(self, dim: int) -> int | None:
        """Most sample rows faiss's trainers read for this spec; None when some stage reads every row.

        faiss subsamples a PCA to 1,000 rows per input dimension, OPQ to 65,536 rows, ITQ to
        max(10 per dimension, 32,768) and k-means to 256 rows per centroid; a scalar quantizer's
        range, the additive quantizers' beam passes and RaBitQ's centre read every row.
        Rows beyond this bound can measure fit statistics without costing the trainer anything.
        """
        caps = []
        for p, d in self._inputs(dim):
            cap = p.info.max_rows(p.args, d)
            if cap is None:
                return None
            caps.append(cap)
        return max(caps)

    def check_dim(self, dim: int) -> None:
        """Raise ValueError when the spec cannot apply to vectors of dimension ``dim``."""
        for p, d in self._inputs(dim):
            why = p.info.check(p.text, p.args, d)
            if why is not None:
                raise ValueError(f"spec {self.text!r}: {why}")

    @property
    def needs_nonzero_norm(self) -> bool:
        return any(t.info.needs_nonzero_norm for t in self.transforms)


def _bad(spec: str, why: str) -> ValueError:
    return ValueError(f"invalid codec spec {spec!r}: {why}.\nAccepted grammar:\n{GRAMMAR}")


def _match(patterns: dict, token: str) -> tuple:
    for kind, pattern in patterns.items():
        m = pattern.fullmatch(token)
        if m:
            return kind, m
    return None, None


def _piece(spec: str, token: str, kind: str, match: re.Match) -> Piece:
    try:
        return Piece(kind, token, BY_NAME[kind].parse(token, match))
    except TokenError as exc:
        raise _bad(spec, str(exc)) from None


def parse_spec(spec: str | Spec) -> Spec:
    """Parse ``spec`` or raise ValueError quoting it and listing the accepted grammar."""
    if isinstance(spec, Spec):
        return spec
    if not isinstance(spec, str):
        raise _bad(repr(spec), f"expected a string, got {type(spec).__name__}")
    if len(spec) > MAX_SPEC_CHARS:
        raise _bad(spec[:40] + "...", f"it is {len(spec)} characters long, the limit is {MAX_SPEC_CHARS}")
    text = spec.strip()
    if not text:
        raise _bad(spec, "it is empty")
    tokens = [t.strip() for t in text.split(",")]
    if any(not t for t in tokens):
        raise _bad(spec, "it has an empty element between commas")
    if len(tokens) > MAX_PIECES:
        raise _bad(spec, f"it has {len(tokens)} pieces, the limit is {MAX_PIECES} (transforms plus the code)")
    transforms = []
    for token in tokens[:-1]:
        kind, m = _match(_TRANSFORM_PATTERNS, token)
        if kind is None:
            hint = "a code must come last" if _match(_CODE_PATTERNS, token)[0] else "unknown transform"
            raise _bad(spec, f"{token!r}: {hint}")
        transforms.append(_piece(spec, token, kind, m))
    kind, m = _match(_CODE_PATTERNS, tokens[-1])
    if kind is None:
        hint = "the last element must be a code" if _match(_TRANSFORM_PATTERNS, tokens[-1])[0] else "unknown code"
        raise _bad(spec, f"{tokens[-1]!r}: {hint}")
    return Spec(",".join(tokens), tuple(transforms), _piece(spec, tokens[-1], kind, m))
