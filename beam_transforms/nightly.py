"""The nightly re-compression job as a Beam transform, and a reader for its mixed-version output.

    with beam.Pipeline() as p:
        p | Recompress("features", "embedding", "/data/codecs", "items", spec="SQ8", partition_col="date")

The plan (which partitions are new, which codec version each output file carries) is made
when the pipeline is built, by :mod:`embcompress.nightly`. The pipeline then samples the
fresh partitions (seeded reservoir), checks drift and fits/publishes a version when needed
(one worker), encodes one input file per element, and commits in a final step that runs
only when every file is written: a failed pipeline commits nothing.
"""
from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.pvalue import AsSingleton

from embcompress import _faults, conventions, nightly, storage
from embcompress.reader import CompressedTable
from embcompress.registry import Registry
from embcompress.spec import parse_spec

from ._codec_ref import codec_from_blob
from .sampling import ReservoirSample


def _decide(sampled, registry, name, spec, metric, seed, thresholds, plan) -> dict:
    """Run the drift decision on one worker; the decision travels as artifact bytes plus facts.

    ``sampled`` is ``(sample, counts)`` from the reservoir: the sample holds valid rows only,
    so the invalid-share threshold decides on the counts of every fresh row. ``registry`` is the
    Registry itself (its filesystem travels with it): an object store's root is a path inside
    that filesystem, which alone would name a local folder."""
    sample, counts = sampled if sampled is not None else (None, None)
    sample = None if sample is None or len(sample) == 0 else sample
    d = nightly.decide(nightly.as_registry(registry), name, sample, spec=spec, metric=metric, seed=seed,
                       thresholds=thresholds, invalid=counts)
    nightly.store_codec(plan.output_path, d.codec)
    nightly.remove_temporaries(plan)
    return {"blob": d.codec.to_bytes(), "version": d.version, "refitted": d.refitted, "reasons": d.reasons,
            "drift": d.drift}


def _read_column(path: str, column: str):
    """``column`` of one input file, a row group at a time, read with pyarrow from any store
    :mod:`embcompress.storage` reaches (credentials and endpoint from the workers' environment)."""
    source = storage.open_parquet(path)
    for i in range(source.num_row_groups):
        yield source.read_row_group(i, columns=[column])


def _as_decision(d: dict) -> nightly.Decision:
    from embcompress import Codec

    return nightly.Decision(Codec.from_bytes(d["blob"]), d["version"], d["refitted"], d["reasons"], d["drift"])


def _tasks(decision: dict, plan, policy):
    todo = nightly.tasks(plan, _as_decision(decision), policy)
    values = list(dict.fromkeys(t.value for t in todo))
    return [(i, t, values.index(t.value)) for i, t in enumerate(todo)]


class _TaskToEncodedFile(beam.DoFn):
    """Encode one input file into its content-addressed output file; emits ``(index, task, rows)``."""

    def __init__(self, plan, fail_after, on_invalid, kill):
        self._plan = plan
        self._fail_after = fail_after
        self._on_invalid = on_invalid
        self._kill = kill

    def process(self, element, decision):
        index, task, part_index = element
        _faults.check(part_index, self._fail_after, f"partition {task.value}")
        _faults.kill_driver_if_due(part_index, self._kill)
        handle = codec_from_blob(decision["blob"])
        yield index, task, nightly.encode_task(handle.codec, task, self._plan.output_path, self._plan.column,
                                               self._plan.code_column, self._on_invalid)


def _commit(written, decision, plan, clock, name, policy) -> dict:
    written = [(task, rows) for _, task, rows in sorted(written, key=lambda w: w[0])]
    d = _as_decision(decision)
    expected = len(nightly.tasks(plan, d, policy))
    if len(written) != expected:
        raise RuntimeError(f"{len(written)} of {expected} files were written; nothing was committed, rerun the job")
    snapshot = nightly.commit(plan, d, written, registry_name=name)
    summary = nightly.summarize(plan, clock, engine="beam", name=name, decision=d, written=written,
                                snapshot=snapshot, policy=policy)
    nightly.write_summary(clock.summary_path(plan.output_path), summary)
    return summary


def _nothing_to_do(summary: dict, path: str) -> dict:
    nightly.write_summary(path, summary)
    return summary


