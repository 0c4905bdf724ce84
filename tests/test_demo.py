from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from deltalake import DeltaTable

from jobs.demo import format_summary
from jobs.lake import ledger
from jobs.settings import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.airflow]

RESOURCE = "gaj.hukou"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    # Its own process: Airflow reads its home once per process, and the demo redirects the
    # process's file descriptors 1 and 2 while the stages run.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLAKE_", "AIRFLOW"))}
    env.update(
        {
            "GOVLAKE_LAKE_ROOT": str(root / "lake"),
            "GOVLAKE_LANDING_ROOT": str(root / "landing"),
            "GOVLAKE_REPORTS_ROOT": str(root / "reports"),
            "GOVLAKE_REID_ROOT": str(root / "reid"),
            "GOVLAKE_BACKUP_ROOT": str(root / "backups"),
            "GOVLAKE_AIRFLOW_HOME": str(root / "airflow"),
            "GOVLAKE_SPARK_MASTER": "local[2]",
            "GOVLAKE_SHUFFLE_PARTITIONS": "2",
            "GOVLAKE_DRIVER_MEMORY": "1g",
        }
    )
    command = [sys.executable, "-m", "jobs.cli", "demo", "--persons", "300"]
    command += ["--resources", RESOURCE, "--ingest-only", "--json"]
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root, json.loads(result.stdout), result.stderr


def test_demo_reports_no_failed_dag(demo_run):
    _, summary, _ = demo_run
    assert summary["failed_dags"] == []


def test_demo_summary_covers_only_the_chosen_resource(demo_run):
    _, summary, _ = demo_run
    assert list(summary["resources"]) == [RESOURCE]


def test_demo_rows_per_layer_balance(demo_run):
    _, summary, _ = demo_run
    entry = summary["resources"][RESOURCE]
    promoted = entry["pool"] + entry["quarantined"] + entry["duplicates"] + entry["held"]
    assert entry["balanced"] is True
    assert entry["pool"] > 0
    assert entry["bronze"] == promoted
    assert entry["file_rows"] >= entry["bronze"]


def test_demo_row_counts_match_the_delta_tables(demo_run):
    root, summary, _ = demo_run
    entry = summary["resources"][RESOURCE]
    lake = root / "lake"
    quarantined = ledger.read_rows(
        str(lake / "quarantine" / "gaj" / "hukou"), [("stage", "=", "standardize")], ["stage"]
    )
    assert {
        "bronze": DeltaTable(str(lake / "bronze" / "gaj" / "hukou")).count(),
        "pool": DeltaTable(str(lake / "pool" / "gaj" / "hukou")).count(),
        "quarantined": len(quarantined),
    } == {key: entry[key] for key in ("bronze", "pool", "quarantined")}


def test_demo_outputs_are_under_the_configured_roots(demo_run):
    root, summary, _ = demo_run
    assert summary["outputs"] == {
        "landing": str(root / "landing"),
        "lake": str(root / "lake"),
        "reports": str(root / "reports"),
        "airflow": str((root / "airflow").resolve()),
        "log": str(root / "reports" / "demo.log"),
    }
    assert (root / "reports" / "demo.log").stat().st_size > 0


def test_demo_generates_the_county_of_the_requested_size(demo_run):
    root, _, _ = demo_run
    config = json.loads((root / "landing" / "_manifest" / "config.json").read_text())
    assert (config["persons"], config["seed"]) == (300, 7)


def test_demo_ingest_only_runs_landing_and_ingestion(demo_run):
    _, summary, stderr = demo_run
    assert list(summary["stage_seconds"]) == ["landing", "ingestion"]
    assert "ingest__gaj__hukou" in stderr


def test_demo_text_summary_shows_the_balanced_row_and_the_outputs(demo_run):
    root, summary, _ = demo_run
    lines = format_summary(summary).splitlines()
    hukou = next(line for line in lines if line.startswith(RESOURCE))
    assert hukou.split()[-1] == "yes"
    assert f"  lake     {root / 'lake'}" in lines
    assert f"  reports  {root / 'reports'}" in lines
