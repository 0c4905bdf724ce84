from __future__ import annotations

import argparse
import json

import pytest

from jobs.cli import main
from jobs.store.accounts import AuthError
from jobs.store.identity import TOKEN_VARIABLE, signed_in
from tests.actors import PASSWORD, password_file


@pytest.fixture
def env_store(lake_settings, monkeypatch):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", lake_settings.lake_root)
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    return lake_settings


def create(login, department, *roles, password=None):
    args = ["accounts", "create", login, "--department", department, "--name", "李四"]
    args += [f"--role={r}" for r in roles]
    return main([*args, "--password-file", password] if password else args)


def test_accounts_create_list_disable(env_store, tmp_path, capsys):
    secret = password_file(tmp_path)
    assert create("mzj.li", "mzj", "data_officer", "approver", password=secret) == 0
    assert create("mzj.app", "mzj", "system_client") == 0
    assert create("mzj.li", "mzj", "approver", password=secret) == 1
    assert "taken" in capsys.readouterr().err
    assert main(["accounts", "disable", "mzj.app"]) == 0
    capsys.readouterr()
    assert main(["accounts", "list", "--json"]) == 0
    listed = {a["login"]: a for a in json.loads(capsys.readouterr().out)}
    assert listed["mzj.li"]["roles"] == ["approver", "data_officer"]
    assert (listed["mzj.app"]["disabled"], listed["mzj.li"]["disabled"]) == (True, False)
    assert PASSWORD not in json.dumps(listed)


def test_an_accounts_email_is_set_checked_and_cleared(env_store, tmp_path, capsys):
    secret = password_file(tmp_path)
    assert create("mzj.li", "mzj", "data_officer", password=secret) == 0

    assert main(["accounts", "email", "mzj.li", "li@mzj.example"]) == 0
    assert main(["accounts", "email", "mzj.li", "li@mzj.example\r\nBcc: x@evil.example"]) == 1
    capsys.readouterr()
    assert main(["accounts", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert main(["accounts", "email", "mzj.li"]) == 0

    assert listed["email"] == "li@mzj.example"
    assert "inbox only" in capsys.readouterr().out


def test_password_comes_from_standard_input(env_store, monkeypatch, tmp_path):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert create("mzj.li", "mzj", "approver", password="-") == 0
    signing = argparse.Namespace(login="mzj.li", password_file=password_file(tmp_path))
    actor = signed_in(env_store, signing, {})
    assert actor.login == "mzj.li"


def test_token_is_printed_once_and_listed_by_prefix_only(env_store, capsys):
    assert create("mzj.app", "mzj", "system_client") == 0
    capsys.readouterr()
    assert main(["accounts", "token", "issue", "mzj.app", "--days", "30"]) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    assert main(["accounts", "token", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert token not in listed
    (row,) = json.loads(listed)
    assert (row["login"], row["state"], row["prefix"]) == ("mzj.app", "active", token[:12])

    no_login = argparse.Namespace(login=None, password_file=None)
    assert signed_in(env_store, no_login, {TOKEN_VARIABLE: token}).login == "mzj.app"
    with pytest.raises(AuthError, match=r"belongs to mzj\.app"):
        signed_in(
            env_store,
            argparse.Namespace(login="steward", password_file=None),
            {TOKEN_VARIABLE: token},
        )

    assert main(["accounts", "token", "rotate", "mzj.app"]) == 0
    rotated = capsys.readouterr().out.splitlines()[-1]
    with pytest.raises(AuthError, match="revoked"):
        signed_in(env_store, no_login, {TOKEN_VARIABLE: token})
    assert main(["accounts", "token", "revoke", rotated[:12]]) == 0
    with pytest.raises(AuthError, match="revoked"):
        signed_in(env_store, no_login, {TOKEN_VARIABLE: rotated})


def test_changes_to_accounts_are_audited(env_store, tmp_path):
    from jobs.audit.log import read_entries

    assert create("mzj.app", "mzj", "system_client") == 0
    assert main(["accounts", "token", "issue", "mzj.app"]) == 0
    assert main(["accounts", "disable", "mzj.app"]) == 0
    entries = [(e["action"], e["target"]) for e in read_entries(env_store)]
    assert entries == [
        ("account_created", "accounts/mzj.app"),
        ("token_issued", "accounts/mzj.app"),
        ("account_disabled", "accounts/mzj.app"),
    ]


def test_db_upgrade_and_current(env_store, capsys):
    from jobs.store import db

    assert main(["db", "upgrade"]) == 0
    assert f"workflow store at {db.head_revision()}" in capsys.readouterr().out
    assert main(["db", "downgrade", "base"]) == 0
    assert main(["db", "current"]) == 0
    assert "store base" in capsys.readouterr().out
