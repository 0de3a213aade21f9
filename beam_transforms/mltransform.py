"""An embcompress operation for Beam's ``MLTransform``: fit on the first pass, reuse after.

    from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.transforms.base import MLTransform
    from beam_transforms.mltransform import CompressEmbeddings

    # first pipeline: fit the codec on a sample, write it, encode
    coded = rows | MLTransform(write_artifact_location=loc).with_transform(
        CompressEmbeddings(columns=["embedding"], spec="PCA128,SQ8"))
    # later pipelines: read the codec, encode with the same one (byte-identical codes)
    coded = rows | MLTransform(read_artifact_location=loc)

``MLTransform`` saves the PTransforms it builds with jsonpickle (``attributes.json``) and
decodes them in read mode. Ours holds only plain settings and a path: the codec itself is
written by :class:`FitCodec` as our verified ``.ecz`` artifact (``codec.ecz`` in the
operation's own folder under the artifact location) and read back with
:class:`ReadCodec`, which checks it with ``Codec.from_bytes``; it is never pickled.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.transforms.base import ArtifactMode, MLTransformProvider
from apache_beam.pvalue import AsSingleton

from embcompress._checks import check_sample_size
from embcompress.conventions import ARTIFACT_SUFFIX, default_code_column
from embcompress.spec import parse_spec

from .encode import EncodeEmbeddings
from .fit import FitCodec, ReadCodec

CODEC_FILE = "codec" + ARTIFACT_SUFFIX


def codec_path(artifact_location: str) -> str:
    """Where an operation keeps its codec in its folder of the MLTransform artifact location."""
    return FileSystems.join(artifact_location, CODEC_FILE)


class _CompressWithArtifact(beam.PTransform):
    """What :class:`CompressEmbeddings` hands ``MLTransform``: fit-and-write, or read, then encode.

    Holds strings and numbers only (``MLTransform`` jsonpickles it); ``artifact_mode`` is set by
    ``MLTransform`` to ``consume`` when it reloads this transform in read mode.
    """

    def __init__(self, column: str, spec: str, output_column: str, drop_input: bool, sample_size: int, seed: int,
                 metric: str, artifact_location: str, artifact_mode: str):
        super().__init__()
        self.column, self.spec, self.output_column, self.drop_input = column, spec, output_column, drop_input
        self.sample_size, self.seed, self.metric = sample_size, seed, metric
        self.artifact_location, self.artifact_mode = artifact_location, artifact_mode
        self.exception_handling: dict | None = None

    def with_exception_handling(self, *, exc_class=Exception, **_ignored) -> "_CompressWithArtifact":
        """Called by ``MLTransform.with_exception_handling``: bad rows become Beam's error records."""
        self.exception_handling = {"exc_class": exc_class}
        return self

    def expand(self, pcoll):
        path = codec_path(self.artifact_location)
        if self.artifact_mode == ArtifactMode.PRODUCE:
            if not FileSystems.exists(self.artifact_location):
                FileSystems.mkdirs(self.artifact_location)  # object stores have no folders: a no-op there
            codec = pcoll | "FitCodec" >> FitCodec(self.column, self.spec, sample_size=self.sample_size,
                                                   seed=self.seed, metric=self.metric, artifact_location=path)
        else:
            codec = pcoll.pipeline | "ReadCodec" >> ReadCodec(path)
        encode = EncodeEmbeddings(self.column, AsSingleton(codec), output_column=self.output_column,
                                  drop_input=self.drop_input)
        if self.exception_handling is not None:
            encode = encode.with_exception_handling(**self.exception_handling)
        return pcoll | "Encode" >> encode


class CompressEmbeddings(MLTransformProvider):
    """Compress the embedding column(s) ``columns`` with a codec of ``spec`` inside ``MLTransform``.

    With ``write_artifact_location`` the codec is fitted on a seeded sample of ``sample_size``
    rows and written as ``codec.ecz``; with ``read_artifact_location`` it is read and reused.
    The code goes to ``output_column`` (default ``{column}_code``; only with one column);
    ``drop_input=True`` removes the vectors. Elements are row dicts or ``beam.Row``s, as for
    Beam's own embedding operations, whose output column this one can take directly.
    """

    def __init__(self, columns: list[str], spec: str, *, output_column: str | None = None, drop_input: bool = False,
                 sample_size: int = 100_000, seed: int = 0, metric: str = "ip"):
        if not columns:
            raise ValueError("columns must name at least one embedding column")
        if output_column is not None and len(columns) != 1:
            raise ValueError("output_column can only be given with a single column")
        parse_spec(spec)
        check_sample_size(sample_size)
        self.columns = list(columns)
        self.spec, self.output_column, self.drop_input = spec, output_column, drop_input
        self.sample_size, self.seed, self.metric = sample_size, seed, metric

    def get_ptransform_for_processing(self, **kwargs) -> beam.PTransform:
        """One chained transform per column, each with its own codec in its own folder."""
        location, mode = kwargs["artifact_location"], kwargs["artifact_mode"]
        parts = [_CompressWithArtifact(column, self.spec, self.output_column or default_code_column(column),
                                       self.drop_input, self.sample_size, self.seed, self.metric,
                                       FileSystems.join(location, column), mode)
                 for column in self.columns]
        return parts[0] if len(parts) == 1 else _Chain(parts)


class _Chain(beam.PTransform):
    """Apply per-column transforms one after another (jsonpickle-friendly: a plain list)."""

    def __init__(self, parts: list):
        super().__init__()
        self.parts = parts
        self.artifact_mode = parts[0].artifact_mode

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name == "artifact_mode" and hasattr(self, "parts"):
            for part in self.parts:
                part.artifact_mode = value

    def with_exception_handling(self, **kwargs) -> "_Chain":
        raise NotImplementedError("exception handling with several columns: use one CompressEmbeddings per column")

    def expand(self, pcoll):
        for part in self.parts:
            pcoll = pcoll | f"Compress_{part.column}" >> part
        return pcoll
