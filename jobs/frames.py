"""Small DataFrame helpers shared by the jobs."""

from __future__ import annotations

from collections.abc import Iterable

from pyspark import StorageLevel
from pyspark.sql import DataFrame


def union_all(parts: Iterable[DataFrame]) -> DataFrame:
    """Union by name of DataFrames with the same columns (at least one)."""
    parts = list(parts)
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


def kept_on_disk(df: DataFrame) -> DataFrame:
    """``df`` materialised, with its lineage cut, as a local checkpoint on the executors' disks.

    Without the cut every reuse of a DataFrame copies the whole plan that made it, so that the
    optimiser works on trees of hundreds of thousands of nodes (minutes, and a driver out of
    memory, even for a few rows). On the executors: a lost executor fails the job, which
    Airflow retries. On disk only: the largest (tens of millions of observations) do not fit
    the executor's memory, and trying memory first made every checkpoint a fifth slower
    (measured at 1M persons).
    """
    return df.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)
