"""Every spec kind, in grammar order: the one list parse_spec, GRAMMAR and the rest read.

A kind lives in one module of this package (a family of related kinds may share one); add a
new module's ``KINDS`` here.
"""
from __future__ import annotations

from ..descriptor import Kind
from . import additive, linear, norms, numpy_codes, product, rabitq, reductions, scalar

KINDS: tuple[Kind, ...] = (*linear.KINDS, *norms.KINDS, *reductions.KINDS,
                           *scalar.KINDS, *product.KINDS, *rabitq.KINDS, *additive.KINDS, *numpy_codes.KINDS)
BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}
