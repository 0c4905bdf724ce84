"""Generated data stays out of git: every folder the project writes under ``data/`` by default is
ignored, including ones no one listed by name (the audit anchor beside the lake was not)."""

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from jobs.audit.log import anchor_uri
from jobs.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists(),
    reason="needs the project's git checkout",
)


def _ignored(path: Path) -> bool:
    relative = path.relative_to(PROJECT_ROOT).as_posix()
    # --no-index: asks the ignore rules alone, whether or not the path is tracked.
    run = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", relative], cwd=PROJECT_ROOT, check=False
    )
    return run.returncode == 0


def _default_data_folders() -> list[Path]:
    defaults = Settings()
    folders = [
        Path(getattr(defaults, field.name))
        for field in dataclasses.fields(Settings)
        if field.name.endswith("_root") and isinstance(getattr(defaults, field.name), str)
    ]
    folders.append(Path(anchor_uri(defaults)).parent)
    data = PROJECT_ROOT / "data"
    return [folder for folder in folders if folder.is_relative_to(data)]


def test_every_default_data_folder_is_ignored():
    folders = _default_data_folders()
    assert {"lake", "landing", "reports", "lake_audit_anchor"} <= {f.name for f in folders}
    assert [f for f in folders if not _ignored(f / "some_file")] == []


def test_a_folder_no_one_named_yet_is_ignored_but_the_placeholder_is_kept():
    assert _ignored(PROJECT_ROOT / "data" / "next_new_folder" / "table.parquet")
    assert not _ignored(PROJECT_ROOT / "data" / ".gitkeep")
    assert not _ignored(PROJECT_ROOT / "jobs" / "settings.py")
