"""Restore drill (恢复演练): a backup set restored into an empty lake and proved equal.

A backup nobody has restored is a hope. The drill restores a set (the newest by default) into
an empty lake root, which checks every file against the manifest's SHA-256 and every table's
version, then reads each table through delta-rs in both lakes, the source at the set's version,
and compares schema and rows. Last it verifies the restored audit log as ``govlake audit
verify`` would: its whole chain, its Delta history, and the head anchored for it. The set's copy
of the workflow store is restored too, into a SQLite file in the drill folder or a throw-away
PostgreSQL database next to the live one (dropped afterwards), and must come back at its
revision with the rows it had.

The restored lake's head is anchored next to it (``<into>/audit_anchor``), never in the anchor
root of the live lake: a drill leaves no trace there. A drill into a temporary folder (the
default) removes it afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
import uuid
from typing import Any

import pyarrow as pa

from jobs.audit import log as audit
from jobs.backup import store, workflow
from jobs.backup.backup import restore
from jobs.backup.store import BackupError
from jobs.lake.files import list_files
from jobs.lake.paths import join_uri
from jobs.settings import Settings

#: Inside a drill folder: the restored lake and the anchor of its audit log.
DRILL_LAKE = "lake"
DRILL_ANCHOR = "audit_anchor"


def _canonical(table: pa.Table) -> pa.Table:
    """Rows in one order whatever order the files were read in (nested columns do not sort)."""
    keys = [(f.name, "ascending") for f in table.schema if not pa.types.is_nested(f.type)]
    if not keys or table.num_rows < 2:
        return table
    try:
        return table.sort_by(keys)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return table


def compare_table(source_uri: str, restored_uri: str, version: int) -> dict[str, Any]:
    """Schema and rows of one table at ``version`` in two lakes, read through delta-rs."""
    from deltalake import DeltaTable

    try:
        source = DeltaTable(source_uri, version=version).to_pyarrow_table()
    except Exception as exc:  # vacuumed or destroyed since: reported, not raised
        return {"rows": None, "problem": f"the source cannot be read at version {version}: {exc}"}
    restored = DeltaTable(restored_uri, version=version).to_pyarrow_table()
    problem = None
    if not source.schema.equals(restored.schema, check_metadata=True):
        problem = f"schema differs: {source.schema} vs {restored.schema}"
    elif not _canonical(source).equals(_canonical(restored)):
        problem = f"rows differ: {source.num_rows} in the source, {restored.num_rows} restored"
    return {"rows": source.num_rows, "problem": problem}


def _throwaway_store(settings: Settings, manifest: dict[str, Any]) -> Settings | None:
    """For a set holding a PostgreSQL store: a new database next to the live one to restore
    it into (a SQLite store goes into the drill folder by itself)."""
    from sqlalchemy.engine import make_url

    saved = manifest.get("workflow_store") or {}
    if saved.get("backend") != "postgresql" or "sha256" not in saved:
        return None
    url = make_url(settings.database_url)
    throwaway = url.set(database=f"{url.database}"[:40] + f"_drill_{uuid.uuid4().hex[:12]}")
    return dataclasses.replace(settings, db_url=throwaway.render_as_string(hide_password=False))


def drill(
    settings: Settings,
    *,
    by: str,
    backup_id: str | None = None,
    into: str | None = None,
) -> dict[str, Any]:
    """Restores a backup set into an empty folder and proves it equal to the source lake.

    Args:
        backup_id: the set (default: the newest).
        into: an empty folder for the drill (default: a temporary one, removed afterwards).

    Returns:
        per table its rows and any problem, the restored audit log's problems, the seconds
        restore and comparison took, and ``ok``.

    Raises:
        BackupError: no backup set; ``into`` is not empty; a file differs from the manifest.
    """
    sets = store.list_sets(settings.backup_root)
    backup_id = backup_id or (sets[-1] if sets else None)
    if backup_id is None:
        raise BackupError(f"no backup set under {settings.backup_root}: nothing to drill")
    set_dir = store.set_uri(settings.backup_root, backup_id)
    manifest = store.read_manifest(set_dir)
    folder = into or tempfile.mkdtemp(prefix="govlake-drill-")
    if into and list_files(into):
        raise BackupError(f"{into} is not empty: a drill restores into an empty folder")
    drill_lake = dataclasses.replace(
        settings,
        lake_root=os.path.join(folder, DRILL_LAKE),
        audit_anchor_root=os.path.join(folder, DRILL_ANCHOR),
    )
    drill_store = _throwaway_store(settings, manifest)
    try:
        restored = restore(
            settings,
            set_dir,
            by=by,
            target_root=drill_lake.lake_root,
            anchor_root=drill_lake.audit_anchor_root,
            store_url=drill_store.database_url if drill_store else None,
        )
        started = time.perf_counter()
        tables = {
            t["path"]: compare_table(
                join_uri(settings.lake_root, *t["path"].split("/")),
                join_uri(drill_lake.lake_root, *t["path"].split("/")),
                t["version"],
            )
            for t in manifest["tables"]
        }
        audit_problems, _ = audit.verify(drill_lake)
        compare_seconds = round(time.perf_counter() - started, 3)
    finally:
        if drill_store is not None:
            workflow.drop_database(drill_store)
        if into is None:
            shutil.rmtree(folder, ignore_errors=True)
    problems = [f"{path}: {t['problem']}" for path, t in tables.items() if t["problem"]]
    problems += [f"restored audit log: {p}" for p in audit_problems]
    result = {
        "backup_id": backup_id,
        "into": folder if into else None,
        "ok": not problems,
        "tables": len(tables),
        "rows": sum(t["rows"] or 0 for t in tables.values()),
        "bytes": sum(i["size"] for t in manifest["tables"] for i in t["files"]),
        "workflow_store": restored.get("workflow_store"),
        "restore_seconds": restored["seconds"],
        "compare_seconds": compare_seconds,
        "problems": problems,
    }
    audit.record(
        settings,
        "backup_drill",
        actor=by,
        target=f"backup:{backup_id}",
        detail={k: v for k, v in result.items() if k != "into"},
    )
    return result
