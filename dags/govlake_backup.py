"""Daily backup: every lake table as a new backup set under the backup root, then retention.

Tasks, in order: `back_up_lake` → `prune_backup_sets`.

`back_up_lake` reads every table's current Delta version, then copies the files of that version
(commits and data) into a content store under `GOVLAKE_BACKUP_ROOT` (another volume or an
object store, refused inside the lake root) with a manifest of versions, sizes and SHA-256:
files the newest set already holds are referenced, not copied again. `prune_backup_sets` keeps
the newest `GOVLAKE_BACKUP_KEEP` sets. Both are audited. Prove a set with `govlake backup drill`.
The logic is in `jobs/backup/`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, task

from jobs.backup.tasks import DAG_ID, run_backup, run_prune
from jobs.orchestrate.dag_factory import parsed_for
from jobs.settings import Settings

if parsed_for(DAG_ID):
    with DAG(
        dag_id=DAG_ID,
        dag_display_name="备份 · backup",
        description="every lake table as a backup set under the backup root; keeps the newest sets",
        schedule="30 2 * * *",  # 02:30 on the bureau's clock, after the night's ingestion
        start_date=pendulum.datetime(2025, 1, 1, tz=Settings.from_env().timezone),
        catchup=False,
        max_active_runs=1,
        tags=["govlake", "operations", "backup"],
        doc_md=__doc__,
        default_args={
            "owner": "platform",
            "retries": 2,
            "retry_delay": timedelta(minutes=5),
            "execution_timeout": timedelta(hours=6),
        },
    ):
        back_up = task(
            run_backup, task_id="back_up_lake", doc_md=run_backup.__doc__, multiple_outputs=False
        )()
        prune = task(
            run_prune, task_id="prune_backup_sets", doc_md=run_prune.__doc__, multiple_outputs=False
        )()
        back_up >> prune
