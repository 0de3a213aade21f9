"""The ``embcompress`` command line: fit, encode, decode, evaluate, recommend, inspect.

Thin on purpose: it parses arguments, shows progress and formats output; the numeric work
lives in the core modules. Built on argparse (standard library, no new dependency, and
enough for six subcommands with examples in their help). Every user error prints one line
``embcompress: error: ...`` to stderr and exits 1; usage errors exit 2; success exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
from contextlib import contextmanager

import embcompress as ec
from . import parquet_io, provenance, recommend, storage
from . import _folders as folders
from . import _report as report
from . import _files as files
from .conventions import default_code_column
from .errors import ArtifactError, EmbeddingError
from ._paths import check_no_alias
from .spec import GRAMMAR

PROG = "embcompress"
DEFAULT_EVAL_SPECS = "SQ8;SQ4;PCA128,SQ8;PCA64,SQ8;PQ48x4;PQ32x4;BIN"
ON_INVALID = {"raise": "raise", "null": "null", "dead-letter": "dead_letter", "dead_letter": "dead_letter"}


class UserError(Exception):
    """A problem the user can fix; printed as one line without a traceback."""


# ----- helpers ------------------------------------------------------------------------------------
class _NoBar:
    """Stands in for a tqdm bar when tqdm (the ``report`` extra) is not installed."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        pass

    def refresh(self):
        pass

    def set_postfix_str(self, text):
        pass

    def close(self):
        pass


def _tqdm(**kwargs):
    try:
        from tqdm import tqdm
    except ImportError:  # progress bars are optional: the core install has no tqdm
        return _NoBar()
    return tqdm(file=sys.stderr, disable=None, leave=False, **kwargs)


def _bar(total=None, desc="", unit="rows"):
    return _tqdm(total=total, desc=desc, unit=unit, unit_scale=True)


@contextmanager
def _ticking(desc: str):
    """A progress line with elapsed time for steps that report no progress (faiss training)."""
    bar = _tqdm(total=None, desc=desc, bar_format="{desc} {elapsed}")
    stop = threading.Event()

    def tick():
        while not stop.wait(0.5):
            bar.refresh()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.close()


def _say(*parts):
    print(*parts, file=sys.stderr)


def _input(path: str, what: str = "input file") -> str:
    if not storage.exists(path):
        raise UserError(str(storage.missing(path, what)))
    if storage.is_dir(path):
        raise UserError(f"{path} is a directory; pass a single {what}")
    return path


def _sources(path: str) -> list:
    """The Parquet files a DATA argument names: one file, the data files of a directory, or a glob."""
    try:
        return storage.list_parquet(path)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None


def _output(path: str, overwrite: bool) -> str:
    if storage.exists(path) and not overwrite:
        raise UserError(f"{path} already exists; pass --overwrite to replace it")
    if not storage.is_local(path):
        bucket = storage.missing_bucket(path)
        if bucket is not None:
            raise UserError(f"cannot write {path}: bucket {bucket!r} does not exist")
        return path
    parent = os.path.dirname(storage.resolve(path)[1])
    if not os.path.isdir(parent):
        raise UserError(f"cannot write {path}: folder {parent} does not exist")
    return path


def _report_dir(path):
    if path and os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"--report {path} is a file; pass a folder for the report and its plots")
    if path:
        report.require_plotting()  # before the measurements, not after them


def _load_codec(path: str):
    _input(path, "codec file")
    try:
        return ec.load(path)
    except ArtifactError as exc:
        raise UserError(f"{path}: {exc}") from None


def _check_dims(codec, codec_path, data_path, column):
    try:
        dim = recommend.column_dim(data_path, column)
    except EmbeddingError as exc:
        if exc.problem.endswith("holds no non-null vector"):
            return  # no rows, or only null vectors: they encode to null codes with any codec
        raise
    if dim != codec.dim:
        raise UserError(f"{codec_path} encodes {codec.dim}-dimensional vectors but column {column!r} of {data_path} "
                        f"holds {dim}-dimensional ones; use the codec fitted on this data (embcompress fit)")


