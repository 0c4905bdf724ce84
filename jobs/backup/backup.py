"""Backups (备份) of consistent table versions, restore, and the destruction procedure (销毁).

A backup is a folder ``<backup_root>/<backup_id>/`` with ``manifest.json`` and, per table, the
files that one Delta version needs: the commit files up to that version (and checkpoints not
after it) and the data files of that version's snapshot. The version of every table is read
first, before anything is copied, so the backup is one point in time per table; Delta files
are never changed in place, so writers that commit meanwhile do not disturb the copy (vacuum
keeps removed files for the table's retention). Each file's SHA-256 is in the manifest and is
checked on restore.

Restore copies a backup into a lake root (the live one or another) and proves each table is
back at its recorded version. It never overwrites the audit log: the log is append-only.

Destruction (000 §27, 003 §44, 004 §26) removes a dataset's tables, every version and file,
with who and why in the audit log; base tables need ``force``, the audit log is never destroyed.
Backups taken earlier still hold copies: the result lists them so that they can be handled by
the same procedure.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from typing import Any

from jobs.audit import log as audit
from jobs.ingest.lock import resource_lock
from jobs.ingest.pipeline import log_destroyed_files
from jobs.lake.bridge import table_root_path
from jobs.lake.files import (
    DELTA_LOG,
    copy_file,
    is_file,
    list_files,
    list_folders,
    list_tables,
    read_text,
    remove_tree,
    write_text,
)
from jobs.lake.paths import join_uri
from jobs.lake.registry import (
    AUDIT_LOG,
    BASE_KEYS,
    BRONZE,
    OPEN_DATASET,
    POOL,
    QUARANTINE,
    REIDENTIFICATION,
    table_at,
)
from jobs.settings import Settings

MANIFEST = "manifest.json"
AUDIT_PATH = AUDIT_LOG.path
_LOG_FILE = re.compile(r"^(\d{20})\.(json|checkpoint(\.\d+\.\d+)?\.parquet)$")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done safely; the message says why."""


def _table_uri(root: str, path: str) -> str:
    return join_uri(root, *path.split("/"))


def files_for_version(uri: str, version: int) -> list[str]:
    """Files (relative to the table) that version ``version`` of a Delta table needs."""
    from deltalake import DeltaTable

    needed = []
    for name in list_files(join_uri(uri, DELTA_LOG)):
        match = _LOG_FILE.match(name)
        if match and int(match.group(1)) <= version:
            needed.append(f"{DELTA_LOG}/{name}")
    # _last_checkpoint is left out: it may point past the version; Delta lists the log without it.
    table = DeltaTable(uri, version=version)
    root = table_root_path(table).rstrip("/") + "/"
    data = []
    for file_uri in table.file_uris():
        if not file_uri.startswith(root):
            raise BackupError(f"{file_uri} lies outside its table {root}: cannot back it up")
        data.append(file_uri[len(root) :])
    return needed + sorted(data)


def backup(settings: Settings, *, by: str, tables: list[str] | None = None) -> dict[str, Any]:
    """Backs up every table of the lake (or the given lake-relative paths)."""
    from deltalake import DeltaTable

    now = settings.now()
    backup_id = now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    dest = join_uri(settings.backup_root, backup_id)
    paths = tables or list_tables(settings.lake_root)
    # Every version first: one point in time per table, before any copying.
    versions = {p: DeltaTable(_table_uri(settings.lake_root, p)).version() for p in paths}
    manifest: dict[str, Any] = {
        "backup_id": backup_id,
        "created_at": now.isoformat(),
        "policy_profile": settings.policy_profile,
        "tables": [],
    }
    total = 0
    for path, version in versions.items():
        source = _table_uri(settings.lake_root, path)
        files = []
        for name in files_for_version(source, version):
            size, digest = copy_file(join_uri(source, name), join_uri(dest, path, name))
            files.append({"path": name, "size": size, "sha256": digest})
            total += size
        manifest["tables"].append({"path": path, "version": version, "files": files})
    write_text(join_uri(dest, MANIFEST), json.dumps(manifest, indent=2, ensure_ascii=False))
    audit.record(
        settings,
        "backup",
        actor=by,
        target=f"backup:{backup_id}",
        detail={"versions": versions, "bytes": total},
    )
    return {"backup_id": backup_id, "path": dest, "versions": versions, "bytes": total}


def list_backups(settings: Settings) -> list[str]:
    """Backup ids (folders with a manifest) under ``settings.backup_root``, oldest first."""
    return [
        name
        for name in list_folders(settings.backup_root)
        if is_file(join_uri(settings.backup_root, name, MANIFEST))
    ]


def read_manifest(backup_dir: str) -> dict[str, Any]:
    try:
        return json.loads(read_text(join_uri(backup_dir, MANIFEST)))
    except FileNotFoundError:
        raise BackupError(f"{backup_dir} holds no {MANIFEST}: not a govlake backup") from None


