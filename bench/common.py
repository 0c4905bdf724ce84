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


def ingest_and_gate(resource_id: str, settings: Settings) -> str:
    """Ingests the resource's pending batches (landing → pool) and validates them (the quality
    gate), as its DAG's tasks do; returns the gate's statuses of the batches validated."""
    from jobs.ingest import pipeline
    from jobs.quality.pipeline import validate_pool_batch

    pipeline.ingest_resource(resource_id, settings)
    validated = validate_pool_batch(resource_id, settings, raise_on_hold=False)
    return " ".join(sorted({str(b.get("status")) for b in validated["batches"]}))
