"""The Spark runner of a promotion (:mod:`jobs.ingest.promote`): for pending bronze over the
in-process limit, or a cluster, where Spark distributes the work.

The standardisation is the Arrow function the in-process runner calls, run by Spark inside
``mapInArrow`` on each task's record batches; the duplicate search (a window over the content
hash), the dispositions and the counts are DataFrame operations with the same meaning as the
in-process runner's (:func:`jobs.ingest.pool.with_duplicate_flag`); pool and quarantine go
through the Delta bridge with the promotion's write ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark import StorageLevel
from pyspark.sql import functions as F

from jobs.ingest import pool, standardize_arrow
from jobs.ingest.promote import versions_predicate
from jobs.lake import tables
from jobs.lake.registry import BRONZE, POOL, QUARANTINE

if TYPE_CHECKING:
    from jobs.ingest.promote import Promotion


def promote(promotion: Promotion) -> dict[tuple[str, str], dict]:
    """Standardises the promotion's bronze rows on Spark and appends its pool and quarantine
    rows; returns the counts per (batch, file)."""
    ctx = promotion.ctx
    spark = ctx.spark
    bronze_df = tables.read_table(spark, ctx.uri(BRONZE)).where(
        F.col("batch_id").isin(promotion.batch_ids) & F.col("file_hash").isin(promotion.file_hashes)
    )
    standardized = standardize_arrow.standardized_df(bronze_df, ctx.resource, ctx.catalog)
    pool_uri = ctx.uri(POOL)
    # Rows of these very files already in the pool were committed by an attempt that stopped
    # before recording its outcome: they are not earlier rows, or the re-run would count every
    # row of the batch as a duplicate of itself. Left out, the re-run decides exactly as that
    # attempt did, so its pool write (same write id) is the no-op that makes it exactly-once.
    earlier = (
        tables.read_table(
            spark, pool_uri, columns=["content_hash", "batch_id", "source_file", "file_hash"]
        )
        .where(~F.col("file_hash").isin(promotion.file_hashes))
        .where(~F.expr(versions_predicate(promotion.replaced)))
        .select("content_hash")
        if tables.table_exists(pool_uri)
        else None
    )
    # The standardisation is by far the most expensive step: computed once, kept, then counted
    # and written from the kept rows.
    staged = standardized.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        duplicate_keys = spark.createDataFrame(pool.duplicate_row_keys(staged, earlier).toArrow())
        disposition_df = pool.with_disposition(staged, duplicate_keys)
        counted = disposition_df.groupBy("batch_id", "source_file").agg(
            F.sum((F.col("disposition") == "pool").cast("long")).alias("pool_rows"),
            F.sum((F.col("disposition") == "quarantine").cast("long")).alias("quarantined_rows"),
            F.sum((F.col("disposition") == "duplicate").cast("long")).alias("duplicate_rows"),
            F.sum((F.size("warnings") > 0).cast("long")).alias("warning_rows"),
        )
        counts = {(r["batch_id"], r["source_file"]): r.asDict() for r in counted.collect()}
        pool_rows_df = (
            disposition_df.filter("disposition = 'pool'")
            .withColumn("promoted_at", F.lit(ctx.now).cast("timestamp"))
            .select(*pool.pool_schema(ctx.resource).fieldNames())
        )
        tables.write_table(
            pool_rows_df,
            pool_uri,
            mode="append",
            write_id=promotion.append_id("pool"),
            merge_schema=True,  # a field added by a catalog revision, as on Arrow
        )
        quarantined = pool.filter_quarantined(
            disposition_df.filter("disposition = 'quarantine'")
        ).withColumn("quarantined_at", F.lit(ctx.now).cast("timestamp"))
        tables.write_table(
            quarantined,
            ctx.uri(QUARANTINE),
            mode="append",
            write_id=promotion.append_id("quarantine"),
        )
    finally:
        staged.unpersist()
    return counts
