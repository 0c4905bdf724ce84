"""Delta ``add`` actions of Parquet files, with the statistics Delta readers skip files by.

Shared by every writer that makes its own Parquet files and commits them itself: the Delta
bridge's tasks (:mod:`jobs.lake.bridge`, running statistics per column as rows pass), Spark's
own writer and the integration core's files (:mod:`jobs.lake.spark_parquet`), and delta-rs
appends written in parts (:mod:`jobs.lake.ledger`), the last two from the files' footers.
No Spark here: an ingestion process imports it without starting or importing Spark.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

_STAT_STRING_PREFIX = 32  # Delta's default prefix length for string statistics


class _ColumnStats:
    """Running null count and min/max of one column in one file (Delta ``stats`` JSON)."""

    def __init__(self, arrow_type: pa.DataType) -> None:
        self.type = arrow_type
        self.nulls = 0
        self.low: Any = None
        self.high: Any = None
        t = arrow_type
        self.ranged = (
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_date32(t)
            or pa.types.is_timestamp(t)
        )
        self.counted = self.ranged or pa.types.is_boolean(t) or pa.types.is_decimal(t)

    def update(self, column: pa.ChunkedArray) -> None:
        self.nulls += column.null_count
        if not self.ranged or column.null_count == len(column):
            return
        if pa.types.is_floating(self.type) and (
            pc.any(pc.is_nan(column)).as_py() or pc.any(pc.is_inf(column)).as_py()
        ):
            self.ranged = False  # NaN/Infinity are not JSON and break skipping: no range
            return
        low_high = pc.min_max(column)
        self.widen(low_high["min"].as_py(), low_high["max"].as_py())

    def widen(self, low: Any, high: Any) -> None:
        """Widens the range to take in ``low`` … ``high``."""
        self.low = low if self.low is None or low < self.low else self.low
        self.high = high if self.high is None or high > self.high else self.high

    def json_range(self) -> tuple[Any, Any]:
        """(min, max) as Delta statistics JSON values; None where a bound must be left out."""
        low, high = self.low, self.high
        if not self.ranged or low is None:
            return None, None
        t = self.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return low[:_STAT_STRING_PREFIX], _string_upper_bound(high)
        if pa.types.is_date32(t):
            return low.isoformat(), high.isoformat()
        if pa.types.is_timestamp(t):
            # Delta keeps milliseconds: round the minimum down and the maximum up.
            low = low - timedelta(microseconds=low.microsecond % 1000)
            if high.microsecond % 1000:
                high = high + timedelta(microseconds=1000 - high.microsecond % 1000)
            return _timestamp_stat(low), _timestamp_stat(high)
        return low, high


def _string_upper_bound(high: str) -> str | None:
    """A maximum of at most :data:`_STAT_STRING_PREFIX` characters that still bounds ``high``.

    A prefix is a lower bound but not an upper one, so a long maximum is cut and its last
    character raised by one (the next code point, past the surrogates): every string starting
    with the prefix sorts below it. Leaving the maximum out is no option: delta-rs then turns
    the file's statistics into ``column <= null`` and skips the file for every filter on it.
    """
    if len(high) <= _STAT_STRING_PREFIX:
        return high
    prefix = high[:_STAT_STRING_PREFIX]
    for cut in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[cut])
        if code < 0x10FFFF:
            raised = 0xE000 if 0xD800 <= code + 1 <= 0xDFFF else code + 1
            return prefix[:cut] + chr(raised)
    return None  # every character is already the last code point: nothing bounds it


def _timestamp_stat(value: datetime) -> str:
    if value.tzinfo is None:  # timestamp_ntz
        return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}"
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def stats_json(rows: int, stats: Mapping[str, _ColumnStats]) -> str:
    """A file's Delta ``stats`` JSON: its rows, the columns' ranges and null counts."""
    low, high, nulls = {}, {}, {}
    for name, column in stats.items():
        if column.counted:
            nulls[name] = column.nulls
        lo, hi = column.json_range()
        if lo is not None:
            low[name] = lo
        if hi is not None:
            high[name] = hi
    return json.dumps(
        {"numRecords": rows, "minValues": low, "maxValues": high, "nullCount": nulls},
        ensure_ascii=False,
        allow_nan=False,
    )


@dataclass
class WrittenFile:
    """One Parquet file a task wrote: the details of its Delta ``add`` action."""

    path: str  # relative to the table root, not URL-encoded (delta-rs encodes it in the log)
    size: int
    partition_values: dict[str, str | None]
    modification_time: int
    num_records: int
    stats: str


def written_file(fs: pafs.FileSystem, root: str, name: str) -> WrittenFile:
    """The ``add`` action details of a Parquet file, with the statistics the bridge would have
    computed from its rows, here read from the footer's row-group statistics."""
    path = f"{root}/{name}"
    metadata = pq.ParquetFile(path, filesystem=fs).metadata
    # A nested column has several leaf columns in the footer and no statistics of its own.
    leaves = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    stats = {f.name: _ColumnStats(f.type) for f in metadata.schema.to_arrow_schema()}
    for name_, column in stats.items():
        if name_ not in leaves:
            column.ranged = column.counted = False
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for column_name, column in stats.items():
            if not column.counted:
                continue
            chunk = row_group.column(leaves[column_name]).statistics
            if chunk is None:
                column.ranged = column.counted = False
                continue
            column.nulls += chunk.null_count
            if not column.ranged or chunk.null_count == row_group.num_rows:
                continue
            if not chunk.has_min_max or not (_finite(chunk.min) and _finite(chunk.max)):
                column.ranged = False  # as the bridge does for NaN and Infinity
                continue
            # Through Arrow, so that the bounds are the Python values the bridge compares.
            bounds = pa.array([chunk.min, chunk.max], column.type)
            column.widen(bounds[0].as_py(), bounds[1].as_py())
    return WrittenFile(
        path=name,
        size=int(fs.get_file_info(path).size),
        partition_values={},
        modification_time=int(time.time() * 1000),
        num_records=metadata.num_rows,
        stats=stats_json(metadata.num_rows, stats),
    )


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)
