from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from jobs.settings import PROJECT_ROOT

LOCKS = ("requirements.lock", "requirements-bootstrap.lock")

# name==version, optionally followed by an environment marker (`; python_version < "3.12"`).
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)(\s*;.+)?$")

# Pip options that would send an install to another host or file source.
SOURCE_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--find-links", "-f")


def requirement_lines(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pins(lock: str) -> dict[str, Version]:
    text = (PROJECT_ROOT / lock).read_text(encoding="utf-8")
    found = {}
    for line in requirement_lines(text):
        match = PIN.match(line)
        assert match, f"{lock}: not an exact pin: {line!r}"
        found[canonicalize_name(match["name"])] = Version(match["version"])
    return found


def offending_lines(text: str) -> list[str]:
    bad = []
    for line in requirement_lines(text):
        option = line.split("=", 1)[0].split()[0]
        if (
            "://" in line
            or option in SOURCE_OPTIONS
            or " @ " in line
            or line.startswith("-")
            or not PIN.match(line)
        ):
            bad.append(line)
    return bad


@pytest.mark.parametrize("lock", LOCKS)
def test_lock_has_only_exact_pins_and_names_no_source(lock):
    text = (PROJECT_ROOT / lock).read_text(encoding="utf-8")
    assert requirement_lines(text), f"{lock} pins nothing"
    assert offending_lines(text) == []


@pytest.mark.parametrize(
    "line",
    [
        "pyspark>=4.0",
        "faker",
        "--index-url https://mirror.example/simple",
        "-i https://mirror.example/simple",
        "--extra-index-url=https://mirror.example/simple",
        "--find-links ./wheels",
        "-f ./wheels",
        "govlake @ file:///src/govlake",
        "pkg @ git+https://example.invalid/pkg.git",
        "-e .",
        "https://example.invalid/pkg-1.0.tar.gz",
    ],
)
def test_offending_lines_catches_loose_pins_and_sources(line):
    assert offending_lines(f"# a comment\nuv==0.13.9\n{line}\n") == [line]


def test_offending_lines_allows_an_environment_marker_and_indented_comments():
    text = 'tzdata==2025.2 ; sys_platform == "win32"\n    # via pandas\nuv==0.13.9\n'
    assert offending_lines(text) == []


def unmet_requirements(specs: list[str], locked: dict[str, Version]) -> list[str]:
    problems = []
    for spec in specs:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name not in locked:
            problems.append(f"{requirement.name}: not in requirements.lock")
        elif not requirement.specifier.contains(locked[name], prereleases=True):
            problems.append(f"{requirement.name}: locked {locked[name]} outside {spec!r}")
    return problems


def test_unmet_requirements_names_missing_and_out_of_range_pins():
    locked = {"pandas": Version("3.0.1")}
    assert unmet_requirements(["pandas<3", "Faker"], locked) == [
        "pandas: locked 3.0.1 outside 'pandas<3'",
        "Faker: not in requirements.lock",
    ]


def test_every_direct_dependency_is_pinned_in_the_lock_within_its_range():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    specs = project["project"]["dependencies"]
    assert unmet_requirements(specs, pins("requirements.lock")) == []


def test_build_requirements_are_in_the_lock():
    # ensure_env.sh installs the project with --no-build-isolation: the backend comes from the lock.
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    specs = project["build-system"]["requires"]
    assert unmet_requirements(specs, pins("requirements.lock")) == []


def test_bootstrap_lock_pins_the_uv_that_ensure_env_runs():
    assert "uv" in pins("requirements-bootstrap.lock")
