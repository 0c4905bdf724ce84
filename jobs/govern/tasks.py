"""Airflow task callables of governance (``dags/govlake_bases.py``): the verification deadlines.

Light on purpose, like every task module (see :mod:`jobs.orchestrate.tasks`).
"""

from __future__ import annotations

from typing import Any

from jobs.orchestrate.tasks import audited


def run_check_deadlines() -> dict[str, Any]:
    """Task: mark verification tickets past their deadline overdue and escalate them."""
    from jobs.govern.tickets import check_deadlines  # the lake (Spark): imported when it runs

    return audited("governance__ticket_deadlines.check_deadlines", check_deadlines)
