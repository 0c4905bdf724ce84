"""Large plain writes through Spark's own Parquet writer, committed like the Delta bridge's.

The bridge (:mod:`jobs.lake.bridge`) hands every row to a Python worker as Arrow, which pays
for itself on constraint counting and partition splitting but costs most of a large write's
CPU when rows carry nested columns (``attribute_values``: 17–22 CPU-s through the bridge
against 3–5 with Spark's writer for 2.7M rows, measured). For a plain write — no CHECK or
NOT NULL constraint, no partitioning, no replace-where, a lake on local disk — Spark writes the
Parquet files itself into a staging folder inside the table folder; they are moved into the
table root under the bridge's names (the job id in each name), their ``add`` actions get the
bridge's statistics from the Parquet footers, and :func:`jobs.lake.bridge.commit_write` makes
the same single Delta commit. A failed write leaves no file behind.

Files already written by the caller's own tasks (the integration core's, :mod:`jobs.integrate.
core`) are committed the same way without being written again: moved in, named, counted.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence

import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.lake.bridge import DeltaCommitMessage, WritePlan, abort_write, commit_write
from jobs.lake.files import filesystem
from jobs.lake.parquet_stats import written_file

#: Spark's default writes timestamps as INT96; Delta readers expect microseconds.
_TIMESTAMP_TYPE = "spark.sql.parquet.outputTimestampType"


def can_write(plan: WritePlan) -> bool:
    """Whether the write is plain enough for Spark's writer (see the module docstring)."""
    local = isinstance(filesystem(plan.uri)[0], pafs.LocalFileSystem)
    return (
        local
        and not plan.partition_by
        and not plan.checks
        and not plan.not_null
        and plan.replace_where is None
        and plan.replace_files is None
    )


def can_move(files: Sequence[str], plan: WritePlan) -> bool:
    """Whether ``files`` can become the table's files as they are: on the table's local disk,
    with the write's columns in the table's order (Delta readers may read columns by position)."""
    fs, _ = filesystem(plan.uri)
    names = [f["name"] for f in plan.data_fields]
    return isinstance(fs, pafs.LocalFileSystem) and all(
        pq.read_schema(path).names == names for path in files
    )


def write(frame: DataFrame, plan: WritePlan, files: Sequence[str] | None = None) -> None:
    """Writes ``frame`` with Spark's Parquet writer and commits it (one Delta commit).

    Args:
        files: local Parquet files holding exactly ``frame``'s rows (:func:`can_move`): moved
            into the table and committed instead of writing ``frame``; a failed commit deletes
            them with the write's other files.
    """
    fs, root = filesystem(plan.uri)
    staging = f"{root}/_govlake_staging_{plan.job_id}"
    message = DeltaCommitMessage()
    try:
        if files is not None:
            fs.create_dir(root, recursive=True)  # the write may create the table
            parts = sorted(files)
        else:
            parts = _spark_write(frame, plan, fs, staging)
        for number, path in enumerate(parts):
            # The bridge's names: the job id lets abort_write find the files of this write.
            name = f"part-{number:05d}-{plan.job_id}-{uuid.uuid4().hex[:16]}.c000.snappy.parquet"
            fs.move(path, f"{root}/{name}")
            message.files.append(written_file(fs, root, name))
        message.num_rows = sum(f.num_records for f in message.files)
        commit_write(plan, [message])
    except BaseException:
        abort_write(plan, [message])
        raise
    finally:
        with contextlib.suppress(OSError):
            fs.delete_dir(staging)


def _spark_write(frame: DataFrame, plan: WritePlan, fs: pafs.FileSystem, staging: str) -> list[str]:
    """Spark's Parquet writer writes ``frame`` into ``staging``; the files it wrote."""
    spark = frame.sparkSession
    previous = spark.conf.get(_TIMESTAMP_TYPE)
    try:
        spark.conf.set(_TIMESTAMP_TYPE, "TIMESTAMP_MICROS")
        (
            frame.select(*[F.col(f"`{f['name']}`") for f in plan.data_fields])
            .write.mode("error")
            .option("compression", "snappy")
            .option("maxRecordsPerFile", plan.max_rows_per_file)
            .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
            .parquet(staging)
        )
    finally:
        spark.conf.set(_TIMESTAMP_TYPE, previous)
    written = fs.get_file_info(pafs.FileSelector(staging, recursive=False))
    return sorted(i.path for i in written if i.path.endswith(".parquet"))
