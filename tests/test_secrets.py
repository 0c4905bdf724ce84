from __future__ import annotations

import dataclasses
import os
import re
import stat
import subprocess
import sys

import pytest

from jobs.audit import log as audit_log
from jobs.secrets import Secret, SecretError, keep_files_private, load_secret
from jobs.service import security
from jobs.settings import PROJECT_ROOT
from jobs.share import keys, reident
from tests.postgres import needs_postgres

DEV = b"public-development-key-from-the-source"

# (loader, variable, its development key): every key govlake refuses to run on in production.
KEYS = [
    (keys.load_share_key, keys.KEY_ENV, keys.DEVELOPMENT_KEY),
    (reident.load_reident_key, reident.KEY_ENV, reident.DEVELOPMENT_KEY),
    (audit_log.load_audit_key, audit_log.KEY_ENV, audit_log.DEVELOPMENT_KEY),
    (security.load_session_secret, security.SECRET_ENV, security.DEVELOPMENT_SECRET),
]


def _load(production, key_file=""):
    return load_secret(
        Secret,
        env_var="GOVLAKE_TEST_KEY",
        key_file=key_file,
        development_key=DEV,
        production=production,
        what="test key",
    )


@pytest.fixture
def production(lake_settings):
    return dataclasses.replace(lake_settings, env="production")


@pytest.mark.parametrize(("loader", "variable", "development"), KEYS)
def test_production_refuses_each_missing_key_naming_its_variable(
    production, monkeypatch, loader, variable, development
):
    monkeypatch.delenv(variable, raising=False)

    with pytest.raises(SecretError, match=f"set {variable} or {variable}_FILE"):
        loader(production)


@pytest.mark.parametrize(("loader", "variable", "development"), KEYS)
def test_production_refuses_each_development_key_copied_into_its_variable(
    production, lake_settings, monkeypatch, loader, variable, development
):
    monkeypatch.setenv(variable, development.decode())

    with pytest.raises(SecretError, match=f"public development key.*{variable}"):
        loader(production)
    assert loader(lake_settings).is_development


def test_production_refuses_the_development_key_in_a_key_file(monkeypatch, tmp_path):
    monkeypatch.delenv("GOVLAKE_TEST_KEY", raising=False)
    key_file = tmp_path / "test.key"
    key_file.write_bytes(DEV + b"\n")

    with pytest.raises(
        SecretError, match=re.escape(f"file {key_file} is the public development key")
    ):
        _load(True, str(key_file))
    key_file.write_bytes(b"a key of our own\n")
    assert _load(True, str(key_file)).secret == b"a key of our own"


def test_development_mode_uses_and_flags_the_development_key(monkeypatch):
    monkeypatch.delenv("GOVLAKE_TEST_KEY", raising=False)

    key = _load(False)

    assert key.is_development and key.secret == DEV
    assert "public" not in repr(key) and DEV.decode() not in repr(key)


def test_service_refuses_to_start_in_production_without_an_audit_key(production, monkeypatch):
    from jobs.service.app import create_app

    monkeypatch.setenv(security.SECRET_ENV, "a-session-secret-of-our-own")
    monkeypatch.delenv(audit_log.KEY_ENV, raising=False)

    with pytest.raises(SecretError, match=audit_log.KEY_ENV):
        create_app(production)


def test_new_files_are_not_readable_by_other_users(tmp_path):
    before = os.umask(0o022)
    try:
        keep_files_private()
        path = tmp_path / "pool.parquet"
        path.write_bytes(b"PAR1")
        folder = tmp_path / "pool"
        folder.mkdir()
    finally:
        os.umask(before)

    assert os.stat(path).st_mode & stat.S_IRWXO == 0
    assert os.stat(folder).st_mode & stat.S_IRWXO == 0
    assert os.stat(path).st_mode & stat.S_IRUSR


def test_govlake_serve_in_production_exits_naming_the_variable_and_showing_no_secret(tmp_path):
    session_secret = "s3ssion-secret-9d41-of-our-own"
    result = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "serve", "--port", "0"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_")},
            "PYTHONPATH": str(PROJECT_ROOT),
            "GOVLAKE_ENV": "production",
            "GOVLAKE_LAKE_ROOT": str(tmp_path / "lake"),
            security.SECRET_ENV: session_secret,
        },
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )

    assert result.returncode == 1, result.stderr
    assert audit_log.KEY_ENV in result.stderr and "Traceback" not in result.stderr
    assert session_secret not in result.stdout + result.stderr
    assert not (tmp_path / "lake").exists()


def test_govlake_serve_in_production_refuses_a_sqlite_store_naming_the_variable(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "serve", "--port", "0"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_")},
            "PYTHONPATH": str(PROJECT_ROOT),
            "GOVLAKE_ENV": "production",
            "GOVLAKE_LAKE_ROOT": str(tmp_path / "lake"),
            security.SECRET_ENV: "s3ssion-secret-71c0-of-our-own",
            audit_log.KEY_ENV: "aud1t-key-0b9e-of-our-own",
        },
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )

    assert result.returncode == 1, result.stderr
    assert "GOVLAKE_DB_URL is not set (a SQLite file)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "service").exists()


@needs_postgres
def test_no_secret_in_the_services_error_pages_or_logs(
    production, postgres_server, monkeypatch, caplog
):
    import logging

    from fastapi.testclient import TestClient

    from jobs.service.app import create_app

    values = {
        security.SECRET_ENV: "s3ssion-secret-5be0-of-our-own",
        audit_log.KEY_ENV: "aud1t-key-31f7-of-our-own",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    store = postgres_server.create_database("secrets_pages")
    db_password = "st0re-passw0rd-e4a2-of-our-own"  # the test server trusts 127.0.0.1
    production = dataclasses.replace(
        production, db_url=store.replace("govlake@", f"govlake:{db_password}@")
    )
    values["GOVLAKE_DB_URL's password"] = db_password
    with TestClient(create_app(production), base_url="http://localhost") as client:
        responses = [
            client.get("/api/v1/datasets/population/rows"),
            client.get("/api/v1/datasets/population/rows", headers={"Authorization": "Bearer x"}),
            client.get("/datasets/..%2F..%2Fetc"),
            client.post("/login", data={"login": "nobody", "password": "wrong"}),
            client.get("/no-such-page"),
        ]

    assert {r.status_code for r in responses} <= {400, 401, 403, 404, 422}
    shown = " ".join(r.text + str(dict(r.headers)) for r in responses) + caplog.text
    assert [name for name, value in values.items() if value in shown] == []
