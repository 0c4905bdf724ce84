from __future__ import annotations

import json

import pytest

from jobs.cli import main


@pytest.fixture
def env_lake(lake_settings, monkeypatch):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", lake_settings.lake_root)
    monkeypatch.setenv("GOVLAKE_REID_ROOT", lake_settings.reid_root)
    return lake_settings


def test_share_request_approve_list_round_trip(env_lake, capsys):
    args = ["share", "request", "mzj", "rsj.insured", "--purpose", "低保核验", "--by", "mzj.li"]
    assert main([*args, "--fields", "person_id,insurance_status"]) == 0
    assert "pending" in capsys.readouterr().out
    assert main(["share", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["status"], row["fields"]) == ("pending", ["person_id", "insurance_status"])
    approve = ["share", "approve", row["request_id"][:8], "--by", "rsj.zhao", "--why", "依法履职"]
    with pytest.raises(SystemExit):  # an approval without an expiry date is a usage error
        main(approve)
    assert main([*approve, "--expires", "2099-12-31"]) == 0
    assert f"{row['request_id']}: granted" in capsys.readouterr().out
    assert main(["share", "list", "--status", "granted"]) == 0
    assert "1 request(s), 0 overdue" in capsys.readouterr().out


def test_share_commands_refuse_with_exit_1(env_lake, capsys):
    assert main(["share", "request", "mzj", "wjw.death_cert", "--purpose", "p", "--by", "b"]) == 1
    assert "denied" in capsys.readouterr().out
    assert main(["share", "request", "mzj", "rsj.insured", "--purpose", "p", "--by", "b"]) == 1
    assert "names the fields" in capsys.readouterr().err
    assert main(["share", "revoke", "nope", "--by", "b", "--why", "w"]) == 1
    assert main(["share", "export", "mzj", "population", "--out", "x.csv", "--by", "b"]) == 1
