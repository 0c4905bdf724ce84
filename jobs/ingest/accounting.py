"""Row accounting: for every delivered file, every row is somewhere, and we can say where.

Per file of a batch (DESIGN §2, "Nothing is lost"):

    readable file:    file rows = bronze rows
                      bronze rows = pool rows + quarantined rows + duplicate rows + held rows
    corrected file:   the earlier version's bronze rows stay; once the correction is promoted
                      they have left the pool: bronze rows = quarantined rows + superseded rows
    unreadable file:  0 bronze rows, the file in quarantine whole with its reason
    repeat delivery:  0 bronze rows, the file skipped (same bytes as an earlier file)

A file is counted per version: a file re-delivered under the same batch and name with other
bytes (a correction) is a new version, keyed by its SHA-256 (``file_hash``), and both versions
have a row; the same bytes delivered again are a re-observation of the version already counted.

The bronze, pool and quarantine counts are read from those tables themselves (:class:`TableCounts`),
not from what the job believed it wrote, and compared with the file log and the recorded outcome:
a run stopped between the pool commit and its outcome record, or two runs that both committed,
shows up as an imbalance naming the batch and file, never as a balanced sheet. Duplicates are
the one count no table holds (they are dropped): they are what bronze holds beyond pool and
quarantine, and must equal what the promotion recorded.

Grain of ``governance/row_accounting``: one row per (resource, batch, file, version). The inputs are the
small file log and promotion outcomes (a row per file) and per-file counts of the three tables,
so this is plain Python, not Spark.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

ACCOUNTING_KEYS = ("department", "resource", "batch_id", "source_file")
COUNTS = ("pool_rows", "quarantined_rows", "duplicate_rows", "held_rows", "superseded_rows")

#: The leading columns of every per-file ledger table: which file of which batch a row is about.
FILE_KEY_FIELDS = [(name, pa.string()) for name in ACCOUNTING_KEYS]

ROW_ACCOUNTING_SCHEMA = pa.schema(
    [
        *FILE_KEY_FIELDS,
        ("status", pa.string()),
        ("file_rows", pa.int64()),
        ("bronze_rows", pa.int64()),
        ("pool_rows", pa.int64()),
        ("quarantined_rows", pa.int64()),
        ("duplicate_rows", pa.int64()),
        ("held_rows", pa.int64()),
        ("is_balanced", pa.bool_()),
        ("imbalance", pa.string()),
        ("checked_at", pa.timestamp("us", tz="UTC")),
        ("file_hash", pa.string()),
        ("superseded_rows", pa.int64()),
    ]
)


class RowAccountingError(RuntimeError):
    """The numbers do not add up for at least one file: something was lost or counted twice."""


#: (batch_id, source_file, file_hash): one version of one delivered file.
Version = tuple[str, str, str]


@dataclass(frozen=True)
class TableCounts:
    """Rows per file version as the tables hold them (quarantine: row-level only)."""

    bronze: Mapping[Version, int] = field(default_factory=dict)
    pool: Mapping[Version, int] = field(default_factory=dict)
    quarantine: Mapping[Version, int] = field(default_factory=dict)

    def of(self, *versions: Version) -> dict[str, int]:
        """The counts of ``versions`` together."""
        return {
            "bronze_rows": sum(int(self.bronze.get(v, 0)) for v in versions),
            "pool_rows": sum(int(self.pool.get(v, 0)) for v in versions),
            "quarantined_rows": sum(int(self.quarantine.get(v, 0)) for v in versions),
        }

    def files(self) -> set[Version]:
        return set(self.bronze) | set(self.pool) | set(self.quarantine)


def _key(row: Mapping) -> tuple:
    return tuple(row[k] for k in ACCOUNTING_KEYS)


def _file_key(row: Mapping) -> tuple[str, str]:
    return row["batch_id"], row["source_file"]


def version_of(row: Mapping) -> Version:
    """The file version a file-log or outcome row is about."""
    return row["batch_id"], row["source_file"], row.get("file_hash")


def outcome_of(latest: Mapping[tuple, Mapping], file_row: Mapping) -> Mapping | None:
    """The newest promotion outcome of the file version ``file_row`` logs (see
    :func:`latest_outcomes`). Outcomes recorded before versions were kept name no hash: they
    belong to the version logged then, which records no modification time either."""
    found = latest.get((*_key(file_row), file_row.get("file_hash")))
    if found is None and file_row.get("file_modified_at") is None:
        found = latest.get((*_key(file_row), None))
    return found


def destroyed_files(files: Iterable[Mapping]) -> set[tuple[str, str]]:
    """(batch, file) of the file-log rows marked ``destroyed``: files whose rows ``govlake
    destroy`` removed on purpose, so the tables are expected to hold none of them."""
    return {_file_key(f) for f in files if f["status"] == "destroyed"}


def latest_outcomes(outcomes: Iterable[Mapping]) -> dict[tuple, Mapping]:
    """The newest promotion outcome per file version (a held batch promoted later has two; a
    version promoted then corrected has its ``superseded`` outcome last)."""
    latest: dict[tuple, Mapping] = {}
    for row in sorted(outcomes, key=lambda r: (r["decided_at"], r["outcome"] == "superseded")):
        latest[(*_key(row), row.get("file_hash"))] = row
    return latest


def account_files(
    files: Iterable[Mapping],
    outcomes: Iterable[Mapping],
    counts: TableCounts,
    checked_at: dt.datetime,
    *,
    department: str,
    resource: str,
) -> list[dict]:
    """One accounting row per logged file (and per file the tables hold but the log does not
    list), with the counts the tables hold, ``is_balanced`` and a readable ``imbalance``."""
    latest = latest_outcomes(outcomes)
    files = list(files)
    destroyed = destroyed_files(files)
    read = {version_of(f) for f in files if f["status"] in {"ingested", "quarantined"}}
    rows = []
    logged: set[Version] = set()
    for f in files:
        if f["status"] == "rejected":
            continue  # an unsafe batch name: nothing was read, so there is nothing to count
        if _file_key(f) in destroyed and f["status"] != "destroyed":
            continue  # its rows were destroyed on purpose: the destroyed mark is what counts
        if f["status"] == "skipped_duplicate" and version_of(f) in read:
            continue  # the same bytes delivered again: the version is counted once, when read
        versions = [version_of(f)]
        if f["status"] == "destroyed":  # every version of the file was destroyed
            versions = [v for v in counts.files() | read if v[:2] == _file_key(f)] or versions
        logged.update(versions)
        outcome = outcome_of(latest, f)
        state = outcome["outcome"] if outcome is not None else None
        found = counts.of(*versions)
        imbalance = _imbalance(f, outcome, found)
        kept = found["bronze_rows"] - found["pool_rows"] - found["quarantined_rows"]
        rows.append(
            {
                **{k: f[k] for k in ACCOUNTING_KEYS},
                "file_hash": f.get("file_hash"),
                "status": "superseded" if state == "superseded" else f["status"],
                "file_rows": f["file_rows"],
                **found,
                "duplicate_rows": kept if state == "promoted" else 0,
                "held_rows": found["bronze_rows"] if state == "held" else 0,
                "superseded_rows": kept if state == "superseded" else 0,
                "is_balanced": imbalance is None,
                "imbalance": imbalance,
                "checked_at": checked_at,
            }
        )
    for batch_id, source_file, file_hash in sorted(counts.files() - logged):
        found = counts.of((batch_id, source_file, file_hash))
        rows.append(
            {
                "department": department,
                "resource": resource,
                "batch_id": batch_id,
                "source_file": source_file,
                "file_hash": file_hash,
                "status": "unlogged",
                "file_rows": None,
                **found,
                "duplicate_rows": 0,
                "held_rows": 0,
                "superseded_rows": 0,
                "is_balanced": False,
                "imbalance": (
                    f"the tables hold rows of a file the file log does not list (bronze "
                    f"{found['bronze_rows']}, pool {found['pool_rows']}, quarantine "
                    f"{found['quarantined_rows']}): a run stopped before logging it; run again"
                ),
                "checked_at": checked_at,
            }
        )
    return rows


def _imbalance(f: Mapping, outcome: Mapping | None, found: Mapping[str, int]) -> str | None:
    bronze_rows = found["bronze_rows"]
    stored = found["pool_rows"] + found["quarantined_rows"]
    if f["status"] == "ingested":
        if f["file_rows"] != f["bronze_rows"] or f["bronze_rows"] != bronze_rows:
            return (
                f"file rows {f['file_rows']}, logged bronze rows {f['bronze_rows']}, "
                f"bronze table {bronze_rows}: they must all be equal"
            )
        if outcome is None:
            if stored:
                return (
                    f"the tables hold pool {found['pool_rows']} + quarantine "
                    f"{found['quarantined_rows']} rows but no promotion outcome is recorded: "
                    "a run stopped after the pool commit; run again to complete it"
                )
            return "not yet promoted to the pool"
        if outcome["outcome"] == "held":
            if stored or int(outcome["held_rows"]) != bronze_rows:
                return (
                    f"held batch: bronze {bronze_rows}, recorded held {outcome['held_rows']}, "
                    f"but pool {found['pool_rows']} + quarantine {found['quarantined_rows']}"
                )
            return None
        if outcome["outcome"] == "superseded":
            superseded = bronze_rows - found["quarantined_rows"]
            recorded = (int(outcome["quarantined_rows"]), int(outcome.get("superseded_rows") or 0))
            if found["pool_rows"] or (found["quarantined_rows"], superseded) != recorded:
                return (
                    f"superseded by a corrected delivery, yet pool {found['pool_rows']}, "
                    f"quarantine {found['quarantined_rows']}, superseded {superseded} in the "
                    f"tables; the correction recorded quarantine {recorded[0]}, superseded "
                    f"{recorded[1]}, pool 0"
                )
            return None
        recorded = {c: int(outcome[c]) for c in ("pool_rows", "quarantined_rows", "duplicate_rows")}
        duplicates = bronze_rows - stored
        if duplicates < 0 or (found["pool_rows"], found["quarantined_rows"], duplicates) != (
            recorded["pool_rows"],
            recorded["quarantined_rows"],
            recorded["duplicate_rows"],
        ):
            return (
                f"bronze {bronze_rows} = pool {found['pool_rows']} + quarantine "
                f"{found['quarantined_rows']} + duplicates {duplicates} in the tables, but the "
                f"promotion recorded pool {recorded['pool_rows']} + quarantine "
                f"{recorded['quarantined_rows']} + duplicates {recorded['duplicate_rows']}"
            )
        return None
    if f["status"] == "destroyed":
        if bronze_rows or stored:
            return (
                f"destroyed file still has rows in the tables: bronze {bronze_rows}, "
                f"pool {found['pool_rows']}, quarantine {found['quarantined_rows']}"
            )
        return None
    if f["status"] in {"quarantined", "skipped_duplicate"}:
        if bronze_rows or f["bronze_rows"] or stored:
            return (
                f"{f['status']} file has rows in the tables: bronze {bronze_rows}, "
                f"pool {found['pool_rows']}, quarantine {found['quarantined_rows']}"
            )
        return None
    return f"unknown file status {f['status']!r}"
