from __future__ import annotations

import datetime as dt
import json
import os
import stat
import textwrap

import pytest

from jobs.orchestrate import airflow_env
from jobs.orchestrate.runner import DagNotFound, DagRunFailed, run_dag

pytestmark = pytest.mark.airflow

# --- the embedded home (no Airflow import needed) ------------------------------------------


def test_config_keys_are_generated_once_and_kept(tmp_path):
    env = airflow_env.resolve(tmp_path / "home")
    env.home.mkdir()

    first = airflow_env.write_config(env).read_text(encoding="utf-8")
    second = airflow_env.write_config(env).read_text(encoding="utf-8")

    assert first == second
    assert "jwt_secret = " in first and "fernet_key = " in first
    assert f"sql_alchemy_conn = sqlite:///{tmp_path}/home/airflow.db" in first
    assert stat.S_IMODE(env.config_file.stat().st_mode) == 0o600


def test_each_home_gets_its_own_keys(tmp_path):
    one, two = airflow_env.resolve(tmp_path / "a"), airflow_env.resolve(tmp_path / "b")
    for env in (one, two):
        env.home.mkdir()

    keys = [
        [
            line
            for line in airflow_env.write_config(env).read_text().splitlines()
            if "jwt_secret" in line
        ]
        for env in (one, two)
    ]

    assert keys[0] != keys[1]


