"""Row accounting: for every delivered file, every row is somewhere, and we can say where.

Per file of a batch (DESIGN §2, "Nothing is lost"):

    readable file:    file rows = bronze rows
                      bronze rows = pool rows + quarantined rows + duplicate rows + held rows
    unreadable file:  0 bronze rows, the file in quarantine whole with its reason
    repeat delivery:  0 bronze rows, the file skipped (same bytes as an earlier file)

Grain of ``governance/row_accounting``: one row per (resource, batch, file). The inputs are the
small file log and promotion outcomes (a row per file), so this is plain Python, not Spark.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

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


def _key(row: Mapping) -> tuple:
    return tuple(row[k] for k in ACCOUNTING_KEYS)


def latest_outcomes(outcomes: Iterable[Mapping]) -> dict[tuple, Mapping]:
    """The newest promotion outcome per file (a held batch promoted later has two)."""
    latest: dict[tuple, Mapping] = {}
    for row in sorted(outcomes, key=lambda r: r["decided_at"]):
        latest[_key(row)] = row
    return latest


def account_files(
    files: Iterable[Mapping], outcomes: Iterable[Mapping], checked_at: dt.datetime
) -> list[dict]:
    """One accounting row per logged file, with ``is_balanced`` and a readable ``imbalance``."""
    latest = latest_outcomes(outcomes)
    rows = []
    for f in files:
        if f["status"] == "rejected":
            continue  # an unsafe batch name: nothing was read, so there is nothing to count
        outcome = latest.get(_key(f))
        counts = {c: int(outcome[c]) if outcome else 0 for c in COUNTS}
        imbalance = _imbalance(f, outcome, counts)
        rows.append(
            {
                **{k: f[k] for k in ACCOUNTING_KEYS},
                "status": f["status"],
                "file_rows": f["file_rows"],
                "bronze_rows": f["bronze_rows"],
                **counts,
                "is_balanced": imbalance is None,
                "imbalance": imbalance,
                "checked_at": checked_at,
            }
        )
    return rows


def _imbalance(f: Mapping, outcome: Mapping | None, counts: Mapping[str, int]) -> str | None:
    bronze_rows = f["bronze_rows"] or 0
    if f["status"] == "ingested":
        if f["file_rows"] != bronze_rows:
            return f"file rows {f['file_rows']} ≠ bronze rows {bronze_rows}"
        if outcome is None:
            return "not yet promoted to the pool"
        promoted = sum(counts.values())
        if promoted != bronze_rows:
            return (
                f"bronze rows {bronze_rows} ≠ pool {counts['pool_rows']} + quarantine "
                f"{counts['quarantined_rows']} + duplicates {counts['duplicate_rows']} + held {counts['held_rows']}"
            )
        return None
    if f["status"] in {"quarantined", "skipped_duplicate"}:
        return None if bronze_rows == 0 else f"{f['status']} file has {bronze_rows} bronze rows"
    return f"unknown file status {f['status']!r}"