def _num_rows(path) -> int:
    return storage.open_parquet(path).metadata.num_rows


def _mb(path) -> float:
    return (storage.size(path) or 0) / 1e6


def _read(path, column, max_rows, seed):
    _input(path)
    recommend.open_column(path, column)
    with _bar(_num_rows(path), f"read {column}") as bar:
        return recommend.load_vectors(path, column, max_rows=max_rows, seed=seed, progress=bar.update)


def _specs(text: str) -> list:
    specs = [s.strip() for s in text.split(";") if s.strip()]
    if not specs:
        raise UserError("--specs is empty; give specs separated by ';', e.g. \"SQ8;PCA128,SQ8;BIN\"")
    for s in specs:
        ec.parse_spec(s)
    return specs


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


# ----- commands -----------------------------------------------------------------------------------
def cmd_fit(args):
    check_no_alias({"DATA": args.data}, {"-o": args.output})
    _output(args.output, args.overwrite)
    ec.parse_spec(args.spec)
    x = _read(args.data, args.column, args.sample, args.seed)
    with _ticking(f"fit {args.spec} on {len(x):,} rows"):
        codec = ec.fit(args.spec, x, metric=args.metric, seed=args.seed, column=args.column)
    codec.save(args.output, overwrite=args.overwrite)
    stats = codec.fit_stats
    print(f"wrote {args.output}: {codec.spec}, {codec.dim}-d -> {codec.code_size} B/vector "
          f"({codec.dim * 4 / codec.code_size:.0f}x), fit on {stats.get('train_rows', len(x)):,} rows, "
          f"held-back recall@10 {_fmt(stats.get('recall_at_10'))}, MSE {_fmt(stats.get('mse'), '.4f')}, "
          f"fingerprint {codec.fingerprint[:16]}")


def _encode_folder(args, codec, sources, on_invalid):
    """``encode`` of a directory or glob into an output directory, committed as one result."""
    if args.rejected:
        raise UserError("--rejected names one file; a directory result keeps its rejected rows in OUT/_rejected/")
    check_no_alias({"DATA": args.data, "--codec": args.codec}, {"-o": args.output})
    out_col = args.output_column or default_code_column(args.column)
    with _bar(sum(_num_rows(p) for p in sources), f"encode {args.column}") as bar:
        run = folders.encode_folder(args.data, args.output, codec, args.column, output_column=out_col,
                                    drop_input=args.drop_input, on_invalid=on_invalid, overwrite=args.overwrite,
                                    replace=args.replace_column, progress=bar.update)
    msg = (f"wrote {args.output}: {run['rows_out']:,} rows in {len(run['files'])} files, column {out_col!r} = "
           f"{codec.spec} codes ({codec.code_size} B/vector), committed by {folders.record_path(args.output)}")
    if run["rows_rejected"]:
        msg += f"; {run['rows_rejected']:,} rejected rows in {storage.join(args.output, folders.REJECTED_DIR)}"
    print(msg)


def cmd_encode(args):
    many = folders.is_many(args.data, args.output)
    sources = _sources(args.data) if many else [_input(args.data)]
    codec = _load_codec(args.codec)
    if not many:
        _output(args.output, args.overwrite)
    _check_dims(codec, args.codec, sources[0], args.column)
    on_invalid = ON_INVALID[args.on_invalid]
    if many:
        return _encode_folder(args, codec, sources, on_invalid)
    rejected = args.rejected or (f"{os.path.splitext(args.output)[0]}.rejected.parquet"
                                 if on_invalid == "dead_letter" else None)
    check_no_alias({"DATA": args.data, "--codec": args.codec}, {"-o": args.output, "--rejected": rejected})
    if rejected:
        _output(rejected, args.overwrite)
    with _bar(_num_rows(args.data), f"encode {args.column}") as bar:
        counts = parquet_io.encode_file(args.data, args.output, codec, args.column, output_column=args.output_column,
                                        drop_input=args.drop_input, on_invalid=on_invalid, rejected_path=rejected,
                                        overwrite=args.overwrite, replace=args.replace_column,
                                        progress=bar.update)
    out_col = args.output_column or default_code_column(args.column)
    msg = (f"wrote {args.output}: {counts['rows_out']:,} rows, column {out_col!r} = {codec.spec} codes "
           f"({codec.code_size} B/vector), {_mb(args.output):.1f} MB")
    if counts["rows_rejected"]:
        msg += f"; {counts['rows_rejected']:,} rejected rows in {rejected}"
    print(msg)


