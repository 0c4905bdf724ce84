"""Lake maintenance (湖维护): orphan files of aborted writes, and vacuum within retention.

A write that dies before its commit (a killed task, a lost machine, ``kill -9``) leaves the
Parquet files it had written in the table folder. No version of the table refers to them, so
no reader sees them, but they hold the rows (personal data) all the same, and Delta's own
vacuum removes an unreferenced file only once it is older than the table's retention (for the
audit log, three years). The bridge deletes its files when a write fails in-process
(:func:`jobs.lake.bridge.abort_write`); nothing can when the process itself is killed. Hence,
run daily (``govlake lake maintenance``, the ``lake__maintenance`` DAG):

1. :func:`remove_orphans`: every Parquet file under the lake and re-identification roots that
   no entry of its table's Delta log mentions (neither a commit nor a checkpoint: no version
   within retention can need it), or that lies in a folder whose first commit never happened,
   is deleted once it is older than a grace period (:data:`ORPHAN_GRACE`, longer than any write
   runs: a write in progress has not committed its files yet either). So is a commit file a
   writer staged aside and was killed before putting in place (:data:`STAGED_COMMIT`): hidden,
   so no reader or vacuum ever looks at it, it would stay for good; a live writer holds its
   staged file for milliseconds, so one older than the grace is no writer's.
2. :func:`vacuum_tables`: every table is vacuumed (files that versions older than its retention
   removed), never below its retention floor (:func:`retention_floor`): the table's own
   retention, and for governance tables (the audit log, grants, tickets, the ingestion ledger)
   at least the policy profile's log retention (000 §13: 3 years). A request below a floor is
   refused before anything is deleted, naming each table and its floor.

Both report to the lake's write observers (:func:`jobs.lake.tables.notify_write`), so a
command or task that audits its writes records what was removed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from jobs.lake import tables
from jobs.lake.files import DELTA_LOG, filesystem
from jobs.lake.paths import join_uri
from jobs.lake.tables import RetentionError
from jobs.settings import Settings

#: How old an unreferenced file must be before it is taken for an orphan: longer than any write
#: runs (a province-wide base build takes about an hour), so a write still running keeps its
#: files. A daily run therefore removes an orphan within a day and a half of the crash.
ORPHAN_GRACE = dt.timedelta(hours=6)

#: A commit file staged aside before it is put in place under its version's name, as a killed
#: writer leaves it: govlake's appender's in the table folder (:mod:`jobs.lake.appends`), and
#: delta-rs's own in the table's log.
STAGED_COMMIT = re.compile(
    rf"(?:^|/)(?:_govlake_commit_[0-9a-f]+\.tmp|{DELTA_LOG}/_commit_[0-9a-f-]+\.json\.tmp)$"
)

#: Layers whose tables keep at least the policy profile's log retention (日志记录).
GOVERNED_LAYERS = ("governance",)


@dataclass(frozen=True)
class Orphan:
    """An unreferenced data file or a staged commit file: where, in which table (None: no table was ever committed
    there), how large and when it was last written."""

    path: str
    table: str | None
    size: int
    modified_at: dt.datetime


@dataclass
class MaintenanceReport:
    """What one maintenance run found and removed (``dry_run``: found only)."""

    dry_run: bool
    orphans: list[Orphan] = field(default_factory=list)
    young_orphans: int = 0  # unreferenced but inside the grace period: possibly being written
    vacuumed: dict[str, int] = field(default_factory=dict)  # table → files vacuum removed

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable summary (what the command prints and the task returns)."""
        return {
            "dry_run": self.dry_run,
            "orphans_removed" if not self.dry_run else "orphans_found": len(self.orphans),
            "orphan_bytes": sum(o.size for o in self.orphans),
            "orphans_by_table": _count_by(o.table or "(no table)" for o in self.orphans),
            "young_orphans_kept": self.young_orphans,
            "vacuumed_files": {t: n for t, n in self.vacuumed.items() if n},
            "tables_vacuumed": len(self.vacuumed),
        }


