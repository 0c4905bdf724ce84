"""Lake maintenance (湖维护): orphan files of aborted writes removed, every table vacuumed.

One DAG, `lake__maintenance`, daily at night, wiring only (the logic is in
`jobs/lake/maintenance.py`; `govlake lake maintenance` runs the same by hand):

- **orphans**: a write killed before its commit (a lost worker, `kill -9`, a power cut) leaves
  Parquet files, with the rows they hold, that no version of the table refers to. Every such
  file under the lake and re-identification roots older than the grace period (longer than any
  write runs) is deleted.
- **vacuum**: every table, never below its retention floor: the table's own retention, and for
  governance tables (the audit log, grants, tickets, the ingestion ledger) the policy profile's
  log retention (日志记录, not less than 3 years).

What was removed is recorded in `governance/audit_log`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, task

from jobs.orchestrate.dag_factory import governance_default_args, parsed_for
from jobs.orchestrate.tasks import run_lake_maintenance
from jobs.settings import Settings

_TIMEZONE = Settings.from_env().timezone

if parsed_for("lake__maintenance"):
    with DAG(
        dag_id="lake__maintenance",
        dag_display_name="湖维护 · lake maintenance",
        description="orphan files of aborted writes removed; every table vacuumed within retention",
        schedule="30 3 * * *",  # after the backup (02:30): never both on the cores at once
        start_date=pendulum.datetime(2025, 1, 1, tz=_TIMEZONE),
        catchup=False,
        max_active_runs=1,
        tags=["govlake", "maintenance", "governance"],
        doc_md=__doc__,
        default_args=governance_default_args(timedelta(hours=1)),
    ):
        task(
            run_lake_maintenance,
            task_id="maintain_lake",
            doc_md=run_lake_maintenance.__doc__,
            multiple_outputs=False,
        )()
