"""A throw-away Spark standalone cluster: a master and one worker, each a process of its own.

Both are started from the pyspark package's own jars (``<pyspark>/bin/spark-class``), nothing
downloaded, on 127.0.0.1 and free ports; the worker offers one core, so every task of an
application runs in an executor JVM the worker launches (with its own Python workers), never in
the driver. The worker's environment holds no ``PYTHONPATH``: executors find govlake's code only
because the driver tells them where it is (``jobs.spark``).

Use the ``spark_cluster`` fixture (module-wide) and give its ``master_url`` as the setting
``spark_master``; both processes are stopped, with their executors, when the module ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port

WORKER_CORES = 1
WORKER_MEMORY = "1536m"
#: Per executor: with the worker's memory, room for one executor at a time.
EXECUTOR_MEMORY = "1g"
START_TIMEOUT_SECONDS = 120


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


@dataclass
class SparkCluster:
    """A running cluster: where to submit (``master_url``), its state, its logs."""

    master_url: str
    web_url: str
    work_dir: Path
    logs: Path
    processes: dict[str, subprocess.Popen]

    def state(self) -> dict:
        """The master's view (workers, running and completed applications) as JSON."""
        response = httpx.get(f"{self.web_url}/json/", timeout=10)
        # While the master starts, its web server answers 404 before the JSON page is mounted.
        response.raise_for_status()
        return response.json()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(
            f"== {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for path in sorted(self.logs.glob("*.log"))
        )

    def stop(self) -> None:
        """SIGTERM to each process group (the worker's holds its executors), then SIGKILL."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _spark_class(main_class: str, args: list[str], env: dict[str, str], log: Path):
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), main_class, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stop() reaches its children
        )


def start_cluster(root: Path) -> SparkCluster:
    """Starts the master, then the worker, and waits until the worker has registered."""
    logs, work_dir = root / "logs", root / "work"
    logs.mkdir(parents=True)
    work_dir.mkdir()
    properties = root / "spark-defaults.conf"
    # The master's REST submission server would take the fixed port 6066.
    properties.write_text("spark.master.rest.enabled false\n", encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"}
    }
    env.update({"SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1"})
    port, web_port = free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    common = ["--host", "127.0.0.1", "--properties-file", str(properties)]
    processes = {
        "master": _spark_class(
            "org.apache.spark.deploy.master.Master",
            [*common, "--port", str(port), "--webui-port", str(web_port)],
            env,
            logs / "master.log",
        )
    }
    cluster = SparkCluster(master_url, f"http://127.0.0.1:{web_port}", work_dir, logs, processes)
    try:
        _wait(cluster, lambda: cluster.state()["status"] == "ALIVE", "the master")
        processes["worker"] = _spark_class(
            "org.apache.spark.deploy.worker.Worker",
            [
                *common,
                "--cores",
                str(WORKER_CORES),
                "--memory",
                WORKER_MEMORY,
                "--webui-port",
                str(free_port()),
                "--work-dir",
                str(work_dir),
                master_url,
            ],
            env,
            logs / "worker.log",
        )
        _wait(
            cluster,
            lambda: [w for w in cluster.state()["workers"] if w["state"] == "ALIVE"],
            "a registered worker",
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait(cluster: SparkCluster, ready, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                pytest.fail(
                    f"the Spark {name} exited ({process.returncode}):\n{cluster.log_tail()}"
                )
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass  # the web UI is not up yet
        time.sleep(1)
    pytest.fail(f"no {what} after {START_TIMEOUT_SECONDS} s:\n{cluster.log_tail()}")


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    """A master and a one-core worker for this test module; stopped after it."""
    cluster = start_cluster(tmp_path_factory.mktemp("spark-cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()
