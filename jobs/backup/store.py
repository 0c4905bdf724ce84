"""The backup root: backup sets over a content store, their retention, and removing a table.

Laid out under ``settings.backup_root`` (another volume or an object store, never inside the
lake root; :mod:`jobs.settings` refuses that)::

    objects/<sha256[:2]>/<sha256>      every backed-up file once, named by its content
    <backup_id>/manifest.json          a backup set: each table's version and its files

Incremental by content. Delta never changes a file in place (a data file has a unique name, a
commit file is written once), so a file that the newest set holds under the same table, name,
size and modification time is that same file: it is referenced, neither read nor copied again.
A new file is copied once, hashed while copied, and stored under its SHA-256. A daily set thus
costs what changed that day, and each set is still whole: restoring it needs its manifest and
the objects it names, no other set. (A table destroyed and created again writes its commit
files anew, with new modification times, so an old object is never mistaken for them.)

Sets written before the content store (``format`` 1) hold their files in the set folder; they
restore, and are destroyed, in place.

Retention keeps the newest ``settings.backup_keep`` sets; then an object that no kept set names
is removed. Backups, pruning and destruction in backups take one lock
(:func:`backup_root_lock`), so a prune never removes an object a running backup has just
referenced. On an object-store lake root that lock holds on one machine only: the daily DAG
runs one backup at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

from jobs.lake.files import (
    copy_file,
    filesystem,
    is_file,
    list_files,
    list_folders,
    move_file,
    read_text,
    remove_file,
    remove_tree,
    write_text,
)
from jobs.lake.paths import join_uri
from jobs.settings import Settings

MANIFEST = "manifest.json"
OBJECTS = "objects"
#: Manifests of the content store; format 1 kept each set's files in its own folder.
FORMAT = 2
#: Where a new object is written before it is named by its hash (a crashed copy stays here).
_INCOMING = "incoming"

Manifest = dict[str, Any]


class BackupError(RuntimeError):
    """A backup, restore or destruction that cannot be done safely; the message says why."""


@contextlib.contextmanager
def backup_root_lock(settings: Settings) -> Iterator[None]:
    """One writer of the backup root at a time: backup, prune, destruction in backups."""
    from jobs.ingest.lock import resource_lock

    with resource_lock(settings, "backup-root"):
        yield


def object_uri(backup_root: str, sha256: str) -> str:
    return join_uri(backup_root, OBJECTS, sha256[:2], sha256)


def set_uri(backup_root: str, backup_id: str) -> str:
    return join_uri(backup_root, backup_id)


def list_sets(backup_root: str) -> list[str]:
    """Backup ids (folders with a manifest), oldest first (by their sequence number)."""
    names = [
        name
        for name in list_folders(backup_root)
        if name != OBJECTS and is_file(join_uri(backup_root, name, MANIFEST))
    ]
    return sorted(names, key=lambda name: (_sequence(name), name))


def _sequence(backup_id: str) -> int:
    suffix = backup_id.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1  # ids before sequence numbers: a hex suffix


def new_set_id(backup_root: str, now: dt.datetime) -> str:
    """``<UTC time>-<sequence>``: the sequence orders sets taken within one second, or under
    a clock set back."""
    sets = list_sets(backup_root)
    sequence = max(_sequence(sets[-1]), 0) + 1 if sets else 1
    return f"{now:%Y%m%dT%H%M%SZ}-{sequence:06d}"


def read_manifest(set_dir: str) -> Manifest:
    try:
        return json.loads(read_text(join_uri(set_dir, MANIFEST)))
    except FileNotFoundError:
        raise BackupError(f"{set_dir} holds no {MANIFEST}: not a govlake backup") from None


def write_manifest(set_dir: str, manifest: Manifest) -> None:
    write_text(join_uri(set_dir, MANIFEST), json.dumps(manifest, indent=2, ensure_ascii=False))


def backup_root_of(set_dir: str) -> str:
    """The backup root a set folder lies in (its parent)."""
    if "://" in set_dir:
        return set_dir.rstrip("/").rsplit("/", 1)[0]
    return os.path.dirname(os.path.abspath(set_dir))


def file_uri(set_dir: str, manifest: Manifest, table: str, item: dict[str, Any]) -> str:
    """Where a set keeps one file of a table: the content store, or (format 1) the set."""
    if is_content_store(manifest):
        return object_uri(backup_root_of(set_dir), item["sha256"])
    return join_uri(set_dir, table, item["path"])


def is_content_store(manifest: Manifest) -> bool:
    return manifest.get("format", 1) >= FORMAT


def known_files(backup_root: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(table, file) → its manifest entry, from the newest content-store set: what a new set
    may reference without copying."""
    for backup_id in reversed(list_sets(backup_root)):
        manifest = read_manifest(set_uri(backup_root, backup_id))
        if is_content_store(manifest):
            return {
                (table["path"], item["path"]): item
                for table in manifest["tables"]
                for item in table["files"]
            }
    return {}


