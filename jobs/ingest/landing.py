"""Finding delivered batches in the landing zone.

Layout (DESIGN §2): ``<landing_root>/<dept>/<resource>/<batch>/<files>``, files exactly as
delivered and never modified. A batch is a folder; its name sorts in delivery order (the
synthetic city uses ``20250101T000000_full``, ``20250108T000000_incr``).

Confinement: the department, resource, batch and file at each level must resolve (links
followed) directly inside the folder above them, so nothing outside the landing root is ever
read. An entry that does not, or whose name is unsafe, is returned as a :class:`RejectedEntry`
for the caller to log; the other entries go on.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
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
    landing_root: str | Path, department: str, resource: str, batch_id: str
) -> tuple[list[LandedFile], list[RejectedEntry]]:
    """The files of one batch in name order (hidden files and sidecars ending in .md5 skipped),
    and the entries rejected because they resolve outside the batch folder."""
    check_safe_name(batch_id)
    folder = confined_resource_folder(landing_root, department, resource) / batch_id
    root = folder.resolve()
    files, rejected = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.suffix in {".md5", ".sha256", ".ok"}:
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
