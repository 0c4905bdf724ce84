from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from jobs.settings import Settings, SettingsError
from jobs.store import db
from jobs.store.models import Base, Department, LoginAttempt
from tests.postgres import needs_postgres


def test_migrations_build_exactly_the_models(store_settings):
    db.upgrade(store_settings)
    with db.engine_for(store_settings).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert db.current_revision(store_settings) == db.head_revision()


def test_every_migration_downgrades_to_an_empty_database_and_back(store_settings):
    db.upgrade(store_settings)
    db.downgrade(store_settings, "base")
    assert db.current_revision(store_settings) is None
    with db.engine_for(store_settings).connect() as connection:
        assert inspect(connection).get_table_names() == ["alembic_version"]
    db.upgrade(store_settings)
    assert db.current_revision(store_settings) == db.head_revision()


def test_0003_keeps_signed_in_sessions_and_drops_their_unused_csrf_secret(store_settings):
    db.upgrade(store_settings, "0002")
    now = dt.datetime(2025, 3, 3, tzinfo=dt.UTC)
    with db.engine_for(store_settings).begin() as connection:
        connection.execute(
            text("INSERT INTO departments VALUES ('mzj', '民政局', '')"),
        )
        connection.execute(
            text(
                "INSERT INTO accounts (id, login, department_code, display_name, disabled,"
                " created_at) VALUES (1, 'mzj.li', 'mzj', '李', false, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text("INSERT INTO sessions VALUES ('h', 1, 'secret', :now, :later)"),
            {"now": now, "later": now + dt.timedelta(hours=8)},
        )
    db.upgrade(store_settings, "0003")
    with db.engine_for(store_settings).connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("sessions")}
        assert "csrf_secret" not in columns
        assert connection.execute(text("SELECT id_hash FROM sessions")).scalars().all() == ["h"]
    db.downgrade(store_settings, "0002")
    with db.engine_for(store_settings).connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("sessions")}
        assert "csrf_secret" in columns
        assert connection.execute(text("SELECT count(*) FROM sessions")).scalar() == 0


def test_first_transaction_migrates_a_new_store(store_settings):
    with db.transaction(store_settings) as session:
        session.add(Department(code="mzj", name="民政局", name_en=""))
    with db.transaction(store_settings) as session:
        assert session.scalars(select(Department.code)).all() == ["mzj"]


def test_a_failed_transaction_leaves_nothing(store_settings):
    with pytest.raises(RuntimeError), db.transaction(store_settings) as session:
        session.add(Department(code="mzj", name="民政局", name_en=""))
        session.flush()
        raise RuntimeError("half-way")
    with db.transaction(store_settings) as session:
        assert session.scalars(select(Department)).all() == []


def test_instants_come_back_aware_in_utc(store_settings):
    local = dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with db.transaction(store_settings) as session:
        session.add(LoginAttempt(login="x", at=local, succeeded=False, source="cli"))
    with db.transaction(store_settings) as session:
        (stored,) = session.scalars(select(LoginAttempt.at)).all()
    assert stored == local and stored.tzinfo == dt.UTC


def test_naive_instants_are_refused(store_settings):
    with pytest.raises(Exception, match="aware"), db.transaction(store_settings) as session:
        session.add(LoginAttempt(login="x", at=dt.datetime(2025, 3, 3), succeeded=False))


def test_default_store_is_a_sqlite_file_next_to_a_local_lake(tmp_path):
    settings = Settings(lake_root=str(tmp_path / "lake"))
    assert settings.database_url == f"sqlite:///{tmp_path / 'service' / 'govlake.db'}"
    with pytest.raises(SettingsError, match="GOVLAKE_DB_URL"):
        _ = Settings(lake_root="s3://bucket/lake").database_url


@pytest.mark.parametrize(
    ("db_url", "refusal"),
    [
        ("", "GOVLAKE_DB_URL is not set \\(a SQLite file\\)"),
        ("sqlite:////srv/govlake.db", "GOVLAKE_DB_URL is a SQLite file"),
        ("postgresql+psycopg://govlake@db:5432/govlake", "GOVLAKE_DB_URL has no password"),
        ("postgresql+psycopg://govlake:change-me@db/govlake", "development password"),
        ("postgresql+psycopg://govlake:govlake@db/govlake", "development password"),
        ("postgresql+psycopg://store:store@db/govlake", "development password"),
        ("mysql://govlake:s3cret-4f1@db/govlake", "names a mysql database"),
    ],
)
def test_production_refuses_a_weak_store_naming_the_variable_and_what_to_do(
    tmp_path, db_url, refusal
):
    settings = Settings(lake_root=str(tmp_path / "lake"), db_url=db_url, env="production")
    with pytest.raises(SettingsError, match=refusal) as refused:
        _ = settings.database_url
    assert "postgresql+psycopg://USER:PASSWORD@HOST" in str(refused.value)
    assert "s3cret-4f1" not in str(refused.value)


