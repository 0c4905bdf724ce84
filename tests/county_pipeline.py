"""The main job on a delivered county, in one process, on the Spark master it is given.

The order of ``govlake demo`` (ingestion and the quality gate per resource, the base databases,
a share and its refresh, the open data) calling the jobs directly instead of through Airflow's
runner, each stage audited as its task would be. The clock is pinned, so that two runs on
different engines can be compared table by table. Run in a process of its own (one Spark
session per process)::

    python -m tests.county_pipeline --root DIR --master spark://127.0.0.1:7077 --at 2026-12-05T10:00:00+00:00
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from jobs.audit import write_audit
from jobs.catalog.loader import load_catalog
from jobs.ingest.pipeline import ingest_resource
from jobs.integrate.build import build_bases
from jobs.quality.pipeline import validate_pool_batch
from jobs.settings import Settings, pinned_clock
from jobs.share import grants
from jobs.share.open_data import publish_open_data
from jobs.share.refresh import refresh_shares
from jobs.spark import get_spark
from jobs.store.roles import BUREAU, BUREAU_STEWARD, Actor

#: The department that receives the population base (shared unconditionally, granted at once).
CONSUMER = "mzj"


def county_settings(root: Path, master: str, at: dt.datetime) -> Settings:
    """Settings of a run under ``root`` (``landing`` is the delivered county) at instant ``at``."""
    return Settings(
        lake_root=str(root / "lake"),
        landing_root=str(root / "landing"),
        reports_root=str(root / "reports"),
        reid_root=str(root / "reid"),
        backup_root=str(root / "backups"),
        spark_master=master,
        driver_memory="1g",
        shuffle_partitions=2,
    ).with_clock(pinned_clock(at))


def executor_code(spark) -> str:
    """Where the executors' Python imports govlake from: the driver's checkout, or whatever
    copy their environment has."""

    def where(_rows):
        import jobs

        yield jobs.__file__

    return spark.sparkContext.parallelize([0], 1).mapPartitions(where).first()


def run_county(settings: Settings, **spark_conf: str) -> dict:
    """Every stage in order; returns the seconds each took and where executors found govlake."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    spark = get_spark(settings, app_name="govlake-county", **spark_conf)
    code = executor_code(spark)
    seconds["session"] = time.perf_counter() - started

    def stage(name: str, job) -> None:
        begun = time.perf_counter()
        with write_audit(settings, actor=f"county:{name}"):
            job()
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - begun

    for resource_id in load_catalog(settings.schemas_root).resources:
        stage("ingest", lambda r=resource_id: ingest_resource(r, settings, spark=spark))
        stage(
            "quality",
            lambda r=resource_id: validate_pool_batch(
                r, settings, spark=spark, raise_on_hold=False
            ),
        )
    stage("bases", lambda: build_bases(settings, spark))
    stage(
        "share",
        lambda: grants.request_share(
            settings,
            consumer=CONSUMER,
            dataset_id="population",
            fields=[],
            purpose="低保对象身份核验",
            # the bureau asks on the consumer's behalf, as the demo does
            by=Actor("county_pipeline", BUREAU, frozenset({BUREAU_STEWARD})),
        ),
    )
    stage("share", lambda: refresh_shares(spark, settings, today=settings.today()))
    stage("share", lambda: publish_open_data(spark, settings, as_of=settings.today()))
    spark.stop()
    return {
        "seconds": {name: round(value, 1) for name, value in seconds.items()},
        "executor_code": code,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="holds landing/; lake/ goes here")
    parser.add_argument("--master", required=True, help="Spark master URL")
    parser.add_argument("--at", type=dt.datetime.fromisoformat, required=True, help="the clock")
    parser.add_argument("--conf", action="append", default=[], help="extra spark key=value")
    args = parser.parse_args(argv)
    conf = dict(item.split("=", 1) for item in args.conf)
    print(json.dumps(run_county(county_settings(args.root, args.master, args.at), **conf)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
