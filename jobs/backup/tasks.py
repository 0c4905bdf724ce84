"""Airflow task callables of the backup DAG (``dags/govlake_backup.py``).

Light on purpose: Airflow imports this module while it parses the DAG file, so the backup jobs
(delta-rs, the ingestion lock) are imported only when a task runs.
"""

from __future__ import annotations

from typing import Any

from jobs.orchestrate.tasks import audited

DAG_ID = "govlake__backup"


def run_backup() -> dict[str, Any]:
    """Task: back up every table of the lake as a new set under the backup root."""
    from jobs.backup.backup import backup

    actor = f"airflow:{DAG_ID}.back_up_lake"
    summary = audited(actor, lambda settings: backup(settings, by=actor), actor=actor)
    # one line per table would swell XCom: the manifest holds the versions
    return {k: v for k, v in summary.items() if k != "versions"} | {
        "tables": len(summary["versions"])
    }


def run_prune() -> dict[str, Any]:
    """Task: keep the newest ``GOVLAKE_BACKUP_KEEP`` sets and the objects they name."""
    from jobs.backup.backup import prune

    actor = f"airflow:{DAG_ID}.prune_backup_sets"
    return audited(actor, lambda settings: prune(settings, by=actor), actor=actor)