def test_production_takes_postgresql_with_a_password_of_its_own():
    url = "postgresql+psycopg://govlake:Xk2%40p9-own@db:5432/govlake"
    assert Settings(db_url=url, env="production").database_url == url


def test_a_command_that_opens_the_store_in_production_refuses_a_sqlite_store(
    tmp_path, monkeypatch, capsys
):
    from jobs.cli import main

    monkeypatch.setenv("GOVLAKE_ENV", "production")
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("GOVLAKE_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    assert main(["accounts", "list"]) == 1
    assert "GOVLAKE_DB_URL is a SQLite file" in capsys.readouterr().err
    assert not (tmp_path / "store.db").exists()


def test_config_never_shows_the_database_password():
    settings = Settings(db_url="postgresql+psycopg://govlake:s3cret@db:5432/govlake")
    assert settings.as_dict()["db_url"] == "postgresql+psycopg://govlake:***@db:5432/govlake"


@needs_postgres
def test_creates_a_missing_postgresql_database_once(postgres_server, lake_settings):
    url = postgres_server.url(f"created_{uuid.uuid4().hex[:8]}")
    settings = dataclasses.replace(lake_settings, db_url=url)
    try:
        assert db.create_database(settings) is True
        assert db.create_database(settings) is False
        db.upgrade(settings)
        assert db.current_revision(settings) == db.head_revision()
    finally:
        db.dispose_engines()


def test_a_sqlite_store_needs_no_database_created(tmp_path):
    assert db.create_database(Settings(lake_root=str(tmp_path / "lake"))) is False


def test_a_reader_sees_the_last_commit_while_a_writer_works(store_settings):
    with db.transaction(store_settings) as session:
        session.add(Department(code="mzj", name="民政局", name_en=""))
    with db.transaction(store_settings) as writer:
        writer.add(Department(code="rsj", name="人社局", name_en=""))
        writer.flush()
        with db.reading(store_settings) as reader:  # SQLite: no wait for the writer's lock
            assert reader.scalars(select(Department.code)).all() == ["mzj"]
    with db.reading(store_settings) as reader:
        assert reader.scalars(select(Department.code).order_by(Department.code)).all() == [
            "mzj",
            "rsj",
        ]


def _departments(settings):
    with db.reading(settings) as reader:
        return reader.scalars(select(Department.code).order_by(Department.code)).all()


def test_the_change_stamp_moves_with_every_commit_and_only_then(store_settings):
    with db.transaction(store_settings) as session:
        session.add(Department(code="mzj", name="民政局", name_en=""))
    before = db.change_stamp(store_settings)
    _departments(store_settings)
    assert db.change_stamp(store_settings) == before
    with db.transaction(store_settings) as session:
        session.add(Department(code="rsj", name="人社局", name_en=""))
    assert db.change_stamp(store_settings) != before


def test_a_store_cache_keeps_a_read_until_the_next_commit(store_settings):
    cache = db.StoreCache()
    with db.transaction(store_settings) as session:
        session.add(Department(code="mzj", name="民政局", name_en=""))
    reads = []

    def read():
        reads.append(1)
        return _departments(store_settings)

    assert cache.get(store_settings, "departments", read) == ["mzj"]
    assert cache.get(store_settings, "departments", read) == ["mzj"]
    assert len(reads) == 1
    with db.transaction(store_settings) as session:
        session.add(Department(code="rsj", name="人社局", name_en=""))
    assert cache.get(store_settings, "departments", read) == ["mzj", "rsj"]
    assert len(reads) == 2


def test_a_store_cache_keeps_a_read_no_longer_than_its_ttl(store_settings, monkeypatch):
    cache = db.StoreCache(ttl=10.0)
    now = [100.0]
    monkeypatch.setattr(db.time, "monotonic", lambda: now[0])
    assert cache.get(store_settings, "k", lambda: "first") == "first"
    now[0] += 11.0
    assert cache.get(store_settings, "k", lambda: "second") == "second"


def test_a_replaced_sqlite_file_is_not_taken_for_the_one_before(tmp_path):
    first, second = (
        Settings(lake_root=str(tmp_path / "lake"), db_url=f"sqlite:///{tmp_path / name}")
        for name in ("s.db", "other.db")
    )
    for settings in (first, second):
        with db.transaction(settings) as session:
            session.add(Department(code="mzj", name="民政局", name_en=""))
    before = db.change_stamp(first)
    db.dispose_engines()
    (tmp_path / "other.db").replace(tmp_path / "s.db")  # same name, another file
    assert db.change_stamp(first) != before
    db.dispose_engines()
