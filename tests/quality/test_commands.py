from __future__ import annotations

import datetime as dt

import pytest

from jobs.audit import log as audit
from jobs.cli import main
from jobs.policy import WorkdayCalendar, load_profile
from jobs.quality import gates
from jobs.quality.metrics import Outcome
from jobs.quality.rectification import plan_tasks, write_tasks
from jobs.settings import Settings
from tests.actors import GAJ_OFFICER, REVIEWER, create_accounts, password_file

SCHEMAS = Settings().schemas_root


def test_suites_check_passes_on_the_committed_suites(capsys):
    assert main(["quality", "suites", "--check"]) == 0


@pytest.mark.spark
def test_tasks_lists_status_and_deadline(spark, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("GOVLAKE_SHUFFLE_PARTITIONS", "2")
    monkeypatch.setenv("GOVLAKE_SPARK_MASTER", "local[2]")
    settings = Settings.from_env()
    failed = Outcome(
        "gender.in_code_table", "t", "warning", 0.0, "validity", "row", "failed", 10, 2
    )
    long_ago = plan_tasks(
        [],
        "gaj.hukou",
        "b1",
        [failed],
        dt.date(2025, 9, 26),
        dt.datetime(2025, 9, 26, tzinfo=dt.UTC),
        load_profile("zhenhai", SCHEMAS),
        WorkdayCalendar(),
    )
    write_tasks(settings, "gaj.hukou", long_ago)

    assert main(["quality", "tasks"]) == 0
    out = capsys.readouterr().out
    assert "overdue  2025-10-10  gaj" in out  # past its deadline today
    assert "gender.in_code_table" in out

    assert main(["quality", "tasks", "--status", "open"]) == 0
    assert "no rectification tasks (open)" in capsys.readouterr().out
    assert main(["quality", "tasks", "--dept", "mzj"]) == 0
    assert "no rectification tasks" in capsys.readouterr().out


def test_only_a_quality_reviewer_releases_a_held_batch_and_the_release_is_audited(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("GOVLAKE_ACCOUNT_TOKEN", raising=False)
    settings = Settings.from_env()
    create_accounts(settings, REVIEWER, GAJ_OFFICER)
    held = gates.GateDecision("held", ("person_id.unique_in_batch",), (), "b1 held")
    at = dt.datetime(2025, 3, 3, tzinfo=dt.UTC)
    row = gates.decision_row("gaj", "hukou", "b1", held, 10, 2, "1", at)
    gates.append_decisions(settings, [row], "test/b1/held")
    promote = ["quality", "promote", "gaj.hukou", "b1", "--note", "同一人", "--password-file"]
    promote.append(password_file(tmp_path))

    assert main([*promote, "--as", GAJ_OFFICER.login]) == 1
    assert "gaj.li (gaj: data_officer) may not quality.release" in capsys.readouterr().err
    assert gates.held_batches(settings) == {"gaj.hukou": ["b1"]}
    assert main([*promote, "--as", REVIEWER.login]) == 0
    assert gates.held_batches(settings) == {}
    (entry,) = [e for e in audit.read_entries(settings) if e["action"] == "quality_release"]
    assert (entry["actor"], entry["target"]) == (
        REVIEWER.login,
        "governance/quality_batches/gaj.hukou/b1",
    )
