"""EmbeddingCompressor / EmbeddingCompressorModel: fit, transform, save/load, inside a Pipeline."""
import glob
import json

import pytest
from pyspark.ml import Pipeline, PipelineModel

import embcompress as ec
from spark_udfs import EmbeddingCompressor, EmbeddingCompressorModel, encode_column


@pytest.fixture(scope="module")
def model(demo_df):
    est = EmbeddingCompressor(inputCol="embedding", outputCol="code", spec="SQ8", sampleSize=800, seed=1)
    return est.fit(demo_df)


def test_fit_returns_a_model_with_the_params(model):
    assert isinstance(model, EmbeddingCompressorModel)
    assert model.codec.spec == "SQ8" and model.codec.fit_stats["sample_rows"] == 800
    assert (model.getInputCol(), model.getOutputCol(), model.getSeed(), model.getSampleSize()) == \
        ("embedding", "code", 1, 800)


def test_transform_equals_encode_column(model, demo_df):
    got = model.transform(demo_df).orderBy("id").select("code").collect()
    want = encode_column(demo_df, model.codec, "embedding", "code").orderBy("id").select("code").collect()
    assert got == want


def test_save_load_round_trip_without_pickle(model, demo_df, tmp_path):
    path = str(tmp_path / "model")
    model.save(path)
    meta = json.loads(open(glob.glob(f"{path}/metadata/part-*")[0]).read())
    assert meta["fingerprint"] == model.codec.fingerprint and meta["paramMap"]["spec"] == "SQ8"
    assert open(f"{path}/data/codec.ecz", "rb").read() == model.codec.to_bytes()
    loaded = EmbeddingCompressorModel.load(path)
    assert loaded.codec.fingerprint == model.codec.fingerprint and loaded.uid == model.uid
    assert loaded.transform(demo_df).columns == model.transform(demo_df).columns


def test_pipeline_fit_save_load(demo_df, tmp_path):
    pipe = Pipeline(stages=[EmbeddingCompressor(inputCol="embedding", outputCol="code", spec="PQ8x4",
                                                sampleSize=1000)])
    fitted = pipe.fit(demo_df)
    fitted.save(str(tmp_path / "pipe"))
    loaded = PipelineModel.load(str(tmp_path / "pipe"))
    assert loaded.stages[0].codec.fingerprint == fitted.stages[0].codec.fingerprint
    a = fitted.transform(demo_df).orderBy("id").select("code").collect()
    assert a == loaded.transform(demo_df).orderBy("id").select("code").collect()
    unfitted = str(tmp_path / "unfitted")
    pipe.save(unfitted)
    assert Pipeline.load(unfitted).getStages()[0].getSpec() == "PQ8x4"


def test_missing_params_and_unfitted_model(demo_df):
    with pytest.raises(ValueError, match="parameter 'spec' must be set"):
        EmbeddingCompressor(inputCol="embedding").fit(demo_df)
    with pytest.raises(ec.NotFittedError, match="has no codec"):
        _ = EmbeddingCompressorModel().codec