def restore(
    settings: Settings,
    backup_dir: str,
    *,
    by: str,
    target_root: str | None = None,
    overwrite: bool = False,
    tables: list[str] | None = None,
) -> dict[str, Any]:
    """Restores a backup's tables into ``target_root`` (default: the lake root).

    Raises:
        BackupError: a table exists and ``overwrite`` is off; a file's SHA-256 differs from
            the manifest (the backup was damaged); a restored table is not at its version.
    """
    from deltalake import DeltaTable

    manifest = read_manifest(backup_dir)
    root = target_root or settings.lake_root
    chosen = [t for t in manifest["tables"] if tables is None or t["path"] in tables]
    restored, skipped = {}, []
    for table in chosen:
        path = table["path"]
        if path == AUDIT_PATH and root == settings.lake_root:
            skipped.append(path)  # the live audit log is append-only: never replaced
            continue
        target = _table_uri(root, path)
        if list_files(target):
            if not overwrite:
                raise BackupError(f"{target} exists; pass overwrite to replace it")
            remove_tree(target)
        for item in table["files"]:
            _, digest = copy_file(
                join_uri(backup_dir, path, item["path"]), join_uri(target, item["path"])
            )
            if digest != item["sha256"]:
                raise BackupError(f"{path}/{item['path']} differs from the backup manifest")
        version = DeltaTable(target).version()
        if version != table["version"]:
            raise BackupError(f"{path} restored at version {version}, not {table['version']}")
        restored[path] = version
    audit.record(
        settings,
        "restore",
        actor=by,
        target=f"backup:{manifest['backup_id']}",
        detail={"into": root, "versions": restored, "skipped": skipped},
    )
    return {"backup_id": manifest["backup_id"], "restored": restored, "skipped": skipped}


# --- destruction ----------------------------------------------------------------------------


def dataset_tables(settings: Settings, dataset: str) -> list[str]:
    """Lake-relative tables of a dataset: a table path (``pool/gaj/hukou``), a resource id
    (``gaj.hukou``: its bronze, pool, quarantine, open and share tables) or a base name."""
    existing = list_tables(settings.lake_root)
    if "/" in dataset:
        candidates = [dataset]
    elif "." in dataset:
        dept, _, resource = dataset.partition(".")
        candidates = [t.relative_path(dept, resource) for t in (BRONZE, POOL, QUARANTINE)]
        candidates.append(OPEN_DATASET.relative_path(dataset))
    elif dataset in BASE_KEYS:
        candidates = [table_at("base", dataset).path]
    else:
        raise BackupError(f"unknown dataset {dataset!r}: give a table path, resource id or base")
    shares = [p for p in existing if p.startswith("share/") and p.rsplit("/", 1)[-1] == dataset]
    return [p for p in candidates if p in existing] + shares


def destroy(
    settings: Settings, dataset: str, *, by: str, why: str, force: bool = False
) -> dict[str, Any]:
    """Removes every table (all versions and files) of a dataset and records it.

    Raises:
        BackupError: nothing to destroy; no who or why; a base table without ``force``; the
            audit log (never destroyed).
    """
    if not by.strip() or not why.strip():
        raise BackupError("say who destroys (--by) and why (--why)")
    paths = dataset_tables(settings, dataset)
    if not paths:
        raise BackupError(f"no tables of {dataset!r} in the lake")
    if AUDIT_PATH in paths or dataset.startswith(AUDIT_PATH):
        raise BackupError("the audit log is never destroyed (log retention, 000 §13)")
    bases = [p for p in paths if p.startswith("base/")]
    if bases and not force:
        raise BackupError(f"{bases} are base databases (基础数据库): destroying them needs --force")
    is_resource = "." in dataset and "/" not in dataset
    # a resource's tables go under its writer lock, so no ingestion runs half on either side
    with resource_lock(settings, dataset) if is_resource else contextlib.nullcontext():
        removed = {}
        for path in paths:
            uri = _table_uri(settings.lake_root, path)
            removed[path] = len(list_files(uri))
            remove_tree(uri)
        if is_resource:
            # the file log keeps the files as delivered and destroyed: their landing copies
            # are not read again and the row accounting expects none of their rows
            log_destroyed_files(dataset, settings, why=why)
    for path in [p for p in paths if p.startswith("share/")]:
        _, consumer, name = path.split("/")
        remove_tree(REIDENTIFICATION.uri(settings, consumer, name))
    in_backups = [
        backup_id
        for backup_id in list_backups(settings)
        if any(
            t["path"] in paths
            for t in read_manifest(join_uri(settings.backup_root, backup_id))["tables"]
        )
    ]
    audit.record(
        settings,
        "destroy",
        actor=by,
        target=dataset,
        detail={"why": why, "removed_files": removed, "still_in_backups": in_backups},
    )
    return {"removed_files": removed, "still_in_backups": in_backups}
