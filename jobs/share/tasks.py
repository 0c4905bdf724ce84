"""Airflow task callables for the share DAG (and the matching commands).

Light on purpose: Airflow imports this module while it parses ``dags/govlake_share.py``; each
callable imports Spark and the jobs only when the task runs, audits every write it makes
(:func:`jobs.audit.write_audit`) and returns a JSON summary as the task's XCom.
"""

from __future__ import annotations

import json
from typing import Any


def run_refresh_shares(actor: str = "system") -> dict[str, Any]:
    """Task: rebuild every granted share table; remove those without an active grant."""
    from jobs.audit import write_audit
    from jobs.settings import Settings
    from jobs.share.refresh import refresh_shares
    from jobs.spark import get_spark

    settings = Settings.from_env()
    with write_audit(settings, actor=actor):
        summary = refresh_shares(get_spark(settings), settings, today=settings.today(), actor=actor)
    return json.loads(json.dumps(summary, default=str))


def run_publish_open_data(actor: str = "system") -> dict[str, Any]:
    """Task: publish the open resources, the de-identified aggregates and the open list."""
    from jobs.audit import write_audit
    from jobs.settings import Settings
    from jobs.share.open_data import publish_open_data
    from jobs.spark import get_spark

    settings = Settings.from_env()
    with write_audit(settings, actor=actor):
        summary = publish_open_data(
            get_spark(settings), settings, as_of=settings.today(), actor=actor
        )
    return json.loads(json.dumps(summary, default=str))


def run_verify_audit_log() -> dict[str, Any]:
    """Task: verify the audit log's hash chain; fails (raises) when an entry was changed or
    removed, so the run shows red and names the entries."""
    from jobs.audit.log import verify
    from jobs.settings import Settings

    problems, head = verify(Settings.from_env())
    if problems:
        raise RuntimeError("audit log broken: " + "; ".join(str(p) for p in problems))
    return {"head_seq": head[0] if head else None, "head_hash": head[1] if head else None}
