"""Fixtures for the backup tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def lake_settings(lake_settings, tmp_path):
    """The shared lake settings with the re-identification and backup roots under tmp_path too
    (their defaults are project folders, which tests must never touch)."""
    import dataclasses

    return dataclasses.replace(
        lake_settings, reid_root=str(tmp_path / "reid"), backup_root=str(tmp_path / "backups")
    )
