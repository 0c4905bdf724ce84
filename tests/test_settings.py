from __future__ import annotations

import datetime as dt
import json
import os
import re

import pytest

from jobs.cli import main
from jobs.settings import PROJECT_ROOT, Settings, SettingsError, pinned_clock

DEFAULTS = {
    "lake_root": str(PROJECT_ROOT / "data" / "lake"),
    "landing_root": str(PROJECT_ROOT / "data" / "landing"),
    "reports_root": str(PROJECT_ROOT / "data" / "reports"),
    "schemas_root": str(PROJECT_ROOT / "schemas"),
    "spark_master": "local[*]",
    "driver_memory": "4g",
    "shuffle_partitions": 8,
    "driver_java_options": "",
    "integrate_lanes": 1,
    "policy_profile": "hebi",
    "timezone": "Asia/Shanghai",
    "calendar_overrides": "",
    "catalog_revisions_root": str(PROJECT_ROOT / "data" / "catalog"),
    "reid_root": str(PROJECT_ROOT / "data" / "reid"),
    "backup_root": str(PROJECT_ROOT / "data" / "backups"),
    "backup_keep": 14,
    "share_key_file": "",
    "reident_key_file": "",
    "session_secret_file": "",
    "audit_key_file": "",
    "audit_anchor_root": "",
    "db_url": "",
    "env": "development",
    "open_min_cell_count": 5,
    "open_download_days": 30,
    "read_max_bytes": 536870912,
    "read_max_line_bytes": 1048576,
    "read_max_rows": 5000000,
    "read_max_columns": 1000,
    "read_max_cells": 50000000,
    "read_max_vertices": 5000000,
    "landing_quiet_seconds": 120,
    "service_max_rows": 10000,
    "service_max_batch": 10000,
    "cookie_secure": "auto",
    "trusted_proxies": "",
    "arrow_max_rows": 2000000,
    "arrow_memory_pool": "jemalloc",
    "smtp_host": "",
    "smtp_port": 25,
    "smtp_from": "",
    "smtp_user": "",
    "smtp_password_file": "",
}

VARIABLES = {
    "lake_root": "GOVLAKE_LAKE_ROOT",
    "landing_root": "GOVLAKE_LANDING_ROOT",
    "reports_root": "GOVLAKE_REPORTS_ROOT",
    "schemas_root": "GOVLAKE_SCHEMAS_ROOT",
    "spark_master": "GOVLAKE_SPARK_MASTER",
    "driver_memory": "GOVLAKE_DRIVER_MEMORY",
    "shuffle_partitions": "GOVLAKE_SHUFFLE_PARTITIONS",
    "driver_java_options": "GOVLAKE_DRIVER_JAVA_OPTIONS",
    "integrate_lanes": "GOVLAKE_INTEGRATE_LANES",
    "policy_profile": "GOVLAKE_POLICY_PROFILE",
    "timezone": "GOVLAKE_TIMEZONE",
    "calendar_overrides": "GOVLAKE_CALENDAR_OVERRIDES",
    "catalog_revisions_root": "GOVLAKE_CATALOG_REVISIONS_ROOT",
    "reid_root": "GOVLAKE_REID_ROOT",
    "backup_root": "GOVLAKE_BACKUP_ROOT",
    "backup_keep": "GOVLAKE_BACKUP_KEEP",
    "share_key_file": "GOVLAKE_SHARE_KEY_FILE",
    "reident_key_file": "GOVLAKE_REIDENT_KEY_FILE",
    "session_secret_file": "GOVLAKE_SESSION_SECRET_FILE",
    "audit_key_file": "GOVLAKE_AUDIT_KEY_FILE",
    "audit_anchor_root": "GOVLAKE_AUDIT_ANCHOR_ROOT",
    "db_url": "GOVLAKE_DB_URL",
    "env": "GOVLAKE_ENV",
    "open_min_cell_count": "GOVLAKE_OPEN_MIN_CELL_COUNT",
    "open_download_days": "GOVLAKE_OPEN_DOWNLOAD_DAYS",
    "read_max_bytes": "GOVLAKE_READ_MAX_BYTES",
    "read_max_line_bytes": "GOVLAKE_READ_MAX_LINE_BYTES",
    "read_max_rows": "GOVLAKE_READ_MAX_ROWS",
    "read_max_columns": "GOVLAKE_READ_MAX_COLUMNS",
    "read_max_cells": "GOVLAKE_READ_MAX_CELLS",
    "read_max_vertices": "GOVLAKE_READ_MAX_VERTICES",
    "landing_quiet_seconds": "GOVLAKE_LANDING_QUIET_SECONDS",
    "service_max_rows": "GOVLAKE_SERVICE_MAX_ROWS",
    "service_max_batch": "GOVLAKE_SERVICE_MAX_BATCH",
    "cookie_secure": "GOVLAKE_COOKIE_SECURE",
    "trusted_proxies": "GOVLAKE_TRUSTED_PROXIES",
    "arrow_max_rows": "GOVLAKE_ARROW_MAX_ROWS",
    "arrow_memory_pool": "GOVLAKE_ARROW_MEMORY_POOL",
    "smtp_host": "GOVLAKE_SMTP_HOST",
    "smtp_port": "GOVLAKE_SMTP_PORT",
    "smtp_from": "GOVLAKE_SMTP_FROM",
    "smtp_user": "GOVLAKE_SMTP_USER",
    "smtp_password_file": "GOVLAKE_SMTP_PASSWORD_FILE",
}

