"""A versioned codec registry on any filesystem pyarrow understands.

Layout under ``root``::

    name/v1/codec.ecz    the artifact (never rewritten)
    name/v1/meta.json    fingerprint, spec, dim, metric, fit time, fit statistics, parent version
    name/v2/...

Publishing must never give two publishers one version number, and a reader must never see
half a version. Where directories rename atomically (local disks, HDFS), both files are
written into a private staging directory that is then renamed to the next ``v{N}``: when two
publishers race for one number, the loser's rename fails, so it re-reads the versions and
retries with the next number.

Object stores (``s3://``) have no rename, only copies. There the artifact is first stored
under its fingerprint, ``name/_objects/<fingerprint>.ecz`` (identical bytes whoever writes
them), and the version is committed by creating ``name/v{N}/meta.json`` with a conditional
create (S3's ``If-None-Match: *``, :func:`storage.create_exclusive`): the store lets exactly
one publisher create it, and the meta names the artifact. Stores with neither (GCS, ABFS for
now) are refused for publishing rather than published to unsafely.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import uuid

import pyarrow.fs as pafs

from . import storage
from .codec import MAX_ARTIFACT_BYTES, Codec
from .errors import ArtifactError

_VERSION_DIR = re.compile(r"v(\d+)")
_OBJECT = re.compile(r"_objects/[0-9a-f]{64}\.ecz")
MAX_PUBLISH_ATTEMPTS = 20
MAX_META_BYTES = 1 << 20


class VersionConflict(RuntimeError):
    """Another publisher took the version number; ``publish`` retries on it."""


class Registry:
    """Codec versions for named feature columns, e.g. ``Registry("/data/codecs").publish("items", codec)``."""

    def __init__(self, root, filesystem: pafs.FileSystem | None = None):
        if filesystem is None:
            filesystem, root = storage.resolve(str(root)) if "://" in str(root) else (pafs.LocalFileSystem(), str(root))
        self.fs, self.root = filesystem, str(root).rstrip("/")

    def _dir(self, name: str, version: int | None = None) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name) or name.startswith("."):
            raise ValueError(f"registry name {name!r} must be letters, digits, '_', '-' or '.'")
        base = f"{self.root}/{name}"
        return base if version is None else f"{base}/v{version}"

    def versions(self, name: str) -> list:
        """Published version numbers of ``name``, ascending (empty if none)."""
        found = []
        for info in self._list(self._dir(name)):
            m = _VERSION_DIR.fullmatch(info.base_name)
            if m and info.type == pafs.FileType.Directory:
                found.append(int(m.group(1)))
        return sorted(found)

    def _list(self, directory: str) -> list:
        """The entries of ``directory``, or none if it does not exist yet.

        pyarrow's ``allow_not_found`` listing is not atomic: when a concurrent publisher creates
        the directory between pyarrow's failed listing and its existence check, it raises
        FileNotFoundError for a directory that now exists. List again in that case.
        """
        for _ in range(MAX_PUBLISH_ATTEMPTS):
            try:
                return self.fs.get_file_info(pafs.FileSelector(directory))
            except FileNotFoundError:
                if self.fs.get_file_info(directory).type == pafs.FileType.NotFound:
                    return []
        return self.fs.get_file_info(pafs.FileSelector(directory))

    def _resolve(self, name: str, version) -> int:
        known = self.versions(name)
        if not known:
            raise KeyError(f"registry {self.root!r} has no versions of {name!r}; publish one first")
        if version == "latest":
            return known[-1]
        if version not in known:
            raise KeyError(f"{name!r} has no version {version!r}; published versions: {known}")
        return int(version)

    def meta(self, name: str, version="latest") -> dict:
        version = self._resolve(name, version)
        path = f"{self._dir(name, version)}/meta.json"
        with self.fs.open_input_stream(path) as f:
            raw = f.read(MAX_META_BYTES + 1)
        try:
            meta = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_META_BYTES else None
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ArtifactError(f"{path} is not valid JSON ({exc}); the version's metadata is corrupted") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("fingerprint"), str):
            raise ArtifactError(f"{path} is not a registry metadata record (a JSON object with a fingerprint, "
                                f"at most {MAX_META_BYTES:,} bytes); the version's metadata is corrupted")
        return meta

    def get(self, name: str, version="latest") -> Codec:
        """Load a version, checking that it is the codec its metadata names."""
        version = self._resolve(name, version)
        meta = self.meta(name, version)
        artifact = meta.get("artifact", f"v{version}/codec.ecz")
        if not (artifact == f"v{version}/codec.ecz" or (isinstance(artifact, str) and _OBJECT.fullmatch(artifact))):
            raise ArtifactError(f"{self._dir(name, version)}/meta.json names artifact {artifact!r:.80}, "
                                f"which is not where this registry keeps artifacts")
        path = f"{self._dir(name)}/{artifact}"
        info = self.fs.get_file_info(path)
        if info.type != pafs.FileType.File or info.size is None or info.size > MAX_ARTIFACT_BYTES:
            raise ArtifactError(f"{path} is missing, not a regular file, or larger than any valid artifact")
        with self.fs.open_input_stream(path) as f:
            codec = Codec.from_bytes(f.read(MAX_ARTIFACT_BYTES + 1))
        expected = meta["fingerprint"]
        if codec.fingerprint != expected:
            raise ArtifactError(f"{path} does not match its meta.json fingerprint; the version was tampered with")
        return codec

    def find(self, name: str, fingerprint: str):
        """The version number whose codec has ``fingerprint``, or None."""
        for version in reversed(self.versions(name)):
            if self.meta(name, version)["fingerprint"] == fingerprint:
                return version
        return None

    def publish(self, name: str, codec: Codec, *, parent=None, extra: dict | None = None) -> int:
        """Publish ``codec`` as the next version of ``name`` and return its number.

        Publishing a codec identical to the latest version returns that version unchanged.
        """
        if extra and "artifact" in extra:
            raise ValueError("extra may not set 'artifact': the registry records where it keeps the artifact")
        for _ in range(MAX_PUBLISH_ATTEMPTS):
            known = self.versions(name)
            if known and self.meta(name, known[-1])["fingerprint"] == codec.fingerprint:
                return known[-1]
            version = (known[-1] + 1) if known else 1
            try:
                self._commit(name, version, codec, parent if parent is not None else (known[-1] if known else None),
                             extra or {})
                return version
            except VersionConflict:
                continue
        raise VersionConflict(f"could not publish {name!r}: {MAX_PUBLISH_ATTEMPTS} publishers raced for versions")

    def _commit(self, name, version, codec, parent, extra) -> None:
        meta = {"name": name, "version": version, "fingerprint": codec.fingerprint, "spec": codec.spec,
                "dim": codec.dim, "metric": codec.metric, "code_size": codec.code_size, "columns": codec.columns,
                "fit_stats": codec.fit_stats, "parent_version": parent,
                "published_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **extra}
        if storage.has_atomic_rename(self.fs):
            self._commit_by_rename(name, version, codec, meta)
        else:
            self._commit_by_conditional_create(name, version, codec, meta)

    def _commit_by_conditional_create(self, name, version, codec, meta) -> None:
        """Object stores: the artifact under its fingerprint, then ``v{N}/meta.json`` created only
        if absent (a lost race raises VersionConflict)."""
        if not isinstance(self.fs, pafs.S3FileSystem):
            raise NotImplementedError(f"publishing to {self.root!r} needs an atomic rename or a conditional create; "
                                      f"{self.fs.type_name} offers neither here (local paths, HDFS and s3:// do)")
        artifact = f"_objects/{codec.fingerprint}.ecz"
        path = f"{self._dir(name)}/{artifact}"
        if self.fs.get_file_info(path).type == pafs.FileType.NotFound:
            with self.fs.open_output_stream(path) as f:  # one PUT, visible whole; same bytes whoever writes it
                f.write(codec.to_bytes())
        body = json.dumps(dict(meta, artifact=artifact), indent=2, sort_keys=True).encode("utf-8")
        target = f"{self._dir(name, version)}/meta.json"
        if not storage.create_exclusive(target, body, filesystem=self.fs):
            raise VersionConflict(f"{target} was created by a concurrent publisher")

    def _commit_by_rename(self, name, version, codec, meta) -> None:
        base = self._dir(name)
        self.fs.create_dir(base, recursive=True)
        staging = f"{base}/.staging-{uuid.uuid4().hex}"
        self.fs.create_dir(staging)
        with self.fs.open_output_stream(f"{staging}/codec.ecz") as f:
            f.write(codec.to_bytes())
        with self.fs.open_output_stream(f"{staging}/meta.json") as f:
            f.write(json.dumps(meta, indent=2, sort_keys=True).encode("utf-8"))
        target = self._dir(name, version)
        if self.fs.get_file_info(target).type != pafs.FileType.NotFound:
            self.fs.delete_dir(staging)
            raise VersionConflict(f"{target} already exists")
        try:
            self.fs.move(staging, target)
        except OSError as exc:
            self.fs.delete_dir(staging)
            raise VersionConflict(f"{target} was taken by a concurrent publisher: {exc}") from None
