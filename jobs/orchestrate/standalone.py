"""``make airflow``: the whole Airflow 3 (API server and UI, scheduler, DAG processor, triggerer)
on the embedded home, with govlake's DAGs, on localhost.

It is Airflow's own ``airflow standalone`` (LocalExecutor, SQLite, SimpleAuthManager), started
on the home of :mod:`jobs.orchestrate.airflow_env` with what a fresh clone needs around it:

- the database migrated and the department pools created first (tasks in a missing pool would
  never be scheduled);
- the API server bound to ``127.0.0.1`` only, on a chosen port, with the Task SDK's execution
  API URL following that port (Airflow assumes 8080 otherwise);
- a **deterministic login**: SimpleAuthManager reads its users from ``[core]
  simple_auth_manager_users`` and their passwords from a JSON file it would otherwise fill
  with random passwords printed once in the log. govlake writes that file itself, from
  ``$GOVLAKE_AIRFLOW_USER`` / ``$GOVLAKE_AIRFLOW_PASSWORD`` (default ``admin`` / ``admin``),
  on every start, so the login is always the documented one. SimpleAuthManager stores the
  password in plain text: this is a development server for one machine, never production
  (see docker/ for that);
- a clean stop: Ctrl-C or SIGTERM stops every component and every process they started
  (task processes put themselves in their own process groups, so a group kill is not enough).
  On Linux govlake makes itself the "child subreaper" of what it starts: Ctrl-C reaches the
  whole terminal group at once, a component can die before govlake lists its children, and
  those orphans are then re-parented to govlake (not to init), where the stop still finds them.

    govlake airflow standalone [--port 8080] [--host 127.0.0.1]
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from jobs.orchestrate import airflow_env

USER_ENV = "GOVLAKE_AIRFLOW_USER"
PASSWORD_ENV = "GOVLAKE_AIRFLOW_PASSWORD"
DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "admin"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
PASSWORDS_FILE_NAME = "simple_auth_manager_passwords.json"

T = TypeVar("T")


@dataclass(frozen=True)
class StandaloneConfig:
    """Where the standalone Airflow listens and who may log in. Build with :meth:`from_env`."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    #: API server worker processes; one is plenty for one person on a 2-core machine.
    api_workers: int = 1
    #: Task instances running at once (LocalExecutor worker processes).
    parallelism: int = 4

    @classmethod
    def from_env(cls, host: str | None = None, port: int | None = None) -> StandaloneConfig:
        user = os.environ.get(USER_ENV, "").strip() or DEFAULT_USER
        if ":" in user or "," in user:
            raise airflow_env.AirflowEnvError(f"{USER_ENV}={user!r}: no ':' or ',' in a user name")
        return cls(
            host=host or DEFAULT_HOST,
            port=DEFAULT_PORT if port is None else port,
            user=user,
            password=os.environ.get(PASSWORD_ENV, "") or DEFAULT_PASSWORD,
        )

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def passwords_file(env: airflow_env.AirflowEnv) -> Path:
    return env.home / PASSWORDS_FILE_NAME


def environ(env: airflow_env.AirflowEnv, config: StandaloneConfig) -> dict[str, str]:
    """The variables on top of :meth:`AirflowEnv.environ` that make the standalone Airflow."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        **env.environ(),
        # `airflow standalone` starts its components as `airflow <component>` from PATH.
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(config.parallelism),
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{config.user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file(env)),
        "AIRFLOW__API__HOST": config.host,
        "AIRFLOW__API__PORT": str(config.port),
        "AIRFLOW__API__WORKERS": str(config.api_workers),
        "AIRFLOW__API__BASE_URL": config.base_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{config.base_url}/execution/",
    }


def write_passwords(env: airflow_env.AirflowEnv, config: StandaloneConfig) -> Path:
    """Writes SimpleAuthManager's passwords file with the configured login (owner-only)."""
    path = passwords_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({config.user: config.password}) + "\n")
    path.chmod(0o600)
    return path


def prepare(home: str | Path | None, config: StandaloneConfig) -> airflow_env.InitResult:
    """Environment, passwords file, database at head and department pools, in this process.

    Sets ``os.environ`` (the components inherit it). Must run before Airflow is imported.
    """
    env = airflow_env.resolve(home)
    os.environ.update(environ(env, config))
    write_passwords(env, config)
    return airflow_env.initialize(home)


def banner(result: airflow_env.InitResult, config: StandaloneConfig) -> str:
    """What the person starting it needs: where the UI is and how to log in."""
    if os.environ.get(PASSWORD_ENV):
        password = f"(the value of ${PASSWORD_ENV})"
    else:
        password = config.password
    return "\n".join(
        [
            f"Airflow UI     {config.base_url}   (ready in about a minute)",
            f"login          {config.user} / {password}",
            f"Airflow home   {result.env.home}",
            f"DAGs folder    {result.env.dags_folder}",
            "stop           Ctrl-C",
        ]
    )


def serve(home: str | Path | None = None, config: StandaloneConfig | None = None) -> int:
    """Runs ``airflow standalone`` in the foreground until Ctrl-C or SIGTERM; returns its code."""
    config = config or StandaloneConfig.from_env()
    result = prepare(home, config)
    print(banner(result, config), flush=True)
    adopting = adopt_orphans()
    process = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "standalone"])
    stopping = False

    def _everything_started() -> list[int]:
        # Orphans re-parented to this process are its children, no longer Airflow's.
        return descendants(os.getpid()) if adopting else []

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            print(f"govlake: {signal.Signals(signum).name}, stopping Airflow …", flush=True)
            stop_tree(process.pid, also=_everything_started())

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop_tree(process.pid, also=_everything_started())  # whatever a component left behind
    return 0 if stopping else code


#: prctl(2) option: orphaned descendants are re-parented to the caller instead of init.
PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> bool:
    """Makes this process the subreaper of everything it starts (Linux); False elsewhere or if
    the kernel refuses. Only for a process whose children are all its own to stop (the CLI)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(pid: int) -> list[int]:
    """Every process started by ``pid``, however deep, while they are still attached to it."""
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_tree(pid: int, timeout: float = 30.0, also: Iterable[int] = ()) -> list[int]:
    """SIGTERM to ``pid``, its descendants and ``also``; SIGKILL what is left after ``timeout``.

    Returns the pids that needed SIGKILL. Descendants are listed before anything is signalled,
    because a process whose parent died is re-parented and can no longer be found from it.
    """
    import psutil

    pids = {pid, *descendants(pid), *also}
    procs = []
    for each in sorted(pids):
        try:
            procs.append(psutil.Process(each))
        except psutil.NoSuchProcess:
            continue
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    killed = []
    for proc in alive:
        try:
            proc.kill()
            killed.append(proc.pid)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    return killed


def wait_for(
    predicate: Callable[[], T | None], timeout: float, interval: float = 1.0, what: str = "it"
) -> T:
    """Calls ``predicate`` until it returns something truthy; TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # the server is still starting: connection refused, 5xx, ...
            last_error = exc
        else:
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"no {what} within {timeout:.0f} s (last error: {last_error})")
