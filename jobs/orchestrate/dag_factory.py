"""Builds the ingestion DAGs from the resource catalog (目录): one DAG per department resource.

A DAG file calls :func:`build_ingest_dags` and puts the result in its globals; everything a
DAG needs (schedule, owner, retries, tags, docs, the department's Airflow pool and the pool
table's Asset) is derived here from the catalog entry, so adding a resource to `schemas/` adds
its DAG without touching `dags/`.

Each ingestion DAG ``ingest__<dept>__<resource>`` runs four tasks::

    land_to_bronze → bronze_to_pool → check_row_accounting → validate_quality
                                                   ──▶ Asset govlake://pool/<dept>/<resource>

The Asset is updated only when the quality gate lets the new batches through: a held batch
fails ``validate_quality`` (kept, visible, not promoted), and base builds are not triggered by it.

The task callables are in :mod:`jobs.orchestrate.tasks`: they import :mod:`jobs.ingest.pipeline`
only when the task runs, never while Airflow parses the DAG file, and return the job's summary
as XCom. The names (DAG ids, pools, Asset URIs) are in :mod:`jobs.orchestrate.names`.

Parse-time rules (STYLE "DAG files are wiring"): reading the catalog YAML is configuration and
allowed; no Spark, no lake reads, no ``Variable.get``, no metadata-database query. Airflow is
imported inside the builder functions, and only there: it reads its configuration on first
import, so importing this module must not configure it (the embedded runner and the tests set
its home first).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobs.catalog import Catalog, Resource
from jobs.catalog import load_catalog as _load_catalog
from jobs.orchestrate.names import ingest_dag_id, pool_asset_uri, pool_name, split_resource_id
from jobs.orchestrate.tasks import TASK_CALLABLES
from jobs.settings import Settings

if TYPE_CHECKING:
    from airflow.sdk import DAG, Asset

#: The four ingestion steps, in order: the three jobs of :mod:`jobs.ingest.pipeline`, then the
#: quality gate of :mod:`jobs.quality.pipeline`, whose success updates the pool's Asset.
INGEST_TASK_IDS: tuple[str, ...] = (
    "land_to_bronze",
    "bronze_to_pool",
    "check_row_accounting",
    "validate_quality",
)

#: Update cycle (更新周期) → cron schedule, read in the catalog's time zone (Asia/Shanghai by
#: default). Runs are staggered by cycle so that the monthly, quarterly and yearly loads of the
#: 1st of a month do not start in the same minute as the daily ones. ``realtime`` resources are
#: polled as micro-batches every 15 minutes; ``max_active_runs=1`` keeps them from piling up.
SCHEDULES: dict[str, str] = {
    "realtime": "*/15 * * * *",
    "daily": "0 1 * * *",
    "weekly": "0 2 * * 1",
    "monthly": "0 3 1 * *",
    "quarterly": "0 4 1 1,4,7,10 *",
    "yearly": "0 5 1 1 *",
}


@dataclass(frozen=True)
class IngestDagOptions:
    """Knobs shared by every ingestion DAG; the defaults are the production ones.

    ``start_date`` is fixed (never "now"): a moving start date changes the DAG on every parse.
    With ``catchup=False`` it only bounds the first scheduled run.
    """

    start_date: datetime | None = None  # None → 2025-01-01 00:00 in ``timezone``
    #: Time zone of the cron schedules; None → ``Settings.timezone`` (Asia/Shanghai by default).
    timezone: str | None = None
    retries: int = 2
    retry_delay: timedelta = timedelta(minutes=5)
    #: Delay multiplier per retry (Airflow 3 takes a float; 0 = constant delay).
    retry_exponential_backoff: float = 2.0
    max_retry_delay: timedelta = timedelta(hours=1)
    execution_timeout: timedelta | None = timedelta(hours=3)
    pool_slots: int = 1
    extra_tags: tuple[str, ...] = ()
    #: Markdown appended to every DAG's doc_md (the DAG file passes its module docstring).
    doc_md_footer: str = ""


def governance_default_args(execution_timeout: timedelta) -> dict[str, Any]:
    """``default_args`` of the bureau's own DAGs (bases, shares, audit): owned by the data
    authority, retried like the ingestion DAGs."""
    return {
        "owner": "data_authority",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "execution_timeout": execution_timeout,
    }


# --- names ----------------------------------------------------------------------------------


def pool_asset(resource_id: str) -> Asset:
    """The Airflow Asset of a department pool table, updated by its ingestion DAG.

    Downstream DAGs (base databases, quality) schedule on it::

        DAG(..., schedule=pool_asset("gaj.hukou") | pool_asset("wjw.death_cert"))

    Name and URI are both the lake URI, so ``Asset.ref(name=...)`` and ``Asset.ref(uri=...)``
    resolve to the same Asset.
    """
    from airflow.sdk import Asset

    uri = pool_asset_uri(resource_id)
    department, resource = split_resource_id(resource_id)
    return Asset(
        name=uri,
        uri=uri,
        group="pool",
        extra={"layer": "pool", "department": department, "resource": resource},
    )


def parsed_for(dag_id: str) -> bool:
    """Whether Airflow parses the DAG file for ``dag_id``: its parsing context names this DAG,
    or none (the DAG processor, a DagBag of the folder). Airflow sets it when it parses a file
    to run one DAG's task, and govlake's runner for the DAG it runs; a DAG file builds only the
    DAGs it is parsed for, so that such a parse serialises and stores no other."""
    from airflow.sdk import get_parsing_context

    wanted = get_parsing_context().dag_id
    return wanted is None or wanted == dag_id


def schedule_for(update_frequency: str) -> str:
    """Cron schedule of an update cycle; ValueError naming the known cycles otherwise."""
    try:
        return SCHEDULES[update_frequency]
    except KeyError:
        known = ", ".join(SCHEDULES)
        raise ValueError(f"unknown update_frequency {update_frequency!r}; known: {known}") from None


# --- DAGs -----------------------------------------------------------------------------------


def build_ingest_dag(
    resource: Resource,
    *,
    department_name: str = "",
    options: IngestDagOptions | None = None,
) -> DAG:
    """The ingestion DAG of one catalog resource.

    Args:
        resource: the catalog entry (``jobs.catalog.Resource``).
        department_name: the department's display name for the docs (公安局 …).
        options: shared knobs; the defaults are the production ones.
    """
    import pendulum
    from airflow.sdk import DAG, task

    options = options or IngestDagOptions()
    if options.timezone is None:
        options = replace(options, timezone=Settings.from_env().timezone)
    department = resource.department
    schedule = schedule_for(resource.update_frequency)
    start_date = options.start_date or pendulum.datetime(2025, 1, 1, tz=options.timezone)
    pool = pool_name(department)
    asset = pool_asset(resource.id)
    tags = ["govlake", "ingest", department, *resource.feeds, *options.extra_tags]

    dag = DAG(
        dag_id=ingest_dag_id(resource.id),
        dag_display_name=f"{resource.title} · {resource.id}",
        description=f"{resource.title_en or resource.title}: landing → bronze → pool",
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        tags=list(dict.fromkeys(tags)),  # de-duplicated, order kept
        doc_md=_doc_md(resource, department_name, schedule, options),
        default_args={
            "owner": department,
            "retries": options.retries,
            "retry_delay": options.retry_delay,
            "retry_exponential_backoff": options.retry_exponential_backoff,
            "max_retry_delay": options.max_retry_delay,
            "execution_timeout": options.execution_timeout,
            "pool": pool,
            "pool_slots": options.pool_slots,
        },
    )
    with dag:
        tasks = []
        for task_id in INGEST_TASK_IDS:
            # The last step proves the batch complete and usable; only then is the pool "updated".
            outlets = [asset] if task_id == INGEST_TASK_IDS[-1] else []
            callable_ = TASK_CALLABLES[task_id]
            step = task(
                callable_,
                task_id=task_id,
                outlets=outlets,
                doc_md=(callable_.__doc__ or "").strip(),
                # The summary is one XCom (return_value). Inferred from the ``dict`` return
                # type, Airflow would also push each key as its own XCom, one Execution API
                # call each (seven a task, ~70 ms), which nothing reads.
                multiple_outputs=False,
            )
            tasks.append(step(resource.id))
        for upstream, downstream in itertools.pairwise(tasks):
            upstream >> downstream
    return dag


def build_ingest_dags(
    catalog: Catalog | None = None,
    *,
    options: IngestDagOptions | None = None,
    resource_ids: Iterable[str] | None = None,
    dag_id: str | None = None,
) -> dict[str, DAG]:
    """Every ingestion DAG, keyed by dag_id, ready for a DAG file's ``globals()``.

    Args:
        catalog: the catalog; default :func:`load_catalog` (validated YAML, cached per process).
        options: shared knobs for all DAGs.
        resource_ids: only these resources (default: all of the catalog).
        dag_id: only this DAG, or none when it is not an ingestion DAG: the DAG file passes
            Airflow's parsing context (``get_parsing_context().dag_id``), set when Airflow parses
            the file to run one DAG's task, or by govlake's runner for one DAG; None builds all.
    """
    catalog = catalog or load_catalog()
    options = options or IngestDagOptions()
    if options.timezone is None:
        # Read once for all of them: the DAG processor parses this file every few minutes.
        options = replace(options, timezone=Settings.from_env().timezone)
    wanted = set(resource_ids) if resource_ids is not None else None
    dags: dict[str, DAG] = {}
    for resource in catalog.resources.values():
        if wanted is not None and resource.id not in wanted:
            continue
        if dag_id is not None and ingest_dag_id(resource.id) != dag_id:
            continue
        department = catalog.departments.get(resource.department)
        name = department.name if department else ""
        dag = build_ingest_dag(resource, department_name=name, options=options)
        dags[dag.dag_id] = dag
    return dags


def load_catalog() -> Catalog:
    """The validated catalog of ``Settings.schemas_root`` with its approved revisions (目录更新,
    files under ``Settings.catalog_revisions_root``: no database is read while parsing), cached
    per process by the loader until a revision is added.

    A broken catalog raises here, so Airflow shows it as the DAG file's import error.
    """
    settings = Settings.from_env()
    return _load_catalog(settings.schemas_root, settings.catalog_revisions_root)


def _doc_md(
    resource: Resource, department_name: str, schedule: str, options: IngestDagOptions
) -> str:
    department = (
        f"{department_name} ({resource.department})" if department_name else resource.department
    )
    lines = [
        f"### {resource.title} — `{resource.id}`",
        "",
        resource.title_en or "",
        "",
        f"- **Department:** {department}",
        f"- **Grain:** {resource.grain}",
        f"- **Update cycle (更新周期):** {resource.update_frequency} → `{schedule}` ({options.timezone})",
        f"- **Feeds:** {', '.join(resource.feeds) or '—'}",
        f"- **Pool table Asset:** `{pool_asset_uri(resource.id)}`",
        f"- **Airflow pool:** `{pool_name(resource.department)}`",
        "",
        (resource.description or "").strip(),
        "",
        "Tasks: `land_to_bronze` → `bronze_to_pool` → `check_row_accounting` "
        "(fails unless file rows = bronze rows = pool + quarantine + duplicates) → "
        "`validate_quality` (expectation suite `expectations/"
        f"{resource.department}.{resource.resource}`; fails when a critical expectation holds "
        "the batch).",
    ]
    text = "\n".join(lines).strip()
    footer = (options.doc_md_footer or "").strip()
    return f"{text}\n\n---\n\n{footer}" if footer else text
