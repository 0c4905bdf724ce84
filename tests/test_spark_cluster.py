from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobs.settings import PROJECT_ROOT
from tests.jvm import TEST_JAVA_OPTIONS
from tests.spark_cluster import EXECUTOR_MEMORY

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PERSONS = 300
#: The clock of both runs (what ``settings.now()`` answers): tables written at the same instant.
AT = dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC)
RUN_TIMEOUT_SECONDS = 1800


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Path:
    """A small synthetic county's deliveries, generated once for both runs."""
    from jobs.synth.config import load_config
    from jobs.synth.generate import generate

    landing = tmp_path_factory.mktemp("county") / "landing"
    config = load_config(None, persons=PERSONS, seed=7, schemas_root=str(PROJECT_ROOT / "schemas"))
    generate(config, landing)
    # Delivered the day before the runs' clock: complete, whatever "settled" may mean.
    delivered = (AT - dt.timedelta(days=1)).timestamp()
    for path in landing.rglob("*"):
        os.utime(path, (delivered, delivered))
    return landing


def _run(county: Path, root: Path, master: str, *conf: str) -> dict:
    shutil.copytree(county, root / "landing")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLAKE_", "AIRFLOW"))}
    # The driver's own code first, whichever checkout the venv's govlake points at.
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "tests.county_pipeline", "--root", str(root)]
    command += ["--master", master, "--at", AT.isoformat()]
    # Short runs: the driver (and the cluster's executors) with a short local run's JVM options.
    sides = ("driver", "executor") if TEST_JAVA_OPTIONS else ()
    jvm = [f"spark.{side}.extraJavaOptions={TEST_JAVA_OPTIONS}" for side in sides]
    for item in ("spark.ui.enabled=false", *jvm, *conf):
        command += ["--conf", item]
    result = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def local_run(county, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("local")
    summary = _run(county, root, "local[*]")
    print(f"\nlocal[*] run, seconds per stage: {summary['seconds']}")
    return root


@pytest.fixture(scope="module")
def cluster_run(county, spark_cluster, tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("cluster")
    summary = _run(
        county, root, spark_cluster.master_url, f"spark.executor.memory={EXECUTOR_MEMORY}"
    )
    print(f"\ncluster run, seconds per stage: {summary['seconds']}")
    return root, summary


#: Columns of random identifiers (uuid4, tokens): never equal between two runs, so not compared;
#: nor the audit chain's hashes, computed over the entry ids. A grant's request id also appears
#: in the audit entries' details: replaced there by a placeholder.
RANDOM = {
    "lake/governance/audit_log": {"entry_id", "entry_hash", "prev_hash"},
    "lake/governance/share_grants": {"request_id"},
    "lake/governance/ticket_events": {"event_id"},
    # the original, sealed with AES-GCM under a random nonce; its token is compared
    "reid/mzj/population": {"sealed"},
}


def _tables(root: Path) -> dict[str, Path]:
    """Every Delta table the run wrote (lake, re-identification tables), by relative path."""
    return {
        str(log.parent.relative_to(root)): log.parent
        for log in sorted(root.rglob("_delta_log"))
        if "landing" not in log.parts
    }


def _contents(root: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table's compared column names and its rows, sorted: the order of rows and files
    is the engine's, not the data's."""
    tables = _tables(root)
    grants = DeltaTable(str(tables["lake/governance/share_grants"])).to_pyarrow_table()
    request_ids = grants.column("request_id").to_pylist()
    contents = {}
    for name, path in tables.items():
        data = DeltaTable(str(path)).to_pyarrow_table()
        columns = sorted(set(data.column_names) - RANDOM.get(name, set()))
        rows = [
            tuple(_placeholders(row[c], request_ids) for c in columns) for row in data.to_pylist()
        ]
        contents[name] = columns, sorted(rows)
    return contents


def _placeholders(value, request_ids: list[str]) -> str:
    text = repr(value)
    for request_id in request_ids:
        text = text.replace(request_id, "<request_id>")
    return text


def test_the_cluster_writes_the_same_tables_as_local(local_run, cluster_run):
    local, cluster = _contents(local_run), _contents(cluster_run[0])
    differing = {
        name: {"local rows": len(rows), "cluster rows": len(cluster[name][1])}
        for name, (columns, rows) in local.items()
        if name in cluster and (columns, rows) != cluster[name]
    }

    assert sorted(cluster) == sorted(local)
    assert {"lake/base/population", "lake/share/mzj/population", "reid/mzj/population"} <= set(
        local
    )
    assert len(local["lake/base/population"][1]) > PERSONS / 2
    assert differing == {}


def test_the_clusters_executors_ran_the_jobs_with_the_drivers_code(cluster_run, spark_cluster):
    _, summary = cluster_run
    state = spark_cluster.state()
    apps = [app for app in state["completedapps"] if app["name"] == "govlake-county"]
    executor_logs = list(spark_cluster.work_dir.glob(f"{apps[0]['id']}/*/stderr")) if apps else []
    finished = sum(log.read_text(errors="replace").count("Finished task") for log in executor_logs)

    assert len(apps) == 1 and apps[0]["state"] == "FINISHED"
    assert [w["cores"] for w in state["workers"]] == [1]
    assert executor_logs and finished > 100
    # The worker's environment has no PYTHONPATH: without jobs.spark's setting, executors would
    # import the venv's installed govlake, which need not be this checkout.
    assert summary["executor_code"] == str(PROJECT_ROOT / "jobs" / "__init__.py")
