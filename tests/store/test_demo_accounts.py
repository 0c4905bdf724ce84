"""The demo's accounts of the department service (``govlake demo`` prints their logins)."""

from __future__ import annotations

import dataclasses

import pytest

from jobs.demo import format_demo_logins
from jobs.store import accounts
from jobs.store.accounts import AuthError
from jobs.store.db import transaction
from jobs.store.demo_accounts import DEMO_CAST, DemoAccountsRefused, ensure_demo_accounts
from jobs.store.roles import BUREAU


def _sign_in(settings, login, password):
    with transaction(settings) as session:
        return accounts.sign_in(session, login, password, source="127.0.0.1", now=settings.now())


def test_three_departments_and_the_bureau_get_accounts_that_sign_in(store_settings):
    logins = ensure_demo_accounts(store_settings)

    assert [d.login for d in logins] == list(DEMO_CAST)
    departments = {d.department for d in logins}
    assert BUREAU in departments and len(departments - {BUREAU}) == 3
    for demo in logins:
        actor = _sign_in(store_settings, demo.login, demo.password)
        assert (actor.department, actor.roles) == (demo.department, frozenset(demo.roles))


def test_a_second_run_gives_new_passwords_and_the_old_ones_stop_working(store_settings):
    first = {d.login: d.password for d in ensure_demo_accounts(store_settings)}
    second = {d.login: d.password for d in ensure_demo_accounts(store_settings)}

    assert first.keys() == second.keys()
    assert all(first[login] != second[login] for login in first)
    assert isinstance(_sign_in(store_settings, "mzj.officer", first["mzj.officer"]), AuthError)
    assert _sign_in(store_settings, "mzj.officer", second["mzj.officer"]).login == "mzj.officer"


def test_production_never_gets_demo_accounts(store_settings):
    production = dataclasses.replace(store_settings, env="production")
    with pytest.raises(DemoAccountsRefused, match="GOVLAKE_ENV=production"):
        ensure_demo_accounts(production)


def test_the_terminal_lines_name_every_login_with_its_password_and_where_to_sign_in(
    store_settings,
):
    logins = ensure_demo_accounts(store_settings)
    text = format_demo_logins(logins)
    assert "127.0.0.1:8800" in text
    for demo in logins:
        assert demo.login in text and demo.password in text


def test_every_demo_account_change_is_audited_without_its_password(store_settings):
    from jobs.audit.log import read_entries

    logins = ensure_demo_accounts(store_settings)
    entries = [e for e in read_entries(store_settings) if e["actor"] == "demo"]
    assert sorted(e["target"] for e in entries) == sorted(f"accounts/{d.login}" for d in logins)
    text = repr(entries)
    assert not any(d.password in text for d in logins)