def test_default_home_is_inside_the_project(monkeypatch):
    from jobs.settings import PROJECT_ROOT

    monkeypatch.delenv(airflow_env.HOME_ENV, raising=False)
    env = airflow_env.resolve()

    assert env.home == PROJECT_ROOT / "data" / "airflow"
    assert env.dags_folder == PROJECT_ROOT / "dags"
    assert env.environ()["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"


def test_embedded_database_is_the_homes_sqlite_file(monkeypatch, tmp_path):
    monkeypatch.delenv(airflow_env.DATABASE_URL_ENV, raising=False)
    env = airflow_env.resolve(tmp_path / "home")

    variables = env.environ()

    assert (
        variables["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path}/home/airflow.db"
    )
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC" not in variables
    assert env.database == str(tmp_path / "home" / "airflow.db")


def test_a_postgresql_server_serves_both_engines_through_psycopg(monkeypatch, tmp_path):
    url = "postgresql+psycopg://airflow:s3cret@127.0.0.1:5433/meta"
    monkeypatch.setenv(airflow_env.DATABASE_URL_ENV, url)
    env = airflow_env.resolve(tmp_path / "home")

    variables = env.environ()

    assert variables["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == url
    assert (
        variables["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"]
        == "postgresql+psycopg_async://airflow:s3cret@127.0.0.1:5433/meta"
    )
    assert env.database == "postgresql+psycopg://airflow:***@127.0.0.1:5433/meta"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", {"gaj": 2, "wjw": 2}),
        ("3", {"gaj": 3, "wjw": 3}),
        ("3,gaj=5", {"gaj": 5, "wjw": 3}),
        ("wjw=1", {"gaj": 2, "wjw": 1}),
    ],
)
def test_pool_slots_per_department(spec, expected):
    assert airflow_env.pool_slots(["gaj", "wjw"], spec) == expected


@pytest.mark.parametrize("spec", ["x", "gaj=0", "nope=3"])
def test_pool_slots_rejects_bad_specs(spec):
    with pytest.raises(airflow_env.AirflowEnvError, match=airflow_env.POOL_SLOTS_ENV):
        airflow_env.pool_slots(["gaj", "wjw"], spec)


def test_parsing_context_names_the_dag_while_it_runs_then_is_restored(monkeypatch):
    from jobs.orchestrate.runner import PARSING_CONTEXT_DAG_ID, parsing_context

    monkeypatch.delenv(PARSING_CONTEXT_DAG_ID, raising=False)
    with parsing_context("ingest__gaj__hukou"):
        inside = os.environ.get(PARSING_CONTEXT_DAG_ID)

    assert inside == "ingest__gaj__hukou"
    assert PARSING_CONTEXT_DAG_ID not in os.environ


# --- the session's Airflow ------------------------------------------------------------------


def test_refuses_to_switch_home_once_airflow_is_configured(airflow_home, tmp_path):
    import airflow.sdk  # noqa: F401 - configures Airflow for the session home

    with pytest.raises(airflow_env.AirflowEnvError, match="isolated=True"):
        airflow_env.activate(tmp_path / "another_home")
    with pytest.raises(airflow_env.AirflowEnvError, match="cannot switch"):
        airflow_env.activate(airflow_home.home, dags_folder=tmp_path)
    assert airflow_env.activate(airflow_home.home) == airflow_home  # the same home is fine


def test_init_migrates_once_and_creates_department_pools(initialized_airflow):
    from airflow.models.pool import Pool

    from jobs.catalog import load_catalog
    from jobs.settings import Settings

    again = airflow_env.ensure_database()
    pools = {pool.pool: pool.slots for pool in Pool.get_pools()}

    assert again.migrated is False and again.revision == again.head
    assert {f"dept_{code}" for code in load_catalog(Settings().schemas_root).departments} <= set(
        pools
    )
    assert pools["dept_gaj"] == airflow_env.DEFAULT_POOL_SLOTS


def test_embedded_sqlite_syncs_the_disk_at_checkpoints_only(initialized_airflow):
    from airflow import settings

    if settings.engine.dialect.name != "sqlite":
        pytest.skip("a database server keeps its own durability settings")
    with settings.engine.connect() as connection:
        synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()

    assert (synchronous, journal) == (1, "wal")  # NORMAL: WAL synced at checkpoints


def test_unknown_dag_id_names_the_dags_of_the_folder(initialized_airflow):
    with pytest.raises(DagNotFound, match=r"ingest__gaj__hukuo.*known: .*ingest__gaj__hukou"):
        run_dag("ingest__gaj__hukuo", home=initialized_airflow.env.home)


def test_cli_lists_every_ingest_dag_with_pool_and_asset(initialized_airflow, capsys):
    from jobs.catalog import load_catalog
    from jobs.cli import main
    from jobs.settings import Settings

    code = main(["airflow", "--home", str(initialized_airflow.env.home), "list", "--json"])
    out = capsys.readouterr().out
    # Airflow, configured earlier in this session, logs to stdout too: find the document.
    listed, _end = json.JSONDecoder().raw_decode(out, out.index('{\n  "dags"'))

    assert code == 0
    assert listed["import_errors"] == {}
    hukou = next(d for d in listed["dags"] if d["dag_id"] == "ingest__gaj__hukou")
    assert hukou["pools"] == ["dept_gaj"]
    assert hukou["assets"] == ["govlake://pool/gaj/hukou"]
    assert len([d for d in listed["dags"] if d["dag_id"].startswith("ingest__")]) == len(
        load_catalog(Settings().schemas_root).resources
    )


FAILING_DAG = '''
"""An Airflow DAG whose second task fails: the runner must say which and why."""
import pendulum
from airflow.sdk import DAG, task

with DAG("fails_in_the_middle", schedule=None, start_date=pendulum.datetime(2025, 1, 1)):
    @task
    def first():
        return {"rows": 3}

    @task(retries=3)
    def second():
        raise ValueError("batch 20250101 is truncated")

    @task
    def third():
        return "never"

    first() >> second() >> third()
'''


@pytest.mark.slow
def test_failed_run_raises_with_task_states_and_error(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "fails_in_the_middle.py").write_text(textwrap.dedent(FAILING_DAG))

    # isolated: a child process with its own home, as a caller that already runs Airflow would.
    with pytest.raises(DagRunFailed) as failure:
        run_dag("fails_in_the_middle", home=tmp_path / "home", dags_folder=dags, isolated=True)

    result = failure.value.result
    assert result.state == "failed"
    assert result.task_states == {
        "first": "success",
        "second": "failed",
        "third": "upstream_failed",
    }
    second = result.tasks[1]
    assert second.error == "ValueError: batch 20250101 is truncated"
    assert second.try_number == 1  # retries are off for a local run: no waiting on retry_delay
    assert result.tasks[0].result == {"rows": 3}
    assert "second=failed" in str(failure.value)


# --- a department DAG, end to end ------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def citizen_id(first_17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2)."""
    total = sum(int(digit) * weight for digit, weight in zip(first_17, _ID_WEIGHTS, strict=True))
    return first_17 + "10X98765432"[total % 11]


HUKOU_COLUMNS = (
    "公民身份号码,姓名,性别,出生日期,民族,户号,与户主关系,户籍地址,户籍地行政区划代码,"
    "联系电话,登记日期,户口状态,更新时间"
)
VALID_IDS = (
    citizen_id("11010119800101001"),
    citizen_id("11010119900505002"),
    citizen_id("33021120000101003"),
)
BAD_CHECK_ID = VALID_IDS[0][:-1] + ("0" if VALID_IDS[0][-1] != "0" else "1")


def write_hukou_batch(landing_root, batch_id="20250101T000000_full"):
    rows = [
        f"{VALID_IDS[0]},张伟,男,1980-01-01,汉族,H0001,户主,北京市东城区景山街道1号,110101,13800138000,2001-05-01,正常,2025-01-01 08:00:00",
        f"{VALID_IDS[1]},李娜,女,19900505,汉族,H0001,配偶,北京市东城区景山街道1号,110101,13900139000,2010-06-01,正常,2025-01-01 08:00:00",
        f"{VALID_IDS[2]},王芳,男,2000年01月01日,回族,H0002,户主,宁波市镇海区招宝山街道2号,330211,,2000-01-20,正常,2025-01-01 08:00:00",
        f"{BAD_CHECK_ID},赵强,男,1980-01-01,汉族,H0003,户主,北京市东城区景山街道3号,110101,,2001-05-01,正常,2025-01-01 08:00:00",
    ]
    batch = landing_root / "gaj" / "hukou" / batch_id
    batch.mkdir(parents=True)
    (batch / "hukou.csv").write_bytes(("\r\n".join([HUKOU_COLUMNS, *rows]) + "\r\n").encode("gbk"))
    # delivered on its batch day: complete by the landing quiet period of the DAG's clock
    delivered = dt.datetime.strptime(batch_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    os.utime(batch / "hukou.csv", (delivered.timestamp(), delivered.timestamp()))


def delta_state(uri):
    from deltalake import DeltaTable

    table = DeltaTable(uri)
    return table.version(), table.to_pyarrow_table()


@pytest.mark.slow
@pytest.mark.spark
# A hang guard, not a speed check: a stuck Spark job must fail the test, not block the suite.
@pytest.mark.timeout(1800)
def test_hukou_dag_lands_rows_in_the_pool_and_a_second_run_changes_nothing(
    initialized_airflow, tmp_path, monkeypatch, record_property
):
    from jobs.lake.paths import table_uri
    from jobs.settings import Settings

    for name, value in {
        "LAKE_ROOT": tmp_path / "lake",
        "LANDING_ROOT": tmp_path / "landing",
        "REPORTS_ROOT": tmp_path / "reports",
        "SPARK_MASTER": "local[2]",
        "SHUFFLE_PARTITIONS": "2",
        "DRIVER_MEMORY": "2g",
    }.items():
        monkeypatch.setenv(f"GOVLAKE_{name}", str(value))
    write_hukou_batch(tmp_path / "landing")
    settings = Settings.from_env()
    home = initialized_airflow.env.home

    first = run_dag("ingest__gaj__hukou", dt.datetime(2025, 1, 2, 1, tzinfo=dt.UTC), home=home)
    layers = {
        layer: table_uri(settings, layer, "gaj", "hukou")
        for layer in ("bronze", "pool", "quarantine")
    }
    after_first = {layer: delta_state(uri) for layer, uri in layers.items()}
    second = run_dag("ingest__gaj__hukou", dt.datetime(2025, 1, 3, 1, tzinfo=dt.UTC), home=home)
    after_second = {layer: delta_state(uri) for layer, uri in layers.items()}

    record_property("dag_test_first_run_s", round(first.seconds, 1))
    record_property("dag_test_second_run_s", round(second.seconds, 1))
    print(f"\n{first.report()}\n{second.report()}")

    assert first.task_states == dict.fromkeys(
        ("land_to_bronze", "bronze_to_pool", "check_row_accounting", "validate_quality"), "success"
    )
    # Every lake write of the tasks is in the audit log, naming the task, and the chain holds.
    from jobs.audit import verify
    from jobs.audit.log import read_entries

    written: dict[str, set[str]] = {}
    for entry in read_entries(settings):
        if entry["action"] == "write":
            written.setdefault(entry["actor"], set()).add(entry["target"])
    assert {"pool/gaj/hukou", "quarantine/gaj/hukou"} <= written[
        "airflow:ingest__gaj__hukou.bronze_to_pool"
    ]
    assert "bronze/gaj/hukou" in written["airflow:ingest__gaj__hukou.land_to_bronze"]
    assert written["airflow:ingest__gaj__hukou.validate_quality"]
    problems, _head = verify(settings)
    assert problems == []
    _version, pool_rows = after_first["pool"]
    assert sorted(pool_rows.column("person_id").to_pylist()) == sorted(VALID_IDS)
    assert after_first["bronze"][1].num_rows == 4
    assert after_first["quarantine"][1].num_rows == 1

    assert second.succeeded
    assert {layer: version for layer, (version, _) in after_second.items()} == {
        layer: version for layer, (version, _) in after_first.items()
    }
    assert after_second["pool"][1].equals(after_first["pool"][1])
