"""The quality entry point the DAGs call after ``bronze_to_pool``: validate new pool batches.

:func:`validate_pool_batch` validates every batch of a resource's pool that has no quality
decision yet (or one named batch), oldest first, each with Great Expectations, which computes
every expectation once (:mod:`jobs.quality.validate`):

1. a batch of at most ``Settings.arrow_max_rows`` rows (on a local Spark master) is read with
   delta-rs and validated on GX's pandas engine, in the task's own process, without Spark; a
   larger one is read and cached by Spark and validated on GX's Spark engine;
2. govlake's outcomes and the failing rows are read from GX's results, with the column types
   judged from the schema and the accuracy checks (一数一源) compared on the same engine
   (:mod:`jobs.quality.metrics`); the failing rows are appended (:mod:`jobs.quality.failing_rows`);
3. the results, the scorecard, the rectification tasks (整改) and, last, the gate decision are
   written (small tables: delta-rs commits);
4. after all batches, GX builds the Data Docs pages of the new results once, the site is made
   browsable offline, and, if a batch was held (in this run, or the newest batch is still held
   when a retry finds nothing new), :class:`jobs.quality.gates.QualityGateError` is raised
   naming the critical expectations.

Each step writes with a write id derived from (resource, batch, suite version), so a retried
task adds nothing twice; the gate decision is written last and is what marks a batch validated.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from jobs.audit.log import record_many
from jobs.catalog.loader import load_catalog
from jobs.catalog.models import Resource
from jobs.lake import ledger, tables
from jobs.lake.registry import POOL
from jobs.policy import PolicyProfile, load_profile
from jobs.policy.workdays import default_override_paths, get_calendar
from jobs.quality import docs, failing_rows, gates, rectification, results, scorecards
from jobs.quality.metrics import (
    AccuracyFound,
    BatchMetrics,
    accuracy_on_arrow,
    accuracy_on_spark,
    authority_columns,
    batch_metrics,
    column_types_of_arrow,
    column_types_of_spark,
    skipped_outcomes,
)
from jobs.quality.suites import Suite, suite_for
from jobs.quality.validate import GxRun, GxSession, columns_read, gx_session
from jobs.settings import Settings, pinned_clock

log = logging.getLogger(__name__)

#: Rows per partition of a batch cached for GX's Spark engine (:func:`_cached_batch`).
ROWS_PER_CACHED_PARTITION = 200_000


def batch_stats(pool_uri: str) -> list[dict]:
    """Per batch of a pool: row count and first ingestion time, oldest first (two columns read
    with delta-rs, no Spark job)."""
    rows = ledger.read_arrow(pool_uri, columns=["batch_id", "ingested_at"])
    if rows is None or rows.num_rows == 0:
        return []
    stats = rows.group_by("batch_id").aggregate([([], "count_all"), ("ingested_at", "min")])
    out = [
        {"batch_id": r["batch_id"], "rows": r["count_all"], "ingested_at": r["ingested_at_min"]}
        for r in stats.to_pylist()
    ]
    return sorted(out, key=lambda r: (r["ingested_at"], r["batch_id"]))


def run_parameters(suite: Suite, previous: dict | None, settings: Settings) -> dict[str, Any]:
    """Suite parameter values for one batch: ``today``/``now`` (the settings' clock, today in
    the bureau's time zone), and from the previous batch the row-count bounds and the end of
    the day the batch was due (``delivered_by``, aware). Without a previous batch those are
    left out, and the expectations that need them are skipped.
    """
    params: dict[str, Any] = {"today": settings.today(), "now": settings.now()}
    if previous is None:
        return params
    for exp in suite.expectations:
        if exp.type == "expect_table_row_count_to_be_between":
            change = float(exp.meta.get("max_change", 0.5))
            params["row_count_min"] = math.ceil(previous["rows"] * (1 - change))
            params["row_count_max"] = math.floor(previous["rows"] * (1 + change))
        if "delivered_by" in exp.parameters:
            workdays = int(exp.meta.get("freshness_workdays", 2))
            calendar = get_calendar(default_override_paths(settings))
            bureau = ZoneInfo(settings.timezone)
            previous_on = _aware(previous["ingested_at"]).astimezone(bureau).date()
            due = calendar.add_workdays(previous_on, workdays).date
            end_of_due_day = dt.datetime.combine(
                due + dt.timedelta(days=1), dt.time(), bureau
            ) - dt.timedelta(microseconds=1)
            params["delivered_by"] = end_of_due_day.astimezone(dt.UTC)
    return params


def _aware(value: dt.datetime) -> dt.datetime:
    # Naive datetimes collected from Spark are local times of this process.
    return value if value.tzinfo else value.astimezone()


def validate_pool_batch(
    resource_id: str,
    settings: Settings,
    *,
    batch_id: str | None = None,
    spark: Any = None,
    raise_on_hold: bool = True,
) -> dict:
    """Validates the pool batches of ``resource_id`` that have no quality decision yet.

    Args:
        resource_id: ``"<dept>.<resource>"``.
        settings: effective settings (reports root, policy profile, time zone, the Arrow
            path's size limit) and the clock the validation time is read from; detected dates
            and deadlines derive from it.
        batch_id: validate only this batch (again, if it was validated before: a new decision
            row is appended).
        spark: Spark session for batches above the Arrow path's limit; the process's session
            (started only then) when omitted.
        raise_on_hold: raise :class:`QualityGateError` when a batch is held (the DAG task fails).

    Returns:
        a JSON-serialisable summary: per batch its engine, status, counts, failed expectations
        and seconds per step.

    Raises:
        QualityGateError: after recording everything, when a batch is held.
    """
    # One instant for the whole run: write ids, today and the deadlines all agree.
    settings = settings.with_clock(pinned_clock(settings.now()))
    catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)
    resource = catalog.resource(resource_id)
    suite = suite_for(resource, catalog)
    summary: dict[str, Any] = {
        "resource": resource_id,
        "suite_version": suite.version,
        "batches": [],
    }
    pool_uri = POOL.uri(settings, resource.department, resource.resource)
    if not tables.table_exists(pool_uri):
        summary["message"] = "no pool table yet"
        return summary
    stats = batch_stats(pool_uri)
    decided = gates.latest_statuses(settings, resource.department, resource.resource)
    if batch_id is not None:
        if batch_id not in {s["batch_id"] for s in stats}:
            raise ValueError(f"{resource_id} has no batch {batch_id!r} in its pool")
        pending = [s for s in stats if s["batch_id"] == batch_id]
    else:
        pending = [s for s in stats if s["batch_id"] not in decided]
    profile = load_profile(settings.policy_profile, settings.schemas_root)
    rerun = {b["batch_id"] for b in pending if batch_id is not None and b["batch_id"] in decided}
    run = _Run(settings, resource, suite, pool_uri, rerun, spark)
    run.written = failing_rows.batches_with_rows(
        settings,
        resource.department,
        resource.resource,
        suite.version,
        [b["batch_id"] for b in pending if b["batch_id"] not in rerun],
    )
    if pending:
        with gx_session(settings, suite) as gx:
            for batch in pending:
                summary["batches"].append(_validate_batch(run, gx, batch, stats, profile))
        summary["gx_data_docs_seconds"] = round(gx.docs_seconds, 3)
        summary["data_docs"] = str(docs.site_dir(settings) / "index.html")
    messages = [b["message"] for b in summary["batches"] if b["status"] == "held"]
    if not messages and stats and batch_id is None:
        # A retried task finds nothing left to validate: it must still fail while the newest
        # batch stays held (until it is released or a later batch arrives), or a retry would
        # turn the held run green.
        newest = decided.get(stats[-1]["batch_id"])
        if newest is not None and newest["status"] == "held":
            messages.append(newest["message"])
    summary["held"] = len(messages)
    if messages and raise_on_hold:
        raise gates.QualityGateError("\n".join(messages))
    return summary


@dataclass
class _Run:
    """What the batches of one validation share: settings, resource, suite, the pool, the
    batches re-validated on purpose, those whose failing rows an earlier attempt wrote, and
    (started only for a batch that needs it) Spark with the pool and authorities read once."""

    settings: Settings
    resource: Resource
    suite: Suite
    pool_uri: str
    rerun: set[str]
    spark: Any = None
    written: set[str] = field(default_factory=set)
    _pool_df: Any = None
    _spark_authorities: dict[str, Any] | None = None

    def write_key(self, batch_id: str) -> str:
        """Write ids make a retried task idempotent; an explicit re-validation is a new run."""
        key = f"{self.resource.id}/{batch_id}/{self.suite.version}"
        rerun = batch_id in self.rerun
        return key + (f"/rerun/{self.settings.now().isoformat()}" if rerun else "")

    def authority_uris(self) -> dict[str, str]:
        """Authoritative resource id → its pool's URI, for the accuracy checks whose authority
        has a pool (the others are skipped)."""
        out = {}
        for check in self.suite.accuracy:
            if check.authority == self.resource.id or check.authority in out:
                continue
            department, name = check.authority.split(".", 1)
            uri = POOL.uri(self.settings, department, name)
            if tables.table_exists(uri):
                out[check.authority] = uri
        return out

    def session(self) -> Any:
        if self.spark is None:
            from jobs.spark import get_spark

            self.spark = get_spark(self.settings)
        return self.spark

    def pool_df(self) -> Any:
        if self._pool_df is None:
            self._pool_df = tables.read_table(self.session(), self.pool_uri)
        return self._pool_df

    def spark_authorities(self) -> dict[str, Any]:
        """Authority id → its pool's columns the checks read, as a Spark DataFrame (read once
        for the batches of the run)."""
        if self._spark_authorities is None:
            self._spark_authorities = {
                authority: tables.read_table(
                    self.session(), uri, columns=authority_columns(self.suite.accuracy, authority)
                )
                for authority, uri in self.authority_uris().items()
            }
        return self._spark_authorities

    def arrow_authorities(self, batch: pa.Table) -> dict[str, pa.Table]:
        """Authority id → the rows of its pool whose key occurs in ``batch`` (the columns the
        checks read, with delta-rs: a small batch reads only its keys' rows)."""
        out = {}
        for authority, uri in self.authority_uris().items():
            checks = [c for c in self.suite.accuracy if c.authority == authority]
            keys = pc.unique(batch[checks[0].key[0]]).drop_null().to_pylist()
            key = checks[0].authority_key[0]
            out[authority] = ledger.read_arrow(
                uri,
                [(key, "in", keys)] if keys else [(key, "=", None)],
                authority_columns(self.suite.accuracy, authority),
            )
        return out


def _cached_batch(pool_df: Any, rows: int, batch_id: str) -> Any:
    """One batch of a pool, cached for GX's Spark engine (a Spark job per metric reads it).

    In partitions of about :data:`ROWS_PER_CACHED_PARTITION` rows: GX runs a Spark job per
    metric, each with a task per partition, and a small batch read in many partitions spent
    most of its validation scheduling tasks over a few rows each (GX's validation of three
    resources' 15 batches at a million persons: 59.5 s in as many partitions as read, 42.0 s so).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    partitions = max(1, math.ceil(rows / ROWS_PER_CACHED_PARTITION))
    batch_df = (
        pool_df.where(F.col("batch_id") == batch_id)
        .coalesce(partitions)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    batch_df.count()
    return batch_df


def _validate_batch(
    run: _Run, gx: GxSession, batch: dict, stats: list[dict], profile: PolicyProfile
) -> dict:
    """One batch: GX's validation on the engine its size calls for, the outcomes and failing
    rows read from it, then everything recorded; returns the batch's summary."""
    batch_id, suite = batch["batch_id"], run.suite
    key = (batch["ingested_at"], batch["batch_id"])
    earlier = [s for s in stats if (s["ingested_at"], s["batch_id"]) < key]
    params = run_parameters(suite, earlier[-1] if earlier else None, run.settings)
    skipped = skipped_outcomes(suite, params)
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal started
        seconds[step] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()

    if run.settings.runs_on_arrow(batch["rows"]):
        import pandas as pd

        rows = ledger.read_arrow(run.pool_uri, [("batch_id", "=", batch_id)])
        read = [c for c in columns_read(suite) if c in rows.column_names]
        frame = rows.select(read).to_pandas(types_mapper=pd.ArrowDtype)
        lap("read")
        gx_run = gx.validate(frame, params, run_name=batch_id, skip=list(skipped))
        lap("gx_validation")
        accuracy = accuracy_on_arrow(rows, suite.accuracy, run.arrow_authorities(rows))
        found = batch_metrics(
            suite,
            rows.num_rows,
            column_types_of_arrow(rows.schema),
            gx_run.results,
            skipped,
            accuracy,
        )
        lineage = failing_rows.failing_lineage_of_arrow(rows, found.failed, suite.key)
    else:
        batch_df = _cached_batch(run.pool_df(), batch["rows"], batch_id)
        try:
            lap("read")
            gx_run = gx.validate(batch_df, params, run_name=batch_id, skip=list(skipped))
            lap("gx_validation")
            accuracy = _spark_accuracy(run, batch_df)
            found = batch_metrics(
                suite,
                batch["rows"],
                column_types_of_spark(batch_df.schema),
                gx_run.results,
                skipped,
                accuracy,
            )
            lineage = failing_rows.failing_lineage_of_spark(batch_df, found.failed, suite.key)
        finally:
            batch_df.unpersist()
    lap("accuracy")
    if batch_id not in run.written:
        failing_rows.append_failing_rows(
            run.settings,
            failing_rows.failing_rows_table(
                lineage, found.failed, suite.key, suite.version, run.settings.now()
            ),
            "quality_failing_rows/" + run.write_key(batch_id),
        )
    lap("failing_rows")
    out = _record(run, batch_id, found, gx_run, profile)
    lap("record")
    return {**out, "engine": gx_run.engine, "seconds": seconds}


def _spark_accuracy(run: _Run, batch_df: Any) -> AccuracyFound:
    if not run.suite.accuracy:
        return AccuracyFound()
    return accuracy_on_spark(batch_df, run.suite.accuracy, run.spark_authorities())


def _record(
    run: _Run, batch_id: str, found: BatchMetrics, gx_run: GxRun, profile: PolicyProfile
) -> dict:
    """A batch's results, scorecard and rectification tasks, then its gate decision (written
    last: it is what marks a batch validated); returns the batch's summary."""
    settings, suite, rid = run.settings, run.suite, run.resource.id
    department, name = run.resource.department, run.resource.resource
    now = settings.now()
    outcomes = list(found.outcomes.values())
    decision = gates.decide(rid, batch_id, outcomes)
    write_key = run.write_key(batch_id)
    results.append_results(
        settings,
        results.result_rows(department, name, batch_id, suite, found.outcomes, gx_run.results, now),
        "quality_results/" + write_key,
    )
    scorecards.append_scorecards(
        settings,
        [
            scorecards.scorecard_row(
                department,
                name,
                batch_id,
                found.row_count,
                outcomes,
                decision.status,
                suite.version,
                now,
            )
        ],
        "quality_scorecards/" + write_key,
    )
    existing = rectification.read_tasks(settings, department, name)
    calendar = get_calendar(default_override_paths(settings))
    tasks = rectification.plan_tasks(
        existing, rid, batch_id, outcomes, settings.today(), now, profile, calendar
    )
    if tasks or existing:
        rectification.write_tasks(settings, rid, tasks)
        record_many(settings, rectification.recount_entries(existing, tasks))
    gates.append_decisions(
        settings,
        [
            gates.decision_row(
                department,
                name,
                batch_id,
                decision,
                found.row_count,
                found.failing_row_count,
                suite.version,
                now,
            )
        ],
        "quality_batches/" + write_key,
    )
    if decision.status == "held":
        log.error(decision.message)
    return {
        "batch_id": batch_id,
        "status": decision.status,
        "message": decision.message,
        "rows": found.row_count,
        "failing_rows": found.failing_row_count,
        "failed_critical": list(decision.failed_critical),
        "failed_warning": list(decision.failed_warning),
        "skipped": [n for n, o in found.outcomes.items() if o.status == "skipped"],
        "gx_success": gx_run.success,
        "open_tasks": sum(1 for t in tasks if t["status"] in rectification.UNRESOLVED),
    }
