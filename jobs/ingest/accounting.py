"""Row accounting: for every delivered file, every row is somewhere, and we can say where.

Per file of a batch (DESIGN §2, "Nothing is lost"):

    readable file:    file rows = bronze rows
                      bronze rows = pool rows + quarantined rows + duplicate rows + held rows
    unreadable file:  0 bronze rows, the file in quarantine whole with its reason
    repeat delivery:  0 bronze rows, the file skipped (same bytes as an earlier file)

The bronze, pool and quarantine counts are read from those tables themselves (:class:`TableCounts`),
not from what the job believed it wrote, and compared with the file log and the recorded outcome:
a run stopped between the pool commit and its outcome record, or two runs that both committed,
shows up as an imbalance naming the batch and file, never as a balanced sheet. Duplicates are
the one count no table holds (they are dropped): they are what bronze holds beyond pool and
quarantine, and must equal what the promotion recorded.

Grain of ``governance/row_accounting``: one row per (resource, batch, file). The inputs are the
small file log and promotion outcomes (a row per file) and per-file counts of the three tables,
so this is plain Python, not Spark.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

ACCOUNTING_KEYS = ("department", "resource", "batch_id", "source_file")
COUNTS = ("pool_rows", "quarantined_rows", "duplicate_rows", "held_rows")

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
    ]
)


class RowAccountingError(RuntimeError):
    """The numbers do not add up for at least one file: something was lost or counted twice."""


@dataclass(frozen=True)
class TableCounts:
    """Rows per (batch_id, source_file) as the tables hold them (quarantine: row-level only)."""

    bronze: Mapping[tuple[str, str], int] = field(default_factory=dict)
    pool: Mapping[tuple[str, str], int] = field(default_factory=dict)
    quarantine: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def of(self, batch_id: str, source_file: str) -> dict[str, int]:
        key = (batch_id, source_file)
        return {
            "bronze_rows": int(self.bronze.get(key, 0)),
            "pool_rows": int(self.pool.get(key, 0)),
            "quarantined_rows": int(self.quarantine.get(key, 0)),
        }

    def files(self) -> set[tuple[str, str]]:
        return set(self.bronze) | set(self.pool) | set(self.quarantine)


def _key(row: Mapping) -> tuple:
    return tuple(row[k] for k in ACCOUNTING_KEYS)


def _file_key(row: Mapping) -> tuple[str, str]:
    return row["batch_id"], row["source_file"]


def destroyed_files(files: Iterable[Mapping]) -> set[tuple[str, str]]:
    """(batch, file) of the file-log rows marked ``destroyed``: files whose rows ``govlake
    destroy`` removed on purpose, so the tables are expected to hold none of them."""
    return {_file_key(f) for f in files if f["status"] == "destroyed"}


def latest_outcomes(outcomes: Iterable[Mapping]) -> dict[tuple, Mapping]:
    """The newest promotion outcome per file (a held batch promoted later has two)."""
    latest: dict[tuple, Mapping] = {}
    for row in sorted(outcomes, key=lambda r: r["decided_at"]):
        latest[_key(row)] = row
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
    rows = []
    logged = set()
    for f in files:
        if f["status"] == "rejected":
            continue  # an unsafe batch name: nothing was read, so there is nothing to count
        if _file_key(f) in destroyed and f["status"] != "destroyed":
            continue  # its rows were destroyed on purpose: the destroyed mark is what counts
        logged.add((f["batch_id"], f["source_file"]))
        outcome = latest.get(_key(f))
        held = outcome is not None and outcome["outcome"] == "held"
        found = counts.of(f["batch_id"], f["source_file"])
        imbalance = _imbalance(f, outcome, found)
        duplicates = found["bronze_rows"] - found["pool_rows"] - found["quarantined_rows"]
        rows.append(
            {
                **{k: f[k] for k in ACCOUNTING_KEYS},
                "status": f["status"],
                "file_rows": f["file_rows"],
                **found,
                "duplicate_rows": duplicates if outcome and not held else 0,
                "held_rows": found["bronze_rows"] if held else 0,
                "is_balanced": imbalance is None,
                "imbalance": imbalance,
                "checked_at": checked_at,
            }
        )
    for batch_id, source_file in sorted(counts.files() - logged):
        found = counts.of(batch_id, source_file)
        rows.append(
            {
                "department": department,
                "resource": resource,
                "batch_id": batch_id,
                "source_file": source_file,
                "status": "unlogged",
                "file_rows": None,
                **found,
                "duplicate_rows": 0,
                "held_rows": 0,
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
