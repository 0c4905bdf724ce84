"""Sharing, open data and the audit log: curated tables for departments, 开放数据, 日志校验.

Two DAGs, wiring only (the logic is in `jobs/share/` and `jobs/audit/`):

- **`share__refresh`** runs daily and after each base build (Assets `govlake://base/<table>`):
  it rebuilds `share/<consumer>/<dataset>` for every active grant (granted, not revoked, not
  expired) with each field masked or tokenised by its catalog sensitivity, removes the tables of
  grants that expired or were revoked, then publishes the open data (`open/<dataset>`: open
  resources, de-identified aggregates with small cells suppressed, the open list 开放清单).
  Every write is recorded in `governance/audit_log`.
- **`audit__verify`** runs daily: it checks the audit log's hash chain and fails, naming the
  entries, when one was changed or removed.

Grants are managed with `govlake share request|approve|deny|revoke|list`.
"""

from __future__ import annotations

import functools
import operator
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, task

from jobs.lake.registry import BASE_TABLES
from jobs.orchestrate.dag_factory import governance_default_args, parsed_for
from jobs.orchestrate.names import ASSET_SCHEME
from jobs.settings import Settings
from jobs.share.tasks import run_publish_open_data, run_refresh_shares, run_verify_audit_log

_TIMEZONE = Settings.from_env().timezone
#: Base tables whose update triggers a refresh (outlets of bases__build): every shareable base.
_BASE_ASSETS = [
    Asset(name=f"{ASSET_SCHEME}://{t.path}", uri=f"{ASSET_SCHEME}://{t.path}", group="base")
    for t in BASE_TABLES
]

if parsed_for("share__refresh"):
    with DAG(
        dag_id="share__refresh",
        dag_display_name="共享与开放 · shares and open data",
        description="grants → masked share tables; open resources, aggregates, open list",
        # daily (grants expire by the day) and whenever a base build updates the bases
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable("0 6 * * *", timezone=_TIMEZONE),
            assets=functools.reduce(operator.or_, _BASE_ASSETS),
        ),
        start_date=pendulum.datetime(2025, 1, 1, tz=_TIMEZONE),
        catchup=False,
        max_active_runs=1,
        tags=["govlake", "share", "open", "governance"],
        doc_md=__doc__,
        default_args=governance_default_args(timedelta(hours=2)),
    ):
        refresh = task(
            run_refresh_shares,
            task_id="refresh_shares",
            doc_md=run_refresh_shares.__doc__,
            multiple_outputs=False,
        )()
        publish = task(
            run_publish_open_data,
            task_id="publish_open_data",
            doc_md=run_publish_open_data.__doc__,
            multiple_outputs=False,
        )()
        refresh >> publish

if parsed_for("audit__verify"):
    with DAG(
        dag_id="audit__verify",
        dag_display_name="日志校验 · audit log verification",
        description="the audit log's hash chain: changed or removed entries fail the run",
        schedule="15 0 * * *",
        start_date=pendulum.datetime(2025, 1, 1, tz=_TIMEZONE),
        catchup=False,
        max_active_runs=1,
        tags=["govlake", "audit", "governance"],
        doc_md=__doc__,
        default_args=governance_default_args(timedelta(minutes=30)),
    ):
        task(
            run_verify_audit_log,
            task_id="verify_audit_log",
            doc_md=run_verify_audit_log.__doc__,
            multiple_outputs=False,
        )()
