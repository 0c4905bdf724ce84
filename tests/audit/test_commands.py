from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from jobs.audit import log
from jobs.cli import main
from jobs.lake.registry import AUDIT_LOG
from tests.actors import BUREAU_AUDITOR, STEWARD, create_accounts, password_file


@pytest.fixture
def env_lake(lake_settings, monkeypatch):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", lake_settings.lake_root)
    monkeypatch.setenv("GOVLAKE_REID_ROOT", lake_settings.reid_root)
    return lake_settings


def test_audit_verify_exits_non_zero_and_names_the_changed_entry(env_lake, capsys):
    log.record_many(
        env_lake, [{"action": "steward", "actor": "li", "target": str(i)} for i in range(3)]
    )
    assert main(["audit", "verify"]) == 0
    assert "audit log intact" in capsys.readouterr().out
    rows = log.read_entries(env_lake)
    rows[1]["target"] = "tampered"
    write_deltalake(
        AUDIT_LOG.uri(env_lake),
        pa.Table.from_pylist(rows, schema=log.AUDIT_SCHEMA),
        mode="overwrite",
    )
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert f"entry seq=1 id={rows[1]['entry_id']}: changed" in err


def test_audit_list_and_purge_by_a_bureau_steward_only(env_lake, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GOVLAKE_ACCOUNT_TOKEN", raising=False)
    create_accounts(env_lake, STEWARD, BUREAU_AUDITOR)
    log.record(env_lake, "steward", actor="li", target="x")
    assert main(["audit", "list", "--action", "steward"]) == 0
    assert "steward" in capsys.readouterr().out
    purge = ["audit", "purge", "--why", "yearly", "--password-file", password_file(tmp_path)]
    assert main([*purge, "--as", BUREAU_AUDITOR.login]) == 1
    assert "may not audit.purge" in capsys.readouterr().err
    assert main([*purge, "--as", STEWARD.login]) == 0
    assert '"removed": 0' in capsys.readouterr().out
    assert main(["audit", "purge", "--why", "yearly"]) == 1
    assert "say who acts" in capsys.readouterr().err
