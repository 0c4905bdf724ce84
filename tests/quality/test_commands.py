from __future__ import annotations

import datetime as dt

import pytest

from jobs.cli import main
from jobs.policy import WorkdayCalendar, load_profile
from jobs.quality.metrics import Outcome
from jobs.quality.rectification import plan_tasks, write_tasks
from jobs.settings import Settings

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
