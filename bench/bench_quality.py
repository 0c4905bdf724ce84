"""Benchmark of quality validation: a full suite on a pool batch of 1,000,000 rows.

A ``gaj.hukou`` pool batch is generated with Spark expressions (valid-looking IDs, a few
percent of bad rows: missing names, unknown codes, duplicate keys, birth dates that disagree
with the ID), written to a temporary lake, and validated with
:func:`jobs.quality.pipeline.validate_pool_batch`:

* ``govlake_s``: the whole validation without GX: every expectation in one Spark pass over the
  batch that also writes every failing row (``metrics_and_failing_rows_s``), then results,
  scorecard, tasks and the gate decision recorded;
* with GX, run afterwards on the same batch: the batch is cached first (``gx_cache_s``: GX runs a
  Spark job per metric and would otherwise re-read the table each time; govlake's pass then
  reads the same cache), and ``gx_s`` is Great Expectations' own validation (BASIC result
  format, Data Docs updated); ``gx_agrees`` says whether GX's unexpected counts and verdicts
  matched govlake's for every expectation.

The issue's target is the full suite on 1M rows within 30 s on 2 cores: that is ``govlake_s``.
GX's figure is reported separately because it runs one Spark job per metric. ``*_cpu_s`` is the
CPU time of the driver, the JVM and its workers during the step: on a machine shared with other
work, ``cpu_s / cores`` estimates the wall time the step takes with the cores to itself.

``--quick`` measures 100,000 rows. Run alone with ``python -m bench.bench_quality [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from typing import Any

import psutil
from pyspark.sql import functions as F

from bench.common import settings_under
from jobs.catalog.loader import load_catalog
from jobs.ingest.pool import pool_schema
from jobs.lake import tables
from jobs.lake.paths import table_uri
from jobs.quality.pipeline import validate_pool_batch
from jobs.settings import Settings, pinned_clock
from jobs.spark import get_spark

QUICK_SIZES = (100_000,)
FULL_SIZES = (1_000_000,)
INGESTED_AT = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)


def hukou_batch(spark: Any, rows: int, batch_id: str) -> Any:
    """A pool-shaped ``gaj.hukou`` batch with a known share of bad rows (no Python UDFs)."""
    schema = pool_schema(load_catalog(Settings.from_env().schemas_root).resource("gaj.hukou"))
    n = F.col("id")
    # Every 500th row repeats the previous row's resident: 0.2% duplicate keys.
    person = F.when((n % 500 == 0) & (n > 0), n - 1).otherwise(n)
    born = F.date_add(F.lit(dt.date(1940, 1, 1)), ((person * 7919) % 25000).cast("int"))
    # 25,000 birth dates x 1,000 sequence numbers: 25 million distinct residents.
    sequence = (F.floor(person / 25000) % 1000).cast("long")
    first_17 = F.concat(
        F.lit("110105"), F.date_format(born, "yyyyMMdd"), F.lpad(sequence.cast("string"), 3, "0")
    )
    person_id = F.concat(
        first_17, F.substring(F.lit("10X98765432"), ((person % 11) + 1).cast("int"), 1)
    )
    id_gender = F.when(sequence % 2 == 1, F.lit("1")).otherwise(F.lit("2"))
    values = {
        "department": F.lit("gaj"),
        "resource": F.lit("hukou"),
        "batch_id": F.lit(batch_id),
        "source_file": F.concat(F.lit("part-"), (n % 4).cast("string"), F.lit(".csv")),
        "file_hash": F.lit("bench"),
        "row_number": n + 1,
        "record_hash": F.sha2(n.cast("string"), 256),
        "ingested_at": F.lit(INGESTED_AT),
        "person_id": person_id,
        "person_id_birth_date": born,
        "person_id_gender": id_gender,
        "person_id_region": F.lit("110105"),
        "full_name": F.when(n % 200 == 7, None).otherwise(F.lit("张三")),  # 0.5% missing
        "gender": F.when(n % 100 == 3, F.lit("7"))  # 1% unknown code
        .when(n % 200 == 5, F.when(id_gender == "1", "2").otherwise("1"))  # 0.5% ≠ ID
        .otherwise(id_gender),
        "birth_date": F.when(n % 333 == 1, F.date_add(born, 1)).otherwise(born),  # 0.3% ≠ ID
        "ethnicity": F.lit("01"),
        "household_id": F.concat(F.lit("H"), (person % 100000).cast("string")),
        "domicile_address": F.lit("北京市西城区金融街1号"),
        "domicile_region": F.lit("110102"),
        "status": F.when(n % 500 == 11, F.lit("bogus")).otherwise(F.lit("normal")),  # 0.2%
        "registered_on": F.date_add(born, 30),
        "content_hash": F.sha2(F.concat(F.lit("c"), n.cast("string")), 256),
        "promoted_at": F.lit(INGESTED_AT),
    }
    return spark.range(rows).select(
        *[
            (values[f.name] if f.name in values else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in schema.fields
        ]
    )


def cpu_seconds() -> float:
    """CPU time (user + system) used so far by this process and its children (the Spark JVM
    and its Python workers). On a shared machine wall time depends on the neighbours; CPU time
    divided by the cores is what the work would take on an idle machine of that size."""
    total = 0.0
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:  # a worker ended between listing and reading it
            continue
        total += times.user + times.system
    return total


def run(args: argparse.Namespace, base: Settings) -> list[dict]:
    sizes = QUICK_SIZES if getattr(args, "quick", False) else FULL_SIZES
    spark = get_spark(base, app_name="govlake-bench-quality")
    rows_out = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="govlake-bench-quality-") as tmp:
            settings = settings_under(base, tmp)
            uri = table_uri(settings, "pool", "gaj", "hukou")
            started = time.perf_counter()
            tables.write_table(hukou_batch(spark, size, "bench"), uri, mode="append")
            write_s = time.perf_counter() - started

            started, cpu = time.perf_counter(), cpu_seconds()
            plain = validate_pool_batch(
                "gaj.hukou",
                settings.with_clock(pinned_clock(INGESTED_AT)),
                spark=spark,
                run_gx=False,
                raise_on_hold=False,
            )
            govlake_s = time.perf_counter() - started
            govlake_cpu_s = cpu_seconds() - cpu
            (batch,) = plain["batches"]

            started, cpu = time.perf_counter(), cpu_seconds()
            with_gx = validate_pool_batch(
                "gaj.hukou",
                settings.with_clock(pinned_clock(INGESTED_AT)),
                batch_id="bench",
                spark=spark,
                run_gx=True,
                raise_on_hold=False,
            )
            total_gx_s = time.perf_counter() - started
            with_gx_cpu_s = cpu_seconds() - cpu
            (gx_batch,) = with_gx["batches"]
            rows_out.append(
                {
                    "rows": size,
                    "write_pool_s": round(write_s, 2),
                    "govlake_s": round(govlake_s, 2),
                    "govlake_cpu_s": round(govlake_cpu_s, 2),
                    "metrics_and_failing_rows_s": batch["seconds"].get("metrics_and_failing_rows"),
                    "record_s": batch["seconds"].get("record"),
                    "failing_rows": batch["failing_rows"],
                    "status": batch["status"],
                    "gx_cache_s": gx_batch["seconds"].get("read_and_cache"),
                    "gx_s": gx_batch["seconds"].get("gx_validation"),
                    "with_gx_total_s": round(total_gx_s, 2),
                    "with_gx_cpu_s": round(with_gx_cpu_s, 2),
                    "cores": os.cpu_count(),
                    "gx_agrees": not gx_batch["gx_disagreements"],
                }
            )
    return rows_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_quality", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="100,000 rows only")
    parser.add_argument("--rows", type=int, action="append", help="measure these sizes instead")
    args = parser.parse_args(argv)
    if args.rows:
        global FULL_SIZES
        FULL_SIZES = tuple(args.rows)
        args.quick = False
    for row in run(args, Settings.from_env()):
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
