from __future__ import annotations

import json

import pytest

from jobs.cli import main
from tests.actors import (
    GAJ_OFFICER,
    MZJ_APPROVER,
    MZJ_OFFICER,
    RSJ_APPROVER,
    STEWARD,
    create_accounts,
    password_file,
)


@pytest.fixture
def env_lake(lake_settings, monkeypatch):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", lake_settings.lake_root)
    monkeypatch.setenv("GOVLAKE_REID_ROOT", lake_settings.reid_root)
    monkeypatch.delenv("GOVLAKE_ACCOUNT_TOKEN", raising=False)
    create_accounts(lake_settings, MZJ_OFFICER, MZJ_APPROVER, RSJ_APPROVER, STEWARD, GAJ_OFFICER)
    return lake_settings


@pytest.fixture
def signed(tmp_path):
    """``--as LOGIN --password-file FILE`` for one of the accounts."""
    path = password_file(tmp_path)
    return lambda actor: ["--as", actor.login, "--password-file", path]


def test_share_request_approve_list_round_trip(env_lake, signed, capsys):
    args = ["share", "request", "mzj", "rsj.insured", "--purpose", "低保核验", *signed(MZJ_OFFICER)]
    assert main([*args, "--fields", "person_id,insurance_status"]) == 0
    assert "pending" in capsys.readouterr().out
    assert main(["share", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["status"], row["fields"]) == ("pending", ["person_id", "insurance_status"])
    assert row["requested_by"] == MZJ_OFFICER.login
    approve = [
        "share",
        "approve",
        row["request_id"][:8],
        *signed(RSJ_APPROVER),
        "--why",
        "依法履职",
    ]
    with pytest.raises(SystemExit):  # an approval without an expiry date is a usage error
        main(approve)
    assert main([*approve, "--expires", "2099-12-31"]) == 0
    assert f"{row['request_id']}: granted" in capsys.readouterr().out
    assert main(["share", "list", "--status", "granted"]) == 0
    assert "1 request(s), 0 overdue" in capsys.readouterr().out
    (granted,) = json.loads((main(["share", "list", "--json"]), capsys.readouterr().out)[1])
    assert granted["decided_by"] == RSJ_APPROVER.login
    assert main(["share", "snapshot"]) == 0
    assert "1 request(s) in governance/share_grants" in capsys.readouterr().out


def test_approver_of_another_department_cannot_decide(env_lake, signed, capsys):
    request = ["share", "request", "mzj", "rsj.insured", "--purpose", "低保核验"]
    assert main([*request, *signed(MZJ_OFFICER), "--fields", "person_id"]) == 0
    request_id = capsys.readouterr().out.split()[0]
    approve = ["share", "approve", request_id, "--why", "自批", "--expires", "2099-12-31"]
    assert main([*approve, *signed(MZJ_APPROVER)]) == 1
    assert "mzj.wang (mzj: approver) may not share.decide for rsj" in capsys.readouterr().err
    assert main(["share", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "pending"


def test_a_refusal_goes_to_the_bureau_and_its_decision_stands(env_lake, signed, capsys):
    request = ["share", "request", "mzj", "rsj.insured", "--purpose", "低保核验"]
    basis = ["--legal-basis", "社会救助暂行办法", "--fields", "person_id"]
    assert main([*request, *signed(MZJ_OFFICER), *basis]) == 0
    request_id = capsys.readouterr().out.split()[0]
    assert main(["share", "deny", request_id, "--why", "超出范围", *signed(RSJ_APPROVER)]) == 0
    ask = ["share", "ask-coordination", request_id, "--why", "履职必需"]
    assert main([*ask, *signed(GAJ_OFFICER)]) == 1
    assert "may not share.ask_coordination for mzj" in capsys.readouterr().err
    assert main([*ask, *signed(MZJ_OFFICER)]) == 0
    assert ": coordinating" in capsys.readouterr().out
    coordinate = ["share", "coordinate", request_id, "--uphold", "--why", "可改用核验"]
    assert main([*coordinate, *signed(RSJ_APPROVER)]) == 1
    assert main([*coordinate, *signed(STEWARD)]) == 0
    assert ": upheld" in capsys.readouterr().out
    assert main([*ask, *signed(MZJ_OFFICER)]) == 1
    assert main(["share", "list", "--status", "upheld"]) == 0
    assert "1 request(s)" in capsys.readouterr().out


def test_decision_without_the_accounts_password_is_refused(env_lake, tmp_path, capsys):
    request = ["share", "request", "mzj", "rsj.insured", "--purpose", "低保核验"]
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n", encoding="utf-8")
    assert main([*request, "--as", "mzj.li", "--password-file", str(wrong)]) == 1
    assert "wrong login or password" in capsys.readouterr().err
    assert main([*request, "--fields", "person_id"]) == 1
    assert "say who acts" in capsys.readouterr().err
    assert main(["share", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_share_commands_refuse_with_exit_1(env_lake, signed, capsys):
    officer, approver = signed(MZJ_OFFICER), signed(RSJ_APPROVER)
    assert main(["share", "request", "mzj", "wjw.death_cert", "--purpose", "p", *officer]) == 1
    assert "denied" in capsys.readouterr().out
    assert main(["share", "request", "mzj", "rsj.insured", "--purpose", "p", *officer]) == 1
    assert "names the fields" in capsys.readouterr().err
    assert main(["share", "request", "rsj", "population", "--purpose", "p", *officer]) == 1
    assert "may not share.request for rsj" in capsys.readouterr().err
    assert main(["share", "revoke", "nope", *approver, "--why", "w"]) == 1
    export = ["share", "export", "mzj", "population", "--out", "x.csv"]
    assert main([*export, *signed(RSJ_APPROVER)]) == 1
    assert "rsj.zhao (rsj: approver) may not share.export for mzj" in capsys.readouterr().err
    assert main([*export, *signed(MZJ_OFFICER)]) == 1
    assert "mzj holds no active grant for population" in capsys.readouterr().err
