"""Benchmark of quality validation: a full suite on a pool batch, on each of GX's engines.

A ``gaj.hukou`` pool batch is generated with Spark expressions (valid-looking IDs, a few
percent of bad rows: missing names, unknown codes, duplicate keys, birth dates that disagree
with the ID), written to a temporary lake, and validated with
:func:`jobs.quality.pipeline.validate_pool_batch`, where Great Expectations computes every
expectation once and govlake reads its outcomes, scorecard, gate and failing rows from GX's
results:

* ``arrow_*``: the batch read with delta-rs and validated on GX's pandas engine in this process
  (the path of every batch up to ``Settings.arrow_max_rows`` rows), no Spark job;
* ``spark_*``: the same batch validated again on GX's Spark engine (the path of larger
  batches), with the number of Spark jobs it ran; ``engines_agree`` says whether both recorded
  the same results (GX's own columns of the type checks aside: its pandas engine does not run
  them).

``*_cpu_s`` is the CPU time of the driver, the JVM and its workers during the step: on a machine
shared with other work, ``cpu_s / cores`` estimates the wall time the step takes with the cores
to itself. ``--quick`` measures 100,000 rows. Run alone with
``python -m bench.bench_quality [--quick]``.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from jobs.lake import ledger, tables
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


def _validate(settings: Settings, spark: Any) -> tuple[dict, float, float, int]:
    """One validation of the bench batch: its summary, seconds, CPU seconds and Spark jobs."""
    context = spark.sparkContext
    context.setJobGroup("bench_quality", "bench_quality")
    jobs_before = set(context.statusTracker().getJobIdsForGroup("bench_quality"))
    started, cpu = time.perf_counter(), cpu_seconds()
    summary = validate_pool_batch(
        "gaj.hukou",
        settings.with_clock(pinned_clock(INGESTED_AT)),
        batch_id="bench",
        spark=spark,
        raise_on_hold=False,
    )
    seconds, cpu_s = time.perf_counter() - started, cpu_seconds() - cpu
    jobs = set(context.statusTracker().getJobIdsForGroup("bench_quality")) - jobs_before
    return summary["batches"][0], seconds, cpu_s, len(jobs)


def _results(settings: Settings) -> dict[str, tuple]:
    """Per expectation, what the validation recorded (GX's own columns aside)."""
    rows = ledger.read_rows(table_uri(settings, "governance", "quality_results"))
    return {
        r["expectation"]: (r["status"], r["considered"], r["unexpected"], r["observed"])
        for r in rows
    }


def _measure(base: Settings, spark: Any, size: int, arrow_max_rows: int) -> dict:
    """Writes the bench batch to a fresh lake and validates it once."""
    with tempfile.TemporaryDirectory(prefix="govlake-bench-quality-") as tmp:
        settings = dataclasses.replace(settings_under(base, tmp), arrow_max_rows=arrow_max_rows)
        uri = table_uri(settings, "pool", "gaj", "hukou")
        started = time.perf_counter()
        tables.write_table(hukou_batch(spark, size, "bench"), uri, mode="append")
        write_s = time.perf_counter() - started
        batch, seconds, cpu_s, jobs = _validate(settings, spark)
        return {
            "write_s": write_s,
            "batch": batch,
            "seconds": seconds,
            "cpu_s": cpu_s,
            "jobs": jobs,
            "results": _results(settings),
        }


def run(args: argparse.Namespace, base: Settings) -> list[dict]:
    sizes = QUICK_SIZES if getattr(args, "quick", False) else FULL_SIZES
    spark = get_spark(base, app_name="govlake-bench-quality")
    rows_out = []
    for size in sizes:
        arrow = _measure(base, spark, size, max(size, base.arrow_max_rows))
        # One row is the Arrow path's limit here: the batch is validated on Spark.
        on_spark = _measure(base, spark, size, 1)
        rows_out.append(
            {
                "rows": size,
                "write_pool_s": round(arrow["write_s"], 2),
                "arrow_engine": arrow["batch"]["engine"],
                "arrow_s": round(arrow["seconds"], 2),
                "arrow_cpu_s": round(arrow["cpu_s"], 2),
                "arrow_spark_jobs": arrow["jobs"],
                "arrow_gx_s": arrow["batch"]["seconds"].get("gx_validation"),
                "spark_engine": on_spark["batch"]["engine"],
                "spark_s": round(on_spark["seconds"], 2),
                "spark_cpu_s": round(on_spark["cpu_s"], 2),
                "spark_jobs": on_spark["jobs"],
                "spark_gx_s": on_spark["batch"]["seconds"].get("gx_validation"),
                "failing_rows": arrow["batch"]["failing_rows"],
                "status": arrow["batch"]["status"],
                "engines_agree": arrow["results"] == on_spark["results"]
                and arrow["batch"]["failing_rows"] == on_spark["batch"]["failing_rows"],
                "cores": os.cpu_count(),
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
