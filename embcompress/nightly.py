"""Nightly re-compression of a partitioned feature table: plan, decide, encode, commit.

The engine-neutral half of ``spark_udfs.recompress`` and ``beam_transforms.Recompress``
(and of :func:`recompress_local`, the in-process engine). An engine samples, encodes and
writes files; everything else happens here.

Input: Hive-style ``{partition_col}={value}/*.parquet`` directories under ``table_path``.
Input and output may be local paths or object-store URIs (``s3://``...; :mod:`embcompress.storage`
reads and writes them through pyarrow, delta-rs commits with :func:`delta_lake.storage_options`).
Output: a Delta Lake table, committed with delta-rs (:mod:`embcompress.delta_lake`)::

    output/_delta_log/00000000000000000003.json   one commit per night: adds + removes, our manifest in commitInfo
    output/{partition_col}={value}/{code_column}_version={v}/part-00000-<fingerprint12>-<input signature12>.parquet
    output/_codecs/<fingerprint>.ecz      every codec a version of the table refers to (readers need no registry)
    output/_rejected/<data file path>     invalid rows of that data file (on_invalid="dead_letter")
    output/_runs/<time>-<run id>.json     run summaries (the only files a no-op run writes)

The table's partition columns are ``partition_col`` and ``{code_column}_version`` (the codec's
registry version), so any Delta reader sees each row's codec version; each data file's Parquet
metadata names its codec fingerprint, and each commit's ``embcompress`` commit info holds the
manifest: partition -> files, rows, codec fingerprint/version, input signature.

Invalid rows (NaN, Inf, wrong length, ...) do not fail the night: the drift check's
``invalid_share`` threshold decides it (over the limit, nothing is written), and below it the
fit uses the valid rows only and the encode routes the invalid ones by ``on_invalid``:
``"dead_letter"`` (default) to ``_rejected/``, ``"null"`` to null codes, ``"raise"`` fails.

Data files are content-addressed (codec fingerprint + input signature) and written to a
temporary name then renamed, so they are immutable; a run writes only new names. Nothing is
visible to a Delta reader until the night's single commit, which adds the new files and
removes those of the partitions they replace; a run killed at any point leaves the previous
version readable and complete, and a rerun reuses the finished files and writes the same
bytes an uninterrupted run would. One writer per output table at a time (the nightly
scheduler's job): a run whose table moved on since it planned fails at commit. The codec
registry itself is safe for concurrent publishers.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import posixpath
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from . import _faults, delta_lake, provenance, storage
from .arrow import validate
from .codec import Codec
from .conventions import check_on_invalid, default_code_column
from .drift import DEFAULT_THRESHOLDS, drift
from ._fitting import fit
from .parquet_io import check_files, encode_file, footer_digest
from ._paths import check_no_alias
from .registry import Registry
from .spec import MAX_DIM, parse_spec

FORMAT = "embcompress-nightly/2"  # /1 was the snapshot layout with a _CURRENT pointer, before Delta
DELTA_LOG = "_delta_log"
LEGACY_POINTER = "_CURRENT"  # the pre-Delta layout's pointer: such an output is refused, not mixed with Delta
CODECS = "_codecs"
RUNS = "_runs"
REJECTED = "_rejected"
POLICIES = ("all", "new")


# ----- the input table ------------------------------------------------------------------------
@dataclass(frozen=True)
class InputPartition:
    value: str
    files: tuple  # absolute paths, sorted
    signature: str  # sha256 over file names, sizes and Parquet footers


def _visible(name: str) -> bool:
    return not name.startswith(("_", "."))


def table_root(table_path) -> str:
    """The input table as the plan names it: a local path made absolute, a URI as given (no trailing ``/``)."""
    text = str(os.fspath(table_path))
    return os.path.abspath(text) if storage.is_local(text) and not text.startswith("file:") else text.rstrip("/")


def _entries(fs, inner: str, kind) -> list:
    """``(name, size)`` of the visible entries of type ``kind`` directly under ``inner``, sorted by name."""
    infos = fs.get_file_info(pafs.FileSelector(inner, allow_not_found=True))
    return sorted((i.base_name, i.size) for i in infos if i.type == kind and _visible(i.base_name))


def list_partitions(table_path, partition_col: str) -> list:
    """The input table's partitions, sorted by value. Hidden (``_``/``.``) entries are skipped.

    Local paths, ``file:`` and object-store URIs alike (:mod:`embcompress.storage`): file names
    are absolute local paths, or URIs under the table's URI."""
    root = table_root(table_path)
    fs, inner = storage.resolve(root)
    if fs.get_file_info(inner).type != pafs.FileType.Directory:
        raise storage.missing(root, "input table") if not storage.is_local(root) else \
            FileNotFoundError(f"input table {root} does not exist")
    prefix = f"{partition_col}="
    parts = []
    for entry, _ in _entries(fs, inner, pafs.FileType.Directory):
        path = storage.join(root, entry)
        if not entry.startswith(prefix):
            raise ValueError(f"{path} is not a {prefix}<value> directory; pass the table's partition_col "
                             f"(the directory names look like {entry.split('=')[0]!r}=...)")
        found = [(n, size) for n, size in _entries(fs, f"{inner}/{entry}", pafs.FileType.File)
                 if n.endswith(".parquet")]
        if not found:
            continue
        files = tuple(storage.join(path, n) for n, _ in found)
        h = hashlib.sha256()
        for (name, size), f in zip(found, files):
            h.update(f"{name}\0{size}\0".encode())
            h.update(footer_digest(f))
        parts.append(InputPartition(entry[len(prefix):], files, h.hexdigest()))
    if not parts:
        raise FileNotFoundError(f"no {prefix}<value> partitions with .parquet files under {root}")
    return parts


