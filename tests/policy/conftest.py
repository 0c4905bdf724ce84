"""Fixtures for policy tests: a clean environment and calendar override files under tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from jobs.policy.workdays import WorkdayCalendar


@pytest.fixture(autouse=True)
def clean_policy_env(monkeypatch):
    for name in ("CALENDAR_OVERRIDES", "POLICY_PROFILE", "SCHEMAS_ROOT"):
        monkeypatch.delenv("GOVLAKE_" + name, raising=False)


@pytest.fixture
def library_calendar() -> WorkdayCalendar:
    return WorkdayCalendar()


@pytest.fixture
def write_overrides(tmp_path) -> Callable[..., Path]:
    def write(text: str, name: str = "overrides.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def fictional_2027_official(write_overrides) -> Path:
    # A made-up 2027 schedule for tests only: the real one has not been announced.
    return write_overrides(
        """
        years:
          2027:
            official: true
            note: fictional test schedule
            holidays: [2027-01-01]
            workdays: []
        """,
        name="fictional_2027.yaml",
    )
