"""Transforms that only rescale rows: faiss's L2norm, and UNIT for embeddings already of norm 1."""
from __future__ import annotations

from ..descriptor import Kind, as_written

L2NORM = Kind("L2norm", "transform", r"L2norm", "L2norm", max_rows=lambda args, d: 0, faiss=as_written,
              moments_sample="none", needs_nonzero_norm=True)
UNIT = Kind("UNIT", "transform", r"UNIT",
            "UNIT (unit-norm embeddings: reconstructions are put back on the unit sphere, free)",
            max_rows=lambda args, d: 0, moments_sample="none")

KINDS = (L2NORM, UNIT)