# ----- the output table -----------------------------------------------------------------------
def version_column(code_column: str) -> str:
    """The output's partition column holding each file's codec registry version."""
    return f"{code_column}_version"


def read_state(output_path, version: int | None = None):
    """``(DeltaTable, manifest)`` of an output table at ``version`` (the latest when None), or None
    before its first commit. The manifest is the one our newest commit at that version carries."""
    if not delta_lake.is_table(output_path):
        if storage.exists(storage.join(delta_lake.table_uri(output_path), LEGACY_POINTER)):
            raise ValueError(f"{output_path} holds a nightly output in the snapshot layout of earlier releases "
                             f"({LEGACY_POINTER}, _manifests/), not a Delta table; write to a new output_path "
                             f"(the first night re-encodes every partition) and delete the old one when done")
        return None
    table = delta_lake.open_table(output_path, version)
    manifest = delta_lake.latest_manifest(table)
    if manifest is None:
        raise ValueError(f"{output_path} is a Delta table, but no commit in it was made by the nightly job")
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{output_path}: commit {manifest.get('delta_version')} has format "
                         f"{manifest.get('format')!r}, expected {FORMAT!r}")
    return table, manifest


def file_fingerprint(path, code_column: str):
    """The fingerprint of the codec that wrote ``code_column`` of an output file (its Parquet metadata)."""
    fs, inner = storage.resolve(path)
    record = provenance.find(provenance.read(inner, filesystem=fs), code_column)
    return None if record is None else record.fingerprint


def codec_path(output_path, fingerprint: str) -> str:
    return storage.join(str(output_path), CODECS, f"{fingerprint}.ecz")


def remove_temporaries(plan) -> int:
    """Delete the temporary files an interrupted run left in the output's partition directories.

    Safe because a table has one writer at a time; committed files never have temporary names.
    """
    fs, root = storage.resolve(plan.output_path)
    removed = 0
    for part in plan.inputs:
        for sub in (f"{plan.partition_col}={part.value}", f"{REJECTED}/{plan.partition_col}={part.value}"):
            selector = pafs.FileSelector(f"{root}/{sub}", recursive=True, allow_not_found=True)
            for info in fs.get_file_info(selector):
                if info.type == pafs.FileType.File and ".tmp-" in info.base_name:
                    fs.delete_file(info.path)
                    removed += 1
    return removed


def store_codec(output_path, codec: Codec) -> None:
    """Keep the artifact with the table (write-once, content-addressed) before any file uses it."""
    path = codec_path(output_path, codec.fingerprint)
    if not storage.exists(path):
        storage.write_bytes(path, codec.to_bytes(), overwrite=True)


