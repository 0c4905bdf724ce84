"""Airflow task callables of governance (``dags/govlake_bases.py``): the requests' deadlines.

Light on purpose, like every task module (see :mod:`jobs.orchestrate.tasks`).
"""

from __future__ import annotations

from typing import Any

from jobs.orchestrate.tasks import audited


def run_check_deadlines() -> dict[str, Any]:
    """Task: mark every open request past its due date overdue and escalate it to the bureau
    (verification tickets, share requests and every other procedure), then retry the
    notification mail that failed."""
    from jobs.govern.deadlines import check_deadlines  # the lake (Spark): imported when it runs

    return audited("governance__ticket_deadlines.check_deadlines", check_deadlines)
