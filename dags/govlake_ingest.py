"""Ingestion DAGs: every department resource of the catalog, landing → bronze → pool → quality gate.

One Airflow DAG per resource in `schemas/resources/<dept>/<resource>.yaml`, built by
`jobs.orchestrate.dag_factory`:

- **id** `ingest__<dept>__<resource>`, scheduled by the resource's update cycle (更新周期),
  no catchup, one active run at a time;
- **tasks** `land_to_bronze` → `bronze_to_pool` → `check_row_accounting` → `validate_quality`,
  each in the department's Airflow pool `dept_<dept>` so that one department cannot starve
  another; retried twice with a growing delay. `check_row_accounting` fails unless file rows =
  bronze rows = pool + quarantine + duplicates (+ rows kept in bronze for a missing required
  column); `validate_quality` runs the resource's expectation suite on the new pool batches
  and fails when the quality gate (质量门禁) holds one;
- **output** the Asset `govlake://pool/<dept>/<resource>`, updated by `validate_quality` only:
  when the gate lets the new batches through. A held batch stays in the pool, visible, but
  updates no Asset and reaches no base database, share or open data until a quality officer
  releases it (`govlake quality promote`). Base-database DAGs schedule on these Assets
  (`dag_factory.pool_asset`), not on clocks.

Airflow runs a task after parsing this file again; it names the DAG it wants in its parsing
context, and only that DAG is built (Airflow's documented optimisation for generated DAGs).

This file is wiring only: the logic lives in `jobs/ingest/` and `jobs/quality/`, imported when
a task runs. Run one locally with `govlake airflow run ingest__gaj__hukou`.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from jobs.orchestrate.dag_factory import IngestDagOptions, build_ingest_dags

globals().update(
    build_ingest_dags(
        options=IngestDagOptions(doc_md_footer=__doc__ or ""),
        dag_id=get_parsing_context().dag_id,
    )
)
