"""Finding delivered batches in the landing zone.

Layout (DESIGN §2): ``<landing_root>/<dept>/<resource>/<batch>/<files>``, files exactly as
delivered and never modified. A batch is a folder; its name sorts in delivery order (the
synthetic city uses ``20250101T000000_full``, ``20250108T000000_incr``).

Confinement: the department, resource, batch and file at each level must resolve (links
followed) directly inside the folder above them, so nothing outside the landing root is ever
read. An entry that does not, or whose name is unsafe, is returned as a :class:`RejectedEntry`
for the caller to log; the other entries go on.

Completeness: a batch is read only once it is complete (:func:`check_batch`), as its catalog
entry says the department marks it: a manifest listing every file with size and SHA-256, a
marker file written last, or, when neither is declared, every new file unchanged (size and
mtime) for the landing quiet period. A batch that is not complete yet is :class:`Waiting` with
a reason, and is looked at again on the next run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: File endings govlake can read, by delivery format.
FORMAT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".txt"),
    "jsonl": (".jsonl", ".json", ".ndjson"),
    "xlsx": (".xlsx",),
    "geojson": (".geojson", ".json"),
}

# Batch and file names are written by departments' export tools: keep them to a safe alphabet so
# a name can never climb out of the landing folder or smuggle a path separator into lake paths.
_SAFE_NAME = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff][0-9A-Za-z_.\-\u4e00-\u9fff]{0,199}$")


class LandingPathError(ValueError):
    """A batch or file name that is unsafe (tries to leave the landing folder, or is malformed)."""


#: Reason codes of a rejected entry.
UNSAFE_NAME = "unsafe_name"
OUTSIDE_LANDING = "outside_landing"
UNSAFE_MANIFEST = "unsafe_manifest"


@dataclass(frozen=True)
class RejectedEntry:
    """A landing entry that is never read. ``batch_id`` is '' for the resource folder itself,
    ``file_name`` '' for a folder."""

    batch_id: str
    file_name: str
    reason: str
    message: str


@dataclass(frozen=True)
class LandedFile:
    """One delivered file of one batch."""

    department: str
    resource: str
    batch_id: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def resource_id(self) -> str:
        return f"{self.department}.{self.resource}"


def check_safe_name(name: str, what: str = "batch") -> str:
    """Returns ``name`` if it is a safe batch/file name, else raises :class:`LandingPathError`."""
    if name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
        raise LandingPathError(f"{what} name {name!r} tries to leave the landing folder")
    if not _SAFE_NAME.match(name) or ".." in name:
        raise LandingPathError(
            f"{what} name {name!r} is not allowed: use letters, digits, Chinese characters, "
            "'_', '-' and '.', starting with a letter or digit"
        )
    return name


def resource_folder(landing_root: str | Path, department: str, resource: str) -> Path:
    return Path(landing_root) / department / resource


def _leaves(entry: Path, folder: Path) -> bool:
    """Whether ``entry`` resolves anywhere but directly inside ``folder`` (already resolved)."""
    return entry.resolve().parent != folder


def confined_resource_folder(landing_root: str | Path, department: str, resource: str) -> Path:
    """The resource's landing folder, resolved.

    Raises:
        LandingPathError: the department or resource folder is a link that leaves the folder
            above it: a symlinked folder would let files from anywhere be ingested.
    """
    folder = Path(landing_root).resolve()
    for name, what in ((department, "department"), (resource, "resource")):
        check_safe_name(name, what)
        entry = folder / name
        if (entry.exists() or entry.is_symlink()) and _leaves(entry, folder):
            raise LandingPathError(
                f"{what} folder {name!r} resolves outside {folder}: nothing under it is read"
            )
        folder = entry.resolve() if entry.exists() else entry
    return folder


def list_batches(
    landing_root: str | Path, department: str, resource: str
) -> tuple[list[str], list[RejectedEntry]]:
    """Batch folder names for one resource, in delivery (sort) order.

    Returns:
        (safe batch names, rejected entries). A rejected batch (unsafe name, or a link that
        resolves outside the resource's landing folder) is never read; nor is any batch of a
        resource whose own folder is rejected. The caller logs them.
    """
    try:
        folder = confined_resource_folder(landing_root, department, resource)
    except LandingPathError as error:
        return [], [RejectedEntry("", "", OUTSIDE_LANDING, str(error))]
    if not folder.is_dir():
        return [], []
    batches, rejected = [], []
    for entry in sorted(folder.iterdir()):
        if not (entry.is_dir() or entry.is_symlink()):
            continue
        try:
            check_safe_name(entry.name)
        except LandingPathError as error:
            rejected.append(RejectedEntry(entry.name, "", UNSAFE_NAME, str(error)))
            continue
        if _leaves(entry, folder):
            message = f"batch {entry.name!r} resolves outside {folder}"
            rejected.append(RejectedEntry(entry.name, "", OUTSIDE_LANDING, message))
        elif entry.is_dir():
            batches.append(entry.name)
    return batches, rejected


def batch_files(
    landing_root: str | Path,
    department: str,
    resource: str,
    batch_id: str,
    *,
    not_data: Iterable[str] = (),
) -> tuple[list[LandedFile], list[RejectedEntry]]:
    """The files of one batch in name order (hidden files, sidecars ending in .md5 and the
    batch's manifest or marker, named in ``not_data``, skipped), and the entries rejected
    because they resolve outside the batch folder."""
    check_safe_name(batch_id)
    folder = confined_resource_folder(landing_root, department, resource) / batch_id
    root = folder.resolve()
    skipped = set(not_data)
    files, rejected = [], []
    for entry in sorted(folder.iterdir()):
        if (
            entry.name.startswith(".")
            or entry.suffix in {".md5", ".sha256", ".ok"}
            or entry.name in skipped
        ):
            continue
        if _leaves(entry, root):
            message = f"file {entry.name!r} in batch {batch_id!r} points outside the batch"
            rejected.append(RejectedEntry(batch_id, entry.name, OUTSIDE_LANDING, message))
        elif entry.is_file():
            files.append(LandedFile(department, resource, batch_id, entry))
    return files, rejected


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes: the identity used to skip a file delivered twice."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


# --- completeness ------------------------------------------------------------------------------

#: Reason codes of a batch that waits (it is read on a later run, once complete).
MANIFEST_MISSING = "manifest_missing"
MANIFEST_UNREADABLE = "manifest_unreadable"
MANIFEST_MISMATCH = "manifest_mismatch"
MARKER_MISSING = "marker_missing"
NOT_QUIET = "not_quiet"
CHANGED_WHILE_READ = "changed_while_read"


@dataclass(frozen=True)
class Waiting:
    """A batch not read on this run because it is not complete yet; ``message`` says why."""

    batch_id: str
    reason: str
    message: str


@dataclass(frozen=True)
class FileState:
    """What the file system says of a file: its size and last modification (UTC, to the µs)."""

    size: int
    modified_at: dt.datetime

    @classmethod
    def of(cls, path: Path) -> FileState:
        stat = path.stat()
        seconds, nanos = divmod(stat.st_mtime_ns, 1_000_000_000)
        modified = dt.datetime.fromtimestamp(seconds, dt.UTC)
        return cls(stat.st_size, modified + dt.timedelta(microseconds=nanos // 1000))


@dataclass(frozen=True)
class BatchCheck:
    """The outcome of :func:`check_batch`: the files released for reading, or why none are."""

    files: list[LandedFile] = field(default_factory=list)
    #: SHA-256 by file name where the check computed it already (a verified manifest).
    hashes: dict[str, str] = field(default_factory=dict)
    waiting: Waiting | None = None
    rejected: RejectedEntry | None = None
    #: New files the manifest does not list: not part of the delivery, never read.
    unlisted: tuple[str, ...] = ()


def check_batch(
    folder: Path,
    batch_id: str,
    new_files: list[LandedFile],
    *,
    manifest: str,
    marker: str,
    now: dt.datetime,
    quiet_seconds: int,
) -> BatchCheck:
    """Whether a batch is complete, so that its new (or changed) files may be read.

    Args:
        folder: the batch folder (confined already).
        new_files: the batch's files not read before, or changed since.
        manifest, marker: the catalog's declaration for the resource ('' when none).
        now: the settings' clock; quiet_seconds: the landing quiet period (0 = no wait).
    """
    if manifest:
        return _check_manifest(folder, batch_id, new_files, manifest)
    if marker:
        if not (folder / marker).is_file():
            message = f"batch {batch_id!r} has no completion marker {marker!r} yet"
            return BatchCheck(waiting=Waiting(batch_id, MARKER_MISSING, message))
        return BatchCheck(files=new_files)
    if quiet_seconds:
        for landed in new_files:
            age = (now - FileState.of(landed.path).modified_at).total_seconds()
            if age < quiet_seconds:
                message = (
                    f"{batch_id}/{landed.name} was modified {age:.0f} s before this run, less "
                    f"than the {quiet_seconds} s quiet period: it may still be being copied"
                )
                return BatchCheck(waiting=Waiting(batch_id, NOT_QUIET, message))
    return BatchCheck(files=new_files)


def _check_manifest(
    folder: Path, batch_id: str, new_files: list[LandedFile], manifest: str
) -> BatchCheck:
    def waiting(reason: str, message: str) -> BatchCheck:
        return BatchCheck(waiting=Waiting(batch_id, reason, message))

    path = folder / manifest
    if not path.is_file():
        return waiting(MANIFEST_MISSING, f"batch {batch_id!r} has no manifest {manifest!r} yet")
    try:
        listed = read_manifest(path)
    except LandingPathError as error:
        message = f"manifest {batch_id}/{manifest} is not safe: {error}; the batch is not read"
        return BatchCheck(rejected=RejectedEntry(batch_id, manifest, UNSAFE_MANIFEST, message))
    except ValueError as error:
        return waiting(MANIFEST_UNREADABLE, f"manifest {batch_id}/{manifest}: {error}")
    hashes = {}
    for name, (size, sha256) in listed.items():
        entry = folder / name
        if not entry.is_file() or _leaves(entry, folder.resolve()):
            return waiting(MANIFEST_MISMATCH, f"{batch_id}/{name} is listed but not delivered")
        if entry.stat().st_size != size:
            return waiting(
                MANIFEST_MISMATCH,
                f"{batch_id}/{name} has {entry.stat().st_size} bytes, the manifest lists {size}",
            )
        hashes[name] = file_sha256(entry)
        if hashes[name] != sha256:
            return waiting(
                MANIFEST_MISMATCH, f"{batch_id}/{name} does not match its SHA-256 in the manifest"
            )
    return BatchCheck(
        files=[f for f in new_files if f.name in listed],
        hashes=hashes,
        unlisted=tuple(f.name for f in new_files if f.name not in listed),
    )


def read_manifest(path: Path) -> dict[str, tuple[int, str]]:
    """The files a delivery manifest lists: name → (size in bytes, SHA-256 in hex).

    The manifest is JSON: ``{"files": [{"name": "hukou.csv", "size": 1234, "sha256": "…"}]}``.

    Raises:
        LandingPathError: a listed name is unsafe (it would leave the batch folder).
        ValueError: the manifest is not that shape (perhaps still being written).
    """
    try:
        data = json.loads(path.read_bytes())
        entries = data["files"]
        listed = {}
        for entry in entries:
            name, size, sha256 = entry["name"], entry["size"], entry["sha256"]
            if not (isinstance(size, int) and size >= 0 and _SHA256.match(str(sha256))):
                raise ValueError(f"entry {entry!r} needs a size in bytes and a hex SHA-256")
            listed[check_safe_name(str(name), "listed file")] = (size, str(sha256).lower())
    except LandingPathError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"not a manifest of files, sizes and SHA-256 ({error})") from None
    return listed


_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
