"""Apache Beam transforms for embcompress: fit a codec on a sample, encode, decode and score.

    import apache_beam as beam
    from beam_transforms import FitCodec, EncodeEmbeddings

    with beam.Pipeline() as p:
        tables = p | beam.io.ReadFromParquetBatched("in/*.parquet")
        codec = tables | FitCodec("embedding", "PCA128,SQ8", sample_size=100_000)
        coded = tables | EncodeEmbeddings("embedding", beam.pvalue.AsSingleton(codec))

A thin layer: every numeric step is a call into the ``embcompress`` core on whole Arrow
tables; codecs travel between workers as artifact bytes, never pickled objects. Importing the
package changes nothing in Beam (no coder registration): see ``use_arrow_coder``. The
``MLTransform`` operation is in :mod:`beam_transforms.mltransform` (imported on demand).
"""
from ._coders import ArrowBatch, ArrowTable, ArrowTableCoder, use_arrow_coder
from ._errors import TaggedResult, error_record, reason_of
from .artifacts import load_codec, read_artifact, write_artifact
from .decode import DecodeEmbeddings
from .encode import EncodeEmbeddings, EncodeResult, dead_letter
from .fit import FitCodec, ReadCodec
from .nightly import ReadCompressed, Recompress
from .parquet import CompressParquet
from .score import ScoreEmbeddings, TopKNeighbors

__all__ = ["FitCodec", "ReadCodec", "EncodeEmbeddings", "EncodeResult", "DecodeEmbeddings", "ScoreEmbeddings",
           "TopKNeighbors", "CompressParquet", "load_codec", "read_artifact", "write_artifact", "dead_letter",
           "Recompress", "ReadCompressed", "ArrowTable", "ArrowBatch", "ArrowTableCoder", "use_arrow_coder",
           "TaggedResult", "error_record", "reason_of"]