def _code_column(args, records):
    if args.column:
        return args.column
    if len(records) == 1:
        return records[0].code_column
    if not records:
        raise UserError(f"{args.data} records no embcompress codec; pass the code column with --column")
    names = ", ".join(r.code_column for r in records)
    raise UserError(f"{args.data} has several code columns ({names}); choose one with --column")


def _check_encoded_by(codec, codec_path, path, column):
    """Refuse a file whose ``column`` another codec encoded (its provenance record says which)."""
    record = provenance.find(parquet_io.read_codec_metadata(path), column)
    if record is not None and record.fingerprint != codec.fingerprint:
        raise UserError(f"column {column!r} of {path} was encoded by codec {record.fingerprint[:16]} "
                        f"({record.spec}), not by {codec_path} ({codec.fingerprint[:16]}, {codec.spec}); "
                        f"decode with the codec that encoded it")


def cmd_decode(args):
    many = folders.is_many(args.data, args.output)
    sources = _sources(args.data) if many else [_input(args.data)]
    codec = _load_codec(args.codec)
    check_no_alias({"DATA": args.data, "--codec": args.codec}, {"-o": args.output})
    if not many:
        _output(args.output, args.overwrite)
    column = _code_column(args, parquet_io.read_codec_metadata(sources[0]))
    for path in sources:
        recommend.open_column(path, column)
        _check_encoded_by(codec, args.codec, path, column)
    if many:
        with _bar(sum(_num_rows(p) for p in sources), f"decode {column}") as bar:
            run = folders.decode_folder(args.data, args.output, codec, column, output_column=args.output_column,
                                        overwrite=args.overwrite, replace=args.replace_column, progress=bar.update)
        print(f"wrote {args.output}: {run['rows_out']:,} rows in {len(run['files'])} files decoded from {column!r} "
              f"with {codec.spec}, committed by {folders.record_path(args.output)}")
        return
    with _bar(_num_rows(args.data), f"decode {column}") as bar:
        counts = parquet_io.decode_file(args.data, args.output, codec, column, output_column=args.output_column,
                                        overwrite=args.overwrite, replace=args.replace_column,
                                        progress=bar.update)
    print(f"wrote {args.output}: {counts['rows_out']:,} rows decoded from {column!r} with {codec.spec}")


def _bench(args):
    x = _read(args.data, args.column, args.max_rows, args.seed)
    with _ticking(f"exact neighbours of {min(args.queries, len(x) // 2):,} held-back queries"):
        return recommend.Bench(x, queries=args.queries, sample=args.sample, seed=args.seed, metric=args.metric)


def _context(args, bench):
    return (f"`{args.data}` column `{args.column}`: {len(bench.database):,} database rows x {bench.dim} dims, "
            f"{len(bench.queries):,} held-back queries, fit sample {len(bench.sample):,} rows (seed {args.seed}), "
            f"metric {args.metric}, embcompress {ec.__version__}.")


def cmd_evaluate(args):
    check_no_alias({"DATA": args.data}, {"--report": args.report})
    specs = _specs(args.specs)
    _report_dir(args.report)
    bench = _bench(args)
    rows = []
    with _bar(len(specs), "evaluate", unit="spec") as bar:
        for spec in specs:
            bar.set_postfix_str(spec)
            rows.append(bench.measure(spec, args.k))
            bar.update(1)
    k = min(args.k, bench.k_max)
    print(_context(args, bench).replace("`", ""))
    print(report.table_text(rows, k))
    front = recommend.pareto_front(rows, f"recall@{k}")
    print(f"\nPareto front (recall@{k} vs bytes/vector): " + " -> ".join(r["spec"] for r in front))
    if args.report:
        path = report.write_report(rows, args.report, k=k, context=_context(args, bench),
                                   title=f"embcompress evaluate: {os.path.basename(args.data)}")
        print(f"report: {path} (+ {report.PARETO_PNG}, {report.SPEED_PNG})")


