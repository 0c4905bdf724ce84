"""Fixtures for the orchestration tests: the session's Airflow home, set up once."""

from __future__ import annotations

import time

import pytest

from tests.orchestrate.airflow_home import activate_session_home


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory):
    return activate_session_home(tmp_path_factory)


@pytest.fixture(scope="session")
def initialized_airflow(airflow_home):
    """The session home with its database migrated and department pools created."""
    from jobs.orchestrate import airflow_env

    started = time.perf_counter()
    result = airflow_env.initialize(airflow_home.home)
    print(
        f"\nairflow init: migrate {result.database.seconds:.1f} s "
        f"(migrated={result.database.migrated}), total {time.perf_counter() - started:.1f} s"
    )
    return result
