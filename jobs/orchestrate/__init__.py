"""Orchestration: Airflow DAGs built from the catalog, and an embedded Airflow to run them.

Modules:
  dag_factory  one ingestion DAG per catalog resource (schedule, retries, department pools,
               pool Assets); imported by `dags/` at parse time, so it does no work there
  airflow_env  the embedded Airflow home (data/airflow): config, keys, SQLite database, pools
  runner       ``run_dag``: one DAG run through Airflow's own runner (``dag.test()``)
  commands     ``govlake airflow init | list | run | env``

Nothing here imports Airflow at module import time except :mod:`dag_factory`, which is only
imported by DAG files and by code that already runs inside Airflow: Airflow reads its
configuration once, on first import, so the environment must be set before that.
"""
