from __future__ import annotations

from jobs.cli import build_parser, main


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
