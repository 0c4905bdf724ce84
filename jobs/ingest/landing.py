"""Finding delivered batches in the landing zone.

Layout (DESIGN §2): ``<landing_root>/<dept>/<resource>/<batch>/<files>``, files exactly as
delivered and never modified. A batch is a folder; its name sorts in delivery order (the
synthetic city uses ``20250101T000000_full``, ``20250108T000000_incr``).
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


def list_batches(
    landing_root: str | Path, department: str, resource: str
) -> tuple[list[str], dict[str, str]]:
    """Batch folder names for one resource, in delivery (sort) order.

    Returns:
        (safe batch names, {rejected name: why}). A rejected batch (unsafe name, or a link that
        resolves outside the resource's landing folder) is never read; the caller logs it.
    """
    folder = resource_folder(landing_root, department, resource)
    if not folder.is_dir():
        return [], {}
    batches, rejected = [], {}
    root = folder.resolve()
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir():
            continue
        try:
            check_safe_name(entry.name)
            if entry.resolve().parent != root:
                raise LandingPathError(f"batch {entry.name!r} resolves outside {folder}")
        except LandingPathError as error:
            rejected[entry.name] = str(error)
            continue
        batches.append(entry.name)
    return batches, rejected


def batch_files(
    landing_root: str | Path, department: str, resource: str, batch_id: str
) -> list[LandedFile]:
    """The files of one batch in name order (hidden files and sidecars ending in .md5 skipped)."""
    check_safe_name(batch_id)
    folder = resource_folder(landing_root, department, resource) / batch_id
    root = folder.resolve()
    files = []
    for entry in sorted(folder.iterdir()):
        if (
            entry.name.startswith(".")
            or entry.suffix in {".md5", ".sha256", ".ok"}
            or not entry.is_file()
        ):
            continue
        if entry.resolve().parent != root:
            raise LandingPathError(
                f"file {entry.name!r} in batch {batch_id!r} points outside the batch"
            )
        files.append(LandedFile(department, resource, batch_id, entry))
    return files


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes: the identity used to skip a file delivered twice."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
