"""Shared fixtures: one local Spark session for the whole run, tables under tmp_path."""

from __future__ import annotations

import os
import sys

import pytest

from tests.postgres import needs_postgres, postgres_server  # noqa: F401  (session fixture: a real PostgreSQL)
from tests.spark_cluster import spark_cluster  # noqa: F401  (a standalone Spark cluster)

# Tests never touch the developer's data/ folders or a real cluster.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def pytest_collection_modifyitems(config, items):
    """Files holding slow tests run first. `make test`'s two workers take whole files in this
    order, so the minutes-long ones (the crash drill, the Spark cluster) start early instead of
    leaving one worker busy alone at the end (six minutes of the 28 the suite took)."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: file order kept


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from jobs.settings import Settings
    from jobs.spark import get_spark
    from tests.jvm import TEST_JAVA_OPTIONS

    settings = Settings(
        lake_root=str(tmp_path_factory.mktemp("lake")),
        spark_master="local[2]",
        driver_memory="3g",
        shuffle_partitions=2,
        driver_java_options=TEST_JAVA_OPTIONS,
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
def store_settings(request, lake_settings, tmp_path):
    """Lake settings whose workflow store (jobs.store) is a fresh database: a SQLite file, then
    a database on the session's throw-away PostgreSQL server."""
    import dataclasses
    import uuid

    from jobs.store import db

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"store_{uuid.uuid4().hex[:12]}")
    yield dataclasses.replace(lake_settings, db_url=url, reid_root=str(tmp_path / "reid"))
    db.dispose_engines()


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """argon2id at its smallest cost: the production parameters take a second per hash on a
    busy machine, and no test measures the hash's strength."""
    from jobs.store import accounts

    monkeypatch.setattr(
        accounts, "HASH_PARAMETERS", {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    )


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
        catalog_revisions_root=str(root / "catalog"),
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
