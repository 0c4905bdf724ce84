"""Small DataFrame helpers shared by the jobs."""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import DataFrame


def union_all(parts: Iterable[DataFrame]) -> DataFrame:
    """Union by name of DataFrames with the same columns (at least one)."""
    parts = list(parts)
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out
