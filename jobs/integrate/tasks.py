"""Airflow task callables for the base databases and the verification deadlines.

Light on purpose: Airflow imports this module while it parses ``dags/govlake_bases.py``, so it
imports nothing heavy (no Spark, no delta-rs); each callable imports its job when the task runs
and returns the job's JSON summary as the task's XCom.
"""

from __future__ import annotations

import json
from typing import Any

from jobs.lake.registry import BASE_TABLES, CONFLICTS, VERIFICATION_TICKETS

#: Lake tables a base build updates, as Asset URIs (the scheme of jobs.orchestrate.dag_factory).
BASE_ASSET_TABLES: tuple[str, ...] = tuple(
    t.path for t in (*BASE_TABLES, CONFLICTS, VERIFICATION_TICKETS)
)


def run_build_bases() -> dict[str, Any]:
    """Task: rebuild the base databases, conflicts and verification tickets from the pools."""
    from jobs.integrate.pipeline import build_bases
    from jobs.orchestrate.dag_factory import audited

    with audited("bases__build.build_bases"):
        return json.loads(json.dumps(build_bases(), default=str))


def run_check_deadlines() -> dict[str, Any]:
    """Task: mark verification tickets past their deadline overdue and escalate them."""
    from jobs.govern.tickets import check_deadlines
    from jobs.orchestrate.dag_factory import audited

    with audited("governance__ticket_deadlines.check_deadlines"):
        return json.loads(json.dumps(check_deadlines(), default=str))
