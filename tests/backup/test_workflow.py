from __future__ import annotations

import pyarrow as pa
import pytest
from sqlalchemy import select

from jobs.backup import workflow
from jobs.backup.backup import backup, restore
from jobs.backup.drill import drill
from jobs.backup.store import BackupError, read_manifest, set_uri
from jobs.lake import ledger, tables
from jobs.store import db
from jobs.store.db import transaction
from jobs.store.models import Account
from tests.actors import MZJ_OFFICER, RSJ_APPROVER, STEWARD, create_accounts
from tests.postgres import needs_postgres


@pytest.fixture
def lake_with_store(store_settings):
    pool = tables.table_uri(store_settings, "pool", "gaj", "hukou")
    ledger.append_rows(pool, [{"id": "a"}], pa.schema([("id", pa.string())]), "w1")
    create_accounts(store_settings, STEWARD, MZJ_OFFICER)
    return store_settings


def _logins(settings) -> list[str]:
    with transaction(settings) as session:
        return sorted(session.scalars(select(Account.login)))


def test_a_backup_holds_the_workflow_store_and_a_restore_brings_it_back(lake_with_store):
    settings = lake_with_store
    done = backup(settings, by="steward")
    create_accounts(settings, RSJ_APPROVER)  # after the set: the restore takes it away again

    saved = done["workflow_store"]
    assert (saved["rows"]["accounts"], saved["revision"]) == (2, db.head_revision())
    assert saved["method"] == ("pg_dump" if saved["backend"] == "postgresql" else "sqlite-backup")
    set_dir = set_uri(settings.backup_root, done["backup_id"])
    with pytest.raises(BackupError, match="holds accounts or grants; pass overwrite"):
        restore(settings, set_dir, by="steward")
    assert _logins(settings) == sorted([STEWARD.login, MZJ_OFFICER.login, RSJ_APPROVER.login])

    result = restore(settings, set_dir, by="steward", overwrite=True)

    assert result["workflow_store"]["rows"] == saved["rows"]
    assert _logins(settings) == sorted([STEWARD.login, MZJ_OFFICER.login])


def test_the_drill_restores_the_workflow_store_apart_and_checks_its_rows(lake_with_store, tmp_path):
    settings = lake_with_store
    backup(settings, by="steward")

    result = drill(settings, by="steward", into=str(tmp_path / "drill"))

    assert result["problems"] == [] and result["ok"]
    assert result["workflow_store"]["rows"]["account_roles"] == 2
    if workflow._backend(settings.database_url) == "sqlite":
        assert (tmp_path / "drill" / "service" / "govlake.db").is_file()
    else:  # the throw-away database is gone
        with db.engine_for(settings).connect() as connection:
            names = connection.exec_driver_sql("SELECT datname FROM pg_database").scalars()
            assert [n for n in names if "_drill_" in n] == []
    assert _logins(settings) == sorted([STEWARD.login, MZJ_OFFICER.login])  # the live store


def test_a_store_restored_short_of_its_rows_is_refused(lake_with_store, monkeypatch, tmp_path):
    settings = lake_with_store
    done = backup(settings, by="steward")
    set_dir = set_uri(settings.backup_root, done["backup_id"])
    real = workflow.counted_store
    monkeypatch.setattr(
        workflow, "counted_store", lambda s: (real(s)[0], {**real(s)[1], "accounts": 1})
    )

    with pytest.raises(BackupError, match="restored workflow store is at revision"):
        workflow.restore(set_dir, read_manifest(set_dir)["workflow_store"], settings)


@needs_postgres
def test_without_pg_dump_the_store_is_copied_table_by_table_and_comes_back_whole(
    lake_settings, postgres_server, monkeypatch, tmp_path
):
    import dataclasses

    url = postgres_server.create_database("store_no_pg_dump")
    settings = dataclasses.replace(lake_settings, db_url=url)
    create_accounts(settings, STEWARD, MZJ_OFFICER)
    monkeypatch.setattr(workflow, "_tool", lambda name: None)
    done = backup(settings, by="steward")
    create_accounts(settings, RSJ_APPROVER)
    set_dir = set_uri(settings.backup_root, done["backup_id"])

    drilled = drill(settings, by="steward", into=str(tmp_path / "drill"))
    restored = restore(settings, set_dir, by="steward", overwrite=True)
    create_accounts(settings, RSJ_APPROVER)  # the id sequence continues past the restored ids

    assert done["workflow_store"]["method"] == "copy" and done["warnings"] == []
    assert drilled["ok"] and drilled["workflow_store"]["rows"]["accounts"] == 2
    assert restored["workflow_store"]["rows"] == done["workflow_store"]["rows"]
    assert _logins(settings) == sorted([STEWARD.login, MZJ_OFFICER.login, RSJ_APPROVER.login])


def test_the_database_password_reaches_pg_dump_in_its_environment_not_its_arguments():
    libpq, env = workflow._libpq("postgresql+psycopg://govlake:s3cret%2Fx@db:5432/store")
    assert libpq == "postgresql://govlake@db:5432/store"
    assert env["PGPASSWORD"] == "s3cret/x"


@needs_postgres
def test_a_store_of_another_kind_is_refused_before_any_table_is_restored(
    lake_settings, postgres_server, tmp_path
):
    import dataclasses

    settings = dataclasses.replace(lake_settings, db_url=f"sqlite:///{tmp_path / 'store.db'}")
    pool = tables.table_uri(settings, "pool", "gaj", "hukou")
    ledger.append_rows(pool, [{"id": "a"}], pa.schema([("id", pa.string())]), "w1")
    create_accounts(settings, STEWARD)
    done = backup(settings, by="steward")
    elsewhere = postgres_server.create_database("store_of_another_kind")

    with pytest.raises(BackupError, match="restore it into a store of its kind"):
        restore(
            settings,
            set_uri(settings.backup_root, done["backup_id"]),
            by="steward",
            target_root=str(tmp_path / "other_lake"),
            store_url=elsewhere,
        )
    assert not (tmp_path / "other_lake").exists()
