"""Spark plugin for embcompress: fit on a sample, encode/decode columns, compress Parquet,
SQL UDFs, a pyspark.ml Estimator and a top-k join. All maths runs in :mod:`embcompress`.

    from spark_udfs import fit_codec, encode_column
    codec = fit_codec(df, "embedding", "PCA128,SQ8")
    df = encode_column(df, codec, "embedding", "embedding_code")
"""
from .encode import decode_column, encode_column
from .knn import knn_join
from .ml import EmbeddingCompressor, EmbeddingCompressorModel
from .nightly import read_compressed, recompress
from .parquet import compress_parquet, read_parquet
from .sampling import fit_codec, sample_vectors
from .sql import register_udfs

__all__ = [
    "fit_codec", "sample_vectors", "encode_column", "decode_column", "compress_parquet", "read_parquet",
    "register_udfs", "EmbeddingCompressor", "EmbeddingCompressorModel", "knn_join", "recompress",
    "read_compressed",
]
