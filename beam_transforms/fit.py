"""FitCodec and ReadCodec: fit a codec on a sample inside a pipeline, or read one written earlier.

Like MLTransform's write and read artifact modes: a first pipeline fits and (optionally)
writes the artifact; later pipelines read it with ``ReadCodec``. Both give a singleton
PCollection of artifact bytes, to pass as the ``codec`` of the other transforms.
"""
from __future__ import annotations

import apache_beam as beam

import embcompress as ec
from embcompress._checks import check_sample_size

from .artifacts import read_artifact, write_artifact
from .sampling import ReservoirSample


def fit_artifact(sample, spec: str, metric: str, seed: int) -> bytes:
    """Fit on the gathered sample (one worker) and return the artifact bytes."""
    return ec.fit(spec, sample, metric=metric, seed=seed).to_bytes()


class FitCodec(beam.PTransform):
    """Sample ``column`` (reservoir per bundle, merged, seeded), fit ``spec`` on one worker.

    Returns a singleton PCollection of artifact bytes. With ``artifact_location`` the
    artifact is also written there; a different artifact already there is an error
    unless ``overwrite=True``.
    """

    def __init__(self, column: str, spec: str, *, sample_size: int = 100_000, seed: int = 0, metric: str = "ip",
                 artifact_location: str | None = None, overwrite: bool = False) -> None:
        super().__init__()
        ec.parse_spec(spec)
        check_sample_size(sample_size)
        self._column = column
        self._spec = spec
        self._sample_size = sample_size
        self._seed = seed
        self._metric = metric
        self._location = artifact_location
        self._overwrite = overwrite

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection[bytes]:
        sample = pcoll | "Sample" >> beam.CombineGlobally(ReservoirSample(self._column, self._sample_size, self._seed))
        blob = sample | "Fit" >> beam.Map(fit_artifact, self._spec, self._metric, self._seed)
        if self._location is not None:
            blob = blob | "WriteArtifact" >> beam.Map(write_artifact, self._location, self._overwrite)
        return blob


class ReadCodec(beam.PTransform):
    """``p | ReadCodec(location)``: a singleton PCollection of the verified artifact bytes."""

    def __init__(self, artifact_location: str) -> None:
        super().__init__()
        self._location = artifact_location

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[bytes]:
        return pbegin | "Location" >> beam.Create([self._location]) | "Read" >> beam.Map(read_artifact)
