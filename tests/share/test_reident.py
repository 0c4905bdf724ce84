from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.audit.log import read_entries
from jobs.lake import ledger
from jobs.lake.registry import REIDENTIFICATION
from jobs.secrets import SecretError
from jobs.settings import PROJECT_ROOT
from jobs.share import grants
from jobs.share.keys import ShareKey
from jobs.share.masking import hmac_sha256_hex_py
from jobs.share.refresh import refresh_shares
from jobs.share.reident import (
    DEVELOPMENT_KEY,
    KEY_ENV,
    ReidentError,
    ReidentKey,
    load_reident_key,
    open_sealed,
    reidentify,
)
from tests.actors import MZJ_OFFICER, STEWARD, create_accounts, password_file

pytestmark = pytest.mark.spark

TODAY = dt.date(2025, 3, 3)
SHARE_KEY = ShareKey(b"test-share-key", "test")
REIDENT_KEY = ReidentKey(b"test-reident-key", "test")
IDS = ("11010119900307002X", "110101198512120017")


def _files_under(root):
    for folder, _, names in os.walk(root):
        for name in names:
            yield Path(folder) / name


def _token(value):
    return hmac_sha256_hex_py(value, SHARE_KEY.for_consumer("mzj"))


@pytest.fixture
def refreshed(spark, shared_lake):
    grants.request_share(
        shared_lake,
        consumer="mzj",
        dataset_id="population",
        fields=[],
        purpose="低保核验",
        by=MZJ_OFFICER,
        today=TODAY,
    )
    refresh_shares(spark, shared_lake, today=TODAY, key=SHARE_KEY, reident_key=REIDENT_KEY)
    return shared_lake


def test_reidentification_files_hold_no_plain_id(refreshed):
    files = list(_files_under(refreshed.reid_root))
    raw = b"".join(p.read_bytes() for p in files)

    assert any(p.suffix == ".parquet" for p in files)
    assert _token(IDS[0]).encode() in raw  # the tokens are there, in the clear
    assert [v for v in IDS if v.encode() in raw] == []


def test_steward_reidentifies_tokens_and_the_audit_log_names_them_not_the_ids(refreshed):
    found = reidentify(
        refreshed,
        "mzj",
        "population",
        [_token(IDS[0]), _token(IDS[1]), "not-a-token"],
        actor="steward.wang",
        purpose="低保复核",
        key=REIDENT_KEY,
    )

    assert found == {_token(v): {"person_id": v} for v in IDS}
    (entry,) = [e for e in read_entries(refreshed) if e["action"] == "reidentified"]
    assert (entry["actor"], entry["target"]) == ("steward.wang", "reid:mzj/population")
    assert json.loads(entry["detail"])["resolved"] == 2
    assert [v for v in IDS if v in entry["detail"]] == []


def test_wrong_key_is_a_clear_error_not_garbage(refreshed):
    with pytest.raises(ReidentError, match=f"{KEY_ENV} is not the key"):
        reidentify(
            refreshed,
            "mzj",
            "population",
            [_token(IDS[0])],
            actor="steward",
            purpose="复核",
            key=ReidentKey(b"another-key", "test"),
        )


def test_sealed_value_moved_to_another_token_does_not_open(refreshed):
    rows = ledger.read_rows(REIDENTIFICATION.uri(refreshed, "mzj", "population"))
    first = next(r for r in rows if r["token"] == _token(IDS[0]))
    kwargs = dict(key=REIDENT_KEY, consumer="mzj", dataset="population", column="person_id")

    assert open_sealed(first["sealed"], token=first["token"], **kwargs) == IDS[0]
    with pytest.raises(ReidentError):
        open_sealed(first["sealed"], token=_token(IDS[1]), **kwargs)
    with pytest.raises(ReidentError):
        open_sealed(first["sealed"], token=first["token"], **{**kwargs, "consumer": "jyj"})


