"""Row accounting: for every delivered file, every row is somewhere, and we can say where.

Per file of a batch (DESIGN §2, "Nothing is lost"):

    file rows   = bronze rows                    (a readable file)
                  or 0 bronze rows and the file in quarantine whole (an unreadable file)
                  or 0 bronze rows and the file skipped as a repeat delivery (same bytes)
    bronze rows = pool rows + quarantined rows + duplicate rows + held rows

Grain of ``governance/row_accounting``: one row per (resource, batch, file).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

ACCOUNTING_KEYS = ("department", "resource", "batch_id", "source_file")


class RowAccountingError(RuntimeError):
    """The numbers do not add up for at least one file: something was lost or counted twice."""


def with_row_accounting(files_df: DataFrame, outcomes_df: DataFrame) -> DataFrame:
    """Joins the file log with the latest pool outcome per file and checks both identities.

    Args:
        files_df: ``governance/ingest_files`` rows (file_rows, bronze_rows, status).
        outcomes_df: ``governance/pool_batches`` rows (pool/quarantined/duplicate/held rows),
            possibly several per file when a held batch was later promoted: the latest counts.

    Returns:
        One row per file with every count, ``is_balanced`` and a human ``imbalance`` text.
    """
    newest_first = Window.partitionBy(*ACCOUNTING_KEYS).orderBy(F.col("decided_at").desc())
    latest = outcomes_df.withColumn("_rank", F.row_number().over(newest_first)).filter("_rank = 1")
    joined = files_df.join(
        latest.select(
            *ACCOUNTING_KEYS,
            "outcome",
            "pool_rows",
            "quarantined_rows",
            "duplicate_rows",
            "held_rows",
            "message",
        ),
        list(ACCOUNTING_KEYS),
        "left",
    )
    promoted = F.coalesce(
        F.col("pool_rows")
        + F.col("quarantined_rows")
        + F.col("duplicate_rows")
        + F.col("held_rows"),
        F.lit(None),
    )
    read_ok = (
        F.when(F.col("status") == "ingested", F.col("file_rows") == F.col("bronze_rows"))
        .when(F.col("status").isin("quarantined", "skipped_duplicate"), F.col("bronze_rows") == 0)
        .otherwise(F.lit(False))
    )
    promote_ok = F.when(F.col("status") != "ingested", F.lit(True)).otherwise(
        F.col("outcome").isNotNull() & (promoted == F.col("bronze_rows"))
    )
    imbalance = (
        F.when(
            ~read_ok,
            F.format_string(
                "file rows %s ≠ bronze rows %s", F.col("file_rows"), F.col("bronze_rows")
            ),
        )
        .when(
            F.col("outcome").isNull() & (F.col("status") == "ingested"),
            F.lit("not yet promoted to the pool"),
        )
        .when(
            ~promote_ok,
            F.format_string(
                "bronze rows %s ≠ pool %s + quarantine %s + duplicates %s + held %s",
                F.col("bronze_rows"),
                F.col("pool_rows"),
                F.col("quarantined_rows"),
                F.col("duplicate_rows"),
                F.col("held_rows"),
            ),
        )
    )
    return joined.withColumn("is_balanced", read_ok & promote_ok).withColumn("imbalance", imbalance)