def cmd_recommend(args):
    check_no_alias({"DATA": args.data}, {"-o": args.output, "--report": args.report})
    if args.output:
        _output(args.output, args.overwrite)
    _report_dir(args.report)
    specs = _specs(args.specs) if args.specs else None
    bench = _bench(args)
    candidates = specs or recommend.default_candidates(bench.dim, args.budget_bytes,
                                                       unit_norm=recommend.is_unit_norm(bench.sample))
    always = () if specs else recommend.baselines(bench.dim, args.budget_bytes)
    k = min(args.k, bench.k_max)
    with _bar(len(candidates), "candidates", unit="spec") as bar:
        def step(spec, row, note):
            bar.update(1)
            bar.set_postfix_str(f"{spec}: {note}")

        result = recommend.search(bench, candidates, budget_bytes=args.budget_bytes, min_recall=args.min_recall,
                                  k=args.k, time_limit=args.time_limit, always=always,
                                  min_encode_rows_per_s=args.min_encode_rows_per_s, on_step=step)
    print(_context(args, bench).replace("`", ""))
    rows = sorted(result.rows, key=lambda r: (r["bytes"], -r[f"recall@{k}"]))
    print(f"measured {len(rows)} of {len(candidates)} candidates in the time limit ({args.time_limit:g} s"
          + (f", plus faiss's baselines {', '.join(sorted(set(always) & set(candidates)))}" if always else "") + "):")
    print(report.table_text(rows, k))
    if result.skipped:
        print(f"not measured ({len(result.skipped)}): " + "; ".join(f"{s} ({why})" for s, why in result.skipped[:12])
              + (" ..." if len(result.skipped) > 12 else ""))
    print(f"\nPareto front (recall@{k}, bytes/vector, encode rows/s): "
          + " -> ".join(f"{r['spec']} ({r['bytes']} B, {r[f'recall@{k}']:.3f}, {r['encode_rows_per_s']:,.0f}/s)"
                        for r in result.front))
    baseline_rows = [r for r in rows if r.get("faiss_baseline")]
    if baseline_rows:
        best = max(baseline_rows, key=lambda r: r[f"recall@{k}"])
        print(f"best faiss baseline: {best['spec']} ({best['bytes']} B, recall@{k} {best[f'recall@{k}']:.3f})")
    if args.report and rows:
        report.write_report(rows, args.report, k=k, context=_context(args, bench), title="embcompress recommend")
        report.plot_pareto(rows, os.path.join(args.report, report.PARETO_PNG), k=k, title="embcompress recommend",
                           budget_bytes=args.budget_bytes, min_recall=args.min_recall, chosen=result.choice)
    if result.choice is None:
        raise UserError(result.reason)
    choice = result.choice
    print(f"\nrecommendation: {choice['spec']} ({choice['bytes']} B/vector, recall@{k} {choice[f'recall@{k}']:.3f}, "
          f"rescored {choice['recall_rescored']:.3f}): {result.reason}")
    if not result.met:
        raise UserError(f"target not met: {result.reason}; raise --time-limit, widen --specs or relax the target")
    if args.output:
        choice["codec"].save(args.output, overwrite=args.overwrite)
        print(f"wrote {args.output} (fingerprint {choice['codec'].fingerprint[:16]})")


def _fmt(value, spec=".3f"):
    return "-" if value is None else format(value, spec)