class Recompress(beam.PTransform):
    """One night of :func:`spark_udfs.recompress`, in Beam: ``p | Recompress(...)`` gives the run summary.

    Arguments are those of ``spark_udfs.recompress``; ``registry`` must be a path or URI (or a
    Registry on one) that the workers can reach. On an object-store table (``s3://``...) the
    workers read and write every file with pyarrow (:mod:`embcompress.storage`), with the
    store's credentials and endpoint from their environment. ``summary_path`` is known once the transform
    is applied, so a caller can read the summary after the pipeline has run. Invalid rows go
    by ``on_invalid`` as in the other engines; the reservoir sample leaves them out but counts
    every fresh row, and ``thresholds['invalid_share']`` decides the night on those counts.
    """

    def __init__(self, table_path: str, column: str, registry: Registry | str, name: str, *, spec: str,
                 partition_col: str, sample_size: int = 100_000, thresholds: dict | None = None,
                 output_path: str | None = None, reencode: str = "all", metric: str = "ip", seed: int = 0,
                 code_column: str | None = None, on_invalid: str = "dead_letter") -> None:
        super().__init__()
        if reencode not in nightly.POLICIES:
            raise ValueError(f"reencode must be one of {nightly.POLICIES}, got {reencode!r}")
        self._on_invalid = conventions.check_on_invalid(on_invalid)
        self._args: dict[str, Any] = {"table_path": table_path, "column": column, "name": name, "spec": spec,
                      "partition_col": partition_col, "sample_size": sample_size, "thresholds": thresholds,
                      "reencode": reencode, "metric": metric, "seed": seed, "code_column": code_column}
        self._registry = nightly.as_registry(registry)
        self._output = output_path or nightly.default_output(table_path)
        self._fail_after = _faults.fail_after()  # test-only hooks (embcompress/_faults.py)
        self._kill = _faults.kill_target()
        self.summary_path: str | None = None

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        a, registry, clock = self._args, self._registry, nightly.Clock()
        plan = nightly.make_plan(a["table_path"], self._output, a["column"], a["partition_col"], registry, a["name"],
                                 a["code_column"])
        self.summary_path = clock.summary_path(plan.output_path)
        if plan.up_to_date(registry.versions(a["name"]), a["reencode"]):
            summary = nightly.summarize(plan, clock, engine="beam", name=a["name"], policy=a["reencode"])
            return (pbegin | "NothingToDo" >> beam.Create([summary])
                    | "WriteSummary" >> beam.Map(_nothing_to_do, self.summary_path))
        fresh = [f for p in plan.fresh for f in p.files]
        if fresh:
            read = (beam.io.ReadAllFromParquetBatched(columns=[a["column"]]) if storage.is_local(plan.table_path)
                    else beam.FlatMap(_read_column, a["column"]))  # object stores: pyarrow.fs, as for the encode
            sample = (pbegin | "FreshFiles" >> beam.Create(fresh)
                      | "ReadFresh" >> read
                      | "Sample" >> beam.CombineGlobally(ReservoirSample(
                          a["column"], a["sample_size"], a["seed"], with_counts=True,
                          nonzero_norm=parse_spec(a["spec"]).needs_nonzero_norm)))
        else:
            sample = pbegin | "NoFreshData" >> beam.Create([None])
        decision = sample | "Decide" >> beam.Map(_decide, registry, a["name"], a["spec"], a["metric"], a["seed"],
                                                 a["thresholds"], plan)
        written = (decision | "Tasks" >> beam.FlatMap(_tasks, plan, a["reencode"])
                   | "Spread" >> beam.Reshuffle()
                   | "Encode" >> beam.ParDo(_TaskToEncodedFile(plan, self._fail_after, self._on_invalid, self._kill),
                                          AsSingleton(decision)))
        return (written | "Gather" >> beam.combiners.ToList()
                | "Commit" >> beam.Map(_commit, AsSingleton(decision), plan, clock, a["name"], a["reencode"]))


class _FileToTable(beam.DoFn):
    def __init__(self, state, decode):
        self._state, self._decode = state, decode
        self._table = None

    def setup(self):
        self._table = CompressedTable(self._state["path"], state=self._state)

    def process(self, element):
        value, file = element
        table, _ = self._table.read_file(value, file, decode=self._decode)
        yield table


class ReadCompressed(beam.PTransform):
    """``p | ReadCompressed(path, decode=True)``: one pyarrow Table per active data file of the
    output's Delta table (the latest version, or ``version``; pinned when applied, the file list
    read from the Delta log with delta-rs), codes decoded with each file's own codec version."""

    def __init__(self, path: str, *, decode: bool = False, version: int | None = None) -> None:
        super().__init__()
        self._path, self._decode, self._version = path, decode, version

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        table = CompressedTable(self._path, self._version)
        files = [(v, f) for v in table.partitions for f in table.files(v)]
        return (pbegin | "Files" >> beam.Create(files) | "Spread" >> beam.Reshuffle()
                | "Read" >> beam.ParDo(_FileToTable(table.state, self._decode)))
