"""Type aliases for the public signatures: what the functions accept as vectors and paths."""
from __future__ import annotations

import os
from typing import TypeAlias, Union

import numpy.typing as npt
import pyarrow as pa

#: A pyarrow list / large_list / fixed_size_list column of vectors.
ArrowVectors: TypeAlias = Union[pa.Array, pa.ChunkedArray]
#: An (n, d) array, anything ``np.asarray`` takes (e.g. a list of rows), or an Arrow vector column.
Vectors: TypeAlias = Union[npt.ArrayLike, ArrowVectors]
#: A local path or an object-store URL such as ``s3://bucket/codec.ecz``.
PathOrURL: TypeAlias = Union[str, os.PathLike[str]]
