"""Files of lake tables, local folder or object store alike (pyarrow filesystems).

Used by backup/restore, the destruction procedure and the share refresh (which removes a
withdrawn share whole, old versions included).
"""

from __future__ import annotations

import hashlib

import pyarrow.fs as pafs

from jobs.lake.bridge import _filesystem

DELTA_LOG = "_delta_log"


def remove_tree(uri: str) -> bool:
    """Deletes a folder and everything in it; False when there was nothing."""
    fs, path = _filesystem(uri)
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return False
    fs.delete_dir(path)
    return True


def list_tables(root: str) -> list[str]:
    """Paths (relative to ``root``, with ``/``) of every Delta table under ``root``."""
    fs, base = _filesystem(root)
    if fs.get_file_info(base).type == pafs.FileType.NotFound:
        return []
    found = []
    for info in fs.get_file_info(pafs.FileSelector(base, recursive=True)):
        if info.type == pafs.FileType.Directory and info.base_name == DELTA_LOG:
            table = info.path[len(base) :].strip("/").rsplit("/", 1)[0]
            if DELTA_LOG not in info.path[len(base) :].strip("/").split("/")[:-1]:
                found.append(table)
    return sorted(found)


def copy_file(src_uri: str, dst_uri: str) -> tuple[int, str]:
    """Copies one file (creating folders); returns its size in bytes and its SHA-256."""
    src_fs, src = _filesystem(src_uri)
    dst_fs, dst = _filesystem(dst_uri)
    dst_fs.create_dir(dst.rsplit("/", 1)[0], recursive=True)
    size, digest = 0, hashlib.sha256()
    with src_fs.open_input_stream(src) as reader, dst_fs.open_output_stream(dst) as writer:
        while chunk := reader.read(1 << 20):
            writer.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def list_files(uri: str) -> list[str]:
    """Every file under a folder, relative to it (with ``/``); [] when it does not exist."""
    fs, base = _filesystem(uri)
    if fs.get_file_info(base).type == pafs.FileType.NotFound:
        return []
    return sorted(
        info.path[len(base) :].lstrip("/")
        for info in fs.get_file_info(pafs.FileSelector(base, recursive=True))
        if info.type == pafs.FileType.File
    )
