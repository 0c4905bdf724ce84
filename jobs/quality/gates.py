"""The quality gate (质量门禁): does a validated batch pass, pass with warnings, or stay held?

A critical expectation that fails beyond its threshold holds the batch: its rows stay in the
pool, visible, but the batch is marked not promoted in ``governance/quality_batches`` and the
Airflow task fails with :class:`QualityGateError`. Warnings pass and are recorded. After
rectification (整改) a quality officer marks a held batch promotable
(:func:`mark_promotable`, ``govlake quality promote``).

What may leave a pool is decided here, once, for every reader downstream (base builds, share
refresh, open data, and so the exports of shares): every batch except those whose latest
decision is ``held`` (:func:`held_batches`, applied with :func:`without_held_batches`).

``governance/quality_batches``: one row per decision about a batch (append-only; the latest row
of a batch is its status): ``passed`` | ``warned`` | ``held`` | ``promotable``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.audit import log as audit
from jobs.lake import ledger
from jobs.lake.registry import QUALITY_BATCHES
from jobs.quality.metrics import Outcome
from jobs.settings import Settings

STATUSES = ("passed", "warned", "held", "promotable")

QUALITY_BATCHES_SCHEMA = pa.schema(
    [
        ("department", pa.string()),
        ("resource", pa.string()),
        ("batch_id", pa.string()),
        ("status", pa.string()),
        ("row_count", pa.int64()),
        ("failing_rows", pa.int64()),
        ("failed_critical", pa.list_(pa.string())),
        ("failed_warning", pa.list_(pa.string())),
        ("message", pa.string()),
        ("suite_version", pa.string()),
        ("decided_by", pa.string()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
    ]
)


class QualityGateError(RuntimeError):
    """Critical expectations failed beyond their thresholds: the batch(es) are held.

    Raised after every result, failing row, scorecard and task has been recorded, so the
    failed Airflow task leaves a complete trail.
    """


@dataclass(frozen=True)
class GateDecision:
    status: str
    failed_critical: tuple[str, ...]
    failed_warning: tuple[str, ...]
    message: str


def _describe(outcome: Outcome) -> str:
    if outcome.level == "table":
        return f"{outcome.name} (observed {outcome.observed})"
    fraction = outcome.unexpected_fraction or 0.0
    return (
        f"{outcome.name} {outcome.unexpected}/{outcome.considered} rows = {fraction:.2%}"
        f" > threshold {outcome.threshold:.2%}"
    )


def decide(resource_id: str, batch_id: str, outcomes: Iterable[Outcome]) -> GateDecision:
    """The gate's decision from a batch's outcomes.

    ``failed`` already means "beyond the threshold" (:func:`jobs.quality.metrics.mostly_success`).
    """
    outcomes = list(outcomes)
    critical = tuple(o.name for o in outcomes if o.failed and o.severity == "critical")
    warning = tuple(o.name for o in outcomes if o.failed and o.severity != "critical")
    if critical:
        details = "; ".join(_describe(o) for o in outcomes if o.name in critical)
        message = (
            f"{resource_id} batch {batch_id} held: {len(critical)} critical expectation(s) "
            f"failed beyond their threshold: {details}. Rows stay in the pool, not promoted; "
            "see governance/quality_failing_rows and the rectification tasks."
        )
        return GateDecision("held", critical, warning, message)
    if warning:
        return GateDecision(
            "warned",
            (),
            warning,
            f"{resource_id} batch {batch_id} passed with {len(warning)} warning(s): "
            + ", ".join(warning),
        )
    return GateDecision("passed", (), (), f"{resource_id} batch {batch_id} passed")


def decision_row(
    department: str,
    resource: str,
    batch_id: str,
    decision: GateDecision,
    row_count: int,
    failing_rows: int,
    suite_version: str,
    decided_at: dt.datetime,
    decided_by: str = "pipeline",
) -> dict:
    return {
        "department": department,
        "resource": resource,
        "batch_id": batch_id,
        "status": decision.status,
        "row_count": row_count,
        "failing_rows": failing_rows,
        "failed_critical": list(decision.failed_critical),
        "failed_warning": list(decision.failed_warning),
        "message": decision.message,
        "suite_version": suite_version,
        "decided_by": decided_by,
        "decided_at": decided_at,
    }


def append_decisions(settings: Settings, rows: list[dict], write_id: str) -> bool:
    """Appends decision rows in one delta-rs commit (no Spark job), idempotent per
    ``write_id``; returns False for a retry that was already applied."""
    return ledger.append_rows(QUALITY_BATCHES.uri(settings), rows, QUALITY_BATCHES_SCHEMA, write_id)


def latest_statuses(settings: Settings, department: str, resource: str) -> dict[str, dict]:
    """batch id → the latest decision row of that batch (empty when nothing was validated).

    Read with delta-rs, no Spark: the table holds a few rows per batch.
    """
    latest = _latest_rows(settings, [("department", "=", department), ("resource", "=", resource)])
    return {batch_id: row for (_, _, batch_id), row in latest.items()}


def latest_decisions(settings: Settings) -> dict[tuple[str, str, str], dict]:
    """(department, resource, batch id) → that batch's latest decision row, for every resource.

    Read with delta-rs, no Spark: base builds and summaries ask this of a small table.
    """
    return _latest_rows(settings)


def _latest_rows(
    settings: Settings, filters: list[tuple[str, str, str]] | None = None
) -> dict[tuple[str, str, str], dict]:
    # The newest decision of each batch wins; of two with the same time, the one read last.
    latest: dict[tuple[str, str, str], dict] = {}
    for row in ledger.read_rows(QUALITY_BATCHES.uri(settings), filters):
        key = (row["department"], row["resource"], row["batch_id"])
        if key not in latest or row["decided_at"] >= latest[key]["decided_at"]:
            latest[key] = row
    return latest


def held_batches(settings: Settings) -> dict[str, list[str]]:
    """resource id → batches whose latest quality decision is ``held`` (sorted).

    The one rule for what may leave a pool: a held batch stays in its pool, visible, but no
    base build, share or open data reads it until a quality officer marks it promotable after
    rectification. A batch with no decision is not held: the ingestion DAG validates every
    batch in the run that writes it, so such a batch is one whose validation has not run.
    """
    held: dict[str, list[str]] = {}
    for (department, resource, batch_id), row in sorted(latest_decisions(settings).items()):
        if row["status"] == "held":
            held.setdefault(f"{department}.{resource}", []).append(batch_id)
    return held


def without_held_batches(
    df: DataFrame, layer: Sequence[str], held: Mapping[str, Iterable[str]]
) -> DataFrame:
    """The rows of the table at ``layer`` that may leave it: of a pool
    (``("pool", department, resource)``), those outside the batches ``held`` names (from
    :func:`held_batches`); of any other layer, all (base tables are built without them)."""
    if layer[0] != "pool":
        return df
    batch_ids = list(held.get(".".join(layer[1:]), ()))
    return df.where(~F.col("batch_id").isin(batch_ids)) if batch_ids else df


def mark_promotable(
    settings: Settings,
    resource_id: str,
    batch_id: str,
    *,
    decided_by: str,
    note: str,
) -> dict:
    """Marks a held batch promotable after rectification (整改), with who and why; the release is
    an entry of the audit log.

    Raises:
        ValueError: the batch was never validated, or is not held.
    """
    department, resource = resource_id.split(".", 1)
    statuses = latest_statuses(settings, department, resource)
    current: Mapping | None = statuses.get(batch_id)
    if current is None:
        raise ValueError(f"{resource_id} batch {batch_id} has not been validated")
    if current["status"] != "held":
        raise ValueError(
            f"{resource_id} batch {batch_id} is {current['status']}, not held; nothing to release"
        )
    now = settings.now()
    row = dict(current)
    row.update(
        status="promotable",
        message=f"released by {decided_by}: {note}",
        decided_by=decided_by,
        decided_at=now,
    )
    append_decisions(
        settings,
        [row],
        f"quality_batches/{resource_id}/{batch_id}/promotable/{now.isoformat()}",
    )
    audit.record(
        settings,
        "quality_release",
        actor=decided_by,
        target=f"{QUALITY_BATCHES.path}/{resource_id}/{batch_id}",
        detail={"note": note},
    )
    return row
