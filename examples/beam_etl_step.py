"""Add embedding compression to an existing Beam Parquet ETL pipeline: three changed lines (marked +).

    .venv/bin/python examples/beam_etl_step.py [--input PATTERN] [--output PREFIX] [--spec PCA128,SQ8] [beam options]

The existing pipeline reads Parquet row groups as Arrow tables, enriches them, and writes
Parquet. Compression adds a fit on a sample and an encode, and writes through a sink that
takes its schema from the encoded tables. Reads the shipped demo table by default and writes
to a temporary directory; any standard Beam option (``--runner``, ...) passes through.
"""
import argparse
import glob
import os
import tempfile

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pvalue import AsSingleton

import embcompress as ec
from beam_transforms import EncodeEmbeddings, FitCodec
from beam_transforms.parquet import ParquetTableSink
from embcompress.datasets import DEMO_PATH


def add_package_column(table: pa.Table) -> pa.Table:
    """The existing job's own work: derive the top-level package from the qualified name."""
    package = pc.list_element(pc.split_pattern(table["source"], "."), 0)
    return table.append_column("package", package)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", default=str(DEMO_PATH))
    ap.add_argument("--output", default=None, help="output file prefix")
    ap.add_argument("--spec", default="PCA128,SQ8")
    args, beam_args = ap.parse_known_args(argv)
    out = args.output or os.path.join(tempfile.mkdtemp(prefix="embcompress_beam_etl_"), "docs")
    artifact = f"{out}.ecz"

    with beam.Pipeline(options=PipelineOptions(beam_args)) as p:
        tables = p | beam.io.ReadFromParquetBatched(args.input)
        tables = tables | "Enrich" >> beam.Map(add_package_column)
        codec = tables | FitCodec("embedding", args.spec, sample_size=100_000, artifact_location=artifact)  # +
        tables = tables | EncodeEmbeddings("embedding", AsSingleton(codec), drop_input=True)  # +
        tables | beam.io.Write(ParquetTableSink(out, pa.schema([])))  # + schema taken from the encoded tables

    files = sorted(glob.glob(f"{out}*.parquet"))
    result = pa.concat_tables(pq.read_table(f) for f in files)
    codec = ec.load(artifact)
    print(f"{result.num_rows} rows in {len(files)} file(s) under {os.path.dirname(out)}, columns {result.column_names}")
    print(f"codec {codec.spec}: {codec.code_size} bytes per vector instead of {4 * codec.dim}")
    first = result["embedding_code"][0].as_py()
    print("decoded first row, first values:", codec.decode(bytearray(first))[0][:4])


if __name__ == "__main__":
    main()
