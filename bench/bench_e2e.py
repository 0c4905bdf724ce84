"""Benchmark of the main job end to end: a synthetic county from landing to reports.

For each size a county is generated into a temporary folder, then every stage runs as its DAG
task runs it (the job functions, without Airflow's scheduling around them), one after another,
on one Spark session:

* ``synth_s``: generating the deliveries (not part of the pipeline; shown for scale);
* ``ingest_s``: every catalog resource landing → bronze → pool with row accounting;
* ``quality_s``: every pool's new batches validated (govlake's one-pass metrics, failing rows,
  scorecards, GX's own validation and Data Docs);
* ``bases_s``: the base databases, conflicts and verification tickets;
* ``share_s``: a granted population share refreshed, and the open data published;
* ``reports_s``: the static reports.

``pipeline_s`` is the sum of the pipeline stages (synth excluded), ``rows_per_s`` the delivered
rows over it, and ``peak_tree_mb`` the resident memory of this process and its children (the
Spark JVM and Python workers) at their highest. With two sizes the last row gives the scaling
ratio: time of the larger over time of the smaller, against the ratio of their sizes.

Sizes: 100,000 persons (a county) and 1,000,000 (a city); ``--quick`` 20,000. ``--persons N``
measures other sizes. Run alone with ``python -m bench --only e2e``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.bench_bridge import PeakMemory
from bench.common import settings_under
from jobs.catalog.loader import load_catalog
from jobs.ingest import pipeline
from jobs.integrate.build import build_bases
from jobs.quality.pipeline import validate_pool_batch
from jobs.reports.build import build_reports
from jobs.settings import Settings
from jobs.share import grants
from jobs.share.open_data import publish_open_data
from jobs.share.refresh import refresh_shares
from jobs.spark import get_spark
from jobs.store.roles import BUREAU, BUREAU_STEWARD, Actor
from jobs.synth.config import load_config
from jobs.synth.generate import generate

QUICK_SIZES = (20_000,)
FULL_SIZES = (100_000, 1_000_000)
STAGES = ("ingest", "quality", "bases", "share", "reports")


def _ingest(settings, spark) -> int:
    rows = 0
    for resource_id in load_catalog(settings.schemas_root).resources:
        summary = pipeline.ingest_resource(resource_id, settings, spark=spark)
        rows += summary["row_accounting"]["file_rows"]
    return rows


def _quality(settings, spark) -> int:
    held = 0
    for resource_id in load_catalog(settings.schemas_root).resources:
        summary = validate_pool_batch(
            resource_id, settings=settings, spark=spark, raise_on_hold=False
        )
        held += sum(1 for b in summary["batches"] if b.get("status") == "held")
    return held


def _bases(settings, spark) -> int:
    summary = build_bases(settings, spark)
    return summary.get("open_tickets", 0)


def _share(settings, spark) -> None:
    today = settings.today()
    bench = Actor("bench", BUREAU, frozenset({BUREAU_STEWARD}))
    grants.request_share(
        settings, consumer="mzj", dataset_id="population", fields=[], purpose="bench", by=bench
    )
    refresh_shares(spark, settings, today=today, actor="bench")
    publish_open_data(spark, settings, as_of=today, actor="bench")


def _reports(settings) -> None:
    build_reports(settings)


def _one_size(persons: int, spark, base: Settings) -> dict:
    root = Path(tempfile.mkdtemp(prefix="govlake-bench-e2e-"))
    try:
        settings = settings_under(base, root)
        started = time.perf_counter()
        generate(load_config(None, persons=persons, seed=1), settings.landing_root)
        row: dict = {"persons": persons, "synth_s": round(time.perf_counter() - started, 1)}
        with PeakMemory().measure() as memory:
            for stage in STAGES:
                started = time.perf_counter()
                if stage == "ingest":
                    row["rows"] = _ingest(settings, spark)
                elif stage == "quality":
                    row["held_batches"] = _quality(settings, spark)
                elif stage == "bases":
                    row["open_tickets"] = _bases(settings, spark)
                elif stage == "share":
                    _share(settings, spark)
                else:
                    _reports(settings)
                row[f"{stage}_s"] = round(time.perf_counter() - started, 1)
        row["pipeline_s"] = round(sum(row[f"{s}_s"] for s in STAGES), 1)
        row["rows_per_s"] = round(row["rows"] / row["pipeline_s"]) if row["pipeline_s"] else None
        row["peak_tree_mb"] = memory["tree"]
        return row
    finally:
        shutil.rmtree(root, ignore_errors=True)


def scaling(rows: list[dict]) -> dict | None:
    """Time ratio of the largest to the smallest size, next to their size ratio (goal: at most
    1.2 × the size ratio, e.g. ≤ 12× the time for 10× the data)."""
    if len(rows) < 2:
        return None
    small, large = min(rows, key=lambda r: r["persons"]), max(rows, key=lambda r: r["persons"])
    return {
        "persons": f"{large['persons']:,} / {small['persons']:,}",
        "size_ratio": round(large["persons"] / small["persons"], 1),
        "time_ratio": round(large["pipeline_s"] / small["pipeline_s"], 1),
    }


def run(args: argparse.Namespace, settings: Settings) -> list[dict]:
    sizes = tuple(getattr(args, "persons", None) or ()) or (
        QUICK_SIZES if args.quick else FULL_SIZES
    )
    spark = get_spark(settings, app_name="govlake-bench-e2e")
    rows = []
    for persons in sizes:
        rows.append(_one_size(persons, spark, settings))
        print(rows[-1], flush=True)
    ratio = scaling(rows)
    if ratio:
        rows.append({"persons": "scaling", **ratio, "cores": os.cpu_count()})
    return rows
