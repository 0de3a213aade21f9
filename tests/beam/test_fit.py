"""FitCodec and ReadCodec: a seeded sample, fitted once, written safely, read back anywhere."""
import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.util import assert_that, equal_to

import embcompress as ec
from beam_transforms import DecodeEmbeddings, FitCodec, ReadCodec, load_codec
from beam_transforms.sampling import row_keys
from .conftest import row_groups, write_parquet


def expected_artifact(x, spec, sample_size, seed=0):
    """What FitCodec must produce: ec.fit on the rows with the smallest seeded content keys."""
    keys = row_keys(x, seed)
    order = np.argsort(keys, kind="stable")[:sample_size]
    return ec.fit(spec, np.ascontiguousarray(x[order]), seed=seed).to_bytes()


@pytest.mark.parametrize("form", ["tables", "rows"])
def test_fit_equals_core_fit_on_the_sample(demo_path, demo_x, form):
    read = beam.io.ReadFromParquetBatched(demo_path) if form == "tables" else beam.io.ReadFromParquet(demo_path)
    with beam.Pipeline() as p:
        blob = p | read | FitCodec("embedding", "SQ8", sample_size=500, seed=3)
        assert_that(blob, equal_to([expected_artifact(demo_x, "SQ8", 500, seed=3)]))


def test_sample_does_not_depend_on_how_the_input_is_split(demo_table):
    """Two splittings of the same rows (and row order) give byte-identical artifacts."""
    a = row_groups(demo_table, 400)
    b = row_groups(demo_table.take(np.arange(799, -1, -1)), 150)
    with beam.Pipeline() as p:
        fa = p | "A" >> beam.Create(a) | "FitA" >> FitCodec("embedding", "PCA32,SQ8", sample_size=300)
        fb = p | "B" >> beam.Create(b) | "FitB" >> FitCodec("embedding", "PCA32,SQ8", sample_size=300)
        same = ((fa, fb) | beam.Flatten() | beam.combiners.ToList()
                | beam.Map(lambda blobs: len(blobs) == 2 and blobs[0] == blobs[1]))
        assert_that(same, equal_to([True]))


def test_bad_rows_are_left_out_of_the_sample(sq8, bad_table, tmp_path):
    """NaN/Inf/wrong-length/null rows never reach the fit; the sample is the 8 good rows."""
    good = [i for i in range(12) if i not in (2, 5, 7, 9)]
    x = np.asarray([bad_table["embedding"][i].as_py() for i in good], dtype=np.float32)
    with beam.Pipeline() as p:
        blob = p | beam.Create([bad_table]) | FitCodec("embedding", "SQ8", sample_size=100)
        assert_that(blob, equal_to([expected_artifact(x, "SQ8", 100)]))


def test_write_then_read_in_a_later_pipeline(demo_path, demo_table, tmp_path):
    location = str(tmp_path / "codec.ecz")
    with beam.Pipeline() as p:
        _ = p | beam.io.ReadFromParquetBatched(demo_path) | FitCodec("embedding", "SQ8", sample_size=500,
                                                                       artifact_location=location)
    codec = ec.load(location)  # plain Python, no Beam
    with beam.Pipeline() as p:
        blob = p | ReadCodec(location)
        assert_that(blob, equal_to([codec.to_bytes()]), label="read")
        coded = p | "Codes" >> beam.Create([{"id": 1, "code": codec.encode(demo_table["embedding"][:1])[0].tobytes()}])
        decoded = coded | DecodeEmbeddings("code", blob)
        expected = codec.decode(codec.encode(demo_table["embedding"][:1]))[0].tolist()
        assert_that(decoded | beam.Map(lambda r: r["code_decoded"]), equal_to([expected]), label="decode")
    assert load_codec(location).fingerprint == codec.fingerprint


def test_never_overwrites_a_different_artifact(demo_path, tmp_path):
    location = str(tmp_path / "codec.ecz")
    fit = lambda spec, **kw: FitCodec("embedding", spec, sample_size=300, artifact_location=location, **kw)  # noqa: E731
    with beam.Pipeline() as p:
        _ = p | beam.io.ReadFromParquetBatched(demo_path) | fit("SQ8")
    first = open(location, "rb").read()
    with beam.Pipeline() as p:  # the same artifact again: an idempotent retry, fine
        _ = p | beam.io.ReadFromParquetBatched(demo_path) | fit("SQ8")
    with pytest.raises(Exception, match="already holds a codec artifact with fingerprint .*overwrite=True"):
        with beam.Pipeline() as p:
            _ = p | beam.io.ReadFromParquetBatched(demo_path) | fit("SQ4")
    assert open(location, "rb").read() == first
    with beam.Pipeline() as p:
        _ = p | beam.io.ReadFromParquetBatched(demo_path) | fit("SQ4", overwrite=True)
    assert ec.load(location).spec == "SQ4"


def test_read_codec_refuses_a_corrupt_artifact(sq8, tmp_path):
    location = tmp_path / "codec.ecz"
    blob = bytearray(sq8.to_bytes())
    blob[-100] ^= 1
    location.write_bytes(bytes(blob))
    with pytest.raises(Exception, match="ArtifactError|checksum|sha256|corrupt"):
        with beam.Pipeline() as p:
            _ = p | ReadCodec(str(location))


@pytest.mark.parametrize("kwargs, message", [
    (dict(spec="SQ9"), "SQ9"),
    (dict(spec="SQ8", sample_size=0), "sample_size must be a positive integer"),
])
def test_bad_arguments_fail_at_construction(kwargs, message):
    spec = kwargs.pop("spec")
    with pytest.raises(ValueError, match=message):
        FitCodec("embedding", spec, **kwargs)


def test_empty_input_says_the_sample_is_empty(tmp_path, demo_table):
    path = write_parquet(demo_table.slice(0, 0), tmp_path / "empty.parquet")
    with pytest.raises(Exception, match="empty sample"):
        with beam.Pipeline() as p:
            _ = p | beam.io.ReadFromParquetBatched(path) | FitCodec("embedding", "SQ8")