# ----- planning -------------------------------------------------------------------------------
@dataclass
class Plan:
    """What the output holds for each input partition: ``new``, ``changed`` (input rewritten) or ``current``."""

    table_path: str
    output_path: str
    column: str
    code_column: str
    partition_col: str
    inputs: list
    previous: dict | None  # the manifest of the newest commit
    status: dict  # value -> "new" | "changed" | "current"
    versions: dict  # value -> registry version of the codec in the output (None if not in the registry)
    fingerprints: dict  # value -> fingerprint of the codec in the output
    read_version: int | None = None  # the Delta version planned from (None: no table yet)
    active: dict = field(default_factory=dict)  # value -> relative paths of its files in the Delta log

    @property
    def version_column(self) -> str:
        return version_column(self.code_column)

    @property
    def fresh(self) -> list:
        """Partitions whose input the output does not hold yet (new or changed)."""
        return [p for p in self.inputs if self.status[p.value] != "current"]

    @property
    def removed(self) -> list:
        """Partitions in the output whose input is gone (dropped by retention upstream): the next commit drops them."""
        inputs = {p.value for p in self.inputs}
        held = set((self.previous or {}).get("partitions", {})) | set(self.active)
        return sorted(v for v in held if v not in inputs)

    def up_to_date(self, versions: list, policy: str) -> bool:
        """True when a run has nothing to do: a version exists, nothing to encode, nothing removed."""
        return bool(versions) and not self.to_encode(versions[-1], policy) and not self.removed

    def to_encode(self, version: int, policy: str) -> list:
        """Fresh partitions, plus, under ``policy="all"``, those on another codec version."""
        if policy not in POLICIES:
            raise ValueError(f"reencode must be one of {POLICIES}, got {policy!r}")
        return [p for p in self.inputs if self.status[p.value] != "current"
                or (policy == "all" and self.versions[p.value] != version)]


def _active_by_partition(table, partition_col: str) -> dict:
    out: dict[str, list] = {}
    for f in delta_lake.active_files(table):
        out.setdefault(str(f.partition.get(partition_col)), []).append(f.path)
    return {v: sorted(paths) for v, paths in out.items()}


def _check_columns(inputs, column: str, code_column: str, partition_col: str) -> None:
    """The output's own columns must not be in the input already (no column is replaced silently)."""
    first = inputs[0].files[0]
    fs, inner = storage.resolve(first)
    names = set(pq.read_schema(inner, filesystem=fs).names)
    for name, what in ((code_column, "code column"), (version_column(code_column), "codec-version column"),
                       (partition_col, "partition column")):
        if name in names and name != column:
            raise ValueError(f"{first} already has a column {name!r}, which the nightly output uses as its {what}; "
                             f"pass another code_column (or drop that column upstream)")


def make_plan(table_path, output_path, column: str, partition_col: str, registry: Registry, name: str,
              code_column=None) -> Plan:
    """Compare the input partitions with the output table's latest version (its Delta log and our manifest)."""
    code_column = code_column or default_code_column(column)
    check_no_alias({"table_path": table_path}, {"output_path": output_path})
    output_path = delta_lake.table_uri(output_path)
    inputs = list_partitions(table_path, partition_col)
    _check_columns(inputs, column, code_column, partition_col)
    state = read_state(output_path)
    table, previous = state if state is not None else (None, None)
    active = _active_by_partition(table, partition_col) if table is not None else {}
    committed = (previous or {}).get("partitions", {})
    status, versions, fingerprints, by_fp = {}, {}, {}, {}
    for part in inputs:
        entry = committed.get(part.value)
        if entry is None or sorted(entry["files"]) != active.get(part.value):
            status[part.value] = "new"  # or its files were changed by another writer: encoded again
            continue
        status[part.value] = "current" if entry["input_signature"] == part.signature else "changed"
        fp = entry["fingerprint"]
        if fp not in by_fp:
            by_fp[fp] = registry.find(name, fp) if fp else None
        fingerprints[part.value], versions[part.value] = fp, by_fp[fp]
    opener = None if storage.is_local(inputs[0].files[0]) else storage.open_input_file
    for part in inputs:  # whatever engine samples them next: no huge row is read before a length check
        if status[part.value] != "current":
            check_files(part.files, column, MAX_DIM, open_file=opener)
    return Plan(table_root(table_path), output_path, column, code_column, partition_col, inputs,
                previous, status, versions, fingerprints, None if table is None else table.version(), active)


# ----- the drift decision ---------------------------------------------------------------------
@dataclass
class Decision:
    codec: Codec
    version: int
    refitted: bool
    reasons: list = field(default_factory=list)
    drift: dict | None = None


