"""The quality entry point the DAGs call after ``bronze_to_pool``: validate new pool batches.

:func:`validate_pool_batch` validates every batch of a resource's pool that has no quality
decision yet (or one named batch), oldest first. The cost of a small batch is fixed overhead
(Spark jobs, GX's project), so the pending batches are validated together (up to
:data:`MAX_BATCHES_PER_PASS` at a time) while every output stays per batch:

1. computes every expectation and accuracy check of the pending batches, when they are small
   (:data:`BATCHED_MAX_ROWS`), for all of them at once: one Spark job writes every failing row,
   one aggregates per batch (:func:`jobs.quality.metrics.compute_metrics_by_batch`: uniqueness
   within a batch, table checks with each batch's own parameters: the row-count bounds and due
   date from the batch before it); otherwise each batch in its own single pass that counts and
   writes its failing rows (:func:`jobs.quality.metrics.compute_metrics`);
2. runs Great Expectations' own validation of each batch, cached (GX runs a Spark job per
   metric), in one GX session: one result per batch stored in the GX project, the Data Docs
   pages of the new results and the index built once (:class:`jobs.quality.validate.GxSession`),
   and compares GX's counts with govlake's;
3. for each batch in order, appends the results and the scorecard, opens/closes rectification
   tasks (整改), and writes the gate decision (small tables: delta-rs commits, no Spark job);
4. after all batches, makes the Data Docs site browsable offline and, if a batch was held
   (in this run, or the newest batch is still held when a retry finds nothing new), raises
   :class:`jobs.quality.gates.QualityGateError` naming the critical expectations.

Each step writes with a write id derived from (resource, batch(es), suite version), so a retried
task adds nothing twice (failing rows an earlier attempt wrote for a batch are not written
again even when the retry validates a different set of batches); the gate decision is written
last and is what marks a batch validated.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.catalog.loader import load_catalog
from jobs.catalog.models import Resource
from jobs.lake import tables
from jobs.lake.registry import POOL
from jobs.policy import PolicyProfile, load_profile
from jobs.policy.workdays import default_override_paths, get_calendar
from jobs.quality import docs, failing_rows, gates, rectification, results, scorecards
from jobs.quality.metrics import (
    BatchedPassUnsupported,
    BatchMetrics,
    compute_metrics,
    compute_metrics_by_batch,
    latest_authority_rows,
)
from jobs.quality.suites import Suite, load_suite
from jobs.settings import Settings, pinned_clock

log = logging.getLogger(__name__)

#: Pending batches of a resource validated together (one GX session, one metrics pass).
MAX_BATCHES_PER_PASS = 16
#: Rows up to which pending batches share govlake's metrics (two Spark jobs for all of them,
#: the flags computed twice); above it each batch keeps its own single pass.
BATCHED_MAX_ROWS = 200_000
#: Two jobs for all the batches save Spark jobs from three batches on.
MIN_BATCHES_TO_SHARE_METRICS = 3
#: Rows per partition of a batch cached for GX (:func:`_cached_batch`).
ROWS_PER_CACHED_PARTITION = 200_000


def batch_stats(pool_df: DataFrame) -> list[dict]:
    """Per batch of a pool: row count and first ingestion time, oldest first (one small job)."""
    rows = (
        pool_df.groupBy("batch_id")
        .agg(F.count(F.lit(1)).alias("rows"), F.min("ingested_at").alias("ingested_at"))
        .collect()
    )
    return sorted((r.asDict() for r in rows), key=lambda r: (r["ingested_at"], r["batch_id"]))


def run_parameters(suite: Suite, previous: dict | None, settings: Settings) -> dict[str, Any]:
    """Suite parameter values for one batch: ``today``/``now`` (the settings' clock, today in
    the bureau's time zone), and from the previous batch the row-count bounds and the date the
    batch was due (``delivered_by``). Without a previous batch those are left out, and the
    expectations that need them are skipped.
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
            # Spark returns timestamps to Python as naive local times of this process; the
            # bound is given the same way so GX's comparison and govlake's agree.
            params["delivered_by"] = end_of_due_day.astimezone().replace(tzinfo=None)
    return params


def _aware(value: dt.datetime) -> dt.datetime:
    # Naive datetimes collected from Spark are local times of this process.
    return value if value.tzinfo else value.astimezone()


def _authority_rows(
    spark: SparkSession, settings: Settings, suite: Suite, resource_id: str
) -> dict[tuple[str, str], DataFrame]:
    """What the suite's accuracy checks compare with, worked out once for the batches of a pass
    and kept: every batch joins the same rows (a million-row authority ranked once, not once
    per batch)."""
    pools = {}
    for check in suite.accuracy:
        if check.authority in pools or check.authority == resource_id:
            continue
        department, resource = check.authority.split(".", 1)
        uri = POOL.uri(settings, department, resource)
        if tables.table_exists(uri):
            columns = sorted(
                {c.authority_column for c in suite.accuracy if c.authority == check.authority}
                | {c.authority_key[0] for c in suite.accuracy if c.authority == check.authority}
                | {"ingested_at", "batch_id", "row_number"}
            )
            pools[check.authority] = tables.read_table(spark, uri, columns=columns)
    return {
        key: rows.localCheckpoint(eager=True)
        for key, rows in latest_authority_rows(suite.accuracy, pools).items()
    }


def validate_pool_batch(
    resource_id: str,
    settings: Settings,
    *,
    batch_id: str | None = None,
    spark: SparkSession | None = None,
    run_gx: bool = True,
    raise_on_hold: bool = True,
) -> dict:
    """Validates the pool batches of ``resource_id`` that have no quality decision yet.

    Args:
        resource_id: ``"<dept>.<resource>"``.
        settings: effective settings (reports root, policy profile, time zone) and the clock
            the validation time is read from; detected dates and deadlines derive from it.
        batch_id: validate only this batch (again, if it was validated before: a new decision
            row is appended).
        spark: Spark session; the process's session when omitted.
        run_gx: also run GX's own validation (Data Docs, cross-check). Off only for measuring
            govlake's pass alone.
        raise_on_hold: raise :class:`QualityGateError` when a batch is held (the DAG task fails).

    Returns:
        a JSON-serialisable summary: per batch its status, counts, failed expectations, whether
        GX agreed, and seconds per step.

    Raises:
        QualityGateError: after recording everything, when a batch is held.
    """
    from jobs.spark import get_spark

    # One instant for the whole run: write ids, today and the deadlines all agree.
    settings = settings.with_clock(pinned_clock(settings.now()))
    spark = spark or get_spark(settings)
    catalog = load_catalog(settings.schemas_root)
    resource = catalog.resource(resource_id)
    suite = load_suite(resource_id)
    summary: dict[str, Any] = {
        "resource": resource_id,
        "suite_version": suite.version,
        "batches": [],
    }
    pool_uri = POOL.uri(settings, resource.department, resource.resource)
    if not tables.table_exists(pool_uri):
        summary["message"] = "no pool table yet"
        return summary
    pool_df = tables.read_table(spark, pool_uri)
    stats = batch_stats(pool_df)
    decided = gates.latest_statuses(settings, resource.department, resource.resource)
    if batch_id is not None:
        if batch_id not in {s["batch_id"] for s in stats}:
            raise ValueError(f"{resource_id} has no batch {batch_id!r} in its pool")
        pending = [s for s in stats if s["batch_id"] == batch_id]
    else:
        pending = [s for s in stats if s["batch_id"] not in decided]
    profile = load_profile(settings.policy_profile, settings.schemas_root)
    rerun = {b["batch_id"] for b in pending if batch_id is not None and b["batch_id"] in decided}
    for start in range(0, len(pending), MAX_BATCHES_PER_PASS):
        run = _Pass(
            spark,
            settings,
            resource,
            suite,
            pool_df,
            pending[start : start + MAX_BATCHES_PER_PASS],
            rerun,
        )
        summary["batches"] += _validate_batches(run, stats, profile, run_gx)
    if run_gx and summary["batches"]:
        started = time.perf_counter()
        summary["data_docs"] = str(docs.site_dir(settings) / "index.html")
        docs.make_offline(docs.site_dir(settings))
        summary["docs_offline_seconds"] = round(time.perf_counter() - started, 3)
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


def _cached_batch(pool_df: DataFrame, rows: int, batch_id: str) -> DataFrame:
    """One batch of a pool, cached for GX's validation (and govlake's pass before it).

    In partitions of about :data:`ROWS_PER_CACHED_PARTITION` rows: GX runs a Spark job per
    metric, each with a task per partition, and a small batch read in many partitions spent
    most of its validation scheduling tasks over a few rows each (GX's validation of three
    resources' 15 batches at a million persons: 59.5 s in as many partitions as read, 42.0 s so).
    """
    partitions = max(1, math.ceil(rows / ROWS_PER_CACHED_PARTITION))
    batch_df = (
        pool_df.where(F.col("batch_id") == batch_id)
        .coalesce(partitions)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    batch_df.count()
    return batch_df


class _Stopwatch:
    """Seconds per step and batch; a step shared by several batches is shared out evenly."""

    def __init__(self, batch_ids: list[str]) -> None:
        self.seconds: dict[str, dict[str, float]] = {b: {} for b in batch_ids}
        self._started = time.perf_counter()

    def lap(self, batch_ids: list[str], step: str) -> None:
        elapsed = time.perf_counter() - self._started
        for b in batch_ids:
            self.seconds[b][step] = round(elapsed / len(batch_ids), 3)
        self._started = time.perf_counter()


@dataclass
class _Pass:
    """Up to :data:`MAX_BATCHES_PER_PASS` pending batches of one resource, validated together,
    and what every step of the pass reads: each batch's suite parameters, the rows accuracy
    checks compare with, and which batches already have failing rows (a retried task)."""

    spark: SparkSession
    settings: Settings
    resource: Resource
    suite: Suite
    pool_df: DataFrame
    batches: list[dict]
    rerun: set[str]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    authority: dict[tuple[str, str], DataFrame] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)
    watch: _Stopwatch = field(init=False)

    def __post_init__(self) -> None:
        self.watch = _Stopwatch(self.ids)

    @property
    def ids(self) -> list[str]:
        return [b["batch_id"] for b in self.batches]

    def rows(self, batch_id: str) -> int:
        return next(b["rows"] for b in self.batches if b["batch_id"] == batch_id)

    def write_key(self, *batch_ids: str) -> str:
        """Write ids make a retried task idempotent; an explicit re-validation is a new run."""
        key = f"{self.resource.id}/{'+'.join(batch_ids)}/{self.suite.version}"
        rerun = bool(self.rerun & set(batch_ids))
        return key + (f"/rerun/{self.settings.now().isoformat()}" if rerun else "")

    def failing_rows_writer(self, *batch_ids: str) -> Any:
        return failing_rows.failing_rows_writer(
            self.settings,
            self.suite.version,
            self.settings.now(),
            "quality_failing_rows/" + self.write_key(*batch_ids),
            exclude_batches=set(batch_ids) & self.written,
        )


def _validate_batches(
    run: _Pass, stats: list[dict], profile: PolicyProfile, run_gx: bool
) -> list[dict]:
    """Validates the batches of ``run`` (oldest first): govlake's metrics in one Spark pass for
    all of them, GX's validation of each in one GX session, then each batch's results,
    scorecard, tasks and decision, in order."""
    _prepare(run, stats)
    cached: dict[str, DataFrame] = {}
    try:
        metrics = _shared_metrics(run)
        if metrics is None:
            metrics = _metrics_batch_by_batch(run, cached if run_gx else None)
        gx_runs, disagreements = _gx_validation(run, metrics, cached) if run_gx else ({}, {})
    finally:
        for batch_df in cached.values():
            batch_df.unpersist()
    return _record(run, metrics, gx_runs, disagreements, profile)


def _prepare(run: _Pass, stats: list[dict]) -> None:
    """Each batch's parameters (from the batch before it in the pool), the authority rows, and
    the batches an earlier, failed attempt already wrote failing rows for."""
    for batch in run.batches:
        key = (batch["ingested_at"], batch["batch_id"])
        earlier = [s for s in stats if (s["ingested_at"], s["batch_id"]) < key]
        previous = earlier[-1] if earlier else None
        run.params[batch["batch_id"]] = run_parameters(run.suite, previous, run.settings)
    run.authority = _authority_rows(run.spark, run.settings, run.suite, run.resource.id)
    run.written = failing_rows.batches_with_rows(
        run.settings,
        run.resource.department,
        run.resource.resource,
        run.suite.version,
        [b for b in run.ids if b not in run.rerun],
    )
    run.watch.lap(run.ids, "prepare")


def _shared_metrics(run: _Pass) -> dict[str, BatchMetrics] | None:
    """govlake's metrics of every batch in two Spark jobs, when there are enough small batches
    for that to pay; None when each batch gets its own pass."""
    if len(run.batches) < MIN_BATCHES_TO_SHARE_METRICS:
        return None
    if sum(b["rows"] for b in run.batches) > BATCHED_MAX_ROWS:
        return None
    try:
        metrics = compute_metrics_by_batch(
            run.pool_df,
            run.suite,
            run.params,
            run.authority,
            write_failing_rows=run.failing_rows_writer(*run.ids),
        )
    except BatchedPassUnsupported as why:
        log.info("%s: validating batch by batch (%s)", run.resource.id, why)
        return None
    run.watch.lap(run.ids, "metrics_and_failing_rows")
    return metrics


def _metrics_batch_by_batch(
    run: _Pass, cached: dict[str, DataFrame] | None
) -> dict[str, BatchMetrics]:
    """govlake's metrics of each batch in its own single pass. With ``cached`` (GX validates
    next), each batch is cached first and kept there for GX: GX runs a Spark job per metric,
    and govlake's pass reads the same cache. govlake alone reads the batch once, uncached."""
    metrics = {}
    for batch_id in run.ids:
        if cached is None:
            batch_df = run.pool_df.where(F.col("batch_id") == batch_id)
        else:
            batch_df = cached[batch_id] = _cached_batch(run.pool_df, run.rows(batch_id), batch_id)
            run.watch.lap([batch_id], "read_and_cache")
        metrics[batch_id] = compute_metrics(
            batch_df,
            run.suite,
            run.params[batch_id],
            run.authority,
            write_failing_rows=run.failing_rows_writer(batch_id),
        )
        run.watch.lap([batch_id], "metrics_and_failing_rows")
    return metrics


def _gx_validation(
    run: _Pass, metrics: dict[str, BatchMetrics], cached: dict[str, DataFrame]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """GX's own validation of each batch in one GX session (results stored in the GX project,
    Data Docs built once), and per batch the expectations on which GX disagrees with govlake.
    Takes each batch from ``cached`` (or caches it) and releases it once validated."""
    from jobs.quality.validate import agreement, gx_session

    gx_runs: dict[str, Any] = {}
    disagreements: dict[str, list[str]] = {}
    with gx_session(run.settings, run.suite) as gx:
        for batch_id in run.ids:
            batch_df = cached.pop(batch_id, None)
            if batch_df is None:
                batch_df = _cached_batch(run.pool_df, run.rows(batch_id), batch_id)
                run.watch.lap([batch_id], "read_and_cache")
            outcomes = metrics[batch_id].outcomes
            try:
                gx_runs[batch_id] = gx.validate(
                    batch_df,
                    run.params[batch_id],
                    run_name=batch_id,
                    skip=[n for n, o in outcomes.items() if o.status == "skipped"],
                )
            finally:
                batch_df.unpersist()
            run.watch.lap([batch_id], "gx_validation")
            gx_results = gx_runs[batch_id].results
            disagreements[batch_id] = [
                n for n, o in outcomes.items() if agreement(o, gx_results.get(n)) is False
            ]
            if disagreements[batch_id]:
                log.error(
                    "%s batch %s: GX disagrees with govlake on %s",
                    run.resource.id,
                    batch_id,
                    disagreements[batch_id],
                )
    run.watch.lap(run.ids, "gx_data_docs")
    return gx_runs, disagreements


def _record(
    run: _Pass,
    metrics: dict[str, BatchMetrics],
    gx_runs: dict[str, Any],
    disagreements: dict[str, list[str]],
    profile: PolicyProfile,
) -> list[dict]:
    """For each batch in order: results, scorecard, rectification tasks, then the gate
    decision (written last: it is what marks a batch validated); one summary per batch."""
    settings, suite, rid = run.settings, run.suite, run.resource.id
    department, name = run.resource.department, run.resource.resource
    now = settings.now()
    tasks = rectification.read_tasks(settings, department, name)
    calendar = get_calendar(default_override_paths(settings))
    out = []
    for batch_id in run.ids:
        batch_metrics = metrics[batch_id]
        outcomes = list(batch_metrics.outcomes.values())
        decision = gates.decide(rid, batch_id, outcomes)
        write_key = run.write_key(batch_id)
        gx_run = gx_runs.get(batch_id)
        results.append_results(
            settings,
            results.result_rows(
                department,
                name,
                batch_id,
                suite,
                batch_metrics.outcomes,
                gx_run.results if gx_run else None,
                now,
            ),
            "quality_results/" + write_key,
        )
        scorecards.append_scorecards(
            settings,
            [
                scorecards.scorecard_row(
                    department,
                    name,
                    batch_id,
                    batch_metrics.row_count,
                    outcomes,
                    decision.status,
                    suite.version,
                    now,
                )
            ],
            "quality_scorecards/" + write_key,
        )
        existing = tasks
        tasks = rectification.plan_tasks(
            existing, rid, batch_id, outcomes, settings.today(), now, profile, calendar
        )
        if tasks or existing:
            rectification.write_tasks(settings, rid, tasks)
        run.watch.lap([batch_id], "record")
        gates.append_decisions(
            settings,
            [
                gates.decision_row(
                    department,
                    name,
                    batch_id,
                    decision,
                    batch_metrics.row_count,
                    batch_metrics.failing_row_count,
                    suite.version,
                    now,
                )
            ],
            "quality_batches/" + write_key,
        )
        run.watch.lap([batch_id], "decision")
        if decision.status == "held":
            log.error(decision.message)
        out.append(
            {
                "batch_id": batch_id,
                "status": decision.status,
                "message": decision.message,
                "rows": batch_metrics.row_count,
                "failing_rows": batch_metrics.failing_row_count,
                "failed_critical": list(decision.failed_critical),
                "failed_warning": list(decision.failed_warning),
                "skipped": [n for n, o in batch_metrics.outcomes.items() if o.status == "skipped"],
                "gx_success": gx_run.success if gx_run else None,
                "gx_disagreements": disagreements.get(batch_id, []),
                "open_tasks": sum(1 for t in tasks if t["status"] in rectification.UNRESOLVED),
                "seconds": run.watch.seconds[batch_id],
            }
        )
    return out
