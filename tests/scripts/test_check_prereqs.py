from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.settings import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "check_prereqs.sh"
BASH = shutil.which("bash")
# What the script calls besides python3 and java; linked one by one so that the real
# interpreters living next to them (/usr/bin) stay off the PATH.
TOOLS = ("sed", "head", "cut")

JAVA_17 = 'openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6)'
JAVA_21 = 'openjdk version "21.0.2" 2024-01-16\nOpenJDK Runtime Environment (build 21.0.2+13-58)'
JAVA_8 = 'java version "1.8.0_392"\nJava(TM) SE Runtime Environment (build 1.8.0_392-b08)'


def _write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def python_stub(version: tuple[int, int, int]) -> str:
    # Runs the script's own `-c` code on the real interpreter, which reports `version`.
    prelude = f"import sys; sys.version_info = {(*version, 'final', 0)!r}; exec(sys.argv[1])"
    return f'#!{BASH}\n[ "$1" = -c ] || exit 2\nexec {sys.executable} -c "{prelude}" "$2"\n'


def java_stub(banner: str) -> str:
    # `java -version` writes its banner on stderr, as the real one does.
    return f"#!{BASH}\nprintf '%s\\n' {shlex.quote(banner)} >&2\n"


BROKEN_PYTHON = f"#!{BASH}\necho 'python3: error while loading shared libraries' >&2\nexit 127\n"


@pytest.fixture
def bin_dir(tmp_path):
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        (folder / tool).symlink_to(shutil.which(tool))
    return folder


def run_check(
    bin_dir: Path, python: str | None, java: str | None
) -> subprocess.CompletedProcess[str]:
    if python is not None:
        _write_executable(bin_dir / "python3", python)
    if java is not None:
        _write_executable(bin_dir / "java", java)
    return subprocess.run(
        [BASH, str(SCRIPT)],
        env={"PATH": str(bin_dir), "HOME": str(bin_dir.parent)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("banner", [JAVA_17, JAVA_21], ids=["java17", "java21"])
def test_python_311_and_java_17_or_newer_pass_silently(bin_dir, banner):
    result = run_check(bin_dir, python_stub((3, 11, 9)), java_stub(banner))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_python_312_passes(bin_dir):
    result = run_check(bin_dir, python_stub((3, 12, 3)), java_stub(JAVA_21))
    assert (result.returncode, result.stderr) == (0, "")


def test_python_310_fails_naming_311_and_the_version_found(bin_dir):
    result = run_check(bin_dir, python_stub((3, 10, 12)), java_stub(JAVA_17))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "govlake: Python 3.11 or newer is required, but 'python3' is 3.10.12.",
        "         Set PYTHON=/path/to/python3.11 (or newer) and run make again.",
    ]


def test_missing_python_fails_saying_it_was_not_found(bin_dir):
    result = run_check(bin_dir, None, java_stub(JAVA_17))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "govlake: Python 3.11 or newer is required, but 'python3' was not found."
    )


def test_python_that_does_not_run_is_named_instead_of_an_empty_version(bin_dir):
    result = run_check(bin_dir, BROKEN_PYTHON, java_stub(JAVA_17))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "python3: error while loading shared libraries",
        "govlake: Python 3.11 or newer is required, but 'python3' did not run "
        "(its version could not be read).",
        "         Set PYTHON=/path/to/python3.11 (or newer) and run make again.",
    ]


def test_missing_java_fails_asking_for_a_jdk_17(bin_dir):
    result = run_check(bin_dir, python_stub((3, 11, 9)), None)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "govlake: Java 17 or newer is required by Spark, but no 'java' was found on PATH or in JAVA_HOME.",
        "         Install a JDK 17+ (e.g. 'apt-get install openjdk-17-jre-headless') or set JAVA_HOME.",
    ]


def test_java_8_fails_naming_the_version_found(bin_dir):
    result = run_check(bin_dir, python_stub((3, 11, 9)), java_stub(JAVA_8))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "govlake: Java 17 or newer is required by Spark, but 'java' is version '1.8.0_392'.",
        "         Install a JDK 17+ or point JAVA_HOME at one.",
    ]


def test_java_11_fails(bin_dir):
    result = run_check(
        bin_dir, python_stub((3, 11, 9)), java_stub('openjdk version "11.0.22" 2024-01-16')
    )
    assert result.returncode == 1
    assert "is version '11.0.22'" in result.stderr


def test_java_without_a_version_line_fails_as_unknown(bin_dir):
    result = run_check(bin_dir, python_stub((3, 11, 9)), java_stub("Error: no JVM"))
    assert result.returncode == 1
    assert "is version 'unknown'" in result.stderr


def test_python_and_java_both_missing_reports_both(bin_dir):
    result = run_check(bin_dir, None, None)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("govlake:")] == [
        "govlake: Python 3.11 or newer is required, but 'python3' was not found.",
        "govlake: Java 17 or newer is required by Spark, but no 'java' was found on PATH or in JAVA_HOME.",
    ]
