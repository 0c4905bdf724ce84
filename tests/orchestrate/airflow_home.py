"""One embedded Airflow home per test session, shared by the DAG and orchestration tests.

Airflow reads its configuration once per process, at import, so every test that touches
Airflow must agree on one home: it lives in pytest's session temp folder, never data/airflow.
"""

from __future__ import annotations

import pytest

from jobs.orchestrate import airflow_env


def activate_session_home(tmp_path_factory: pytest.TempPathFactory) -> airflow_env.AirflowEnv:
    """Activates ``<session tmp>/airflow_home`` (idempotent) before anything imports Airflow."""
    return airflow_env.activate(tmp_path_factory.getbasetemp() / "airflow_home")
