"""Airflow task callables of the base databases (``dags/govlake_bases.py``).

Light on purpose: Airflow imports this module while it parses the DAG file, so the build, which
imports Spark, is imported only when the task runs (see :mod:`jobs.orchestrate.tasks`).
"""

from __future__ import annotations

from typing import Any

from jobs.lake.registry import BASE_TABLES, CONFLICTS, VERIFICATION_TICKETS
from jobs.orchestrate.tasks import audited

#: Lake tables a base build updates, as Asset URIs (the scheme of jobs.orchestrate.names).
BASE_ASSET_TABLES: tuple[str, ...] = tuple(
    t.path for t in (*BASE_TABLES, CONFLICTS, VERIFICATION_TICKETS)
)


def run_build_bases() -> dict[str, Any]:
    """Task: rebuild the base databases, conflicts and verification tickets from the pools."""
    from jobs.integrate.build import build_bases  # Spark: imported when the task runs

    return audited("bases__build.build_bases", build_bases)
