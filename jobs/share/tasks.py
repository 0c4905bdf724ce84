"""Airflow task callables for the share DAG (and the matching commands).

Light on purpose: Airflow imports this module while it parses ``dags/govlake_share.py``; each
callable imports Spark and the jobs only when the task runs, audits every write it makes
(:func:`jobs.orchestrate.tasks.audited`) and returns a JSON summary as the task's XCom.
"""

from __future__ import annotations

from typing import Any

from jobs.orchestrate.tasks import audited
from jobs.settings import Settings

#: The scheduled tasks of ``dags/govlake_share.py``: what their writes and audit entries name.
REFRESH_TASK = "share__refresh.refresh_shares"
PUBLISH_TASK = "share__refresh.publish_open_data"


def run_refresh_shares(actor: str | None = None) -> dict[str, Any]:
    """Task: rebuild every granted share table; remove those without an active grant.

    ``actor``: the signed-in account of ``govlake share refresh``; the scheduled run signs as
    its task (``airflow:share__refresh.refresh_shares``). The keys are loaded before Spark
    starts: production without its own keys stops at once, naming the variable to set."""
    actor = actor or f"airflow:{REFRESH_TASK}"
    from jobs.share.keys import load_share_key
    from jobs.share.refresh import refresh_shares  # Spark: imported when the task runs
    from jobs.share.reident import load_reident_key
    from jobs.spark import get_spark

    def refresh(settings: Settings) -> dict[str, Any]:
        key, reident_key = load_share_key(settings), load_reident_key(settings)
        return refresh_shares(
            get_spark(settings),
            settings,
            today=settings.today(),
            key=key,
            reident_key=reident_key,
            actor=actor,
        )

    return audited(REFRESH_TASK, refresh, actor=actor)


def run_publish_open_data(actor: str | None = None) -> dict[str, Any]:
    """Task: publish the open resources, the de-identified aggregates and the open list
    (signed by ``actor``, ``govlake open publish``'s account, or the scheduled task)."""
    actor = actor or f"airflow:{PUBLISH_TASK}"
    from jobs.share.open_data import publish_open_data  # Spark: imported when the task runs
    from jobs.spark import get_spark

    return audited(
        PUBLISH_TASK,
        lambda settings: publish_open_data(
            get_spark(settings), settings, as_of=settings.today(), actor=actor
        ),
        actor=actor,
    )


def run_verify_audit_log() -> dict[str, Any]:
    """Task: verify the audit log's hash chain; fails (raises) when an entry was changed or
    removed, so the run shows red and names the entries."""
    from jobs.audit.log import verify  # the lake (Spark): imported when the task runs

    problems, head = verify(Settings.from_env())
    if problems:
        raise RuntimeError("audit log broken: " + "; ".join(str(p) for p in problems))
    return {"head_seq": head[0] if head else None, "head_hash": head[1] if head else None}