def _count_by(names: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def maintenance_roots(settings: Settings) -> list[str]:
    """The roots whose tables are maintained: the lake and the re-identification tables."""
    return [settings.lake_root, settings.reid_root]


# ==================================================================================== orphans


def _is_hidden(relative: str) -> bool:
    # Delta, Spark and vacuum never treat "_…" or "." entries as data (the log, lock files,
    # change data): neither does this.
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def logged_files(uri: str) -> set[str]:
    """Every data file (relative path, decoded) an ``add`` or ``remove`` action in the table's
    Delta log mentions, commits and checkpoints alike: the files any version within the log
    can need."""
    paths: list[str] = []
    for actions in tables.commit_log(uri).commits.values():
        for action in actions:
            paths += [action[kind]["path"] for kind in ("add", "remove") if kind in action]
    fs, root = filesystem(uri)
    selector = pafs.FileSelector(f"{root}/{DELTA_LOG}", allow_not_found=True)
    for info in fs.get_file_info(selector):
        if ".checkpoint" in info.base_name and info.base_name.endswith(".parquet"):
            with fs.open_input_file(info.path) as handle:
                checkpoint = pq.read_table(handle, columns=["add", "remove"])
            for kind in ("add", "remove"):
                paths += [e["path"] for e in checkpoint.column(kind).to_pylist() if e and e["path"]]
    # Writers log paths relative to the table; a writer that logged them absolute (a file://
    # URI or a plain path inside the table) still names the same files.
    return {_inside(unquote(path), root) for path in paths}


def _inside(path: str, table_root: str) -> str:
    plain = path.removeprefix("file://") if path.startswith("file://") else path
    if plain.startswith(table_root.rstrip("/") + "/"):
        return plain[len(table_root.rstrip("/")) + 1 :]
    return path


def find_orphans(
    root: str, *, now: dt.datetime, grace: dt.timedelta = ORPHAN_GRACE
) -> tuple[list[Orphan], int]:
    """Unreferenced Parquet files and staged commit files (:data:`STAGED_COMMIT`) under
    ``root`` older than ``grace``, and how many younger ones were left alone.

    The files are listed before the logs are read: a file committed between the two is then
    found in its log, never taken for an orphan.
    """
    fs, base = filesystem(root)
    if fs.get_file_info(base).type == pafs.FileType.NotFound:
        return [], 0
    listed = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    table_dirs = {
        info.path[len(base) :].strip("/").rsplit("/", 1)[0]
        for info in listed
        if info.type == pafs.FileType.Directory and info.base_name == DELTA_LOG
    }
    logged: dict[str, set[str]] = {
        t: logged_files(join_uri(root, *t.split("/"))) for t in table_dirs
    }
    orphans, young = [], 0
    for info in listed:
        relative = info.path[len(base) :].strip("/")
        if info.type != pafs.FileType.File:
            continue
        staged = STAGED_COMMIT.search(relative) is not None
        if not staged and (not relative.endswith(".parquet") or _is_hidden(relative)):
            continue
        table = _table_of(relative, table_dirs)
        inside = relative[len(table) + 1 :] if table else relative
        if not staged and table is not None and inside in logged[table]:
            continue
        modified = info.mtime if info.mtime.tzinfo else info.mtime.replace(tzinfo=dt.UTC)
        if now - modified < grace:
            young += 1
            continue
        orphans.append(Orphan(info.path, table, int(info.size), modified))
    return orphans, young


def _table_of(relative: str, table_dirs: set[str]) -> str | None:
    """The table folder holding a file (the deepest one, though tables do not nest)."""
    parts = relative.split("/")
    for cut in range(len(parts) - 1, 0, -1):
        candidate = "/".join(parts[:cut])
        if candidate in table_dirs:
            return candidate
    return None


def remove_orphans(
    settings: Settings, *, grace: dt.timedelta = ORPHAN_GRACE, dry_run: bool = False
) -> MaintenanceReport:
    """Finds (and unless ``dry_run`` deletes) the orphan files of every maintained root."""
    report = MaintenanceReport(dry_run=dry_run)
    for root in maintenance_roots(settings):
        orphans, young = find_orphans(root, now=settings.now(), grace=grace)
        report.orphans += orphans
        report.young_orphans += young
        if dry_run or not orphans:
            continue
        fs, _ = filesystem(root)
        for orphan in orphans:
            fs.delete_file(orphan.path)
        for table, count in _count_by(o.table or "" for o in orphans).items():
            if table:
                tables.notify_write(
                    join_uri(root, *table.split("/")), "remove_orphans", files=count
                )
    return report


# ===================================================================================== vacuum


def profile_retention(settings: Settings) -> dt.timedelta:
    """The policy profile's log retention (000 §13: not less than 3 years) as a duration."""
    from jobs.policy import load_profile

    profile = load_profile(settings.policy_profile, settings.schemas_root)
    return dt.timedelta(days=profile.log_retention_days)


def retention_floor(settings: Settings, root: str, table: str) -> dt.timedelta:
    """The shortest retention a vacuum of ``table`` (relative to ``root``) may use: the table's
    own (:func:`jobs.lake.tables.retention_of`), and for a governance table at least the
    policy profile's log retention."""
    uri = join_uri(root, *table.split("/"))
    floor = tables.retention_of(uri)
    if root == settings.lake_root and table.split("/", 1)[0] in GOVERNED_LAYERS:
        floor = max(floor, profile_retention(settings))
    return floor


def _hours(duration: dt.timedelta) -> int:
    return math.ceil(duration.total_seconds() / 3600)


def table_floors(settings: Settings) -> dict[tuple[str, str], int]:
    """(root, table relative to it) → its retention floor in whole hours, for every table."""
    from jobs.lake.files import list_tables

    return {
        (root, table): _hours(retention_floor(settings, root, table))
        for root in maintenance_roots(settings)
        for table in list_tables(root)
    }


def check_retention_request(
    settings: Settings, floors: Mapping[tuple[str, str], int], retention_hours: float
) -> None:
    """Refuses a vacuum retention below any table's floor.

    Raises:
        RetentionError: naming every table whose floor is higher, and the profile's retention.
    """
    below: dict[int, list[str]] = {}
    for (_, table), hours in sorted(floors.items()):
        if retention_hours < hours:
            below.setdefault(hours, []).append(table)
    if below:
        floors_text = "; ".join(
            f"{hours} h for {', '.join(names)}" for hours, names in sorted(below.items())
        )
        raise RetentionError(
            f"vacuum with {retention_hours:g} hours refused, nothing was removed: it is below "
            f"the retention floor {floors_text} (a table's own retention; governance tables keep "
            f"the {settings.policy_profile} profile's log retention of "
            f"{_hours(profile_retention(settings))} hours)"
        )


def vacuum_tables(
    settings: Settings, *, retention_hours: float | None = None, dry_run: bool = False
) -> dict[str, int]:
    """Vacuums every table of the maintained roots, each at ``retention_hours`` or, when None,
    at its own floor. Returns table → files removed (``reid:`` marks re-identification tables).

    Raises:
        RetentionError: ``retention_hours`` is below the floor of at least one table; nothing
            was vacuumed (:func:`check_retention_request`).
    """
    floors = table_floors(settings)
    if retention_hours is not None:
        check_retention_request(settings, floors, retention_hours)
    vacuumed = {}
    for (root, table), floor_hours in floors.items():
        uri = join_uri(root, *table.split("/"))
        hours = floor_hours if retention_hours is None else max(floor_hours, retention_hours)
        removed = tables.vacuum(uri, hours, dry_run=dry_run)
        vacuumed[table if root == settings.lake_root else f"reid:{table}"] = len(removed)
        if removed and not dry_run:
            tables.notify_write(uri, "vacuum", files=len(removed), retention_hours=hours)
    return vacuumed


def maintain_lake(
    settings: Settings,
    *,
    retention_hours: float | None = None,
    grace: dt.timedelta = ORPHAN_GRACE,
    dry_run: bool = False,
) -> dict[str, Any]:
    """The daily maintenance: removes orphan files, then vacuums every table. A retention
    below any table's floor is refused before anything is removed. Returns the summary.

    Raises:
        RetentionError: see :func:`check_retention_request`.
    """
    if retention_hours is not None:
        check_retention_request(settings, table_floors(settings), retention_hours)
    report = remove_orphans(settings, grace=grace, dry_run=dry_run)
    report.vacuumed = vacuum_tables(settings, retention_hours=retention_hours, dry_run=dry_run)
    return report.summary()