def store_file(
    backup_root: str, src_uri: str, size: int, modified: int, known: dict[str, Any] | None
) -> tuple[dict[str, Any], int]:
    """Puts one lake file in the content store; returns its manifest entry (without the path)
    and the bytes copied (0 when the newest set already holds it)."""
    if (
        known is not None
        and (known["size"], known.get("modified")) == (size, modified)
        and is_file(object_uri(backup_root, known["sha256"]))
    ):
        return {"size": size, "modified": modified, "sha256": known["sha256"]}, 0
    staged = join_uri(backup_root, OBJECTS, _INCOMING, uuid.uuid4().hex)
    copied, digest = copy_file(src_uri, staged)
    target = object_uri(backup_root, digest)
    if is_file(target):
        remove_file(staged)  # the same bytes under another name or table: stored once
    else:
        move_file(staged, target)
    return {"size": copied, "modified": modified, "sha256": digest}, copied


def referenced_objects(backup_root: str) -> set[str]:
    """SHA-256 of every object some set names."""
    names = set()
    for backup_id in list_sets(backup_root):
        manifest = read_manifest(set_uri(backup_root, backup_id))
        if is_content_store(manifest):
            names |= {item["sha256"] for t in manifest["tables"] for item in t["files"]}
    return names


def _stored_objects(backup_root: str) -> list[str]:
    root = join_uri(backup_root, OBJECTS)
    return [
        name
        for prefix in list_folders(root)
        if prefix != _INCOMING
        for name in list_files(join_uri(root, prefix))
    ]


def prune(backup_root: str, keep: int) -> dict[str, Any]:
    """Removes all but the newest ``keep`` sets, then every object no kept set names."""
    sets = list_sets(backup_root)
    dropped = sets[: max(0, len(sets) - keep)]
    for backup_id in dropped:
        # the manifest first: a set half removed is no longer a set, never a broken one
        remove_file(join_uri(set_uri(backup_root, backup_id), MANIFEST))
        remove_tree(set_uri(backup_root, backup_id))
    remove_tree(join_uri(backup_root, OBJECTS, _INCOMING))  # copies a crashed backup left
    kept = referenced_objects(backup_root)
    removed = [name for name in _stored_objects(backup_root) if name not in kept]
    freed = 0
    for name in removed:
        uri = object_uri(backup_root, name)
        freed += _size(uri)
        remove_file(uri)
    return {"removed_sets": dropped, "removed_objects": len(removed), "freed_bytes": freed}


def _size(uri: str) -> int:
    fs, path = filesystem(uri)
    return fs.get_file_info(path).size or 0


def remove_tables(backup_root: str, paths: list[str], note: dict[str, Any]) -> dict[str, Any]:
    """Removes tables from every set: from each manifest (noting ``note`` there), then the
    objects no remaining entry names, or (format 1) the table's folder in the set.

    What cannot be removed (a read-only set, a bucket under retention lock) is listed, file by
    file, under ``by_hand``; nothing else is skipped.
    """
    touched: list[str] = []
    by_hand: list[str] = []
    candidates: set[str] = set()
    for backup_id in list_sets(backup_root):
        set_dir = set_uri(backup_root, backup_id)
        manifest = read_manifest(set_dir)
        gone = [t for t in manifest["tables"] if t["path"] in paths]
        if not gone:
            continue
        touched.append(backup_id)
        content_store = is_content_store(manifest)
        manifest["tables"] = [t for t in manifest["tables"] if t["path"] not in paths]
        manifest.setdefault("destroyed", []).append({**note, "tables": [t["path"] for t in gone]})
        try:
            write_manifest(set_dir, manifest)
        except OSError as exc:
            # the set still names these files: none of them can go until it is changed
            by_hand.append(f"{join_uri(set_dir, MANIFEST)}: drop the tables {paths} ({exc})")
            by_hand += [
                f"{file_uri(set_dir, manifest, t['path'], item)} ({t['path']}/{item['path']})"
                for t in gone
                for item in t["files"]
            ]
            continue
        for table in gone:
            if content_store:
                candidates |= {item["sha256"] for item in table["files"]}
                continue
            folder = join_uri(set_dir, table["path"])
            try:
                remove_tree(folder)
            except OSError as exc:
                by_hand.append(f"{folder} ({exc})")
    still_named = referenced_objects(backup_root)
    removed = 0
    for name in sorted(candidates - still_named):
        uri = object_uri(backup_root, name)
        try:
            removed += remove_file(uri)
        except OSError as exc:
            by_hand.append(f"{uri} ({exc})")
    return {"sets": touched, "removed_objects": removed, "by_hand": by_hand}
