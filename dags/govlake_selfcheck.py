"""Self-check: can this Airflow run govlake? The cheapest DAG, no Spark and no data.

One task, `check_environment`, on the worker that would run the real DAGs: the catalog and
the policy profile load, the lake, landing and reports roots are writable (object stores are
not probed), and Java 17+ is there for Spark. It fails naming every problem found.

Run it first on a new deployment (trigger it in the UI, or `govlake airflow run
govlake__selfcheck`); `make airflow`'s test triggers it through the REST API. Manual only.
The logic is in `jobs/orchestrate/selfcheck.py`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, task

from jobs.orchestrate.dag_factory import parsed_for
from jobs.orchestrate.selfcheck import run_selfcheck
from jobs.settings import Settings

if parsed_for("govlake__selfcheck"):
    with DAG(
        dag_id="govlake__selfcheck",
        dag_display_name="自检 · self-check",
        description="the worker can run govlake: catalog, policy profile, lake roots, Java",
        schedule=None,
        start_date=pendulum.datetime(2025, 1, 1, tz=Settings.from_env().timezone),
        catchup=False,
        max_active_runs=1,
        tags=["govlake", "operations"],
        doc_md=__doc__,
        default_args={
            "owner": "platform",
            "retries": 2,
            "retry_delay": timedelta(seconds=30),
            "execution_timeout": timedelta(minutes=5),
        },
    ):
        task(
            run_selfcheck,
            task_id="check_environment",
            doc_md=run_selfcheck.__doc__,
            multiple_outputs=False,
        )()
