from __future__ import annotations

import pytest

from jobs.share import tasks


@pytest.mark.parametrize(
    ("run", "task"),
    [
        (tasks.run_refresh_shares, "airflow:share__refresh.refresh_shares"),
        (tasks.run_publish_open_data, "airflow:share__refresh.publish_open_data"),
    ],
)
def test_scheduled_runs_sign_as_their_task_and_a_command_as_its_account(monkeypatch, run, task):
    signed = []
    monkeypatch.setattr(tasks, "audited", lambda _task, _job, *, actor: signed.append(actor))
    run()
    run(actor="steward")
    assert signed == [task, "steward"]
