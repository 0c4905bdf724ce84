from __future__ import annotations

import datetime as dt
import shutil

import pyarrow as pa
import pytest

from jobs.lake.registry import AUDIT_LOG
from jobs.settings import PROJECT_ROOT
from tests.orchestrate.airflow_home import activate_session_home

pytestmark = pytest.mark.airflow

DAG_FILE = PROJECT_ROOT / "dags" / "govlake_share.py"


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    return activate_session_home(tmp_path_factory)


@pytest.fixture(scope="module")
def share_dags_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("share_dags")
    shutil.copy(DAG_FILE, folder / DAG_FILE.name)
    return folder


@pytest.fixture(scope="module")
def share_bag(airflow_home, share_dags_folder):
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.test_dag_integrity import recorded_queries

    with recorded_queries() as statements:
        bag = DagBag(dag_folder=str(share_dags_folder), safe_mode=False)
    return bag, statements


def test_share_dags_parse_without_queries(share_bag):
    bag, statements = share_bag
    assert bag.import_errors == {}
    assert statements == []
    assert sorted(bag.dags) == ["audit__verify", "share__refresh"]


def test_share_dags_are_documented_owned_and_retried(share_bag):
    bag, _ = share_bag
    for dag in bag.dags.values():
        assert "govlake" in dag.tags and dag.doc_md
        assert all(t.owner == "data_authority" and t.retries == 2 for t in dag.tasks)
    refresh = bag.dags["share__refresh"]
    assert refresh.get_task("publish_open_data").upstream_task_ids == {"refresh_shares"}


def _env_lake(monkeypatch, tmp_path):
    from jobs.settings import Settings

    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("GOVLAKE_REID_ROOT", str(tmp_path / "reid"))
    return Settings.from_env()


def test_audit_verify_dag_fails_on_a_changed_entry(
    airflow_home, share_dags_folder, monkeypatch, tmp_path
):
    from deltalake import write_deltalake

    from jobs.audit import log
    from jobs.orchestrate.runner import run_dag

    settings = _env_lake(monkeypatch, tmp_path)
    log.record_many(
        settings, [{"action": "steward", "actor": "li"}, {"action": "export", "actor": "li"}]
    )
    run = dict(home=airflow_home.home, raise_on_failure=False)
    assert run_dag("audit__verify", dt.datetime(2025, 3, 3, tzinfo=dt.UTC), **run).succeeded
    rows = log.read_entries(settings)
    rows[0]["actor"] = "someone"
    write_deltalake(
        AUDIT_LOG.uri(settings),
        pa.Table.from_pylist(rows, schema=log.AUDIT_SCHEMA),
        mode="overwrite",
    )
    failed = run_dag("audit__verify", dt.datetime(2025, 3, 4, tzinfo=dt.UTC), **run)
    assert (failed.succeeded, failed.task_states) == (False, {"verify_audit_log": "failed"})
    assert "seq=0" in failed.report()