class DriftError(RuntimeError):
    """The new data is unusable (too many invalid rows): nothing was written."""


def check_invalid_share(invalid: int, rows: int, first, thresholds, name: str, where: str = "fit sample") -> float:
    """Raise DriftError when more than ``thresholds['invalid_share']`` of ``rows`` are invalid; return the share."""
    limit = {**DEFAULT_THRESHOLDS, **(thresholds or {})}["invalid_share"]
    share = invalid / rows if rows else 0.0
    if share > limit:
        raise DriftError(f"{where} of {name!r}: {share:.1%} of rows are invalid (limit {limit:.0%}; first: "
                         f"{first}). Fix the new partitions (or raise thresholds['invalid_share']) and rerun; "
                         f"nothing was written")
    return share


def _valid_sample(sample, spec: str, thresholds, name: str):
    """The sample's valid rows, after checking that invalid ones are within ``invalid_share``.

    The first night has no codec to run the drift check with, so this is where its invalid
    share is decided; later nights checked it already and only drop the rows here.
    """
    mask, reasons = validate(sample, nonzero_norm=parse_spec(spec).needs_nonzero_norm)
    first = reasons[np.flatnonzero(mask)[0]] if mask.any() else None
    check_invalid_share(int(mask.sum()), len(mask), first, thresholds, name)
    if not mask.any():
        return sample
    return sample.filter(pa.array(~mask)) if isinstance(sample, (pa.Array, pa.ChunkedArray)) else \
        np.asarray(sample)[~mask]


def decide(registry: Registry, name: str, sample, *, spec: str, metric: str = "ip", seed: int = 0,
           thresholds=None, invalid=None) -> Decision:
    """Check ``sample`` (the fresh rows, or None) against the latest version; fit and publish one when needed.

    An engine whose sample leaves invalid rows out (Beam's reservoir) counts them itself and
    passes ``invalid={"rows": seen, "invalid": left out, "first": a reason}``: the
    invalid-share threshold then decides on those counts, before anything is fitted or written.
    """
    share = None
    if invalid is not None:
        share = check_invalid_share(invalid["invalid"], invalid["rows"], invalid["first"], thresholds, name,
                                    "fresh rows")
    if not registry.versions(name):
        codec = fit(spec, _valid_sample(sample, spec, thresholds, name), metric=metric, seed=seed)
        return Decision(codec, registry.publish(name, codec), True, [f"no version of {name!r} yet"])
    version = registry.versions(name)[-1]
    current = registry.get(name, version)
    if sample is None:
        return Decision(current, version, False)
    report = drift(current, sample, thresholds=thresholds, seed=seed)
    if share is not None:
        report.invalid_share = max(report.invalid_share, share)
    reasons = list(report.reasons)
    if report.decision == "error":
        raise DriftError(f"drift check of {name!r} v{version} failed: {'; '.join(reasons)}. Fix the new partitions "
                         f"(or raise thresholds['invalid_share']) and rerun; nothing was written")
    if current.spec != spec or current.metric != metric:
        reasons.append(f"spec/metric changed from {current.spec}/{current.metric} to {spec}/{metric}")
    if not reasons:
        return Decision(current, version, False, [], report.to_dict())
    codec = fit(spec, _valid_sample(sample, spec, thresholds, name), metric=metric, seed=seed)
    new_version = registry.publish(name, codec, parent=version, extra={"refit_reasons": reasons})
    return Decision(codec, new_version, True, reasons, report.to_dict())


# ----- encoding tasks -------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """Encode one input file into one content-addressed output file (``relative`` to the output root)."""

    value: str
    source: str
    relative: str
    codec_version: int | None = None  # the registry version, recorded in the file's provenance


def tasks(plan: Plan, decision: Decision, policy: str) -> list:
    out = []
    for part in plan.to_encode(decision.version, policy):
        for i, src in enumerate(part.files):
            name = f"part-{i:05d}-{decision.codec.fingerprint[:12]}-{part.signature[:12]}.parquet"
            folder = f"{plan.partition_col}={part.value}/{plan.version_column}={decision.version}"
            out.append(Task(part.value, src, f"{folder}/{name}", decision.version))
    return out


