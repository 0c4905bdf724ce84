"""Shared fixtures: one local Spark session for the whole run, tables under tmp_path."""

from __future__ import annotations

import os
import sys

import pytest

from tests.postgres import postgres_server  # noqa: F401  (session fixture: a real PostgreSQL)

# Tests never touch the developer's data/ folders or a real cluster.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from jobs.settings import Settings
    from jobs.spark import get_spark

    settings = Settings(
        lake_root=str(tmp_path_factory.mktemp("lake")),
        spark_master="local[2]",
        driver_memory="3g",
        shuffle_partitions=2,
    )
    session = get_spark(
        settings,
        app_name="govlake-tests",
        **{
            "spark.ui.enabled": "false",
            "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("wh")),
        },
    )
    yield session
    session.stop()


def settings_under(root, **overrides):
    """Settings whose lake, landing and reports roots live under ``root`` (a test's folder).

    Files are read as soon as they are delivered (no landing quiet period): tests pin clocks in
    the past while their files are written now; the tests of the quiet period set their own.
    """
    from jobs.settings import Settings

    return Settings(
        lake_root=str(root / "lake"),
        landing_root=str(root / "landing"),
        reports_root=str(root / "reports"),
        spark_master="local[2]",
        shuffle_partitions=2,
        **{"landing_quiet_seconds": 0, **overrides},
    )


@pytest.fixture
def lake_settings(tmp_path):
    """Settings whose lake, landing and reports roots live under this test's tmp_path."""
    return settings_under(tmp_path)


@pytest.fixture(scope="module", autouse=True)
def _release_spark_memory_after_module():
    """Drops what a test module left cached in the shared session.

    One driver runs the whole suite: cached DataFrames and local checkpoints of earlier modules
    would otherwise stay on its heap until the cleaner's periodic GC (30 min) and starve later
    modules. Python's GC drops the py4j handles; the JVM's GC then lets Spark's cleaner free them.
    """
    yield
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is None:
        return
    import gc

    session.catalog.clearCache()
    gc.collect()
    session.sparkContext._jvm.System.gc()
