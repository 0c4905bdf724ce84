"""The failing-rows table: every row of a batch that failed anything, not a sample.

``governance/quality_failing_rows``: one row per (batch, pool row) that failed at least one
expectation or accuracy check: the row's lineage (department, resource, batch, source file,
file hash, row number, record hash, ingested at), its key (``record_key``, key fields joined
with ``|``; NULL when the key is missing), the names of every expectation it failed
(``failed_expectations``), the suite version and when it was validated.

The rows are written during the same Spark pass that gives the counts
(:func:`jobs.quality.metrics.compute_metrics`), so for every expectation the number of rows
listing it equals its unexpected count, which equals GX's (asserted by the tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.lake import ledger, tables
from jobs.lake.registry import QUALITY_FAILING_ROWS
from jobs.settings import Settings


def failing_rows_writer(
    settings: Settings,
    suite_version: str,
    validated_at: dt.datetime,
    write_id: str,
    exclude_batches: Collection[str] = (),
) -> Callable[[DataFrame], tables.WriteResult]:
    """A writer for :func:`jobs.quality.metrics.compute_metrics` (and ``…_by_batch``): appends
    the failing rows during the metrics pass (idempotent per ``write_id``), leaving out the
    rows of ``exclude_batches`` (their rows were written by an earlier attempt)."""

    def write(failing_df: DataFrame) -> tables.WriteResult:
        if exclude_batches:
            failing_df = failing_df.where(~F.col("batch_id").isin(list(exclude_batches)))
        df = failing_df.withColumn("suite_version", F.lit(suite_version)).withColumn(
            "validated_at", F.lit(validated_at).cast("timestamp")
        )
        return tables.write_table(
            df,
            QUALITY_FAILING_ROWS.uri(settings),
            mode="append",
            write_id=write_id,
        )

    return write


def batches_with_rows(
    settings: Settings,
    department: str,
    resource: str,
    suite_version: str,
    batch_ids: Collection[str],
) -> set[str]:
    """Which of ``batch_ids`` already have failing rows of this suite version (delta-rs read).

    A batch has no decision until its last step, so a task retried after a failure finds its
    failing rows already written; with the same set of pending batches the write id says so,
    but a retry may validate a different set (some batches were decided meanwhile) under a
    different write id, and must not write those rows twice.
    """
    if not batch_ids:
        return set()
    rows = ledger.read_rows(
        QUALITY_FAILING_ROWS.uri(settings),
        filters=[
            ("department", "=", department),
            ("resource", "=", resource),
            ("suite_version", "=", suite_version),
            ("batch_id", "in", sorted(batch_ids)),
        ],
        columns=["batch_id"],
    )
    return {r["batch_id"] for r in rows}