# One line of `govlake config`: name, value (may be empty), then the variable in parentheses.
CONFIG_LINE = re.compile(r"^(\S+) +(.*?) *\((GOVLAKE_[A-Z_]+)\)$")


@pytest.fixture(autouse=True)
def no_govlake_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("GOVLAKE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def overridden(monkeypatch, tmp_path):
    values = {
        "GOVLAKE_LAKE_ROOT": "s3://bucket/lake",
        "GOVLAKE_LANDING_ROOT": str(tmp_path / "landing"),
        "GOVLAKE_REPORTS_ROOT": "out/reports",
        "GOVLAKE_SCHEMAS_ROOT": str(tmp_path / "schemas"),
        "GOVLAKE_SPARK_MASTER": "spark://master:7077",
        "GOVLAKE_DRIVER_MEMORY": " 2g ",
        "GOVLAKE_SHUFFLE_PARTITIONS": "64",
        "GOVLAKE_DRIVER_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1",
        "GOVLAKE_INTEGRATE_LANES": "2",
        "GOVLAKE_POLICY_PROFILE": "taizhou",
        "GOVLAKE_TIMEZONE": "UTC",
        "GOVLAKE_CALENDAR_OVERRIDES": str(tmp_path / "calendar.yaml"),
        "GOVLAKE_CATALOG_REVISIONS_ROOT": str(tmp_path / "catalog"),
        "GOVLAKE_REID_ROOT": "abfss://vault@account/reid",
        "GOVLAKE_BACKUP_ROOT": str(tmp_path / "backups"),
        "GOVLAKE_BACKUP_KEEP": "3",
        "GOVLAKE_SHARE_KEY_FILE": str(tmp_path / "share.key"),
        "GOVLAKE_REIDENT_KEY_FILE": str(tmp_path / "reident.key"),
        "GOVLAKE_SESSION_SECRET_FILE": str(tmp_path / "session.secret"),
        "GOVLAKE_AUDIT_KEY_FILE": str(tmp_path / "audit.key"),
        "GOVLAKE_AUDIT_ANCHOR_ROOT": "anchors",
        "GOVLAKE_DB_URL": "postgresql+psycopg://govlake@db/govlake",
        "GOVLAKE_ENV": "production",
        "GOVLAKE_OPEN_MIN_CELL_COUNT": "10",
        "GOVLAKE_OPEN_DOWNLOAD_DAYS": "7",
        "GOVLAKE_READ_MAX_BYTES": "2048",
        "GOVLAKE_READ_MAX_LINE_BYTES": "64",
        "GOVLAKE_READ_MAX_ROWS": "10",
        "GOVLAKE_READ_MAX_COLUMNS": "4",
        "GOVLAKE_READ_MAX_CELLS": "40",
        "GOVLAKE_READ_MAX_VERTICES": "100",
        "GOVLAKE_LANDING_QUIET_SECONDS": "0",
        "GOVLAKE_SERVICE_MAX_ROWS": "50",
        "GOVLAKE_SERVICE_MAX_BATCH": "20",
        "GOVLAKE_COOKIE_SECURE": "false",
        "GOVLAKE_TRUSTED_PROXIES": " 172.18.0.5, 10.1.0.0/16 ",
        "GOVLAKE_ARROW_MAX_ROWS": "1000",
        "GOVLAKE_ARROW_MEMORY_POOL": "system",
        "GOVLAKE_SMTP_HOST": "mail.bureau.example",
        "GOVLAKE_SMTP_PORT": "587",
        "GOVLAKE_SMTP_FROM": "govlake@bureau.example",
        "GOVLAKE_SMTP_USER": "govlake",
        "GOVLAKE_SMTP_PASSWORD_FILE": str(tmp_path / "smtp.password"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {
        "lake_root": "s3://bucket/lake",
        "landing_root": str(tmp_path / "landing"),
        "reports_root": str(PROJECT_ROOT / "out" / "reports"),
        "schemas_root": str(tmp_path / "schemas"),
        "spark_master": "spark://master:7077",
        "driver_memory": "2g",
        "shuffle_partitions": 64,
        "driver_java_options": "-XX:TieredStopAtLevel=1",
        "integrate_lanes": 2,
        "policy_profile": "taizhou",
        "timezone": "UTC",
        "calendar_overrides": str(tmp_path / "calendar.yaml"),
        "catalog_revisions_root": str(tmp_path / "catalog"),
        "reid_root": "abfss://vault@account/reid",
        "backup_root": str(tmp_path / "backups"),
        "backup_keep": 3,
        "share_key_file": str(tmp_path / "share.key"),
        "reident_key_file": str(tmp_path / "reident.key"),
        "session_secret_file": str(tmp_path / "session.secret"),
        "audit_key_file": str(tmp_path / "audit.key"),
        "audit_anchor_root": str(PROJECT_ROOT / "anchors"),
        "db_url": "postgresql+psycopg://govlake@db/govlake",
        "env": "production",
        "open_min_cell_count": 10,
        "open_download_days": 7,
        "read_max_bytes": 2048,
        "read_max_line_bytes": 64,
        "read_max_rows": 10,
        "read_max_columns": 4,
        "read_max_cells": 40,
        "read_max_vertices": 100,
        "landing_quiet_seconds": 0,
        "service_max_rows": 50,
        "service_max_batch": 20,
        "cookie_secure": "false",
        "trusted_proxies": "172.18.0.5/32,10.1.0.0/16",
        "arrow_max_rows": 1000,
        "arrow_memory_pool": "system",
        "smtp_host": "mail.bureau.example",
        "smtp_port": 587,
        "smtp_from": "govlake@bureau.example",
        "smtp_user": "govlake",
        "smtp_password_file": str(tmp_path / "smtp.password"),
    }


def test_from_env_without_variables_gives_the_embedded_defaults():
    assert Settings.from_env().as_dict() == DEFAULTS


def test_from_env_defaults_match_the_dataclass_defaults():
    assert Settings.from_env() == Settings()


def test_from_env_reads_every_govlake_variable(overridden):
    assert Settings.from_env().as_dict() == overridden


def test_relative_path_is_made_absolute_under_the_project(monkeypatch):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", "elsewhere/lake")
    assert Settings.from_env().lake_root == str(PROJECT_ROOT / "elsewhere" / "lake")


def test_blank_variable_keeps_the_default(monkeypatch):
    monkeypatch.setenv("GOVLAKE_SPARK_MASTER", "   ")
    monkeypatch.setenv("GOVLAKE_SHUFFLE_PARTITIONS", "")
    settings = Settings.from_env()
    assert (settings.spark_master, settings.shuffle_partitions) == ("local[*]", 8)


def test_variable_names_name_every_setting():
    assert Settings.variable_names() == VARIABLES


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.300", "10.0.0.0/33"])
def test_trusted_proxies_that_are_not_addresses_fail_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("GOVLAKE_TRUSTED_PROXIES", value)
    with pytest.raises(SettingsError, match="GOVLAKE_TRUSTED_PROXIES"):
        Settings.from_env()


def test_unknown_deployment_env_fails_naming_the_variable(monkeypatch):
    monkeypatch.setenv("GOVLAKE_ENV", "prod")
    with pytest.raises(SettingsError, match=r"^GOVLAKE_ENV='prod': expected one of development"):
        Settings.from_env()


@pytest.mark.parametrize(
    ("variable", "value", "default"),
    [
        *[("GOVLAKE_SHUFFLE_PARTITIONS", value, 8) for value in ("eight", "2.5", "0", "-4")],
        *[("GOVLAKE_INTEGRATE_LANES", value, 1) for value in ("two", "0", "-1")],
    ],
)
def test_unusable_count_fails_naming_the_variable(monkeypatch, variable, value, default):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    assert str(caught.value) == (
        f"{variable}={value!r}: expected a whole number of at least 1 (default {default})"
    )


def test_negative_open_min_cell_count_fails_naming_the_variable(monkeypatch):
    monkeypatch.setenv("GOVLAKE_OPEN_MIN_CELL_COUNT", "-1")
    with pytest.raises(SettingsError, match=r"^GOVLAKE_OPEN_MIN_CELL_COUNT='-1': expected"):
        Settings.from_env()


@pytest.mark.parametrize("value", ["-1", "two minutes"])
def test_landing_quiet_period_is_whole_seconds_from_zero(monkeypatch, value):
    monkeypatch.setenv("GOVLAKE_LANDING_QUIET_SECONDS", value)
    with pytest.raises(SettingsError, match=r"^GOVLAKE_LANDING_QUIET_SECONDS=.*0 or more"):
        Settings.from_env()


@pytest.mark.parametrize("value", ["Asia/Shangai", "Asia", "../etc/passwd"])
def test_unknown_time_zone_fails_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("GOVLAKE_TIMEZONE", value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    assert str(caught.value) == (
        f"GOVLAKE_TIMEZONE={value!r}: not a known time zone (e.g. Asia/Shanghai)"
    )


@pytest.mark.parametrize("backups", ["lake", "lake/backups", "lake/../lake/b"])
def test_backup_root_inside_the_lake_root_fails_naming_the_variable(monkeypatch, tmp_path, backups):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("GOVLAKE_BACKUP_ROOT", str(tmp_path / backups))

    with pytest.raises(SettingsError, match=r"GOVLAKE_BACKUP_ROOT=.*inside the lake root"):
        Settings.from_env()


def test_backup_root_next_to_the_lake_root_is_accepted(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("GOVLAKE_BACKUP_ROOT", str(tmp_path / "lake-backups"))

    assert Settings.from_env().backup_root == str(tmp_path / "lake-backups")


def test_settings_error_is_a_value_error():
    assert issubclass(SettingsError, ValueError)


def test_config_prints_each_setting_with_its_value_and_variable(capsys):
    assert main(["config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    parsed = [CONFIG_LINE.match(line).groups() for line in lines]
    assert parsed == [(name, str(value), VARIABLES[name]) for name, value in DEFAULTS.items()]


def test_config_shows_overrides(overridden, capsys):
    main(["config"])
    lines = capsys.readouterr().out.splitlines()
    parsed = [CONFIG_LINE.match(line).groups() for line in lines]
    assert parsed == [(name, str(value), VARIABLES[name]) for name, value in overridden.items()]


def test_config_json_prints_the_effective_settings(overridden, capsys):
    assert main(["config", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == overridden


def test_config_never_prints_the_share_key(monkeypatch, capsys):
    monkeypatch.setenv("GOVLAKE_SHARE_KEY", "do-not-print-me")
    main(["config"])
    main(["config", "--json"])
    assert "do-not-print-me" not in capsys.readouterr().out


def test_config_with_a_bad_count_fails_naming_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("GOVLAKE_SHUFFLE_PARTITIONS", "many")
    assert main(["config"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "govlake: GOVLAKE_SHUFFLE_PARTITIONS='many': expected a whole number of at least 1 "
        "(default 8)\n"
    )


def test_today_is_the_bureaus_date_not_the_machines():
    # 20:30 UTC on 31 December is already 1 January in Shanghai (UTC+8).
    instant = dt.datetime(2026, 12, 31, 20, 30, tzinfo=dt.UTC)
    settings = Settings(timezone="Asia/Shanghai").with_clock(pinned_clock(instant))
    assert settings.today() == dt.date(2027, 1, 1)
    assert settings.now() == instant
    assert settings.local_now().utcoffset() == dt.timedelta(hours=8)
    assert Settings(timezone="America/New_York").with_clock(pinned_clock(instant)).today() == (
        dt.date(2026, 12, 31)
    )


def test_pinned_clock_refuses_a_naive_time():
    with pytest.raises(ValueError, match="aware"):
        pinned_clock(dt.datetime(2026, 1, 1, 12, 0))


def test_clock_is_not_a_user_setting():
    assert "clock" not in Settings().as_dict()
    assert "GOVLAKE_CLOCK" not in Settings.variable_names().values()
