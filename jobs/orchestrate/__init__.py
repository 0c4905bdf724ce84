"""Orchestration: Airflow DAGs built from the catalog, and an embedded Airflow to run them.

Modules:
  dag_factory  one ingestion DAG per catalog resource (schedule, retries, department pools,
               pool Assets); imported by `dags/` at parse time, so it does no work there
  names        DAG ids, Airflow pool names and Asset URIs (plain strings, no Airflow)
  tasks        ``audited()``, which every stage's task callables run through, and the
               ingestion steps (the other stages' callables: integrate, govern, share ``tasks``)
  airflow_env  the embedded Airflow home (data/airflow): config, keys, SQLite database, pools
  runner       ``run_dag``: one DAG run through Airflow's own runner (``dag.test()``)
  commands     ``govlake airflow init | list | run | env``

Nothing here imports Airflow at module import time (:mod:`dag_factory` imports it inside its
builders): Airflow reads its configuration once, on first import, so the environment must be
set before that.
"""
