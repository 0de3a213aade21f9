"""Beam metrics read back from the pipeline result, and a two-process multi_processing run."""
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

import embcompress as ec
from embcompress import datasets
from beam_transforms import EncodeEmbeddings, FitCodec
from .conftest import counters


def test_counters_count_rows_and_bytes(sq8, bad_table):
    p = beam.Pipeline()
    result_pc = p | beam.Create([bad_table]) | EncodeEmbeddings("embedding", sq8).with_dead_letters()
    assert_that(result_pc.bad | beam.combiners.Count.Globally(), equal_to([3]))
    result = p.run()
    result.wait_until_finish()
    got = counters(result)
    # 12 rows: 8 encoded, 1 null vector (null code), 3 rejected (NaN, Inf, wrong length)
    assert {k: got.get(k) for k in ("rows_encoded", "rows_null", "rows_rejected", "bytes_in", "bytes_out")} == {
        "rows_encoded": 8, "rows_null": 1, "rows_rejected": 3, "bytes_in": 8 * 384 * 4, "bytes_out": 8 * 384}


def test_fit_counts_rows_left_out_of_the_sample(bad_table):
    p = beam.Pipeline()
    _ = p | beam.Create(bad_table.to_pylist()) | FitCodec("embedding", "SQ8", sample_size=50)
    result = p.run()
    result.wait_until_finish()
    assert counters(result)["fit_rows_skipped"] == 3  # NaN, Inf, wrong length (nulls are not counted)


def test_two_worker_processes(demo_table, demo_path):
    """direct_num_workers=2 in multi_processing mode: codec fitted in the pipeline, codes as the core's."""
    options = PipelineOptions(direct_num_workers=2, direct_running_mode="multi_processing")
    p = beam.Pipeline(options=options)
    tables = p | beam.io.ReadFromParquetBatched(demo_path)
    blob = tables | FitCodec("embedding", "SQ8", sample_size=500)
    coded = tables | EncodeEmbeddings("embedding", beam.pvalue.AsSingleton(blob), output_column="code")

    def matches_core(table, artifact):  # runs in a worker process: uses only installed modules
        codes = ec.Codec.from_bytes(artifact).encode(datasets.matrix(table))
        return table.num_rows, table["code"].to_pylist() == [row.tobytes() for row in codes]

    assert_that(coded | beam.Map(matches_core, beam.pvalue.AsSingleton(blob)), equal_to([(200, True)] * 4))
    result = p.run()
    result.wait_until_finish()
    assert counters(result)["rows_encoded"] == demo_table.num_rows
