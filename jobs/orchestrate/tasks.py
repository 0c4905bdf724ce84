"""Airflow task callables: what every stage's tasks share, and the ingestion DAGs' steps.

Each stage has one module of task callables (this one for the ingestion DAGs,
:mod:`jobs.integrate.tasks`, :mod:`jobs.govern.tasks`, :mod:`jobs.share.tasks`); each callable
runs its job through :func:`audited`. They are module-level functions (not closures) so that
Airflow's workers, which re-parse the DAG file, find the same callable.

Light on purpose: Airflow imports these modules while it parses the DAG files, so the jobs,
which import Spark, are imported only when a task runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jobs.orchestrate.names import ingest_dag_id
from jobs.secrets import keep_files_private
from jobs.settings import Settings


def audited(task: str, job: Callable[[Settings], Any], *, actor: str | None = None) -> Any:
    """Runs one task's job: the settings are built here (a task is an edge), every lake write
    is an audit entry naming the task (``airflow:<dag>.<task>``, or ``actor``), files it writes
    are not readable by other local users, and the summary
    comes back as plain JSON, since XCom in Airflow 3 stores JSON and a date or a numpy integer
    in a summary must not fail an otherwise successful task."""
    from jobs.audit import write_audit  # Spark (the lake's write hook): imported when it runs

    settings = Settings.from_env()
    keep_files_private()
    with write_audit(settings, actor=actor or f"airflow:{task}"):
        summary = job(settings)
    return json.loads(json.dumps(summary, default=str, ensure_ascii=False))


def run_land_to_bronze(resource_id: str) -> dict[str, Any]:
    """Task: read new landing batches of one resource into bronze; returns the job summary."""
    from jobs.ingest.pipeline import land_to_bronze  # Spark: imported when the task runs

    return audited(
        f"{ingest_dag_id(resource_id)}.land_to_bronze",
        lambda settings: land_to_bronze(resource_id, settings=settings),
    )


def run_bronze_to_pool(resource_id: str) -> dict[str, Any]:
    """Task: standardise new bronze batches into the pool and quarantine; returns the summary."""
    from jobs.ingest.pipeline import bronze_to_pool  # Spark: imported when the task runs

    return audited(
        f"{ingest_dag_id(resource_id)}.bronze_to_pool",
        lambda settings: bronze_to_pool(resource_id, settings=settings),
    )


def run_check_row_accounting(resource_id: str) -> dict[str, Any]:
    """Task: fail loudly unless file rows = bronze rows = pool + quarantine + duplicates."""
    from jobs.ingest.pipeline import check_row_accounting  # Spark: imported when the task runs

    return audited(
        f"{ingest_dag_id(resource_id)}.check_row_accounting",
        lambda settings: check_row_accounting(resource_id, settings=settings),
    )


def run_validate_quality(resource_id: str) -> dict[str, Any]:
    """Task: validate the pool's new batches with the resource's expectation suite (results,
    failing rows, scorecard, Data Docs, rectification tasks); fails when a batch is held."""
    from jobs.quality.pipeline import validate_pool_batch  # Spark and GX: imported when it runs

    return audited(
        f"{ingest_dag_id(resource_id)}.validate_quality",
        lambda settings: validate_pool_batch(resource_id, settings=settings),
    )


def run_lake_maintenance() -> dict[str, Any]:
    """Task: remove the orphan files of aborted writes, then vacuum every table within its
    retention floor (the policy profile's log retention for governance tables)."""
    from jobs.lake.maintenance import maintain_lake  # delta-rs: imported when the task runs

    return audited("lake__maintenance.maintain_lake", maintain_lake)


#: The ingestion steps by task id (the job names in :mod:`jobs.ingest.pipeline`).
TASK_CALLABLES: dict[str, Callable[[str], dict[str, Any]]] = {
    "land_to_bronze": run_land_to_bronze,
    "bronze_to_pool": run_bronze_to_pool,
    "check_row_accounting": run_check_row_accounting,
    "validate_quality": run_validate_quality,
}
