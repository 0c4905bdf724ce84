from __future__ import annotations

import json

import pyarrow as pa
import pytest

from jobs.backup import store
from jobs.cli import main
from jobs.lake import ledger, tables
from jobs.settings import Settings
from tests.actors import MZJ_OFFICER, STEWARD, create_accounts, password_file


@pytest.fixture
def env_lake(monkeypatch, tmp_path):
    for name in ("lake", "landing", "reid", "backup", "reports"):
        monkeypatch.setenv(f"GOVLAKE_{name.upper()}_ROOT", str(tmp_path / name))
    monkeypatch.delenv("GOVLAKE_ACCOUNT_TOKEN", raising=False)
    settings = Settings.from_env()
    pool = tables.table_uri(settings, "pool", "gaj", "hukou")
    ledger.append_rows(pool, [{"id": "a"}], pa.schema([("id", pa.string())]), "w1")
    create_accounts(settings, STEWARD, MZJ_OFFICER)
    return settings


@pytest.fixture
def steward(tmp_path):
    """``--as`` the bureau steward, the password from a file."""
    return ["--as", STEWARD.login, "--password-file", password_file(tmp_path)]


def test_backup_then_drill_then_list_from_the_command_line(env_lake, steward, capsys):
    assert main(["backup", *steward]) == 0
    backup_id = json.loads(capsys.readouterr().out)["backup_id"]

    assert main(["backup", "drill", *steward]) == 0
    drilled = json.loads(capsys.readouterr().out)
    assert main(["backup", "list"]) == 0

    assert (drilled["backup_id"], drilled["ok"]) == (backup_id, True)
    assert drilled["workflow_store"]["rows"]["accounts"] == 2  # the store came back too
    assert json.loads(capsys.readouterr().out) == [backup_id]


def test_destroy_exits_3_naming_each_copy_left_for_destruction_by_hand(
    env_lake, steward, capsys, monkeypatch, tmp_path
):
    assert main(["backup", *steward]) == 0

    def read_only(uri):
        raise PermissionError(13, "Permission denied", uri)

    monkeypatch.setattr(store, "remove_file", read_only)
    code = main(["destroy", "gaj.hukou", *steward, "--why", "保存期满"])

    assert code == 3
    err = capsys.readouterr().err
    assert "destroy these copies by hand" in err
    assert f"{env_lake.backup_root}/objects/" in err
    assert env_lake.backup_root.startswith(str(tmp_path))


def test_backup_with_no_who_is_refused(env_lake, capsys):
    assert main(["backup"]) == 1
    assert "say who acts: --as LOGIN" in capsys.readouterr().err


def test_only_a_bureau_steward_backs_up_restores_or_destroys(env_lake, tmp_path, capsys):
    officer = ["--as", MZJ_OFFICER.login, "--password-file", password_file(tmp_path)]
    for command in (
        ["backup"],
        ["backup", "prune"],
        ["backup", "drill"],
        ["restore", "any-set"],
        ["destroy", "gaj.hukou", "--why", "w"],
    ):
        assert main([*command, *officer]) == 1, command
        assert "mzj.li (mzj: data_officer) may not lake." in capsys.readouterr().err
    assert main(["backup", "list"]) == 0
    assert json.loads(capsys.readouterr().out) == []
