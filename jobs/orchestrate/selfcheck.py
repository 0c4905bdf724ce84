"""The environment self-check: can a task on this Airflow worker run govlake at all?

Used by the DAG ``govlake__selfcheck`` (dags/govlake_selfcheck.py), the cheapest DAG of the
project: it proves that the scheduler, the executor, the Task SDK and the worker's Python
environment work together, without Spark or data. It is what ``make airflow``'s test triggers
through the REST API, and what an operator runs first on a new deployment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jobs.catalog import load_catalog
from jobs.lake.files import local_path
from jobs.policy.profiles import load_profile
from jobs.settings import Settings

#: PySpark 4 needs Java 17 or newer on the worker.
MIN_JAVA_MAJOR = 17


class SelfCheckFailed(RuntimeError):
    """The worker cannot run govlake; the message lists every problem found."""


def run_selfcheck() -> dict[str, Any]:
    """Task: checks the catalog, the policy profile, the lake and landing roots and Java.

    Returns what it found (as the task's XCom); raises :class:`SelfCheckFailed` naming every
    problem, so that one failed run tells the operator everything to fix.
    """
    settings = Settings.from_env()
    problems: list[str] = []
    found: dict[str, Any] = {"settings": settings.as_dict()}

    catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)
    found["departments"] = len(catalog.departments)
    found["resources"] = len(catalog.resources)
    if not catalog.resources:
        problems.append(f"the catalog in {settings.schemas_root} has no resources")

    profile = load_profile(settings.policy_profile, settings.schemas_root)
    found["policy_profile"] = profile.name

    for name in ("lake_root", "landing_root", "reports_root"):
        root = getattr(settings, name)
        found[name] = _check_writable(root)
        if found[name].startswith("not writable"):
            problems.append(f"{name} {root}: {found[name]}")

    found["java"] = java_version()
    if found["java"] is None:
        problems.append("no java on PATH (or JAVA_HOME): Spark needs Java 17+")
    elif found["java"] < MIN_JAVA_MAJOR:
        problems.append(f"java {found['java']} found; Spark needs Java {MIN_JAVA_MAJOR}+")

    if problems:
        raise SelfCheckFailed("; ".join(problems))
    return found


def _check_writable(root: str) -> str:
    """ "writable" for a local folder we could write a probe file into; object stores unchecked."""
    folder = local_path(root)
    if folder is None:
        return "object store (not checked here)"
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".selfcheck-"):
            pass
    except OSError as exc:
        return f"not writable ({exc.strerror or exc})"
    return "writable"


def java_version() -> int | None:
    """Major version of the ``java`` that Spark would start ($JAVA_HOME first), or None."""
    java_home = os.environ.get("JAVA_HOME", "").strip()
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        completed = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    # `java -version` prints to stderr: openjdk version "17.0.15" (old style: "1.8.0_402").
    match = re.search(r'version "(\d+)(?:\.(\d+))?', completed.stderr + completed.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major
