"""Runs one DAG with Airflow's own runner, ``dag.test()``, on the embedded Airflow.

``dag.test()`` is what Airflow offers for a run without scheduler, executor or API server: it
creates a real DAG run in the metadata database, resolves dependencies and pools the way the
scheduler does, and runs each task in this process through the Task SDK. The run, its task
instances and XComs stay in the database, so ``airflow`` commands and the UI can inspect them.

    from jobs.orchestrate.runner import run_dag
    result = run_dag("ingest__gaj__hukou")        # raises DagRunFailed unless it succeeded
    print(result.report())

Airflow reads its configuration when first imported, so this module imports it only after
:func:`jobs.orchestrate.airflow_env.activate`. A process that has already configured Airflow
for another home (a test session, a notebook) uses ``isolated=True``: the run then happens in
a child process and the result comes back as JSON.

Command line (what ``isolated=True`` calls)::

    python -m jobs.orchestrate.runner DAG_ID [--logical-date ISO] [--conf JSON] [--result-file F]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pluggy import HookimplMarker

from jobs.orchestrate import airflow_env
from jobs.settings import system_clock

#: Airflow's listener marker (``airflow.listeners.hookimpl`` is this marker); made from pluggy
#: directly so that importing this module does not import, and so configure, Airflow.
_hookimpl = HookimplMarker("airflow")


@dataclass(frozen=True)
class TaskOutcome:
    """One task instance of the run: its final state and its return value (XCom)."""

    task_id: str
    state: str
    try_number: int
    seconds: float | None
    result: Any = None
    error: str | None = None


@dataclass(frozen=True)
class DagRunResult:
    """The outcome of one DAG run; ``tasks`` are in the DAG's topological order."""

    dag_id: str
    run_id: str
    state: str
    logical_date: str | None
    tasks: list[TaskOutcome]
    seconds: float
    setup_seconds: float = 0.0
    database_migrated: bool = False
    airflow_home: str = ""
    #: Output of the child process when the run failed in one (``isolated=True``).
    output_tail: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    @property
    def task_states(self) -> dict[str, str]:
        return {task.task_id: task.state for task in self.tasks}

    def report(self) -> str:
        """Human-readable summary: one line per task, then each task's returned summary."""
        lines = [
            f"{self.dag_id}  run {self.run_id}: {self.state.upper()} in {self.seconds:.1f} s"
            f" (set-up {self.setup_seconds:.1f} s"
            f"{', database migrated' if self.database_migrated else ''})"
        ]
        width = max((len(task.task_id) for task in self.tasks), default=0)
        for task in self.tasks:
            took = f"{task.seconds:.1f} s" if task.seconds is not None else "—"
            lines.append(
                f"  {task.task_id:<{width}}  {task.state:<16} {took:>8}  try {task.try_number}"
            )
        for task in self.tasks:
            if task.error:
                lines.append(f"  {task.task_id} failed: {task.error}")
            if task.result is not None:
                rendered = json.dumps(task.result, ensure_ascii=False, indent=2, default=str)
                lines.append(f"  {task.task_id} returned:")
                lines.extend("    " + line for line in rendered.splitlines())
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> DagRunResult:
        data = json.loads(text)
        data["tasks"] = [TaskOutcome(**task) for task in data["tasks"]]
        return cls(**data)


class DagRunFailed(RuntimeError):
    """The DAG run did not succeed; ``result`` holds every task's state."""

    def __init__(self, result: DagRunResult) -> None:
        self.result = result
        bad = [f"{t.task_id}={t.state}" for t in result.tasks if t.state != "success"]
        super().__init__(
            f"DAG run {result.dag_id} / {result.run_id} ended {result.state}: "
            f"{', '.join(bad) or 'no task ran'}.\n{result.report()}"
        )


class DagNotFound(LookupError):
    """The DAGs folder has no DAG with this id, or the DAG file failed to import."""


