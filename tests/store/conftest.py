"""A workflow store per test, on SQLite and on a throw-away PostgreSQL server."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from jobs.settings import pinned_clock
from jobs.store import accounts, db
from jobs.store.db import transaction
from jobs.store.roles import APPROVER, AUDITOR, BUREAU, BUREAU_STEWARD, DATA_OFFICER, SYSTEM_CLIENT
from tests.postgres import needs_postgres

NOW = dt.datetime(2025, 3, 3, 2, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"
DEPARTMENTS = [("mzj", "民政局", "Civil Affairs"), ("rsj", "人社局", "Human Resources")]
#: login → (department, roles) of the accounts :func:`people` creates.
PEOPLE = {
    "steward": (BUREAU, [BUREAU_STEWARD]),
    "auditor": (BUREAU, [AUDITOR]),
    "mzj.li": ("mzj", [DATA_OFFICER]),
    "mzj.wang": ("mzj", [APPROVER]),
    "rsj.zhao": ("rsj", [APPROVER]),
    "mzj.app": ("mzj", [SYSTEM_CLIENT]),
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
def store_settings(request, lake_settings, tmp_path):
    """Lake settings whose workflow store is a fresh database of the parameter's kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"store_{uuid.uuid4().hex[:12]}")
    settings = dataclasses.replace(
        lake_settings, db_url=url, reid_root=str(tmp_path / "reid")
    ).with_clock(pinned_clock(NOW))
    yield settings
    db.dispose_engines()


@pytest.fixture
def people(store_settings):
    """The store with two departments and the accounts of :data:`PEOPLE`."""
    with transaction(store_settings) as session:
        accounts.sync_departments(session, DEPARTMENTS)
        for login, (department, roles) in PEOPLE.items():
            accounts.create_account(
                session,
                login=login,
                department=department,
                display_name=login,
                roles=roles,
                password=None if roles == [SYSTEM_CLIENT] else PASSWORD,
                now=NOW,
            )
    return store_settings