def encode_task(codec: Codec, task: Task, output_path: str, column: str, code_column: str,
                on_invalid: str = "dead_letter") -> int:
    """Write one output file unless it already exists (names are content-addressed); returns its rows.

    Invalid rows go by ``on_invalid``; dead letters to the same name under ``_rejected/``.
    """
    check_on_invalid(on_invalid)
    target = storage.join(output_path, task.relative)
    rejected = storage.join(output_path, REJECTED, task.relative) if on_invalid == "dead_letter" else None
    if not storage.exists(target):
        if rejected is not None:
            storage.remove(rejected)  # left by a run killed between its two commits; rewritten identically
        encode_file(task.source, target, codec, column, output_column=code_column, drop_input=True,
                    on_invalid=on_invalid, rejected_path=rejected, codec_version=task.codec_version)
    return storage.open_parquet(target).metadata.num_rows


def rejected_rows(output_path, task: Task) -> int:
    """Rows of ``task``'s input that the encode dead-lettered (0 when none, or not dead-lettering)."""
    fs, root = storage.resolve(output_path)
    path = f"{root}/{REJECTED}/{task.relative}"
    if fs.get_file_info(path).type != pafs.FileType.File:
        return 0
    with fs.open_input_file(path) as f:
        return pq.ParquetFile(f).metadata.num_rows


# ----- commit ---------------------------------------------------------------------------------
def manifest(plan: Plan, decision: Decision, written: list, *, registry_name: str) -> dict:
    """The next manifest: partition -> files, rows, dead letters (``rejected``, ``rejected_files``),
    input signature, codec fingerprint and version.

    ``written`` is ``[(task, rows)]`` for every task of the run. It has no timestamps, so an
    interrupted-then-rerun night records the same manifest as a clean one.
    """
    by_value: dict[str, dict] = {}
    for task, rows in written:
        entry = by_value.setdefault(task.value, {"files": [], "rows": 0, "rejected": 0, "rejected_files": []})
        entry["files"].append(task.relative)
        entry["rows"] += int(rows)
        rejected = rejected_rows(plan.output_path, task)
        if rejected:  # dead letters belong to this commit: rows + rejected = the partition's input rows
            entry["rejected"] += rejected
            entry["rejected_files"].append(f"{REJECTED}/{task.relative}")
    previous = (plan.previous or {}).get("partitions", {})
    partitions = {}
    for part in plan.inputs:
        if part.value in by_value:
            partitions[part.value] = {**by_value[part.value], "input_signature": part.signature,
                                      "fingerprint": decision.codec.fingerprint, "version": decision.version}
        elif part.value in previous and plan.status[part.value] == "current":
            partitions[part.value] = dict(previous[part.value])
        else:
            raise RuntimeError(f"partition {part.value!r} has new input but no encoded files; nothing was committed, "
                               f"rerun the job")
    codecs = {str(e["version"]): e["fingerprint"] for e in partitions.values()}
    return {"format": FORMAT, "column": plan.column, "code_column": plan.code_column,
            "version_column": plan.version_column, "partition_col": plan.partition_col,
            "registry_name": registry_name, "codecs": codecs, "partitions": partitions}


def _add_actions(plan: Plan, written: list) -> list:
    fs, root = storage.resolve(plan.output_path)
    adds = []
    for task, rows in written:
        info = fs.get_file_info(f"{root}/{task.relative}")
        if info.type != pafs.FileType.File:
            raise RuntimeError(f"{task.relative} was not written; nothing was committed, rerun the job")
        modified = int(info.mtime.timestamp() * 1000) if info.mtime is not None else 0
        partition = {plan.partition_col: task.value, plan.version_column: task.codec_version}
        adds.append(delta_lake.add_action(task.relative, info.size, partition, rows, modified))
    return adds


def _schema(plan: Plan, written: list):
    """The Delta schema: the data files' columns, then the two partition columns (None: keep the table's)."""
    if not written:
        return None
    fs, root = storage.resolve(plan.output_path)
    files = pq.read_schema(f"{root}/{written[0][0].relative}", filesystem=fs).remove_metadata()
    return files.append(pa.field(plan.partition_col, pa.string())).append(pa.field(plan.version_column, pa.int32()))