def _inspect_codec(path):
    codec = _load_codec(path)
    header = codec.header
    print(f"codec artifact {path} ({storage.size(path) or 0:,} bytes)")
    print(f"  spec                  {codec.spec}")
    print(f"  dims                  {codec.dim}")
    print(f"  metric                {codec.metric}")
    print(f"  code size             {codec.code_size} B/vector ({codec.dim * 4 / codec.code_size:.1f}x vs float32)")
    print(f"  seed                  {codec.seed}")
    print(f"  fingerprint           {codec.fingerprint}")
    for key, value in sorted(codec.fit_stats.items()):
        print(f"  fit.{key:<17} {value}")
    for key, value in sorted(header.get("versions", {}).items()):
        print(f"  version.{key:<13} {value}")


def _inspect_parquet(path, *, part_of_folder=False):
    source = storage.open_parquet(path)
    meta = source.metadata
    print(f"parquet file {path}: {meta.num_rows:,} rows in {meta.num_row_groups} row groups, "
          f"{_mb(path):.1f} MB")
    for field in source.schema_arrow:
        print(f"  column {field.name}: {field.type}")
    footer_run = None if part_of_folder else parquet_io.run_record(path)
    if footer_run is not None and "rows_in" not in footer_run:  # one shard of a multi-file result (Beam)
        print(f"  result: a {footer_run.get('role', 'output')} file of multi-file result {footer_run.get('run_id')}; "
              f"its run record (_<prefix>{parquet_io.RESULT_SUFFIX}) says whether the result is complete")
    elif footer_run is not None:
        try:
            run = parquet_io.verify_result(path)
            print(f"  result: complete, {run['rows_in']:,} rows in = {run['rows_out']:,} out + "
                  f"{run['rows_rejected']:,} rejected" + (f" ({run['rejected']})" if run["rejected"] else ""))
        except ValueError as exc:
            print(f"  result: NOT complete: {exc}")
    records = parquet_io.read_codec_metadata(path)
    if not records:
        print("  no embcompress codec recorded (not written by embcompress encode)")
    for r in records:
        version = "" if r.codec_version is None else f", registry version {r.codec_version}"
        print(f"  codec: {r.source_column!r} -> {r.code_column!r} encoded by {r.spec} "
              f"({r.dim}-d, {r.code_size} B/vector, metric {r.metric}), fingerprint {r.fingerprint}{version}")


def _inspect_result(path):
    print(f"run record {path}")
    try:
        run = parquet_io.verify_result(path)
    except ValueError as exc:
        print(f"  result: NOT complete: {exc}")
        return
    def files_(names):
        return f"{len(names)} file" + ("" if len(names) == 1 else "s")

    print(f"  result: complete, {run['rows_in']:,} rows in = {run['rows_out']:,} out in {files_(run['files'])} + "
          f"{run['rows_rejected']:,} rejected in {files_(run['rejected'])}")


def _inspect_folder(path):
    """A directory of Parquet files: its run record if it is a folder result, then its first file."""
    sources = _sources(path)
    rows = sum(_num_rows(p) for p in sources)
    print(f"directory {path}: {len(sources)} Parquet files, {rows:,} rows")
    record = folders.record_path(path)
    if storage.exists(record):
        _inspect_result(record)
    print("first file:")
    _inspect_parquet(sources[0], part_of_folder=True)


def _head(path, size: int) -> bytes:
    if storage.is_local(path):
        return files.read_head(storage.resolve(path)[1], size)
    with storage.open_input_file(path) as f:
        return f.read(size)


def cmd_inspect(args):
    if storage.is_dir(args.path):
        return _inspect_folder(args.path)
    _input(args.path)
    if str(args.path).endswith(parquet_io.RESULT_SUFFIX):
        return _inspect_result(args.path)
    magic = _head(args.path, 8)
    if magic.startswith(b"PAR1"):
        _inspect_parquet(args.path)
    elif magic == b"EMBCODEC":
        _inspect_codec(args.path)
    else:
        raise UserError(f"{args.path} is neither a codec artifact (.ecz) nor a Parquet file")


