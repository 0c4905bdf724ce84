from __future__ import annotations

import ast
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest

from jobs.settings import PROJECT_ROOT
from tests.orchestrate.airflow_home import activate_session_home

pytestmark = pytest.mark.airflow

DAGS_FOLDER = PROJECT_ROOT / "dags"
DAG_FILES = sorted(DAGS_FOLDER.glob("*.py"))

#: Modules a DAG file must never pull in while Airflow parses it (STYLE "DAG files are wiring").
HEAVY_MODULES = ("pyspark", "deltalake", "great_expectations", "jobs.spark", "jobs.ingest.pipeline")


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    return activate_session_home(tmp_path_factory)


@contextmanager
def recorded_queries():
    """Every SQL statement any SQLAlchemy engine sends while the block runs.

    Listening on the Engine class catches all engines, including the metadata engine Airflow
    created at import; Airflow's own example-DAG test asserts the same (zero queries).
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def parse(folder: Path, known_pools: set[str] | None = None):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder), safe_mode=False, known_pools=known_pools)


@pytest.fixture(scope="module")
def dag_bag_and_queries(airflow_home):
    from jobs.catalog import load_catalog
    from jobs.orchestrate.airflow_env import pool_slots
    from jobs.orchestrate.names import pool_name
    from jobs.settings import Settings

    # The pools `govlake airflow init` creates: Airflow flags a DAG that uses any other pool.
    pools = {
        pool_name(code)
        for code in pool_slots(list(load_catalog(Settings().schemas_root).departments))
    }
    with recorded_queries() as statements:
        bag = parse(DAGS_FOLDER, known_pools=pools | {"default_pool"})
    return bag, statements


@pytest.fixture(scope="module")
def dag_bag(dag_bag_and_queries):
    return dag_bag_and_queries[0]


def test_dags_folder_has_dag_files():
    assert DAG_FILES, f"no DAG files in {DAGS_FOLDER}"


def test_every_dag_file_imports_without_errors(dag_bag):
    assert dag_bag.import_errors == {}
    parsed = {Path(stat.file).name for stat in dag_bag.dagbag_stats}
    assert parsed == {path.name for path in DAG_FILES}


def test_no_database_queries_while_parsing(dag_bag_and_queries):
    _bag, statements = dag_bag_and_queries

    assert statements == []


def test_query_recorder_sees_a_dag_file_that_queries_at_parse(airflow_home, tmp_path):
    bad_dag = tmp_path / "queries_at_parse.py"
    bad_dag.write_text(
        textwrap.dedent(
            '''
            """An Airflow DAG file that queries the metadata database while parsed (a defect)."""
            from airflow.sdk import DAG
            from airflow.utils.session import create_session
            from sqlalchemy import text

            with create_session() as session:
                session.execute(text("SELECT 1"))
            dag = DAG("queries_at_parse", schedule=None)
            '''
        )
    )

    with recorded_queries() as statements:
        bag = parse(tmp_path)

    assert "queries_at_parse" in bag.dags
    assert any("SELECT 1" in statement for statement in statements)


@pytest.mark.parametrize("wanted", ["ingest__gaj__hukou", "bases__build", "audit__verify"])
def test_dag_files_build_only_the_dag_airflow_parses_them_for(airflow_home, monkeypatch, wanted):
    from jobs.orchestrate.runner import PARSING_CONTEXT_DAG_ID

    monkeypatch.setenv(PARSING_CONTEXT_DAG_ID, wanted)
    bag = parse(DAGS_FOLDER)

    assert bag.import_errors == {}
    assert list(bag.dags) == [wanted]


def test_every_task_pushes_its_summary_as_one_xcom(dag_bag):
    # Inferred from a ``dict`` return type, Airflow would push every key as an XCom of its own.
    unrolled = [
        f"{dag.dag_id}.{task.task_id}"
        for dag in dag_bag.dags.values()
        for task in dag.tasks
        if task.multiple_outputs
    ]

    assert unrolled == []


def test_dag_files_use_only_known_pools(dag_bag):
    assert [str(w) for w in dag_bag.dag_warnings] == []


def test_one_ingest_dag_per_catalog_resource(dag_bag):
    from jobs.catalog import load_catalog
    from jobs.orchestrate.names import ingest_dag_id
    from jobs.settings import Settings

    expected = {ingest_dag_id(rid) for rid in load_catalog(Settings().schemas_root).resources}
    assert {d for d in dag_bag.dags if d.startswith("ingest__")} == expected


def test_every_dag_has_tags_owner_docs_and_retries(dag_bag):
    for dag_id, dag in dag_bag.dags.items():
        assert {"govlake"} <= set(dag.tags), dag_id
        assert dag.owner and dag.owner != "airflow", dag_id
        assert dag.doc_md and len(dag.doc_md) > 80, dag_id
        assert dag.catchup is False, dag_id
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id}"
            assert task.retry_delay > dt.timedelta(0), f"{dag_id}.{task.task_id}"


def test_ingest_dags_use_their_department_pool_and_publish_the_pool_asset(dag_bag):
    for dag_id, dag in dag_bag.dags.items():
        if not dag_id.startswith("ingest__"):
            continue
        _, department, resource = dag_id.split("__")
        assert {"ingest", department} <= set(dag.tags)
        assert dag.owner == department
        assert {task.pool for task in dag.tasks} == {f"dept_{department}"}
        outlets = [asset.uri for task in dag.tasks for asset in task.outlets]
        assert outlets == [f"govlake://pool/{department}/{resource}"], dag_id


def test_ingest_docs_name_every_task_in_order_and_the_one_that_updates_the_asset(dag_bag):
    source = (DAGS_FOLDER / "govlake_ingest.py").read_text(encoding="utf-8")
    docs = " ".join(ast.get_docstring(ast.parse(source)).split())
    dag = dag_bag.dags["ingest__gaj__hukou"]
    (producer,) = [task.task_id for task in dag.tasks if task.outlets]

    assert " → ".join(f"`{task.task_id}`" for task in dag.topological_sort()) in docs
    assert f"updated by `{producer}` only" in docs


def test_module_docstring_becomes_doc_md(dag_bag):
    for path in DAG_FILES:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert docstring, f"{path.name} has no module docstring"
        first_line = docstring.splitlines()[0]
        dags = [d for d in dag_bag.dags.values() if Path(d.fileloc).name == path.name]
        assert dags and all(first_line in d.doc_md for d in dags), path.name


def test_dags_serialize_as_the_dag_processor_stores_them(dag_bag):
    from airflow.serialization.serialized_objects import DagSerialization

    for dag in dag_bag.dags.values():
        restored = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
        assert restored.dag_id == dag.dag_id
        assert {t.task_id for t in restored.tasks} == {t.task_id for t in dag.tasks}


def test_start_dates_do_not_move_between_parses(dag_bag, airflow_home):
    again = parse(DAGS_FOLDER)

    assert {d: dag.start_date for d, dag in again.dags.items()} == {
        d: dag.start_date for d, dag in dag_bag.dags.items()
    }


PROBE = """
import json, sys, time
from jobs.orchestrate import airflow_env
airflow_env.activate(sys.argv[1])
started = time.perf_counter()
import airflow.sdk
imported = time.perf_counter()
from airflow.configuration import conf
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[2], safe_mode=False)
parsed = time.perf_counter()
print(json.dumps({
    "airflow_import_s": imported - started,
    "parse_s": parsed - imported,
    "files": {s.file: s.duration.total_seconds() for s in bag.dagbag_stats},
    "import_timeout_s": conf.getfloat("core", "dagbag_import_timeout"),
    "dags": len(bag.dags),
    "errors": bag.import_errors,
    "heavy": sorted(m for m in json.loads(sys.argv[3]) if m in sys.modules),
}))
"""


def test_fresh_parse_imports_no_spark_or_ingest_code(tmp_path, record_property):
    # A fresh interpreter: in this one, other tests may already have imported pyspark.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            str(tmp_path / "home"),
            str(DAGS_FOLDER),
            json.dumps(HEAVY_MODULES),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    probe = json.loads(completed.stdout.strip().splitlines()[-1])
    record_property("airflow_import_s", round(probe["airflow_import_s"], 2))
    record_property("dags_parse_s", round(probe["parse_s"], 2))
    print(
        f"\nfresh process: import airflow {probe['airflow_import_s']:.2f} s, "
        f"parse dags/ {probe['parse_s']:.2f} s, per file {probe['files']}"
    )

    assert probe["errors"] == {}
    assert probe["heavy"] == []
    assert probe["dags"] >= 14
    # Not a speed test: the DAG processor kills a file that parses longer than this.
    assert all(seconds < probe["import_timeout_s"] for seconds in probe["files"].values())


def test_backup_dag_backs_up_daily_then_prunes_one_run_at_a_time(dag_bag):
    dag = dag_bag.dags["govlake__backup"]

    assert [task.task_id for task in dag.topological_sort()] == [
        "back_up_lake",
        "prune_backup_sets",
    ]
    assert dag.schedule == "30 2 * * *"
    assert dag.max_active_runs == 1
    assert {"operations", "backup"} <= set(dag.tags)


def test_lake_maintenance_runs_daily_and_calls_the_maintenance_job(dag_bag):
    from jobs.orchestrate.tasks import run_lake_maintenance

    dag = dag_bag.dags["lake__maintenance"]
    (only,) = dag.tasks

    assert dag.schedule == "30 3 * * *"  # after the backup (02:30), not beside it
    assert only.python_callable is run_lake_maintenance
    assert {"maintenance", "governance"} <= set(dag.tags)
