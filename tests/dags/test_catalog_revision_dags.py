from __future__ import annotations

import pytest

from jobs.orchestrate.dag_factory import SCHEDULES
from jobs.settings import PROJECT_ROOT
from tests.catalog.test_revisions import approve, marriage_entry
from tests.dags.test_dag_integrity import parse, recorded_queries
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
    monkeypatch.setenv("GOVLAKE_CATALOG_REVISIONS_ROOT", str(tmp_path))
    monkeypatch.setenv("GOVLAKE_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:9/absent")

    with recorded_queries() as statements:
        bag = parse(PROJECT_ROOT / "dags" / "govlake_ingest.py")

    assert bag.import_errors == {}
    assert bag.dags["ingest__mzj__marriage"].schedule == SCHEDULES["weekly"]
    assert bag.dags["ingest__gaj__hukou"].schedule == SCHEDULES["daily"]
    assert statements == []