# ----- parser -------------------------------------------------------------------------------------
def _command(sub, name, func, help_text, example, description=""):
    p = sub.add_parser(name, help=help_text, description=(description or help_text),
                       epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=func)
    return p


def _data_args(p, what="Parquet file with an embedding column"):
    p.add_argument("data", metavar="DATA.parquet", help=what)
    p.add_argument("--column", default="embedding", help="embedding column (list<float>) (default: embedding)")


def _bench_args(p):
    p.add_argument("--queries", type=_positive(int), default=1000,
                   help="rows held back as queries, never fitted on nor searched (default: 1000)")
    p.add_argument("--k", type=_positive(int), default=10, help="k of the headline recall@k (default: 10)")
    p.add_argument("--sample", type=_positive(int), default=recommend.DEFAULT_SAMPLE,
                   help=f"fit each codec on this many seeded rows (default: {recommend.DEFAULT_SAMPLE})")
    p.add_argument("--max-rows", type=_positive(int), default=None,
                   help="read a seeded sample of this many rows (default: all rows; they are held in memory)")
    p.add_argument("--seed", type=int, default=0, help="seed of the query/sample split and the fits (default: 0)")
    p.add_argument("--metric", choices=("ip", "l2"), default="ip", help="similarity (default: ip)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Compress embedding columns: fit a codec, encode "
                                     "and decode Parquet files, evaluate specs, recommend one for a target.",
                                     epilog="example:\n  embcompress evaluate data.parquet --report report/",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"{PROG} {ec.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _command(sub, "fit", cmd_fit, "fit a codec on a sample of an embedding column and save it",
                 'embcompress fit data.parquet --column embedding --spec "OPQ32,PQ32" --sample 100000 -o codec.ecz',
                 description="Fit a codec on a seeded sample of an embedding column and save it.\n\n" + GRAMMAR)
    _data_args(p)
    p.add_argument("--spec", required=True, help='codec spec, e.g. "PCA128,SQ8" (grammar above)')
    p.add_argument("--sample", type=_positive(int), default=100_000, help="fit rows, seeded sample (default: 100000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample and the fit (default: 0)")
    p.add_argument("--metric", choices=("ip", "l2"), default="ip", help="similarity (default: ip)")
    p.add_argument("-o", "--output", required=True, metavar="CODEC.ecz", help="codec artifact to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")

    p = _command(sub, "encode", cmd_encode, "encode an embedding column of a Parquet file, row group by row group",
                 "embcompress encode data.parquet --codec codec.ecz --column embedding -o out.parquet --drop-input",
                 description="Stream a Parquet file row group by row group (bounded memory) and add a code "
                 "column; every other column and every row is kept, and the codec fingerprint is written into "
                 "the file's key-value metadata.")
    _data_args(p)
    p.add_argument("--codec", required=True, metavar="CODEC.ecz", help="codec artifact from `embcompress fit`")
    p.add_argument("-o", "--output", required=True, metavar="OUT.parquet", help="Parquet file to write")
    p.add_argument("--output-column", default=None, help="code column name (default: COLUMN_code)")
    p.add_argument("--replace-column", action="store_true",
                   help="allow --output-column to name an existing column and replace its data")
    p.add_argument("--drop-input", action="store_true", help="leave the float column out of the output")
    p.add_argument("--on-invalid", choices=tuple(ON_INVALID), default="raise",
                   help="rows with NaN/Inf/wrong length: fail (raise), keep with a null code (null), or move "
                   "to a rejected file with a reason column (dead-letter) (default: raise)")
    p.add_argument("--rejected", default=None, metavar="PATH",
                   help="rejected rows file for --on-invalid dead-letter (default: OUT.rejected.parquet)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")

    p = _command(sub, "decode", cmd_decode, "decode a code column back to float vectors",
                 "embcompress decode out.parquet --codec codec.ecz -o decoded.parquet",
                 description="Inverse of encode: stream row groups and turn a code column back into "
                 "fixed_size_list<float32> vectors. The codec must be the one that encoded the column.")
    p.add_argument("data", metavar="IN.parquet", help="Parquet file written by `embcompress encode`")
    p.add_argument("--codec", required=True, metavar="CODEC.ecz", help="the codec that encoded the column")
    p.add_argument("--column", default=None, help="code column (default: the one recorded in the file)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.parquet", help="Parquet file to write")
    p.add_argument("--output-column", default=None, help="vector column name (default: COLUMN without _code)")
    p.add_argument("--replace-column", action="store_true",
                   help="allow --output-column to name an existing column and replace its data")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")

    p = _command(sub, "evaluate", cmd_evaluate, "measure specs on your data and write a report with plots",
                 'embcompress evaluate data.parquet --column embedding --specs "SQ8;PQ48;OPQ32,PQ32;PCA128,SQ8;BIN" '
                 "--queries 1000 --k 10 --report report/",
                 description="Per spec: bytes/vector, compression ratio, recall@1/10/100 against exact search on "
                 "held-back queries, recall@k with rescoring, MSE, fit seconds, encode rows/s, artifact size. "
                 "--report writes report.md, pareto.png and encode_speed.png.")
    _data_args(p)
    p.add_argument("--specs", default=DEFAULT_EVAL_SPECS, help=f"';'-separated specs (default: {DEFAULT_EVAL_SPECS})")
    _bench_args(p)
    p.add_argument("--report", default=None, metavar="DIR", help="write the Markdown report and PNG plots here")

    p = _command(sub, "recommend", cmd_recommend, "choose a codec for a byte budget or a recall target",
                 "embcompress recommend data.parquet --column embedding --budget-bytes 32 --time-limit 300 "
                 "-o codec.ecz",
                 description="Measure candidate specs on your data (faiss's baselines first, then the rest cheapest "
                 "first within the time limit), fitting on a sample that never holds the held-back queries; "
                 "print the measured Pareto front of recall, bytes and encode speed, and the best measured "
                 "candidate with its reason. Exits 1 when no measured candidate meets the target.")
    _data_args(p)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--budget-bytes", type=_positive(int), help="most bytes per vector: maximise recall@k")
    target.add_argument("--min-recall", type=_fraction, help="least recall@k: minimise bytes per vector")
    p.add_argument("--time-limit", type=_positive(float), default=recommend.DEFAULT_TIME_LIMIT,
                   help="seconds for the candidates beyond faiss's baselines; those predicted to overrun are "
                   f"skipped (default: {recommend.DEFAULT_TIME_LIMIT:g}). Without --specs, faiss's strongest factory "
                   "strings at the budget (" + ", ".join(recommend.FAISS_BASELINES) + "; {B} the byte size) are "
                   "always measured first, whatever the limit, so the choice never recalls less than they do")
    p.add_argument("--min-encode-rows-per-s", type=_positive(float), default=None, metavar="RATE",
                   help="only choose codecs that encode at least RATE rows/s on this machine (measured); slower "
                   "ones stay in the table and the front")
    p.add_argument("--specs", default=None, help="';'-separated candidates instead of the built-in grid")
    _bench_args(p)
    p.add_argument("-o", "--output", default=None, metavar="CODEC.ecz", help="save the recommended, fitted codec")
    p.add_argument("--report", default=None, metavar="DIR", help="write the Markdown report and PNG plots here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")

    p = _command(sub, "inspect", cmd_inspect, "describe a codec artifact or an encoded Parquet file",
                 "embcompress inspect codec.ecz\n  embcompress inspect out.parquet")
    p.add_argument("path", metavar="CODEC.ecz|FILE.parquet")
    return parser


def _one_line(exc) -> str:
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    text = lines[0]
    if "Accepted grammar" in str(exc):
        text += " (run `embcompress fit --help` for the spec grammar)"
    return text


def main(argv=None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        args.func(args)
    except KeyboardInterrupt:
        _say(f"{PROG}: interrupted")
        return 130
    except (UserError, EmbeddingError, ArtifactError, ValueError, OSError, RuntimeError, MemoryError) as exc:
        _say(f"{PROG}: error: {_one_line(exc)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