def run_dag(
    dag_id: str,
    logical_date: datetime | str | None = None,
    conf: dict[str, Any] | None = None,
    *,
    home: str | Path | None = None,
    dags_folder: str | Path | None = None,
    retries: int | None = 0,
    isolated: bool = False,
    raise_on_failure: bool = True,
) -> DagRunResult:
    """Runs ``dag_id`` once with ``dag.test()`` and returns state and per-task states.

    Sets up the embedded Airflow first (environment, database migrated when behind, one pool
    per department), parses the DAGs folder and fails with the import error when a DAG file
    is broken.

    Args:
        dag_id: e.g. ``"ingest__gaj__hukou"``.
        logical_date: of the run (datetime or ISO string); default now. A second run with the
            same logical date replaces the first one's record (that is how ``dag.test`` works).
        conf: the DAG run's ``conf``.
        home: the Airflow home; default ``$GOVLAKE_AIRFLOW_HOME`` or ``data/airflow``.
        dags_folder: default ``<project>/dags``.
        retries: retries per task for this run; default 0 so that a local run fails at once
            (``dag.test`` would sleep through ``retry_delay`` between tries). ``None`` keeps
            the DAG's own retries.
        isolated: run in a child process, for callers that already imported Airflow with
            another configuration.
        raise_on_failure: raise :class:`DagRunFailed` unless the run succeeded.

    Raises:
        DagRunFailed: the run ended in another state than success.
        DagNotFound: no such DAG, or the DAGs folder has import errors.
        airflow_env.AirflowEnvError: Airflow in this process is configured for another home.
    """
    if isolated:
        result = _run_in_child(dag_id, logical_date, conf, home, dags_folder, retries)
    else:
        result = _run_here(dag_id, logical_date, conf, home, dags_folder, retries)
    if raise_on_failure and not result.succeeded:
        raise DagRunFailed(result)
    return result


def _run_here(
    dag_id: str,
    logical_date: datetime | str | None,
    conf: dict[str, Any] | None,
    home: str | Path | None,
    dags_folder: str | Path | None,
    retries: int | None,
) -> DagRunResult:
    started = time.perf_counter()
    init = airflow_env.initialize(home, dags_folder)  # before any Airflow import below
    with parsing_context(dag_id):
        dag = load_dag(dag_id, init.env.dags_folder)
        if retries is not None:
            for task in dag.tasks:
                task.retries = retries
        when = _as_datetime(logical_date)
        setup_seconds = time.perf_counter() - started

        ran_at = time.perf_counter()
        with _ErrorCollector() as errors:
            dag_run = dag.test(logical_date=when, run_conf=conf)
        seconds = time.perf_counter() - ran_at
    return _collect(
        dag,
        dag_run.run_id,
        errors=errors.by_task,
        seconds=seconds,
        setup_seconds=setup_seconds,
        migrated=init.database.migrated,
        env=init.env,
    )


#: Airflow's parsing context (``airflow.sdk.get_parsing_context``), as its task runner sets it.
PARSING_CONTEXT_DAG_ID = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"


@contextlib.contextmanager
def parsing_context(dag_id: str | None) -> Iterator[None]:
    """Tells DAG files that Airflow parses them for ``dag_id`` only, as Airflow's task runner
    does (None: for every DAG).

    ``dag.test()`` parses the whole DAGs folder and writes every DAG it finds to the metadata
    database, on every run; the DAG files build only the DAG they are parsed for
    (:func:`jobs.orchestrate.dag_factory.parsed_for`), so a run parses and stores one DAG.
    """
    before = os.environ.get(PARSING_CONTEXT_DAG_ID)
    if dag_id is None:
        os.environ.pop(PARSING_CONTEXT_DAG_ID, None)
    else:
        os.environ[PARSING_CONTEXT_DAG_ID] = dag_id
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(PARSING_CONTEXT_DAG_ID, None)
        else:
            os.environ[PARSING_CONTEXT_DAG_ID] = before


