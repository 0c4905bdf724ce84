"""The three flows the crash drill kills: ingestion, the base build and the share refresh.

Each runs as its Airflow task does (settings built at the edge, every lake write audited), on
the lake the settings name. ``python -m tests.drill.flows FLOW`` runs one in a process of its
own, with settings from the environment: the drill starts it there and SIGKILLs it at a crash
point (:mod:`jobs.lake.crash`). :func:`run_flow` runs one in the test's own process, where the
re-runs after a kill share the test session's Spark.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from pyspark.sql import SparkSession

from jobs.settings import Settings

#: The resources the drill ingests: the population base's source (a second resource would
#: double every ingestion run of the drill and add no kind of write).
RESOURCES = ("gaj.hukou",)


def _ingest(settings: Settings, spark: SparkSession | None) -> Any:
    from jobs.ingest.pipeline import ingest_resource

    return [ingest_resource(r, settings, spark=spark) for r in RESOURCES]


def _build(settings: Settings, spark: SparkSession | None) -> Any:
    from jobs.integrate.build import build_bases

    return build_bases(settings, spark)


def _share(settings: Settings, spark: SparkSession | None) -> Any:
    from jobs.share.refresh import refresh_shares
    from jobs.spark import get_spark

    return refresh_shares(spark or get_spark(settings), settings, today=settings.today())


FLOWS: dict[str, Callable[[Settings, SparkSession | None], Any]] = {
    "ingest": _ingest,
    "build": _build,
    "share": _share,
}


def run_flow(name: str, settings: Settings, spark: SparkSession | None) -> Any:
    """Runs one flow with every lake write audited, as its task callable does (without
    ``spark``, the flow starts Spark when it first needs it, as the tasks do)."""
    from jobs.audit import write_audit

    with write_audit(settings, actor=f"drill:{name}"):
        return FLOWS[name](settings, spark)


def main(name: str) -> None:
    run_flow(name, Settings.from_env(), None)


if __name__ == "__main__":
    main(sys.argv[1])
