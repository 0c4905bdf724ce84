"""Files and folders of the lake, local folder or object store alike (pyarrow filesystems).

The lake's public file API: the Delta bridge writes its Parquet files through
:func:`filesystem`; backup, restore, the destruction procedure and the share refresh (which
removes a withdrawn share whole, old versions included) copy, list and remove through the rest.
Nothing here knows about Delta beyond the name of its log folder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid

import pyarrow.fs as pafs

from jobs.lake.crash import crash_point
from jobs.lake.paths import table_uri
from jobs.settings import Settings

#: The folder of a Delta table's commits: a folder holding one is a table.
DELTA_LOG = "_delta_log"


def landing_folder(settings: Settings, department: str, resource: str) -> str:
    """A resource's landing folder (``<landing_root>/<dept>/<resource>``), names checked."""
    return table_uri(settings, "landing", department, resource)


def scratch_folder(settings: Settings, job: str, run: str) -> str:
    """A local folder for the files a run makes on its way (the integration core's task files):
    ``scratch/<job>/<run>`` in a lake on local disk, so that they move into its tables without a
    copy; a temporary folder of its own for a lake in an object store."""
    if lake_on_local_disk(settings):
        return table_uri(settings, "scratch", job, run)
    return tempfile.mkdtemp(prefix=f"govlake-{job}-")


def local_path(root: str) -> str | None:
    """The local folder of a root (a plain path or a ``file://`` URI); ``None`` for an object
    store, where there is no folder to lock or probe."""
    if "://" in root and not root.startswith("file://"):
        return None
    return root.removeprefix("file://")


def lake_on_local_disk(settings: Settings) -> bool:
    """Whether the lake is a local or mounted folder (lock files work there), not an object
    store."""
    return local_path(settings.lake_root) is not None


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path of ``uri`` inside it (local folder or object store)."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    fs, root = pafs.FileSystem.from_uri(uri)
    return fs, root.rstrip("/")


def remove_tree(uri: str) -> bool:
    """Deletes a folder and everything in it; False when there was nothing."""
    fs, path = filesystem(uri)
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return False
    crash_point("files.remove_tree")
    fs.delete_dir(path)
    return True


def is_file(uri: str) -> bool:
    """Whether a file (not a folder) exists at ``uri``."""
    fs, path = filesystem(uri)
    return fs.get_file_info(path).type == pafs.FileType.File


def list_folders(uri: str) -> list[str]:
    """Names of the folders directly inside ``uri`` (sorted); [] when it does not exist."""
    fs, base = filesystem(uri)
    try:
        entries = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(e.base_name for e in entries if e.type == pafs.FileType.Directory)


def list_tables(root: str) -> list[str]:
    """Paths (relative to ``root``, with ``/``) of every Delta table under ``root``."""
    fs, base = filesystem(root)
    if fs.get_file_info(base).type == pafs.FileType.NotFound:
        return []
    found = []
    for info in fs.get_file_info(pafs.FileSelector(base, recursive=True)):
        if info.type == pafs.FileType.Directory and info.base_name == DELTA_LOG:
            table = info.path[len(base) :].strip("/").rsplit("/", 1)[0]
            if DELTA_LOG not in info.path[len(base) :].strip("/").split("/")[:-1]:
                found.append(table)
    return sorted(found)


def list_files(uri: str) -> list[str]:
    """Every file under a folder, relative to it (with ``/``); [] when it does not exist."""
    return sorted(file_stats(uri))


def file_stats(uri: str) -> dict[str, tuple[int, int]]:
    """Every file under a folder (relative, with ``/``) → (size in bytes, modified in ns)."""
    fs, base = filesystem(uri)
    if fs.get_file_info(base).type == pafs.FileType.NotFound:
        return {}
    return {
        info.path[len(base) :].lstrip("/"): (info.size, info.mtime_ns or 0)
        for info in fs.get_file_info(pafs.FileSelector(base, recursive=True))
        if info.type == pafs.FileType.File
    }


def remove_file(uri: str) -> bool:
    """Deletes one file; False when there was none."""
    fs, path = filesystem(uri)
    try:
        fs.delete_file(path)
    except FileNotFoundError:
        return False
    return True


def move_file(src_uri: str, dst_uri: str) -> None:
    """Moves a file within one filesystem (creating folders): a rename on a local folder."""
    fs, src = filesystem(src_uri)
    _, dst = filesystem(dst_uri)
    fs.create_dir(dst.rsplit("/", 1)[0], recursive=True)
    fs.move(src, dst)


def copy_file(src_uri: str, dst_uri: str) -> tuple[int, str]:
    """Copies one file (creating folders); returns its size in bytes and its SHA-256."""
    src_fs, src = filesystem(src_uri)
    dst_fs, dst = filesystem(dst_uri)
    dst_fs.create_dir(dst.rsplit("/", 1)[0], recursive=True)
    size, digest = 0, hashlib.sha256()
    with src_fs.open_input_stream(src) as reader, dst_fs.open_output_stream(dst) as writer:
        while chunk := reader.read(1 << 20):
            writer.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def write_text(uri: str, text: str) -> None:
    """Writes a small UTF-8 file (creating folders), replacing one already there in one step
    (written aside, then renamed or put in place): a reader sees the old text or the new."""
    fs, path = filesystem(uri)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    staged = f"{path}.{uuid.uuid4().hex}.tmp"
    with fs.open_output_stream(staged) as out:
        out.write(text.encode("utf-8"))
    fs.move(staged, path)


def read_text(uri: str) -> str:
    """Reads a small UTF-8 file.

    Raises:
        FileNotFoundError: no file at ``uri``.
    """
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as handle:
        return handle.read().decode("utf-8")
