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
from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.lake import tables
from jobs.lake.paths import table_uri
from jobs.settings import Settings

QUALITY_FAILING_ROWS = "quality_failing_rows"


def failing_rows_writer(
    settings: Settings, suite_version: str, validated_at: dt.datetime, write_id: str
) -> Callable[[DataFrame], tables.WriteResult]:
    """A writer for :func:`jobs.quality.metrics.compute_metrics`: appends the failing rows of
    one batch during the metrics pass (idempotent per ``write_id``)."""

    def write(failing_df: DataFrame) -> tables.WriteResult:
        df = failing_df.withColumn("suite_version", F.lit(suite_version)).withColumn(
            "validated_at", F.lit(validated_at).cast("timestamp")
        )
        return tables.write_table(
            df,
            table_uri(settings, "governance", QUALITY_FAILING_ROWS),
            mode="append",
            write_id=write_id,
        )

    return write