def test_written_pool_and_reid_files_are_not_readable_by_other_users(refreshed):
    files = [
        *_files_under(os.path.join(refreshed.lake_root, "pool")),
        *_files_under(refreshed.reid_root),
    ]

    assert files
    assert [str(p) for p in files if os.stat(p).st_mode & stat.S_IRWXO] == []


@pytest.mark.parametrize("value", ["", DEVELOPMENT_KEY.decode()])
def test_production_refuses_a_missing_or_development_reident_key(lake_settings, monkeypatch, value):
    monkeypatch.setenv(KEY_ENV, value)
    production = dataclasses.replace(lake_settings, env="production")

    with pytest.raises(SecretError, match=KEY_ENV):
        load_reident_key(production)
    assert load_reident_key(lake_settings).is_development


def test_production_refresh_refuses_before_writing_naming_the_variable(spark, shared_lake):
    production = dataclasses.replace(shared_lake, env="production")

    with pytest.raises(SecretError, match=KEY_ENV):
        refresh_shares(spark, production, today=TODAY, key=SHARE_KEY)
    assert not os.path.exists(production.reid_root)


def _govlake(args, env, tmp_path):
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", *args],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_")},
            "PYTHONPATH": str(PROJECT_ROOT),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    ("variable", "given"),
    [
        ("GOVLAKE_SHARE_KEY", {}),
        (
            "GOVLAKE_SHARE_KEY",
            {
                "GOVLAKE_SHARE_KEY": "govlake-development-share-key--not-secret--"
                "do-not-use-in-production"
            },
        ),
        ("GOVLAKE_REIDENT_KEY", {"GOVLAKE_SHARE_KEY": "s3cret-share-2f9a"}),
        (
            "GOVLAKE_REIDENT_KEY",
            {"GOVLAKE_SHARE_KEY": "s3cret-share-2f9a", KEY_ENV: DEVELOPMENT_KEY.decode()},
        ),
    ],
)
def test_production_share_refresh_exits_naming_the_variable_and_no_secret(
    lake_settings, tmp_path, variable, given
):
    secrets = {"GOVLAKE_AUDIT_KEY": "s3cret-audit-77c1", **given}
    result = _govlake(
        ["share", "refresh", "--as", "steward"],
        {
            "GOVLAKE_ENV": "production",
            "GOVLAKE_LAKE_ROOT": lake_settings.lake_root,
            "GOVLAKE_REID_ROOT": str(tmp_path / "reid"),
            "GOVLAKE_BACKUP_ROOT": str(tmp_path / "backups"),
            **secrets,
        },
        tmp_path,
    )

    assert result.returncode == 2, result.stderr
    assert variable in result.stderr and "Traceback" not in result.stderr
    output = result.stdout + result.stderr
    lake = b"".join(p.read_bytes() for p in _files_under(lake_settings.lake_root))
    for name, value in secrets.items():
        if "development" not in value:
            assert value not in output, name
            assert value.encode() not in lake, name


def test_only_a_bureau_steward_reidentifies_from_the_command_line(
    refreshed, monkeypatch, tmp_path, capsys
):
    from jobs.cli import main

    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", refreshed.lake_root)
    monkeypatch.setenv("GOVLAKE_REID_ROOT", refreshed.reid_root)
    monkeypatch.setenv(KEY_ENV, REIDENT_KEY.secret.decode())
    monkeypatch.delenv("GOVLAKE_ACCOUNT_TOKEN", raising=False)
    create_accounts(refreshed, STEWARD, MZJ_OFFICER)
    command = ["share", "reidentify", "mzj", "population", _token(IDS[0]), "--purpose", "复核"]
    signed = ["--password-file", password_file(tmp_path)]

    assert main([*command, "--as", MZJ_OFFICER.login, *signed]) == 1
    assert "may not share.reidentify" in capsys.readouterr().err
    assert main([*command, "--as", STEWARD.login, *signed]) == 0
    assert json.loads(capsys.readouterr().out) == {_token(IDS[0]): {"person_id": IDS[0]}}
    (entry,) = [e for e in read_entries(refreshed) if e["action"] == "reidentified"]
    assert entry["actor"] == STEWARD.login