class _ErrorCollector:
    """Keeps each failing task's exception, through Airflow's task-instance listener hook.

    ``dag.test()`` prints task logs to the console and keeps no exception in the database; a
    listener (the mechanism plugins use) is how the error reaches :class:`DagRunResult`.
    """

    def __init__(self) -> None:
        self.by_task: dict[str, str] = {}

    def __enter__(self) -> _ErrorCollector:
        from airflow.sdk.listener import get_listener_manager

        get_listener_manager().add_listener(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        from airflow.sdk.listener import get_listener_manager

        get_listener_manager().pm.unregister(self)

    @_hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        if isinstance(error, BaseException):
            text = f"{type(error).__name__}: {error}"
        else:
            text = str(error) if error else "failed (see the task log above)"
        self.by_task[task_instance.task_id] = text


def load_dag(dag_id: str, dags_folder: str | Path) -> Any:
    """Parses the DAGs folder (as the DAG processor does) and returns one DAG."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags_folder), safe_mode=False)
    if bag.import_errors:
        errors = "\n".join(f"--- {path}\n{error}" for path, error in bag.import_errors.items())
        raise DagNotFound(f"the DAGs folder {dags_folder} has import errors:\n{errors}")
    dag = bag.dags.get(dag_id)
    if dag is None:
        if os.environ.get(PARSING_CONTEXT_DAG_ID):
            # Parsed for this DAG alone, the folder built none: parse it whole to name them.
            with parsing_context(None):
                bag = DagBag(dag_folder=str(dags_folder), safe_mode=False)
        known = ", ".join(sorted(bag.dags)) or "none"
        raise DagNotFound(f"no DAG {dag_id!r} in {dags_folder}; known: {known}")
    return dag


def _collect(
    dag: Any,
    run_id: str,
    *,
    errors: dict[str, str],
    seconds: float,
    setup_seconds: float,
    migrated: bool,
    env: airflow_env.AirflowEnv,
) -> DagRunResult:
    """Reads the run back from the metadata database: state, task instances, return values."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dag_run = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)
        )
        if dag_run is None:
            raise RuntimeError(f"dag.test() left no run {run_id!r} of {dag.dag_id} in the database")
        instances = {ti.task_id: ti for ti in dag_run.get_task_instances(session=session)}
        returned = {
            row.task_id: XComModel.deserialize_value(row)
            for row in session.scalars(
                XComModel.get_many(run_id=run_id, dag_ids=dag.dag_id, key="return_value")
            )
        }
        order = [task.task_id for task in dag.topological_sort()]
        tasks = [
            TaskOutcome(
                task_id=task_id,
                state=str(instances[task_id].state or "none"),
                try_number=instances[task_id].try_number,
                seconds=instances[task_id].duration,
                result=returned.get(task_id),
                error=errors.get(task_id),
            )
            for task_id in order
            if task_id in instances
        ]
        logical = dag_run.logical_date.isoformat() if dag_run.logical_date else None
        state = str(dag_run.state)
    return DagRunResult(
        dag_id=dag.dag_id,
        run_id=run_id,
        state=state,
        logical_date=logical,
        tasks=tasks,
        seconds=seconds,
        setup_seconds=setup_seconds,
        database_migrated=migrated,
        airflow_home=str(env.home),
    )


def _as_datetime(value: datetime | str | None) -> datetime:
    if value is None:
        return system_clock()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError(f"logical_date {value!r} needs a time zone (e.g. 2025-01-01T00:00+08:00)")
    return value


# --- child process --------------------------------------------------------------------------


def _run_in_child(
    dag_id: str,
    logical_date: datetime | str | None,
    conf: dict[str, Any] | None,
    home: str | Path | None,
    dags_folder: str | Path | None,
    retries: int | None,
) -> DagRunResult:
    env = airflow_env.resolve(home, dags_folder)
    with tempfile.TemporaryDirectory(prefix="govlake-run-") as scratch:
        result_file = Path(scratch) / "result.json"
        command = [sys.executable, "-m", "jobs.orchestrate.runner", dag_id]
        command += ["--home", str(env.home), "--dags-folder", str(env.dags_folder)]
        command += ["--result-file", str(result_file)]
        if logical_date is not None:
            when = logical_date if isinstance(logical_date, str) else logical_date.isoformat()
            command += ["--logical-date", when]
        if conf is not None:
            command += ["--conf", json.dumps(conf, ensure_ascii=False)]
        command += ["--retries", "keep" if retries is None else str(retries)]
        # The child must not inherit this process's Airflow configuration.
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        completed = subprocess.run(
            command, env=child_env, capture_output=True, text=True, check=False
        )
        output = (completed.stdout or "") + (completed.stderr or "")
        tail = "\n".join(output.splitlines()[-60:])
        if result_file.exists():
            result = DagRunResult.from_json(result_file.read_text(encoding="utf-8"))
            return result if result.succeeded else replace(result, output_tail=tail)
    raise RuntimeError(f"the DAG run process for {dag_id} exited {completed.returncode}:\n{tail}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process (and a debugging aid): run one DAG, write the result."""
    parser = argparse.ArgumentParser(prog="python -m jobs.orchestrate.runner")
    parser.add_argument("dag_id")
    parser.add_argument("--logical-date")
    parser.add_argument("--conf", help="DAG run conf as JSON")
    parser.add_argument("--home")
    parser.add_argument("--dags-folder")
    parser.add_argument("--retries", default="0", help="retries per task, or 'keep'")
    parser.add_argument("--result-file", help="write the result as JSON here")
    args = parser.parse_args(argv)
    retries = None if args.retries == "keep" else int(args.retries)
    result = run_dag(
        args.dag_id,
        args.logical_date,
        json.loads(args.conf) if args.conf else None,
        home=args.home,
        dags_folder=args.dags_folder,
        retries=retries,
        raise_on_failure=False,
    )
    if args.result_file:
        Path(args.result_file).write_text(result.to_json(), encoding="utf-8")
    print(result.report())
    return 0 if result.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
