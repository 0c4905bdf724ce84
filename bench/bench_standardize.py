"""Bronze → standardised rows, µs per row: the Arrow rules in-process against the Spark job.

The synthetic city's ``gaj.hukou`` export (all its batches) is read into bronze rows in memory,
then standardised three ways, each to the end of its result (nothing written):

- ``arrow``: :func:`jobs.ingest.standardize_arrow.standardized_batch` in this process;
- ``spark_columns``: ``pool.with_standardized_fields`` + ``with_content_hash`` (the expressions
  the pool job runs today) over the bronze rows read from Parquet;
- ``spark_map_in_arrow``: the same Arrow functions inside Spark's ``mapInArrow``.

``--quick`` runs a 20,000-person city; the full run 1,000,000 persons (about 1M hukou rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import functions as F

from jobs.catalog.loader import load_catalog
from jobs.ingest import pool
from jobs.ingest.bronze import bronze_table
from jobs.ingest.landing import LandedFile
from jobs.ingest.readers import read_file
from jobs.ingest.standardize_arrow import standardized_batch, standardized_df
from jobs.settings import Settings
from jobs.spark import get_spark
from jobs.synth.config import load_config
from jobs.synth.generate import generate

QUICK = {"persons": 20_000}
FULL = {"persons": 1_000_000}
RESOURCE = "gaj.hukou"


def hukou_bronze(landing: Path, catalog, ingested_at: dt.datetime) -> pa.Table:
    """Every delivered hukou file under ``landing`` as bronze rows (``bronze.BRONZE_SCHEMA``)."""
    resource = catalog.resource(RESOURCE)
    tables = []
    for path in sorted((landing / resource.department / resource.resource).glob("*/*")):
        if path.suffix.lower() != f".{resource.delivery.format}":
            continue
        landed = LandedFile(resource.department, resource.resource, path.parent.name, path)
        raw = read_file(path, resource.delivery.format)
        tables.append(bronze_table(raw, landed, path.name, ingested_at))
    return pa.concat_tables(tables).combine_chunks()


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def measure(bronze: pa.Table, catalog, settings: Settings, workdir: Path) -> list[dict]:
    """Seconds and µs per row of each runner over the same bronze rows."""
    resource = catalog.resource(RESOURCE)
    rows = bronze.num_rows
    timezone = settings.timezone
    arrow_s = _timed(lambda: standardized_batch(bronze, resource, catalog, timezone=timezone))
    pq.write_table(bronze, workdir / "bronze.parquet")
    spark = get_spark(settings, app_name="govlake-bench-standardize")
    bronze_df = spark.read.parquet(str(workdir / "bronze.parquet"))

    def spark_columns():
        standardized = pool.with_content_hash(
            pool.with_standardized_fields(bronze_df, resource, catalog), resource
        ).withColumn("raw", F.when(F.size("problems") > 0, F.col("raw")))
        standardized.write.format("noop").mode("overwrite").save()

    def spark_map_in_arrow():
        standardized = standardized_df(bronze_df, resource, catalog)
        standardized.write.format("noop").mode("overwrite").save()

    columns_s = _timed(spark_columns)
    map_in_arrow_s = _timed(spark_map_in_arrow)
    return [
        {"case": f"{RESOURCE} standardise, {rows:,} rows", "runner": runner, "rows": rows}
        | {"s": round(seconds, 2), "us_per_row": round(seconds / rows * 1e6, 2)}
        for runner, seconds in (
            ("arrow", arrow_s),
            ("spark_columns", columns_s),
            ("spark_map_in_arrow", map_in_arrow_s),
        )
    ]


def run(args: argparse.Namespace, settings: Settings) -> list[dict]:
    persons = (QUICK if args.quick else FULL)["persons"]
    root = Path(tempfile.mkdtemp(prefix="govlake-bench-standardize-"))
    try:
        generate(load_config(None, persons=persons, seed=1), root / "landing")
        catalog = load_catalog(settings.schemas_root)
        bronze = hukou_bronze(root / "landing", catalog, settings.now())
        return measure(bronze, catalog, settings, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
