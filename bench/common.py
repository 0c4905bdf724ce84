"""What the benchmarks share: settings whose data folders live under a temporary root."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from jobs.settings import Settings


def settings_under(settings: Settings, root: str | Path) -> Settings:
    """``settings`` (engine, profile, time zone, clock) with every data folder — lake, landing,
    reports, re-identification data, backups — under ``root``, so that a benchmark never
    touches the developer's ``data/``."""
    root = Path(root)
    return dataclasses.replace(
        settings,
        lake_root=str(root / "lake"),
        landing_root=str(root / "landing"),
        reports_root=str(root / "reports"),
        reid_root=str(root / "reid"),
        backup_root=str(root / "backups"),
    )
