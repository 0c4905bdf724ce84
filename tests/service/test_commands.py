from __future__ import annotations

import signal

import httpx

from jobs.cli import build_parser, main
from tests.service.server import govlake_serve


def test_serve_listens_on_localhost_port_8800_by_default():
    args = build_parser().parse_args(["serve"])

    assert (args.host, args.port) == ("127.0.0.1", 8800)


def test_serve_in_production_without_a_session_secret_refuses_naming_the_variable(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("GOVLAKE_ENV", "production")
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("GOVLAKE_AUDIT_KEY", "audit-key-for-this-test")
    monkeypatch.delenv("GOVLAKE_SESSION_SECRET", raising=False)
    monkeypatch.delenv("GOVLAKE_SESSION_SECRET_FILE", raising=False)

    code = main(["serve", "--port", "1"])

    assert code == 1
    assert "GOVLAKE_SESSION_SECRET" in capsys.readouterr().err


def test_govlake_serve_answers_on_its_port_and_stops_on_sigterm(tmp_path):
    env = {
        "GOVLAKE_LAKE_ROOT": str(tmp_path / "lake"),
        "GOVLAKE_SESSION_SECRET": "a-session-secret-for-this-test-only",
    }
    log = tmp_path / "serve.log"

    with govlake_serve(env, log) as (url, process):
        login = httpx.get(f"{url}/login")
        anonymous = httpx.get(
            f"{url}/api/v1/datasets", params={"filter": "person_name:张三", "id": "110101"}
        )
    logged = log.read_text(encoding="utf-8")

    assert login.status_code == 200
    assert "登录" in login.text
    assert anonymous.status_code == 401
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit status -15).
    assert "Finished server process" in logged
    assert process.returncode in (0, -signal.SIGTERM)
    assert "GET /api/v1/datasets 401" in logged
    assert "张三" not in logged and "110101" not in logged
    assert "a-session-secret" not in logged


def test_serve_refuses_several_workers_when_the_lake_is_on_an_object_store(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", "s3://bureau-lake/lake")
    monkeypatch.setenv("GOVLAKE_DB_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")

    code = main(["serve", "--port", "1", "--workers", "2"])

    assert code == 1
    assert "--workers" in capsys.readouterr().err
