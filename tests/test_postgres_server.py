"""The throw-away PostgreSQL server the production-behaviour tests use (tests/postgres.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.postgres import needs_postgres

pytestmark = needs_postgres


def test_the_server_is_a_real_postgresql_on_loopback(postgres_server):
    engine = sa.create_engine(postgres_server.create_database("fixture_check"))
    with engine.connect() as connection:
        version = connection.execute(sa.text("select version()")).scalar_one()
        address = connection.execute(sa.text("select inet_server_addr()::text")).scalar_one()
    engine.dispose()
    assert version.startswith("PostgreSQL ")
    assert address.startswith("127.0.0.1")


def test_a_created_database_starts_empty_each_time(postgres_server):
    url = postgres_server.create_database("fixture_fresh")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("create table leftover (n int)"))
    engine.dispose()

    engine = sa.create_engine(postgres_server.create_database("fixture_fresh"))
    with engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
    engine.dispose()
    assert tables == []


def test_unsafe_database_names_are_refused(postgres_server):
    with pytest.raises(ValueError, match="letters, digits"):
        postgres_server.create_database('x"; drop database postgres; --')
