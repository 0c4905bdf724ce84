from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tests.orchestrate.airflow_home import activate_session_home

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def run_backup_dag(tmp_path_factory):
    from jobs.orchestrate.runner import run_dag

    # The session's one Airflow home and the project's DAGs folder: Airflow reads its
    # configuration once per process, so a DAGs folder of this test's own would break every
    # later DAG test in the run.
    home = activate_session_home(tmp_path_factory).home
    return lambda day: run_dag(
        "govlake__backup", dt.datetime(2025, 3, day, tzinfo=dt.UTC), home=home
    )


def test_backup_dag_takes_a_set_then_keeps_the_newest(run_backup_dag, monkeypatch, tmp_path):
    from jobs.backup.backup import list_backups, read_manifest
    from jobs.backup.store import set_uri
    from jobs.lake import ledger, tables
    from jobs.settings import Settings

    for name in ("lake", "landing", "reid", "backup"):
        monkeypatch.setenv(f"GOVLAKE_{name.upper()}_ROOT", str(tmp_path / name))
    monkeypatch.setenv("GOVLAKE_BACKUP_KEEP", "1")
    settings = Settings.from_env()
    pool = tables.table_uri(settings, "pool", "gaj", "hukou")
    schema = pa.schema([("id", pa.string())])
    ledger.append_rows(pool, [{"id": "a"}], schema, "w1")

    first = run_backup_dag(3)
    ledger.append_rows(pool, [{"id": "b"}], schema, "w2")
    second = run_backup_dag(4)

    assert first.succeeded and second.succeeded
    (kept,) = list_backups(settings)
    manifest = read_manifest(set_uri(settings.backup_root, kept))
    versions = {t["path"]: t["version"] for t in manifest["tables"]}
    assert versions["pool/gaj/hukou"] == 1
    assert second.tasks[1].result["removed_sets"] != []
