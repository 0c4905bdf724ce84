"""Accounts in the workflow store of each test (``store_settings``: SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.settings import pinned_clock
from jobs.store import accounts
from jobs.store.db import transaction
from jobs.store.roles import APPROVER, AUDITOR, BUREAU, BUREAU_STEWARD, DATA_OFFICER, SYSTEM_CLIENT
from tests.actors import PASSWORD

NOW = dt.datetime(2025, 3, 3, 2, 0, tzinfo=dt.UTC)
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


@pytest.fixture
def people(store_settings):
    """The store (at :data:`NOW`) with two departments and the accounts of :data:`PEOPLE`."""
    store_settings = store_settings.with_clock(pinned_clock(NOW))
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
