"""Fixtures: one small synthetic city per test session, and a reader for delivered files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from jobs.synth.config import SynthConfig
from jobs.synth.generate import generate

#: A small city: few persons, busy windows (event_scale) so incremental batches have events,
#: a higher defect rate so every file has some, and more enterprises, organisations and deaths
#: than a real county so that even the small registers have room for every kind of defect.
SMALL = SynthConfig(
    persons=600,
    seed=11,
    batches=3,
    event_scale=40.0,
    defect_rate=0.01,
    enterprises_per_person=0.08,
    social_orgs_per_person=0.03,
    deaths_per_1000=25.0,
)


@pytest.fixture(scope="session")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate(SMALL, out)
    return out


def read_delivery(path: Path, fmt: str, encoding: str) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a delivered file, read the way a careful reader would.

    CSV and JSON lines are decoded with ``encoding`` (a UTF-8 byte-order mark is skipped);
    XLSX cells come back as openpyxl gives them (a float for Excel-damaged numbers); GeoJSON
    rows are the feature properties in order, then the geometry.
    """
    if fmt == "csv":
        codec = "utf-8-sig" if encoding == "utf-8" else encoding
        text = path.read_bytes().decode(codec)
        rows = list(csv.reader(io.StringIO(text, newline="")))
        return rows[0], [[v if v != "" else None for v in row] for row in rows[1:]]
    if fmt == "jsonl":
        records = [json.loads(line) for line in path.read_bytes().decode(encoding).splitlines()]
        header = list(records[0]) if records else []
        return header, [list(r.values()) for r in records]
    if fmt == "xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        values = list(book.active.iter_rows(values_only=True))
        book.close()
        return list(values[0]), [list(row) for row in values[1:]]
    if fmt == "geojson":
        collection = json.loads(path.read_text(encoding="utf-8"))
        features = collection["features"]
        header = [*features[0]["properties"], "geometry"] if features else []
        return header, [[*f["properties"].values(), f["geometry"]] for f in features]
    raise ValueError(fmt)