def commit(plan: Plan, decision: Decision, written: list, *, registry_name: str) -> int:
    """One Delta commit: add the run's files, remove those of every partition they replace or that
    was dropped upstream, with the manifest in the commit info. Returns the new table version."""
    body = manifest(plan, decision, written, registry_name=registry_name)
    replaced = sorted({t.value for t, _ in written} | set(plan.removed))
    try:
        return delta_lake.commit(plan.output_path, read_version=plan.read_version, schema=_schema(plan, written),
                                 partition_by=[plan.partition_col, plan.version_column],
                                 adds=_add_actions(plan, written), replace={plan.partition_col: replaced},
                                 manifest=body)
    except delta_lake.CommitConflict as exc:
        raise RuntimeError(f"{exc}: another run of the nightly job committed meanwhile; only one run per output "
                           f"table may write at a time. Rerun this one: it will start from the new version") from None


def vacuum(output_path, *, retention_hours: int | None = None, enforce_retention_duration: bool = True) -> list:
    """Delta's vacuum, then the dead letters and codecs of the data files it deleted.

    Data files that no table version within the retention (``retention_hours``, default the
    table's ``delta.deletedFileRetentionDuration``, one week) refers to are deleted; readers
    of those older versions would fail, so keep the retention longer than any reader runs.
    Returns the deleted paths, relative to the table.
    """
    deleted = delta_lake.vacuum(output_path, retention_hours=retention_hours,
                                enforce_retention_duration=enforce_retention_duration)
    fs, root = storage.resolve(delta_lake.table_uri(output_path))
    left = [i for i in fs.get_file_info(pafs.FileSelector(root, recursive=True)) if i.type == pafs.FileType.File]
    rel = {i.path[len(root) + 1:]: i.path for i in left}
    data = {r for r in rel if not r.startswith(("_", ".")) and r.endswith(".parquet")}
    prefixes = {posixpath.basename(r).split("-")[2] for r in data}  # part-00000-<fingerprint12>-<signature12>
    extra = []
    for r, full in sorted(rel.items()):
        stale_reject = r.startswith(REJECTED + "/") and r[len(REJECTED) + 1:] not in data
        stale_codec = r.startswith(CODECS + "/") and r.endswith(".ecz") and posixpath.basename(r)[:12] not in prefixes
        if stale_reject or stale_codec:
            fs.delete_file(full)
            extra.append(r)
    return sorted(set(deleted) | set(extra))


# ----- run summary ----------------------------------------------------------------------------
class Clock:
    """A run's id and start time (wall clock: a Beam run may finish in another process)."""

    def __init__(self):
        self.t0 = time.time()
        self.started = _dt.datetime.fromtimestamp(self.t0, _dt.timezone.utc)
        self.run_id = uuid.uuid4().hex[:12]

    def seconds(self) -> float:
        return round(time.time() - self.t0, 3)

    def summary_path(self, output_path) -> str:
        """Where this run's summary goes: ``_runs/<UTC start, microseconds>-<run id>.json`` (sorts by time)."""
        stamp = self.started.strftime("%Y%m%dT%H%M%S.%fZ")
        return storage.join(delta_lake.table_uri(output_path), RUNS, f"{stamp}-{self.run_id}.json")


def summarize(plan: Plan, clock: Clock, *, engine: str, name: str, decision: Decision | None = None, written=(),
              snapshot=None, policy: str = "all") -> dict:
    """The run summary: what was found, what was done, with which codec, and how long it took."""
    encoded = sorted({t.value for t, _ in written})
    summary = {
        "run_id": clock.run_id, "engine": engine, "started_at": clock.started.isoformat(timespec="seconds"),
        "table": plan.table_path, "output": plan.output_path, "registry_name": name, "reencode": policy,
        "status": "committed" if snapshot is not None else "nothing to do",
        "message": (f"committed version {snapshot}: encoded {len(encoded)} partitions, dropped {len(plan.removed)}"
                    if snapshot is not None else
                    f"nothing to do: all {len(plan.inputs)} partitions are current"),
        "snapshot": snapshot if snapshot is not None else plan.read_version,
        "partitions": {"total": len(plan.inputs),
                       "new": [p.value for p in plan.inputs if plan.status[p.value] == "new"],
                       "changed": [p.value for p in plan.inputs if plan.status[p.value] == "changed"],
                       "removed": plan.removed,
                       "encoded": encoded},
        "rows_encoded": int(sum(r for _, r in written)), "files_written": len(written),
        "rows_rejected": int(sum(rejected_rows(plan.output_path, t) for t, _ in written)),
        "codec": None, "drift": None,
    }
    if decision is not None:
        summary["codec"] = {"version": decision.version, "fingerprint": decision.codec.fingerprint,
                            "spec": decision.codec.spec, "refitted": decision.refitted, "reasons": decision.reasons}
        summary["drift"] = decision.drift
        stale = [p.value for p in plan.inputs if p.value not in encoded and plan.status[p.value] == "current"
                 and plan.versions.get(p.value) != decision.version]
        summary["partitions"]["kept_on_older_version"] = stale
    summary["duration_s"] = clock.seconds()
    return summary


