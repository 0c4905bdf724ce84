"""Base databases and verification deadlines: pools → population, legal entity, spatial, e-licence.

Two DAGs, wiring only (the logic is in `jobs/integrate/` and `jobs/govern/`):

- **`bases__build`** runs when any pool that feeds a base database is updated (the pool Assets
  `govlake://pool/<dept>/<resource>` published by the ingestion DAGs). It rebuilds the base
  tables from every department's observations with survivorship (一数一源 first) and provenance,
  the cross-links, the conflicts and anomalies (`governance/conflicts`), and brings the
  verification tickets (校核) in line: new issues open tickets, issues no longer found close
  theirs. It publishes `govlake://base/<table>` Assets. A run with unchanged pools is skipped.
- **`governance__ticket_deadlines`** runs daily: every open request past its working-day due
  date (verification tickets, share requests and every other procedure) is marked overdue and
  escalated to the data authority, whose accounts are notified; notification mail that failed
  is retried.

Run one locally with `govlake airflow run bases__build`.
"""

from __future__ import annotations

import functools
import operator
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, task

from jobs.catalog import load_catalog
from jobs.govern.tasks import run_check_deadlines
from jobs.integrate.tasks import BASE_ASSET_TABLES, run_build_bases
from jobs.orchestrate.dag_factory import governance_default_args, parsed_for, pool_asset
from jobs.orchestrate.names import ASSET_SCHEME
from jobs.settings import Settings

_SETTINGS = Settings.from_env()
_TIMEZONE = _SETTINGS.timezone
_FEEDING = sorted(
    r.id
    for r in load_catalog(
        _SETTINGS.schemas_root, _SETTINGS.catalog_revisions_root
    ).resources.values()
    if r.feeds
)

if parsed_for("bases__build"):
    with DAG(
        dag_id="bases__build",
        dag_display_name="基础数据库 · base databases",
        description="pools → base databases, conflicts, verification tickets",
        schedule=functools.reduce(operator.or_, [pool_asset(rid) for rid in _FEEDING]),
        start_date=pendulum.datetime(2025, 1, 1, tz=_TIMEZONE),
        catchup=False,
        max_active_runs=1,
        tags=["govlake", "bases", "governance"],
        doc_md=__doc__,
        default_args=governance_default_args(timedelta(hours=4)),
    ):
        task(
            run_build_bases,
            task_id="build_bases",
            outlets=[
                Asset(name=f"{ASSET_SCHEME}://{t}", uri=f"{ASSET_SCHEME}://{t}", group="base")
                for t in BASE_ASSET_TABLES
            ],
            doc_md=run_build_bases.__doc__,
            multiple_outputs=False,
        )()

if parsed_for("governance__ticket_deadlines"):
    with DAG(
        dag_id="governance__ticket_deadlines",
        dag_display_name="办理期限 · request deadlines",
        description="overdue requests → escalated to the bureau; notification mail retried",
        schedule="30 0 * * *",
        start_date=pendulum.datetime(2025, 1, 1, tz=_TIMEZONE),
        catchup=False,
        max_active_runs=1,
        tags=["govlake", "governance"],
        doc_md=__doc__,
        default_args=governance_default_args(timedelta(minutes=30)),
    ):
        task(
            run_check_deadlines,
            task_id="check_deadlines",
            doc_md=run_check_deadlines.__doc__,
            multiple_outputs=False,
        )()
