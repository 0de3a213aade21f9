"""Compress the embedding column of Parquet files with Apache Beam: fit (or read) a codec, encode, write.

    .venv/bin/python examples/beam_compress_parquet.py --overwrite   # the shipped 2,000-row demo table
    .venv/bin/python examples/beam_compress_parquet.py --input 'in/*.parquet' --output out/part \\
        --spec PCA128,SQ8 --sample-size 100000 --artifact out/codec.ecz
    .venv/bin/python examples/beam_compress_parquet.py --input 'more/*.parquet' --output out2/part \\
        --codec out/codec.ecz                                   # reuse the codec written above

Every other flag is a standard Beam pipeline option, so the same file runs elsewhere by
changing the runner, e.g. ``--runner DataflowRunner --project P --region R
--temp_location gs://B/tmp --extra_package dist/embcompress-0.1.0-py3-none-any.whl`` (or
``--runner FlinkRunner --flink_master host:8081``); paths may then be ``gs://`` URLs.
Workers need ``embcompress`` and ``beam_transforms`` installed: docs/beam.md ("Shipping the
package to workers") shows the wheel, requirements, setup-file and container routes;
tests/beam/test_wheel.py runs this file from an installed wheel on 2 worker processes.
"""
from __future__ import annotations

import argparse


import apache_beam as beam  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions  # noqa: E402

from embcompress import datasets, provenance  # noqa: E402
from beam_transforms import CompressParquet, load_codec  # noqa: E402
from beam_transforms.parquet import rejected_prefix  # noqa: E402


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(datasets.DEMO_PATH), help="Parquet file pattern")
    parser.add_argument("--output", default="/tmp/embcompress_beam_demo/part", help="output file prefix")
    parser.add_argument("--column", default="embedding", help="the list<float> embedding column")
    parser.add_argument("--spec", default="PCA128,SQ8", help="codec spec to fit in the pipeline")
    parser.add_argument("--codec", help="an existing codec artifact to use instead of fitting --spec")
    parser.add_argument("--sample-size", type=int, default=100_000, help="rows sampled to fit the codec")
    parser.add_argument("--artifact", help="where to write the fitted codec (never overwrites a different one)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier result at --output (and a different codec at --artifact)")
    return parser.parse_known_args(argv)


def summary(output: str) -> str:
    """Rows and bytes written, read back from the output files' Parquet footers."""
    def stats(prefix):
        files = [m.path for m in FileSystems.match([prefix + "-*.parquet"])[0].metadata_list]
        metas = [pq.ParquetFile(FileSystems.open(f)).metadata for f in files]
        return len(files), sum(m.num_rows for m in metas), metas
    n_files, rows, metas = stats(output)
    _, rejected, _ = stats(rejected_prefix(output))
    meta = pq.ParquetFile(FileSystems.open(FileSystems.match([output + "-*.parquet"])[0].metadata_list[0].path))
    (record,) = provenance.from_schema(meta.schema_arrow)  # which codec wrote the code column
    return (f"wrote {rows:,} rows in {n_files} file(s) with {record.spec} codes (codec {record.fingerprint[:16]}); "
            f"{rejected:,} rejected row(s) under {rejected_prefix(output)}-*.parquet")


def main(argv=None):
    args, beam_args = parse(argv)
    options = PipelineOptions(beam_args)
    codec = load_codec(args.codec) if args.codec else args.spec
    with beam.Pipeline(options=options) as p:
        _ = p | CompressParquet(args.input, args.output, args.column, codec, sample_size=args.sample_size,
                                artifact_location=args.artifact, overwrite=args.overwrite)
    runner = options.view_as(StandardOptions).runner
    if runner in (None, "DirectRunner", "direct"):
        print(summary(args.output))


if __name__ == "__main__":
    main()
