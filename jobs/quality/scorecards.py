"""Scorecards (质量评分卡) per department, resource and batch on six dimensions, kept over time.

A dimension's score is the mean pass rate of the checks of that dimension that ran on the batch:
for a row-level check the share of the rows it considered that passed (1.0 when it considered
none), for a table-level check 1.0 if it passed and 0.0 if not. Skipped checks do not count; a
dimension with no check that ran scores NULL (not 1.0: nothing was measured). ``overall`` is the
mean of the dimensions that have a score. Accuracy compares fields with the authoritative
resource (一数一源) by key; it is NULL until that resource's pool exists.

``governance/quality_scorecards``: one row per (department, resource, batch), appended, so the
table is the history the yearly evaluation of each department (000 §17, 003 §45) reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pyarrow as pa

from jobs.lake import ledger
from jobs.lake.registry import QUALITY_SCORECARDS
from jobs.quality.metrics import Outcome
from jobs.quality.rules import DIMENSIONS
from jobs.settings import Settings

QUALITY_SCORECARDS_SCHEMA = pa.schema(
    [
        ("department", pa.string()),
        ("resource", pa.string()),
        ("batch_id", pa.string()),
        ("row_count", pa.int64()),
        *[(d, pa.float64()) for d in DIMENSIONS],
        ("overall", pa.float64()),
        ("checks_run", pa.int64()),
        ("checks_failed", pa.int64()),
        ("status", pa.string()),
        ("suite_version", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
    ]
)


def dimension_scores(outcomes: Iterable[Outcome]) -> dict[str, float | None]:
    """Dimension → mean pass rate of its checks that ran (None when none ran)."""
    rates: dict[str, list[float]] = {d: [] for d in DIMENSIONS}
    for outcome in outcomes:
        rate = outcome.pass_rate
        if rate is not None:
            rates.setdefault(outcome.dimension, []).append(rate)
    return {d: (sum(r) / len(r) if r else None) for d, r in rates.items()}


def overall_score(scores: dict[str, float | None]) -> float | None:
    present = [s for s in scores.values() if s is not None]
    return sum(present) / len(present) if present else None


def scorecard_row(
    department: str,
    resource: str,
    batch_id: str,
    row_count: int,
    outcomes: Iterable[Outcome],
    status: str,
    suite_version: str,
    scored_at: dt.datetime,
) -> dict:
    outcomes = list(outcomes)
    scores = dimension_scores(outcomes)
    return {
        "department": department,
        "resource": resource,
        "batch_id": batch_id,
        "row_count": row_count,
        **scores,
        "overall": overall_score(scores),
        "checks_run": sum(1 for o in outcomes if o.status != "skipped"),
        "checks_failed": sum(1 for o in outcomes if o.failed),
        "status": status,
        "suite_version": suite_version,
        "scored_at": scored_at,
    }


def append_scorecards(settings: Settings, rows: list[dict], write_id: str) -> bool:
    """Appends scorecard rows in one delta-rs commit (no Spark job), idempotent per
    ``write_id``; returns False for a retry that was already applied."""
    return ledger.append_rows(
        QUALITY_SCORECARDS.uri(settings),
        rows,
        QUALITY_SCORECARDS_SCHEMA,
        write_id,
    )
