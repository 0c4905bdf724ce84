from __future__ import annotations

import json

import pyarrow as pa
import pytest

from jobs.backup import store
from jobs.cli import main
from jobs.lake import ledger, tables
from jobs.settings import Settings


@pytest.fixture
def env_lake(monkeypatch, tmp_path):
    for name in ("lake", "landing", "reid", "backup", "reports"):
        monkeypatch.setenv(f"GOVLAKE_{name.upper()}_ROOT", str(tmp_path / name))
    settings = Settings.from_env()
    pool = tables.table_uri(settings, "pool", "gaj", "hukou")
    ledger.append_rows(pool, [{"id": "a"}], pa.schema([("id", pa.string())]), "w1")
    return settings


def test_backup_then_drill_then_list_from_the_command_line(env_lake, capsys):
    assert main(["backup", "--by", "ops"]) == 0
    backup_id = json.loads(capsys.readouterr().out)["backup_id"]

    assert main(["backup", "drill", "--by", "ops"]) == 0
    drilled = json.loads(capsys.readouterr().out)
    assert main(["backup", "list"]) == 0

    assert (drilled["backup_id"], drilled["ok"]) == (backup_id, True)
    assert json.loads(capsys.readouterr().out) == [backup_id]


def test_destroy_exits_3_naming_each_copy_left_for_destruction_by_hand(
    env_lake, capsys, monkeypatch, tmp_path
):
    assert main(["backup", "--by", "ops"]) == 0

    def read_only(uri):
        raise PermissionError(13, "Permission denied", uri)

    monkeypatch.setattr(store, "remove_file", read_only)
    code = main(["destroy", "gaj.hukou", "--by", "steward", "--why", "保存期满"])

    assert code == 3
    err = capsys.readouterr().err
    assert "destroy these copies by hand" in err
    assert f"{env_lake.backup_root}/objects/" in err
    assert env_lake.backup_root.startswith(str(tmp_path))


def test_backup_with_no_who_is_refused(env_lake, capsys):
    assert main(["backup"]) == 1
    assert "--by" in capsys.readouterr().err
