"""MLTransform with our operation: fit and write the codec as an .ecz artifact on the first
pass, read and reuse it in a new pipeline; codes byte-identical, no pickled codec anywhere."""
import json
from typing import Any, Optional, Sequence

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.ml.inference.base import ModelHandler
from apache_beam.ml.transforms.base import EmbeddingsManager, MLTransform, _TextEmbeddingHandler
from apache_beam.testing.util import assert_that, equal_to

import embcompress as ec
from beam_transforms import reason_of
from beam_transforms.mltransform import CODEC_FILE, CompressEmbeddings

from .conftest import core_codes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _rows(table, n=300):
    return [{"id": r["id"], "embedding": r["embedding"]} for r in table.slice(0, n).to_pylist()]


def _codes(out_path):
    return sorted(json.loads(line) for f in sorted(out_path.parent.glob(out_path.name + "*"))
                  for line in f.read_text().splitlines())


def _run(rows, out_path, **mltransform_args):
    with beam.Pipeline() as p:
        coded = (p | beam.Create(rows)
                 | MLTransform(**mltransform_args).with_transform(
                     CompressEmbeddings(columns=["embedding"], spec="SQ8", sample_size=200, drop_input=True))
                 if "write_artifact_location" in mltransform_args else
                 p | beam.Create(rows) | MLTransform(**mltransform_args))
        _ = (coded | beam.Map(lambda r: json.dumps([r["id"], r["embedding_code"].hex()]))
             | beam.io.WriteToText(str(out_path)))


def test_fit_then_reuse_gives_byte_identical_codes(demo_table, tmp_path):
    rows = _rows(demo_table)
    location = tmp_path / "artifacts"
    _run(rows, tmp_path / "first", write_artifact_location=str(location))
    (codec_file,) = location.rglob(CODEC_FILE)
    codec = ec.load(str(codec_file))  # our verified artifact, loadable by the core
    assert codec.spec == "SQ8"
    # a new pipeline, on other rows too: reads the same codec
    more = _rows(demo_table, 400)
    _run(more, tmp_path / "second", read_artifact_location=str(location))
    first, second = _codes(tmp_path / "first"), _codes(tmp_path / "second")
    reused = dict(map(tuple, second))
    assert len(first) == len(rows) and all(reused[i] == code for i, code in first)  # byte-identical
    x = np.asarray([r["embedding"] for r in more], dtype=np.float32)
    assert sorted([r["id"], c.hex()] for r, c in zip(more, core_codes(codec, x))) == second


def test_the_codec_is_never_pickled(demo_table, tmp_path):
    """MLTransform jsonpickles its transforms: ours carry settings and a path, never codec bytes."""
    location = tmp_path / "artifacts"
    _run(_rows(demo_table, 250), tmp_path / "out", write_artifact_location=str(location))
    (codec_file,) = location.rglob(CODEC_FILE)
    saved = (location / "attributes.json").read_text()
    assert "_CompressWithArtifact" in saved
    assert "py/b64" not in saved and "py/bytes" not in saved and "Codec" not in saved.replace("_CompressWith", "")
    assert codec_file.read_bytes()[:16].hex() not in saved


class _LengthModel:
    """A stand-in text model (no weights can be fetched here): a fixed random projection of
    character counts, deterministic, 32 dimensions."""

    def __init__(self):
        self._proj = np.random.default_rng(0).standard_normal((128, 32)).astype(np.float32)

    def encode(self, texts):
        counts = np.zeros((len(texts), 128), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text:
                counts[i, ord(ch) % 128] += 1
        return counts @ self._proj


class _LengthModelHandler(ModelHandler):
    def load_model(self):
        return _LengthModel()

    def run_inference(self, batch: Sequence[str], model: Any, inference_args: Optional[dict] = None):
        return model.encode(list(batch))  # an (n, d) array, as sentence-transformers' handler returns


class CharEmbeddings(EmbeddingsManager):
    """Beam's own embedding machinery (EmbeddingsManager + RunInference), with the stand-in model."""

    def get_model_handler(self):
        return _LengthModelHandler()

    def get_ptransform_for_processing(self, **kwargs):
        from apache_beam.ml.inference.base import RunInference

        return RunInference(model_handler=_TextEmbeddingHandler(self))


def test_mltransform_embeds_then_compresses(demo_table, tmp_path):
    texts = [{"id": r["id"], "text": r["text"]} for r in demo_table.slice(0, 120).to_pylist()]
    location = tmp_path / "artifacts"
    with beam.Pipeline() as p:
        coded = (p | beam.Create(texts)
                 | MLTransform(write_artifact_location=str(location))
                 .with_transform(CharEmbeddings(columns=["text"]))
                 .with_transform(CompressEmbeddings(columns=["text"], spec="SQ8", sample_size=100)))
        assert_that(coded | beam.Map(lambda r: (len(r["text"]), len(r["text_code"]))),
                    equal_to([(32, 32)] * len(texts)))
    assert len(list(location.rglob(CODEC_FILE))) == 1


def test_mltransform_exception_handling_receives_bad_rows(demo_table, tmp_path):
    rows = _rows(demo_table, 220)
    rows[5]["embedding"] = rows[5]["embedding"][:10]
    with beam.Pipeline() as p:
        good, bad = (p | beam.Create(rows)
                     | MLTransform(write_artifact_location=str(tmp_path / "a"))
                     .with_transform(CompressEmbeddings(columns=["embedding"], spec="SQ8", sample_size=200))
                     .with_exception_handling())
        assert_that(good | beam.combiners.Count.Globally(), equal_to([219]), label="good")
        assert_that(bad | beam.Map(lambda r: (r.element["id"], "wrong length" in r.msg)),
                    equal_to([(rows[5]["id"], True)]), label="bad")


def test_reason_of_reads_mltransforms_rows_too():
    assert reason_of((None, (ValueError, "x", ["EmbeddingError: column 'e', row 1: NaN in vector\n"]))) == \
        "NaN in vector"
