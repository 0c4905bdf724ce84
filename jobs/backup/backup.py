"""Backups (备份) of consistent table versions, restore, and the destruction procedure (销毁).

A backup set holds, per table, the files one Delta version needs: the commit files up to that
version (and checkpoints not after it) and the data files of that version's snapshot. Every
table's version is read first, before anything is copied, so the set is one point in time per
table; Delta files are never changed in place, so writers that commit meanwhile do not disturb
the copy (vacuum keeps removed files for the table's retention). The files go to a content
store under the backup root, so a daily set copies only what is new (:mod:`jobs.backup.store`);
the manifest names each file's size and SHA-256, checked on restore.

A set of the whole lake also holds a consistent copy of the workflow store (accounts, tokens,
grants; :mod:`jobs.backup.workflow`), restored with it.

The audit log's head anchored outside the lake is read before the versions and kept in the
manifest: a restored log must hold it, and is then anchored anew for the lake it now lives in
(:func:`jobs.audit.log.anchor_restored_log`).

Restore copies a set into a lake root (the live one, or an empty one) and proves each table is
back at its recorded version. It never overwrites a live audit log: the log is append-only.

Destruction (000 §27, 003 §44, 004 §26) removes a dataset's tables with every version, the
landing files of a resource, and the dataset's copies in every backup set, with who and why in
the audit log; base tables need ``force``, the audit log is never destroyed. A table is deleted
whole rather than rewritten and vacuumed: its commit files keep column statistics (minimum and
maximum values) of every version, and a vacuum keeps the files of aborted writes for the
retention, so only removing the folder leaves no destroyed value behind. The next ingestion
creates the table again. What cannot be removed (a read-only landing share, a locked bucket) is
listed, file by file, for destruction by hand, and so are the resource's rows in tables every
resource shares (failing rows of the quality gate, attribute observations of the bases).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from typing import Any

from jobs.audit import log as audit
from jobs.backup import store, workflow
from jobs.backup.store import BackupError, read_manifest
from jobs.ingest.lock import resource_lock
from jobs.lake.bridge import table_root_path
from jobs.lake.files import (
    DELTA_LOG,
    copy_file,
    file_stats,
    landing_folder,
    list_files,
    list_tables,
    local_path,
    remove_tree,
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
    TABLES,
    table_at,
)
from jobs.settings import Settings, root_inside

AUDIT_PATH = AUDIT_LOG.path
_LOG_FILE = re.compile(r"^(\d{20})\.(json|checkpoint(\.\d+\.\d+)?\.parquet)$")

__all__ = ["BackupError", "backup", "destroy", "list_backups", "prune", "read_manifest", "restore"]


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


def _check_backup_root(settings: Settings) -> list[str]:
    """Refuses a backup root inside the lake root, and in production one on the lake's disk;
    returns the warning a development lake gets for the latter."""
    if root_inside(settings.backup_root, settings.lake_root):
        raise BackupError(
            f"the backup root {settings.backup_root} lies inside the lake root "
            f"{settings.lake_root}: a backup there is lost with the lake"
        )
    if not _same_volume(settings.lake_root, settings.backup_root):
        return []
    message = (
        f"the backup root {settings.backup_root} is on the lake's volume: it does not survive "
        "that disk; set GOVLAKE_BACKUP_ROOT to another volume or an object store"
    )
    if settings.is_production:
        raise BackupError(message)
    return [message]


def _same_volume(lake_root: str, backup_root: str) -> bool:
    lake, backups = local_path(lake_root), local_path(backup_root)
    if lake is None or backups is None or not os.path.exists(lake):
        return False
    while not os.path.exists(backups):  # the backup root is created by the first backup
        backups = os.path.dirname(backups)
    return os.stat(lake).st_dev == os.stat(backups).st_dev


def backup(settings: Settings, *, by: str, tables: list[str] | None = None) -> dict[str, Any]:
    """Backs up every table of the lake (or the given lake-relative paths) as a new set.

    Raises:
        BackupError: the backup root lies inside the lake root, or in production on the
            lake's volume; a table's file lies outside its table or is gone.
    """
    from deltalake import DeltaTable

    warnings = _check_backup_root(settings)
    started = time.perf_counter()
    now = settings.now()
    root = settings.backup_root
    with store.backup_root_lock(settings):
        backup_id = store.new_set_id(root, now)
        # The anchor before the versions: the backed-up log then holds at least that head.
        anchored = audit.read_anchor(settings)
        paths = tables or list_tables(settings.lake_root)
        # Every version first: one point in time per table, before any copying.
        versions = {p: DeltaTable(_table_uri(settings.lake_root, p)).version() for p in paths}
        known = store.known_files(root)
        entries, total, copied = [], 0, 0
        for path, version in versions.items():
            source = _table_uri(settings.lake_root, path)
            stats = file_stats(source)
            files = []
            for name in files_for_version(source, version):
                if name not in stats:
                    raise BackupError(f"{path}/{name} of version {version} is gone (vacuumed?)")
                item, new_bytes = store.store_file(
                    root, join_uri(source, name), *stats[name], known.get((path, name))
                )
                files.append({"path": name, **item})
                total += item["size"]
                copied += new_bytes
            entries.append({"path": path, "version": version, "files": files})
        # The whole lake's set holds the store too (a set of some tables does not).
        workflow_store = workflow.back_up(settings, root) if tables is None else None
        manifest = {
            "format": store.FORMAT,
            "backup_id": backup_id,
            "created_at": now.isoformat(),
            "policy_profile": settings.policy_profile,
            "audit_anchor": dataclasses.asdict(anchored) if anchored else None,
            "tables": entries,
            "workflow_store": workflow_store,
        }
        set_dir = store.set_uri(root, backup_id)
        store.write_manifest(set_dir, manifest)
    summary = {
        "versions": versions,
        "bytes": total,
        "copied_bytes": copied,
        "workflow_store": _store_summary(workflow_store),
    }
    audit.record(settings, "backup", actor=by, target=f"backup:{backup_id}", detail=summary)
    seconds = round(time.perf_counter() - started, 3)
    return {
        "backup_id": backup_id,
        "path": set_dir,
        **summary,
        "seconds": seconds,
        "warnings": warnings,
    }


def _store_summary(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if not entry or "left_out" in entry:
        return entry and {"left_out": entry["left_out"]}
    return {k: entry[k] for k in ("backend", "method", "revision", "rows", "size")}


def list_backups(settings: Settings) -> list[str]:
    """Backup ids (folders with a manifest) under ``settings.backup_root``, oldest first."""
    return store.list_sets(settings.backup_root)


def prune(settings: Settings, *, by: str) -> dict[str, Any]:
    """Keeps the newest ``settings.backup_keep`` sets and the objects they name."""
    with store.backup_root_lock(settings):
        result = store.prune(settings.backup_root, settings.backup_keep)
    if result["removed_sets"] or result["removed_objects"]:
        audit.record(
            settings,
            "backup_prune",
            actor=by,
            target=f"backups:{settings.backup_root}",
            detail={**result, "keep": settings.backup_keep},
        )
    return result


def restore(
    settings: Settings,
    backup_dir: str,
    *,
    by: str,
    target_root: str | None = None,
    overwrite: bool = False,
    tables: list[str] | None = None,
    anchor_root: str | None = None,
    store_url: str | None = None,
) -> dict[str, Any]:
    """Restores a backup's tables into ``target_root`` (default: the lake root).

    A whole set's workflow store comes back too (not with ``tables``): into ``store_url``, or
    the live store when restoring the live lake, or a SQLite file next to another lake root
    (:func:`jobs.backup.workflow.restore_target`); a store holding accounts or grants is
    replaced only with ``overwrite``.

    A restored audit log must verify and hold the head anchored when the backup was taken; it
    is then anchored for its new lake (under ``anchor_root``, by default the settings' anchor
    root), and the restore is its next entry.

    Raises:
        BackupError: a table exists and ``overwrite`` is off; a file's SHA-256 differs from
            the manifest (the backup was damaged); a restored table is not at its version; the
            restored audit log does not verify.
    """
    from deltalake import DeltaTable

    started = time.perf_counter()
    manifest = read_manifest(backup_dir)
    root = target_root or settings.lake_root
    into = dataclasses.replace(
        settings,
        lake_root=root,
        audit_anchor_root=settings.audit_anchor_root if anchor_root is None else anchor_root,
    )
    chosen = [t for t in manifest["tables"] if tables is None or t["path"] in tables]
    saved_store = manifest.get("workflow_store") or {}
    store_into = None
    if tables is None and "sha256" in saved_store:
        store_into = workflow.restore_target(settings, root, saved_store, store_url)
        if store_into is not None:  # before any table is touched
            workflow.check_target(store_into, saved_store, overwrite=overwrite)
    restored, skipped = {}, []
    for table in chosen:
        path = table["path"]
        target = _table_uri(root, path)
        exists = bool(list_files(target))
        if path == AUDIT_PATH and exists and root == settings.lake_root:
            skipped.append(path)  # the live audit log is append-only: never replaced
            continue
        if exists:
            if not overwrite:
                raise BackupError(f"{target} exists; pass overwrite to replace it")
            remove_tree(target)
        for item in table["files"]:
            source = store.file_uri(backup_dir, manifest, path, item)
            _, digest = copy_file(source, join_uri(target, item["path"]))
            if digest != item["sha256"]:
                raise BackupError(f"{path}/{item['path']} differs from the backup manifest")
        version = DeltaTable(target).version()
        if version != table["version"]:
            raise BackupError(f"{path} restored at version {version}, not {table['version']}")
        restored[path] = version
    detail: dict[str, Any] = {"into": root, "versions": restored, "skipped": skipped}
    if store_into is not None:
        detail["workflow_store"] = workflow.restore(backup_dir, saved_store, store_into)
    elif "sha256" in saved_store and tables is None:
        detail["workflow_store"] = {"left_out": "a PostgreSQL store needs store_url elsewhere"}
    if AUDIT_PATH in restored:
        anchored = manifest.get("audit_anchor")
        anchoring = audit.anchor_restored_log(
            into,
            audit.Anchor(**anchored) if anchored else None,
            source=f"backup {manifest['backup_id']}",
        )
        if anchoring["problems"]:
            raise BackupError(
                "the restored audit log does not verify: " + "; ".join(anchoring["problems"])
            )
        detail["audit"] = anchoring
    target = f"backup:{manifest['backup_id']}"
    if root != settings.lake_root and AUDIT_PATH in restored:
        audit.record(into, "restore", actor=by, target=target, detail=detail)
    audit.record(settings, "restore", actor=by, target=target, detail=detail)
    seconds = round(time.perf_counter() - started, 3)
    return {"backup_id": manifest["backup_id"], **detail, "restored": restored, "seconds": seconds}


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


def _remove_landing(settings: Settings, dataset: str) -> tuple[int, list[str]]:
    """Removes a resource's landing folder; returns the files removed and, when it cannot be
    removed (a read-only share), the files left for destruction by hand."""
    folder = landing_folder(settings, *dataset.split(".", 1))
    files = list_files(folder)
    try:
        remove_tree(folder)
    except OSError as exc:
        left = list_files(folder)
        return len(files) - len(left), [f"{join_uri(folder, name)} ({exc})" for name in left]
    return len(files), []


def _rows_in_shared_tables(settings: Settings, dataset: str) -> list[str]:
    """Rows of a resource that tables shared by every resource still hold (each such table
    carries pool rows' lineage: a failing row's key, an attribute's value), one line each.

    Not removed here: deleting them rewrites a table that other resources' runs write, and
    only a vacuum below its retention would take them out of its earlier versions.
    """
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    dept, _, resource = dataset.partition(".")
    left = []
    for table in TABLES:
        if table.is_family or "row_number" not in table.keys:
            continue
        uri = table.uri(settings)
        if not list_files(join_uri(uri, DELTA_LOG)):
            continue
        of_resource = (pc.field("department") == dept) & (pc.field("resource") == resource)
        rows = DeltaTable(uri).to_pyarrow_dataset().count_rows(filter=of_resource)
        if rows:
            left.append(
                f"{uri}: {rows} rows of {dataset}, also in its earlier versions (delete them, "
                "then vacuum that table with no retention while no run writes it)"
            )
    return left


def destroy(
    settings: Settings, dataset: str, *, by: str, why: str, force: bool = False
) -> dict[str, Any]:
    """Removes every table (all versions and files) of a dataset, a resource's landing files,
    and the dataset's copies in every backup set; records it.

    Returns:
        the files removed per table, the landing files removed, the backup sets changed, and
        ``by_hand``: each copy that could not be removed, to destroy by hand (empty when done).

    Raises:
        BackupError: nothing to destroy; no who or why; a base table without ``force``; the
            audit log (never destroyed).
    """
    from jobs.ingest.pipeline import log_destroyed_files

    if not by.strip() or not why.strip():
        raise BackupError("say who destroys (--as) and why (--why)")
    paths = dataset_tables(settings, dataset)
    if not paths:
        raise BackupError(f"no tables of {dataset!r} in the lake")
    if AUDIT_PATH in paths or dataset.startswith(AUDIT_PATH):
        raise BackupError("the audit log is never destroyed (log retention, 000 §13)")
    bases = [p for p in paths if p.startswith("base/")]
    if bases and not force:
        raise BackupError(f"{bases} are base databases (基础数据库): destroying them needs --force")
    is_resource = "." in dataset and "/" not in dataset
    landing, by_hand = 0, []
    # the backup root first: a running backup finishes its set, which is then cleaned below;
    # a resource's tables under its writer lock, so no ingestion runs half on either side
    with (
        store.backup_root_lock(settings),
        resource_lock(settings, dataset) if is_resource else contextlib.nullcontext(),
    ):
        removed = {}
        for path in paths:
            uri = _table_uri(settings.lake_root, path)
            removed[path] = len(list_files(uri))
            remove_tree(uri)
        if is_resource:
            # the file log keeps the files as delivered and destroyed: the row accounting
            # expects none of their rows, and the same bytes delivered later are ingested anew
            log_destroyed_files(dataset, settings, why=why)
            landing, by_hand = _remove_landing(settings, dataset)
            by_hand += _rows_in_shared_tables(settings, dataset)
        note = {"at": settings.now().isoformat(), "by": by, "why": why, "dataset": dataset}
        backups = store.remove_tables(settings.backup_root, paths, note)
    for path in [p for p in paths if p.startswith("share/")]:
        _, consumer, name = path.split("/")
        remove_tree(REIDENTIFICATION.uri(settings, consumer, name))
    by_hand += backups.pop("by_hand")
    result = {
        "removed_files": removed,
        "landing_files": landing,
        "backups": backups,
        "by_hand": by_hand,
    }
    audit.record(settings, "destroy", actor=by, target=dataset, detail={"why": why, **result})
    return result
