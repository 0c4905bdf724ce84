"""Helpers for lake tests: small tables and a look at what lies in a table folder."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from urllib.parse import unquote

import pytest

PEOPLE_SCHEMA = (
    "person_id string, dept string, name string, born_on date, age int, seen_at timestamp"
)


def people_rows() -> list[tuple]:
    """Four people, one with nulls, one with a name that needs escaping in a folder."""
    return [
        (
            "110105194912310021",
            "gaj",
            "张三",
            dt.date(1949, 12, 31),
            75,
            dt.datetime(2024, 1, 2, 3, 4, 5, 678901),
        ),
        ("330211198506151234", "gaj", "李四", dt.date(1985, 6, 15), 39, None),
        ("330211198506151235", "wjw", None, None, None, None),
        (
            "330211198506151236",
            "mz:j",
            "王 五",
            dt.date(2001, 1, 1),
            23,
            dt.datetime(2024, 5, 6, 7, 8, 9),
        ),
    ]


@pytest.fixture
def people_df(spark):
    return spark.createDataFrame(people_rows(), PEOPLE_SCHEMA)


def referenced_files(table: str | Path) -> set[str]:
    """Every data file any commit of the table ever added (relative paths, decoded)."""
    log = Path(table) / "_delta_log"
    paths: set[str] = set()
    for commit in sorted(log.glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                paths.add(unquote(action["add"]["path"]))
    return paths


def data_files(table: str | Path) -> set[str]:
    """Every Parquet file in the table folder (relative paths), the log excluded."""
    root = Path(table)
    if not root.exists():
        return set()
    found = set()
    for folder, _, names in os.walk(root):
        if "_delta_log" in Path(folder).parts:
            continue
        for name in names:
            if name.endswith(".parquet"):
                found.add(str((Path(folder) / name).relative_to(root)))
    return found


def stray_files(table: str | Path) -> set[str]:
    """Parquet files no commit refers to: what a failed write must not leave behind."""
    return data_files(table) - referenced_files(table)


def commit_count(table: str | Path) -> int:
    log = Path(table) / "_delta_log"
    return len(list(log.glob("*.json"))) if log.exists() else 0
