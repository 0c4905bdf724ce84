from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy as sa

from jobs.orchestrate import airflow_env, standalone
from tests.ports import free_port
from tests.postgres import needs_postgres

GOVLAKE = Path(sys.executable).parent / "govlake"
PASSWORD = "s3lfcheck-pw"
SELFCHECK = "govlake__selfcheck"


# --- the environment, without starting anything ------------------------------------------


def test_environ_binds_localhost_and_points_the_task_sdk_at_the_chosen_port(tmp_path):
    env = airflow_env.resolve(tmp_path / "home")
    config = standalone.StandaloneConfig(port=18181)

    variables = standalone.environ(env, config)

    assert variables["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert variables["AIRFLOW__API__PORT"] == "18181"
    assert (
        variables["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18181/execution/"
    )
    assert variables["AIRFLOW__CORE__AUTH_MANAGER"] == standalone.SIMPLE_AUTH_MANAGER
    assert variables["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    assert variables["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert variables["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert variables["AIRFLOW__CORE__DAGS_FOLDER"] == str(env.dags_folder)
    assert variables["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:////")
    assert variables["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


def test_passwords_file_holds_the_configured_login_for_the_owner_only(tmp_path):
    env = airflow_env.resolve(tmp_path / "home")
    config = standalone.StandaloneConfig(user="ops", password="first")
    standalone.write_passwords(env, config)

    path = standalone.write_passwords(
        env, standalone.StandaloneConfig(user="ops", password="second")
    )

    assert json.loads(path.read_text(encoding="utf-8")) == {"ops": "second"}
    assert path.stat().st_mode & 0o777 == 0o600
    assert standalone.environ(env, config)[
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
    ] == str(path)


def test_login_comes_from_the_environment_with_admin_admin_by_default(monkeypatch):
    monkeypatch.delenv(standalone.USER_ENV, raising=False)
    monkeypatch.delenv(standalone.PASSWORD_ENV, raising=False)
    assert (
        standalone.StandaloneConfig.from_env().user,
        standalone.StandaloneConfig.from_env().password,
    ) == (
        "admin",
        "admin",
    )

    monkeypatch.setenv(standalone.USER_ENV, "ops")
    monkeypatch.setenv(standalone.PASSWORD_ENV, "secret")
    config = standalone.StandaloneConfig.from_env(port=9999)
    assert (config.user, config.password, config.base_url) == (
        "ops",
        "secret",
        "http://127.0.0.1:9999",
    )


def test_rejects_a_user_name_that_would_break_the_users_setting(monkeypatch):
    monkeypatch.setenv(standalone.USER_ENV, "ops:admin")
    with pytest.raises(airflow_env.AirflowEnvError, match="no ':'"):
        standalone.StandaloneConfig.from_env()


def test_stop_tree_ends_a_process_and_its_children():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)",
        ],
    )
    children = standalone.wait_for(
        lambda: standalone.descendants(parent.pid), timeout=20, interval=0.1
    )

    killed = standalone.stop_tree(parent.pid, timeout=10)

    parent.wait(timeout=5)
    assert killed == []
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        for pid in children
    )


_ORPHAN_SCRIPT = """
import os, subprocess, sys
from jobs.orchestrate import standalone
adopting = standalone.adopt_orphans() if sys.argv[1] == "adopt" else False
sleeper = "import time; time.sleep(60)"
quiet = "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL"  # or run() waits for the sleeper
component = (
    f"import subprocess, sys; print(subprocess.Popen([sys.executable, '-c', {sleeper!r}], {quiet}).pid)"
)
middle = subprocess.run([sys.executable, "-c", component], capture_output=True, text=True)
orphan = int(middle.stdout)  # its parent, the component, has exited
found = orphan in standalone.descendants(os.getpid())
standalone.stop_tree(orphan, timeout=10)
print(adopting, found)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_cli_process_still_finds_what_a_dead_component_started():
    def run(mode: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", _ORPHAN_SCRIPT, mode],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
            timeout=60,
        ).stdout.split()

    assert run("adopt") == ["True", "True"]
    assert run("plain") == ["False", "False"]  # without it the orphan goes to init: lost


# --- the real thing: `govlake airflow standalone`, driven through the REST API ------------


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    log: Path
    database_url: str
    #: Every process seen under it: pid → start time (a pid the kernel later gives to an
    #: unrelated process, as other tests start hundreds, is not that process).
    seen: dict[int, float] = field(default_factory=dict)
    stopped: dict | None = None
    survivor_commands: list[str] = field(default_factory=list)

    def remember_processes(self) -> None:
        for pid in standalone.descendants(self.process.pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                self.seen.setdefault(pid, psutil.Process(pid).create_time())

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 60) -> dict:
        """SIGTERM as a person's Ctrl-C would; then whatever is left is killed and reported."""
        if self.stopped is not None:
            return self.stopped
        self.remember_processes()
        started = time.monotonic()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        seconds = time.monotonic() - started
        survivors = [pid for pid, started in sorted(self.seen.items()) if _alive(pid, started)]
        self.survivor_commands = [_command(pid) for pid in survivors]
        # Never leave anything behind, even when the test is about to fail.
        standalone.stop_tree(self.process.pid, timeout=5, also=survivors)
        with_group = _group_members(self.process.pid)
        for pid in with_group:
            os.kill(pid, signal.SIGKILL)
        self.stopped = {
            "code": code,
            "seconds": seconds,
            "survivors": survivors,
            "group": with_group,
        }
        return self.stopped


def _alive(pid: int, started: float) -> bool:
    """Whether the process seen as ``pid`` at ``started`` still runs (not a zombie, not reused)."""
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == started and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _command(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())[:200]
    except psutil.Error:
        return "?"


def _group_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def server(request, tmp_path_factory):
    """The embedded SQLite database (a fresh clone's), then a PostgreSQL server (production's)."""
    root = tmp_path_factory.mktemp(f"standalone-{request.param}")
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOVLAKE_"))}
    database_url = f"sqlite:///{root / 'home' / 'airflow.db'}"
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_server").create_database("airflow_sa")
        child_env[airflow_env.DATABASE_URL_ENV] = database_url
    child_env.update(
        {
            "GOVLAKE_LAKE_ROOT": str(root / "lake"),
            "GOVLAKE_LANDING_ROOT": str(root / "landing"),
            "GOVLAKE_REPORTS_ROOT": str(root / "reports"),
            standalone.USER_ENV: "admin",
            standalone.PASSWORD_ENV: PASSWORD,
            "PYTHONUNBUFFERED": "1",
        }
    )
    log = root / "standalone.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(GOVLAKE),
                "airflow",
                "--home",
                str(root / "home"),
                "standalone",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env,
            start_new_session=True,  # its own process group: the test can stop all of it
        )
    running = Server(
        process=process, base_url=f"http://127.0.0.1:{port}", log=log, database_url=database_url
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def api(server):
    """An API client logged in as the documented user, once every component is healthy."""

    def healthy():
        assert server.process.poll() is None, (
            f"govlake airflow standalone exited:\n{server.log_tail()}"
        )
        health = httpx.get(f"{server.base_url}/api/v2/monitor/health", timeout=5).json()
        server.remember_processes()
        return all(
            health[c]["status"] == "healthy"
            for c in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        )

    try:
        # Under a load of 20+ on 2 cores the API server took 4.5 min to listen (Postgres or not).
        standalone.wait_for(healthy, timeout=480, interval=2, what="healthy Airflow")
    except TimeoutError as exc:
        pytest.fail(f"{exc}\n{server.log_tail()}")
    response = httpx.post(
        f"{server.base_url}/auth/token",
        json={"username": "admin", "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    token = response.json()["access_token"]
    with httpx.Client(
        base_url=f"{server.base_url}/api/v2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    ) as client:
        yield client


@pytest.mark.airflow
@pytest.mark.slow
@pytest.mark.timeout(720)
def test_api_server_refuses_a_wrong_password_and_unauthenticated_calls(server, api):
    wrong = httpx.post(
        f"{server.base_url}/auth/token", json={"username": "admin", "password": "admin"}, timeout=10
    )
    anonymous = httpx.get(f"{server.base_url}/api/v2/dags", timeout=10)

    assert wrong.status_code == 401
    assert anonymous.status_code == 401


@pytest.mark.airflow
@pytest.mark.slow
@pytest.mark.timeout(720)
def test_serves_the_ui_and_every_govlake_dag_without_import_errors(server, api):
    page = httpx.get(f"{server.base_url}/", timeout=10, follow_redirects=True)

    def all_dags_parsed():
        dags = api.get("/dags", params={"limit": 100}).json()["dags"]
        return dags if any(d["dag_id"] == SELFCHECK for d in dags) and len(dags) >= 17 else None

    dags = standalone.wait_for(all_dags_parsed, timeout=120, interval=2, what="parsed DAGs")
    errors = api.get("/importErrors").json()

    assert page.status_code == 200 and "<html" in page.text.lower()
    assert {"bases__build", "governance__ticket_deadlines", SELFCHECK} <= {
        d["dag_id"] for d in dags
    }
    assert {d["dag_id"] for d in dags if d["dag_id"].startswith("ingest__")}
    assert errors["total_entries"] == 0, errors


@pytest.mark.airflow
@pytest.mark.slow
@pytest.mark.timeout(720)
def test_triggered_selfcheck_dag_runs_to_success_through_the_rest_api(server, api):
    standalone.wait_for(
        lambda: api.get(f"/dags/{SELFCHECK}").status_code == 200,
        timeout=120,
        interval=2,
        what=f"{SELFCHECK} parsed",
    )
    unpaused = api.patch(f"/dags/{SELFCHECK}", json={"is_paused": False})
    assert unpaused.status_code == 200, unpaused.text
    assert unpaused.json()["is_paused"] is False

    triggered = api.post(f"/dags/{SELFCHECK}/dagRuns", json={"logical_date": None, "conf": {}})
    assert triggered.status_code == 200, triggered.text
    run_id = triggered.json()["dag_run_id"]
    run_path = f"/dags/{SELFCHECK}/dagRuns/{urllib.parse.quote(run_id, safe='')}"

    def finished():
        server.remember_processes()  # the executor's task processes, while they exist
        state = api.get(run_path).json()["state"]
        return state if state in {"success", "failed"} else None

    try:
        state = standalone.wait_for(
            finished, timeout=420, interval=2, what=f"{SELFCHECK} run finished"
        )
    except TimeoutError as exc:
        pytest.fail(f"{exc}\n{server.log_tail()}")
    tasks = api.get(f"{run_path}/taskInstances").json()["task_instances"]
    found = api.get(f"{run_path}/taskInstances/check_environment/xcomEntries/return_value").json()[
        "value"
    ]

    assert state == "success", f"{tasks}\n{server.log_tail()}"
    assert _recorded_state(server.database_url, run_id) == "success"
    assert [(t["task_id"], t["state"]) for t in tasks] == [("check_environment", "success")]
    assert found["resources"] >= 14 and found["policy_profile"] == "hebi"
    assert found["lake_root"] == "writable" and found["java"] >= 17
    assert Path(found["settings"]["lake_root"]).is_relative_to(server.log.parent)


def _recorded_state(database_url: str, run_id: str) -> str | None:
    """The run's state as the metadata database holds it (not as the API reports it)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text("select state from dag_run where dag_id = :dag and run_id = :run"),
                {"dag": SELFCHECK, "run": run_id},
            ).scalar_one_or_none()
    finally:
        engine.dispose()


@pytest.mark.airflow
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigterm_stops_every_component_and_task_process(server, api):
    pids_while_running = standalone.descendants(server.process.pid)

    stopped = server.stop(timeout=60)

    assert len(pids_while_running) >= 4  # airflow standalone and its four components at least
    assert stopped["code"] == 0, server.log_tail()
    assert stopped["survivors"] == [] and stopped["group"] == [], server.survivor_commands
