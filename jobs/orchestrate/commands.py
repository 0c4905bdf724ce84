"""``govlake airflow``: set up the embedded Airflow, list the DAGs, run one with Airflow's runner.

    govlake airflow init                      # data/airflow: config + keys, database, pools
    govlake airflow list                      # the DAGs of dags/, with schedule, pool and Asset
    govlake airflow run ingest__gaj__hukou    # one run through dag.test(); exit 1 unless success
    govlake airflow standalone                # UI, scheduler, DAG processor, triggerer (make airflow)
    eval "$(govlake airflow env)"             # then plain `airflow ...` uses the same home

Each command activates the embedded environment before it imports Airflow (Airflow reads its
configuration once, at import), which is why nothing Airflow is imported at the top of this
module: ``govlake --help`` must not configure Airflow.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import sys

from jobs.orchestrate import airflow_env, standalone
from jobs.orchestrate.runner import DagNotFound, run_dag


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake airflow init|list|run|env|standalone``."""
    airflow = subparsers.add_parser("airflow", help="embedded Airflow: init, list and run DAGs")
    airflow.add_argument(
        "--home", help=f"Airflow home (default: {airflow_env.HOME_ENV} or data/airflow)"
    )
    commands = airflow.add_subparsers(dest="airflow_command", metavar="ACTION")
    airflow.set_defaults(func=functools.partial(_help, airflow))

    init = commands.add_parser("init", help="config and keys, database migrated, department pools")
    init.set_defaults(func=_init)

    listing = commands.add_parser("list", help="the DAGs of the DAGs folder")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(func=_list)

    run = commands.add_parser("run", help="run one DAG with Airflow's own runner (dag.test)")
    run.add_argument("dag_id", metavar="DAG_ID", help="e.g. ingest__gaj__hukou")
    run.add_argument("--logical-date", help="ISO date-time with zone (default: now)")
    run.add_argument("--conf", help="DAG run conf as JSON")
    run.add_argument(
        "--keep-retries",
        action="store_true",
        help="keep the DAG's retries (by default a local run fails at the first error)",
    )
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.set_defaults(func=_run)

    env = commands.add_parser("env", help="print shell exports for the plain `airflow` command")
    env.set_defaults(func=_env)

    serve = commands.add_parser(
        "standalone",
        help="the whole Airflow on localhost: UI/API server, scheduler, DAG processor, triggerer",
        description="Runs `airflow standalone` on the embedded home (SQLite, LocalExecutor) "
        "with govlake's DAGs until Ctrl-C. Login: $GOVLAKE_AIRFLOW_USER / "
        "$GOVLAKE_AIRFLOW_PASSWORD, default admin / admin.",
    )
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="UI and API port (default 8080)")
    serve.set_defaults(func=_standalone)


def _help(parser: argparse.ArgumentParser, _args: argparse.Namespace) -> int:
    parser.print_help()
    return 2


def _init(args: argparse.Namespace) -> int:
    try:
        result = airflow_env.initialize(args.home)
    except airflow_env.AirflowEnvError as exc:
        print(exc, file=sys.stderr)
        return 1
    database = result.database
    action = "migrated" if database.migrated else "already at head"
    print(f"Airflow home   {result.env.home}")
    print(f"DAGs folder    {result.env.dags_folder}")
    print(
        f"database       {result.env.database} ({action}, revision {database.head}, "
        f"{database.seconds:.1f} s)"
    )
    print("pools          " + ", ".join(f"{name}={slots}" for name, slots in result.pools.items()))
    return 0


def _list(args: argparse.Namespace) -> int:
    try:
        env = airflow_env.activate(args.home)
    except airflow_env.AirflowEnvError as exc:
        print(exc, file=sys.stderr)
        return 1
    # Airflow logs to stdout; keep its INFO lines out of a listing (and out of --json), unless
    # the person asked for a level. Read at Airflow's import, so it must be set before it.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(env.dags_folder), safe_mode=False)
    rows = []
    for dag_id in sorted(bag.dags):
        dag = bag.dags[dag_id]
        outlets = sorted({getattr(o, "uri", str(o)) for task in dag.tasks for o in task.outlets})
        rows.append(
            {
                "dag_id": dag_id,
                "schedule": _schedule_text(dag),
                "owner": dag.owner,
                "pools": sorted({task.pool for task in dag.tasks}),
                "tasks": [task.task_id for task in dag.topological_sort()],
                "assets": outlets,
                "tags": sorted(dag.tags),
            }
        )
    if args.json:
        print(
            json.dumps(
                {"dags": rows, "import_errors": bag.import_errors}, ensure_ascii=False, indent=2
            )
        )
    else:
        width = max((len(row["dag_id"]) for row in rows), default=0)
        for row in rows:
            print(
                f"{row['dag_id']:<{width}}  {row['schedule']:<18} {row['owner']:<6} "
                f"{','.join(row['pools']):<12} {' '.join(row['assets'])}"
            )
        for path, error in bag.import_errors.items():
            print(f"IMPORT ERROR {path}:\n{error}", file=sys.stderr)
    return 1 if bag.import_errors else 0


def _schedule_text(dag: object) -> str:
    # The Task SDK DAG keeps what the author passed: a cron string, a timedelta, Assets or None.
    schedule = getattr(dag, "schedule", None)
    if schedule is None:
        return "manual"
    return schedule if isinstance(schedule, str) else type(schedule).__name__


def _run(args: argparse.Namespace) -> int:
    try:
        conf = json.loads(args.conf) if args.conf else None
    except json.JSONDecodeError as exc:
        print(f"--conf is not JSON: {exc}", file=sys.stderr)
        return 2
    try:
        result = run_dag(
            args.dag_id,
            args.logical_date,
            conf,
            home=args.home,
            retries=None if args.keep_retries else 0,
            raise_on_failure=False,
        )
    except (DagNotFound, airflow_env.AirflowEnvError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(result.to_json() if args.json else result.report())
    return 0 if result.succeeded else 1


def _standalone(args: argparse.Namespace) -> int:
    try:
        config = standalone.StandaloneConfig.from_env(host=args.host, port=args.port)
        return standalone.serve(args.home, config)
    except airflow_env.AirflowEnvError as exc:
        print(exc, file=sys.stderr)
        return 1


def _env(args: argparse.Namespace) -> int:
    # activate() writes airflow.cfg with this home's keys, so plain `airflow` finds them.
    env = airflow_env.activate(args.home)
    for name, value in env.environ().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0