def write_summary(path, summary: dict) -> str:
    """Write the summary to ``path`` (under ``_runs/``: a new file per run, the table is not touched)."""
    summary["summary_path"] = path
    storage.write_bytes(path, json.dumps(summary, indent=1, sort_keys=True).encode(), overwrite=True)
    return path


def last_summary(output_path) -> dict:
    """The newest run summary of an output table."""
    runs = storage.join(delta_lake.table_uri(output_path), RUNS)
    fs, inner = storage.resolve(runs)
    infos = fs.get_file_info(pafs.FileSelector(inner, allow_not_found=True))
    names = sorted(i.base_name for i in infos if i.base_name.endswith(".json"))
    if not names:
        raise FileNotFoundError(f"{runs} holds no run summaries yet; run the nightly job first")
    return json.loads(storage.read_bytes(storage.join(runs, names[-1])))


def as_registry(registry) -> Registry:
    """A Registry, or one rooted at the path given."""
    return registry if isinstance(registry, Registry) else Registry(registry)


def default_output(table_path) -> str:
    return table_root(table_path).rstrip("/") + "_compressed"


# ----- the in-process engine ------------------------------------------------------------------
def sample_files(files, column: str, sample_size: int, seed: int):
    """A seeded sample of ``sample_size`` rows of ``column`` from ``files``, as Arrow (bad rows kept, for drift
    to count). Reads the column in full: the in-process engine is for small tables."""
    tables = [pq.read_table(inner, columns=[column], filesystem=fs) for fs, inner in map(storage.resolve, files)]
    values = pa.concat_tables(tables)[column].combine_chunks()
    if len(values) > sample_size:
        values = values.take(pa.array(np.sort(np.random.default_rng(seed).choice(len(values), sample_size,
                                                                                 replace=False))))
    return values


def recompress_local(table_path, column: str, registry, name: str, *, spec: str, partition_col: str,
                     output_path=None, sample_size: int = 100_000, thresholds=None, reencode: str = "all",
                     metric: str = "ip", seed: int = 0, code_column=None, on_invalid: str = "dead_letter") -> dict:
    """The nightly job in this process with pyarrow (small tables, tests, the reference for the engines).

    Invalid rows go by ``on_invalid`` once ``thresholds['invalid_share']`` has let the night run.
    """
    check_on_invalid(on_invalid)
    fail_after = _faults.fail_after()
    clock, registry = Clock(), as_registry(registry)
    output_path = output_path or default_output(table_path)
    plan = make_plan(table_path, output_path, column, partition_col, registry, name, code_column)
    fresh = [f for p in plan.fresh for f in p.files]
    if plan.up_to_date(registry.versions(name), reencode):
        summary = summarize(plan, clock, engine="local", name=name, policy=reencode)
    else:
        sample = sample_files(fresh, column, sample_size, seed) if fresh else None
        decision = decide(registry, name, sample, spec=spec, metric=metric, seed=seed, thresholds=thresholds)
        store_codec(plan.output_path, decision.codec)
        remove_temporaries(plan)
        written: list[tuple[Task, int]] = []
        for task in tasks(plan, decision, reencode):
            done = len({t.value for t, _ in written})
            _faults.check(done, fail_after, f"partition {task.value}")
            _faults.kill_if_due(done)
            written.append((task, encode_task(decision.codec, task, plan.output_path, column, plan.code_column,
                                              on_invalid)))
        snapshot = commit(plan, decision, written, registry_name=name)
        summary = summarize(plan, clock, engine="local", name=name, decision=decision, written=written,
                            snapshot=snapshot, policy=reencode)
    write_summary(clock.summary_path(plan.output_path), summary)
    return summary
