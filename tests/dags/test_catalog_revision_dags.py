from __future__ import annotations

import pytest

from jobs.orchestrate.dag_factory import SCHEDULES, build_ingest_dags
from tests.catalog.test_revisions import approve, marriage_entry
from tests.dags.test_dag_integrity import recorded_queries
from tests.orchestrate.airflow_home import activate_session_home

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    return activate_session_home(tmp_path_factory)


def test_an_approved_change_of_the_update_cycle_reschedules_the_dag_without_a_database(
    airflow_home, tmp_path, monkeypatch
):
    weekly = marriage_entry()
    weekly["update_frequency"] = "weekly"
    approve(tmp_path, 1, weekly)
    # what the DAG file does (govlake_ingest.py: the catalog of the environment's settings),
    # with no reachable store
    monkeypatch.setenv("GOVLAKE_CATALOG_REVISIONS_ROOT", str(tmp_path))
    monkeypatch.setenv("GOVLAKE_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:9/absent")

    with recorded_queries() as statements:
        dags = build_ingest_dags(resource_ids=["mzj.marriage", "gaj.hukou"])

    assert dags["ingest__mzj__marriage"].schedule == SCHEDULES["weekly"]
    assert dags["ingest__gaj__hukou"].schedule == SCHEDULES["daily"]
    assert statements == []
