"""pyspark.ml wrappers: ``EmbeddingCompressor`` (Estimator) fits a codec on a sample,
``EmbeddingCompressorModel`` (Transformer) encodes. Models save as metadata JSON plus the
artifact bytes, never pickle, and both work inside a ``pyspark.ml.Pipeline``."""
from __future__ import annotations

from typing import Any

from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol, HasSeed
from pyspark.ml.util import (DefaultParamsReadable, DefaultParamsReader, DefaultParamsWritable,
                             DefaultParamsWriter, MLReadable, MLReader, MLWritable, MLWriter)

import embcompress as ec
from embcompress.codec import MAX_ARTIFACT_BYTES
from embcompress.conventions import ARTIFACT_SUFFIX, default_code_column

from . import _fs, _session
from .encode import encode_column
from .sampling import fit_codec

ARTIFACT = f"data/codec{ARTIFACT_SUFFIX}"
LEGACY_ARTIFACT = "data/codec.emb"  # written before docs/conventions.md; still read


class _CodecParams(HasInputCol, HasOutputCol, HasSeed):
    spec = Param(Params._dummy(), "spec", "codec spec, e.g. 'PCA128,SQ8' (see embcompress.GRAMMAR)",
                 typeConverter=TypeConverters.toString)
    sampleSize = Param(Params._dummy(), "sampleSize", "rows sampled to fit the codec (> 0)",
                       typeConverter=TypeConverters.toInt)
    metric = Param(Params._dummy(), "metric", "similarity the codec serves: 'ip' or 'l2'",
                   typeConverter=TypeConverters.toString)
    onInvalid = Param(Params._dummy(), "onInvalid", "bad vectors: 'raise' or 'null'",
                      typeConverter=TypeConverters.toString)

    def __init__(self, *args):
        super().__init__(*args)
        self._setDefault(sampleSize=100_000, seed=0, metric="ip", onInvalid="raise")

    def getSpec(self) -> str:
        return self.getOrDefault(self.spec)

    def getSampleSize(self) -> int:
        return self.getOrDefault(self.sampleSize)

    def getMetric(self) -> str:
        return self.getOrDefault(self.metric)

    def getOnInvalid(self) -> str:
        return self.getOrDefault(self.onInvalid)

    def _output(self):
        return self.getOutputCol() if self.isSet(self.outputCol) else default_code_column(self.getInputCol())


class EmbeddingCompressor(Estimator, _CodecParams, DefaultParamsReadable, DefaultParamsWritable):
    """Fit a codec on a seeded sample of ``inputCol``; the model encodes it into ``outputCol``."""

    _input_kwargs: dict[str, Any]  # set by @keyword_only (as in pyspark's own estimators)

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None, spec: str | None = None,
                 sampleSize: int = 100_000, seed: int = 0, metric: str = "ip", onInvalid: str = "raise") -> None:
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, inputCol: str | None = None, outputCol: str | None = None, spec: str | None = None,
                  sampleSize: int = 100_000, seed: int = 0, metric: str = "ip",
                  onInvalid: str = "raise") -> EmbeddingCompressor:
        return self._set(**self._input_kwargs)

    def setInputCol(self, value: str) -> EmbeddingCompressor:
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> EmbeddingCompressor:
        return self._set(outputCol=value)

    def setSpec(self, value: str) -> EmbeddingCompressor:
        return self._set(spec=value)

    def _fit(self, dataset):
        for p in (self.inputCol, self.spec):
            if not self.isDefined(p):
                raise ValueError(f"EmbeddingCompressor: parameter {p.name!r} must be set before fit")
        codec = fit_codec(dataset, self.getInputCol(), self.getSpec(), sample_size=self.getSampleSize(),
                          seed=self.getSeed(), metric=self.getMetric())
        model = EmbeddingCompressorModel(codec)
        return self._copyValues(model)


class EmbeddingCompressorModel(Model, _CodecParams, MLReadable, MLWritable):
    """Encode ``inputCol`` into ``outputCol`` (binary codes) with a fitted codec."""

    def __init__(self, codec: ec.Codec | None = None) -> None:
        super().__init__()
        self._codec = codec

    @property
    def codec(self) -> ec.Codec:
        if self._codec is None:
            raise ec.NotFittedError("EmbeddingCompressorModel has no codec: fit an EmbeddingCompressor or load a model")
        return self._codec

    def setInputCol(self, value: str) -> EmbeddingCompressorModel:
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> EmbeddingCompressorModel:
        return self._set(outputCol=value)

    def _transform(self, dataset):
        return encode_column(dataset, self.codec, self.getInputCol(), self._output(), on_invalid=self.getOnInvalid())

    def copy(self, extra: dict[Param, Any] | None = None) -> EmbeddingCompressorModel:
        new = super().copy(extra)
        new._codec = self._codec
        return new

    def write(self) -> MLWriter:
        return _ModelWriter(self)

    @classmethod
    def read(cls) -> MLReader[EmbeddingCompressorModel]:
        return _ModelReader(cls)


def _context(io):
    """What pyspark's metadata helpers take: the session from Spark 4 on (classic or Connect),
    the SparkContext before."""
    return io.sparkSession if _session.pyspark_version() >= (4, 0) else io.sc


class _ModelWriter(MLWriter):
    """``path/metadata`` (params and codec fingerprint, Spark's JSON layout) and ``path/data/codec.ecz``."""

    def __init__(self, instance):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path):
        codec = self.instance.codec
        extra = {"fingerprint": codec.fingerprint, "spec": codec.spec, "codeSize": codec.code_size}
        DefaultParamsWriter.saveMetadata(self.instance, path, _context(self), extraMetadata=extra)
        _fs.write_bytes(_fs.join(path, ARTIFACT), codec.to_bytes(), overwrite=True)


class _ModelReader(MLReader):
    def __init__(self, cls):
        super().__init__()
        self.cls = cls

    def load(self, path):
        meta = DefaultParamsReader.loadMetadata(path, _context(self))
        artifact = ARTIFACT if _fs.exists(_fs.join(path, ARTIFACT)) else LEGACY_ARTIFACT
        codec = ec.Codec.from_bytes(_fs.read_bytes(_fs.join(path, artifact), limit=MAX_ARTIFACT_BYTES))
        if codec.fingerprint != meta.get("fingerprint"):
            raise ec.ArtifactError(f"{path}: codec artifact fingerprint does not match the saved metadata")
        model = self.cls(codec)
        model._resetUid(meta["uid"])
        DefaultParamsReader.getAndSetParams(model, meta)
        return model
