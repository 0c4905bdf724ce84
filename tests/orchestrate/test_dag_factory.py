from __future__ import annotations

import datetime as dt
import sys
import types
from dataclasses import replace

import pytest

from jobs.catalog import load_catalog
from jobs.orchestrate import dag_factory, tasks
from jobs.orchestrate.dag_factory import (
    INGEST_TASK_IDS,
    SCHEDULES,
    IngestDagOptions,
    build_ingest_dag,
    build_ingest_dags,
    schedule_for,
)
from jobs.orchestrate.names import ingest_dag_id, pool_asset_uri, pool_name
from jobs.settings import Settings

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(Settings().schemas_root)


@pytest.fixture(scope="module")
def dags(airflow_home, catalog):
    return build_ingest_dags(catalog)


def test_names_follow_the_lake_layout():
    assert ingest_dag_id("gaj.hukou") == "ingest__gaj__hukou"
    assert pool_name("gaj") == "dept_gaj"
    assert pool_asset_uri("zrzyj.real_estate") == "govlake://pool/zrzyj/real_estate"


@pytest.mark.parametrize("bad_id", ["hukou", "gaj.", ".hukou", "gaj.hukou.x", ""])
def test_rejects_malformed_resource_id(bad_id):
    with pytest.raises(ValueError, match=r"<department>\.<resource>"):
        ingest_dag_id(bad_id)


def test_every_update_frequency_of_the_catalog_vocabulary_has_a_schedule():
    from jobs.catalog.models import UPDATE_FREQUENCIES

    assert set(SCHEDULES) == set(UPDATE_FREQUENCIES)


def test_unknown_update_frequency_names_the_known_ones():
    with pytest.raises(ValueError, match=r"hourly.*known: realtime, daily"):
        schedule_for("hourly")


def test_pool_asset_uri_survives_airflow_uri_sanitising(airflow_home):
    asset = dag_factory.pool_asset("gaj.hukou")

    assert asset.uri == "govlake://pool/gaj/hukou"
    assert asset.name == asset.uri
    assert asset == dag_factory.pool_asset("gaj.hukou")


def test_downstream_dag_can_schedule_on_pool_assets(airflow_home):
    from airflow.sdk import DAG

    downstream = DAG(
        "base_population_example",
        schedule=dag_factory.pool_asset("gaj.hukou") & dag_factory.pool_asset("wjw.death_cert"),
    )

    assert type(downstream.timetable).__name__ == "AssetTriggeredTimetable"
    uris = {asset.uri for asset in downstream.timetable.asset_condition.objects}
    assert uris == {"govlake://pool/gaj/hukou", "govlake://pool/wjw/death_cert"}


def test_builds_one_dag_per_catalog_resource(dags, catalog):
    assert set(dags) == {ingest_dag_id(rid) for rid in catalog.resources}


def test_dag_settings_come_from_the_catalog_entry(dags, catalog):
    hukou = catalog.resource("gaj.hukou")
    dag = dags["ingest__gaj__hukou"]

    assert dag.schedule == SCHEDULES[hukou.update_frequency]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.owner == "gaj"
    assert set(dag.tags) == {"govlake", "ingest", "gaj", *hukou.feeds}
    assert hukou.title in dag.doc_md and hukou.grain in dag.doc_md
    assert "公安局" in dag.doc_md


def test_start_date_is_fixed_in_the_catalog_time_zone(dags):
    dag = dags["ingest__gaj__hukou"]

    assert dag.start_date == dt.datetime(2025, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert dag.timezone.name == "Asia/Shanghai"  # cron hours are Beijing time, not UTC


def test_tasks_run_in_order_in_the_department_pool_with_retries(dags):
    dag = dags["ingest__zrzyj__parcel"]

    assert [t.task_id for t in dag.topological_sort()] == list(INGEST_TASK_IDS)
    assert dag.get_task("land_to_bronze").downstream_task_ids == {"bronze_to_pool"}
    assert dag.get_task("bronze_to_pool").downstream_task_ids == {"check_row_accounting"}
    assert dag.get_task("check_row_accounting").downstream_task_ids == {"validate_quality"}
    for task in dag.tasks:
        assert task.pool == "dept_zrzyj"
        assert task.retries >= 2
        assert task.retry_delay > dt.timedelta(0)
        assert task.owner == "zrzyj"


def test_only_the_quality_gate_task_updates_the_pool_asset(dags):
    # Rows accounted for and the quality gate passed: only then do base builds see new data.
    dag = dags["ingest__wjw__birth_cert"]

    outlets = {t.task_id: [a.uri for a in t.outlets] for t in dag.tasks}
    assert outlets == {
        "land_to_bronze": [],
        "bronze_to_pool": [],
        "check_row_accounting": [],
        "validate_quality": ["govlake://pool/wjw/birth_cert"],
    }


def test_options_override_the_production_defaults(airflow_home, catalog):
    options = IngestDagOptions(retries=5, pool_slots=2, extra_tags=("pilot",), doc_md_footer="FOOT")
    dag = build_ingest_dag(catalog.resource("gaj.hukou"), options=options)

    assert {t.retries for t in dag.tasks} == {5}
    assert {t.pool_slots for t in dag.tasks} == {2}
    assert "pilot" in dag.tags
    assert dag.doc_md.endswith("FOOT")


def test_realtime_resource_is_polled_every_15_minutes(airflow_home, catalog):
    realtime = replace(catalog.resource("gaj.hukou"), update_frequency="realtime")

    assert build_ingest_dag(realtime).schedule == "*/15 * * * *"


def test_resource_ids_selects_a_subset(airflow_home, catalog):
    assert list(build_ingest_dags(catalog, resource_ids=["gaj.hukou"])) == ["ingest__gaj__hukou"]


def test_dag_id_of_the_parsing_context_selects_its_dag_or_none(airflow_home, catalog):
    assert list(build_ingest_dags(catalog, dag_id="ingest__gaj__hukou")) == ["ingest__gaj__hukou"]
    assert build_ingest_dags(catalog, dag_id="bases__build") == {}


def test_each_task_pushes_its_summary_as_one_xcom(dags):
    for task in dags["ingest__gaj__hukou"].tasks:
        assert task.multiple_outputs is False, task.task_id


def test_task_callables_return_plain_json_for_xcom(monkeypatch):
    fake = types.ModuleType("jobs.ingest.pipeline")
    fake.land_to_bronze = lambda resource_id, settings: {
        "resource": resource_id,
        "at": dt.date(2025, 1, 2),
    }
    monkeypatch.setitem(sys.modules, "jobs.ingest.pipeline", fake)

    assert tasks.run_land_to_bronze("gaj.hukou") == {
        "resource": "gaj.hukou",
        "at": "2025-01-02",
    }
