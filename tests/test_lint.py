"""The code passes the project's lint (``make lint``: ruff's checks and its formatting), as part
of the suite: ``make test`` is what CI runs, and a formatting slip outside it reached main
unseen (session 16). ruff is pinned in requirements.lock, so the venv always has it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobs.settings import PROJECT_ROOT

#: The folders ``make lint`` checks.
LINTED = ("jobs", "dags", "tests", "bench")


@pytest.mark.parametrize("command", [("check",), ("format", "--check")], ids=["check", "format"])
def test_the_code_passes_ruff(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *LINTED],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
