"""Ingestion DAGs: every department resource of the catalog, landing → bronze → pool.

One Airflow DAG per resource in `schemas/resources/<dept>/<resource>.yaml`, built by
`jobs.orchestrate.dag_factory`:

- **id** `ingest__<dept>__<resource>`, scheduled by the resource's update cycle (更新周期),
  no catchup, one active run at a time;
- **tasks** `land_to_bronze` → `bronze_to_pool` → `check_row_accounting`, each in the
  department's Airflow pool `dept_<dept>` so that one department cannot starve another;
  retried twice with a growing delay;
- **output** the Asset `govlake://pool/<dept>/<resource>`, updated when the row accounting of
  the run holds (file rows = bronze rows = pool + quarantine + duplicates). Base-database and
  quality DAGs schedule on these Assets (`dag_factory.pool_asset`), not on clocks.

This file is wiring only: the logic lives in `jobs/ingest/`, imported when a task runs.
Run one locally with `govlake airflow run ingest__gaj__hukou`.
"""

from __future__ import annotations

from jobs.orchestrate.dag_factory import IngestDagOptions, build_ingest_dags

globals().update(build_ingest_dags(options=IngestDagOptions(doc_md_footer=__doc__ or "")))
