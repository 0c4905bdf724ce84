"""Reads and writes of lake tables: the one module transforms go through (STYLE.md, "edges").

Every table is a standard Delta table. Spark writes go through the Delta bridge
(:mod:`jobs.lake.bridge`, format ``govlake_delta``: one atomic Delta commit per write, no
Delta JARs); Spark reads list the snapshot's files with delta-rs and hand them to Spark's own
Parquet reader, which keeps column pruning and predicate pushdown. Table maintenance (merge,
optimize, vacuum, history, change data feed, properties) goes through delta-rs directly.

What a caller can count on:

* one write = one commit: readers see all of it or none of it; a failed write leaves no
  commit and no files (declaring new constraints or columns adds its own commit first);
* ``write_id`` makes a write idempotent: the same write retried adds nothing;
* schema mismatches, NOT NULL/CHECK violations and unsupported tables raise errors that name
  the columns and constraints (:mod:`jobs.lake.bridge` errors, re-exported here);
* retention comes from the caller (the policy profile's log retention) and vacuum never goes
  below the table's configured retention.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobs.lake import spark_parquet as spark_parquet_writer
from jobs.lake.bridge import (
    CHECK_PREFIX,
    FORMAT_NAME,
    PARTITION_TYPES,
    REPLACE_WHERE_CHECK,
    ConcurrentWriteError,
    ConstraintViolationError,
    LakeError,
    RetentionError,
    SchemaMismatchError,
    TableMissingError,
    UnsupportedTableError,
    WriteOptions,
    activate_session,
    check_supported,
    compare_schema,
    escape_path_name,
    find_commit,
    plan_write,
    raise_lake_error_from,
    referenced_columns,
    table_constraints,
    table_fields,
    table_fields_for,
    table_root_path,
)
from jobs.lake.crash import crash_point
from jobs.lake.files import filesystem
from jobs.lake.paths import LAYERS, table_uri

__all__ = [
    "LAYERS",
    "ConcurrentWriteError",
    "ConstraintViolationError",
    "LakeError",
    "Retention",
    "RetentionError",
    "SchemaMismatchError",
    "TableMissingError",
    "UnsupportedTableError",
    "WriteId",
    "WriteResult",
    "add_constraints",
    "add_write_observer",
    "change_data_feed",
    "create_table",
    "enable_change_data_feed",
    "history",
    "merge",
    "optimize",
    "properties",
    "read_table",
    "remove_write_observer",
    "retention_of",
    "retention_properties",
    "row_count",
    "set_properties",
    "set_retention",
    "spark_schema",
    "table_exists",
    "table_uri",
    "vacuum",
    "write_table",
]

#: Delta's deleted-file retention when a table sets none (vacuum's floor then).
DEFAULT_DELETED_FILE_RETENTION = timedelta(days=7)
LOG_RETENTION = "delta.logRetentionDuration"
DELETED_FILE_RETENTION = "delta.deletedFileRetentionDuration"

Retention = int | float | timedelta
WriteId = str | tuple[str, int]


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the version it committed, or ``skipped`` for an idempotent retry."""

    uri: str
    version: int | None
    skipped: bool
    rows: int = 0
    files: int = 0


# ============================================================================ write observers

#: ``observer(uri, operation, details)`` is called after every committed write (write_table,
#: merge, and the ledger's appends). The audit log registers itself here
#: (:func:`jobs.audit.hook.install_write_audit`), so "every write" is hooked in one place; with
#: no observer the cost is one empty loop. An observer that raises fails the call after the
#: commit: an unaudited write must not pass silently.
WriteObserver = Callable[[str, str, Mapping[str, Any]], None]
_WRITE_OBSERVERS: list[WriteObserver] = []


def add_write_observer(observer: WriteObserver) -> None:
    """Registers ``observer`` for every committed write in this process (once)."""
    if observer not in _WRITE_OBSERVERS:
        _WRITE_OBSERVERS.append(observer)


def remove_write_observer(observer: WriteObserver) -> None:
    """Unregisters ``observer`` (no error when it was not registered)."""
    if observer in _WRITE_OBSERVERS:
        _WRITE_OBSERVERS.remove(observer)


def notify_write(uri: str, operation: str, **details: Any) -> None:
    """Tells every observer about a committed write of ``uri``."""
    crash_point("lake.written")  # committed, not yet audited
    for observer in tuple(_WRITE_OBSERVERS):
        observer(uri, operation, details)


# ============================================================================== small helpers


def _options(storage_options: Mapping[str, str] | None) -> dict[str, str] | None:
    return dict(storage_options) if storage_options else None


def _open(
    uri: str,
    version: int | None = None,
    timestamp: datetime | str | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> Any:
    from deltalake import DeltaTable

    if not table_exists(uri, storage_options):
        raise TableMissingError(f"no Delta table at {uri}")
    dt = DeltaTable(uri, version=version, storage_options=_options(storage_options))
    if timestamp is not None:
        dt.load_as_version(timestamp)
    return dt


def _check(dt: Any, uri: str, *, for_write: bool) -> None:
    check_supported(
        dt.protocol(),
        dt.metadata().configuration,
        table_fields(dt),
        for_write=for_write,
        where=f"table {uri}",
    )


def _write_id(write_id: WriteId | None) -> tuple[str, int] | None:
    if write_id is None:
        return None
    if isinstance(write_id, str):
        return (write_id, 0)
    app_id, version = write_id
    return (str(app_id), int(version))


def _already_applied(dt: Any, write_id: tuple[str, int] | None) -> bool:
    if write_id is None:
        return False
    applied = dt.transaction_version(write_id[0])
    return applied is not None and applied >= write_id[1]


def row_count(uri: str, storage_options: Mapping[str, str] | None = None) -> int:
    """Rows of a table's current version, from the file statistics in its log (no data read).

    Raises:
        LakeError: a file of the version has no row count in its statistics.
    """
    actions = _open(uri, storage_options=storage_options).get_add_actions(flatten=True)
    counts = actions.column("num_records").to_pylist() if actions.num_rows else []
    if any(count is None for count in counts):
        raise LakeError(f"table {uri} has files without row counts in their statistics")
    return int(sum(counts))


def table_exists(uri: str, storage_options: Mapping[str, str] | None = None) -> bool:
    """Whether a Delta table exists at ``uri``."""
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(uri, _options(storage_options))


# ================================================================================== retention


def _as_timedelta(retention: Retention) -> timedelta:
    value = retention if isinstance(retention, timedelta) else timedelta(days=float(retention))
    if value <= timedelta(0):
        raise RetentionError(f"retention must be positive, got {retention!r}")
    return value


def _interval(value: timedelta) -> str:
    """A Delta interval string: whole days when possible, else whole hours (rounded up)."""
    if value % timedelta(days=1) == timedelta(0):
        return f"interval {value.days} days"
    return f"interval {math.ceil(value.total_seconds() / 3600)} hours"


_INTERVAL = re.compile(r"^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$", re.IGNORECASE)
_UNITS = {
    "week": timedelta(weeks=1),
    "day": timedelta(days=1),
    "hour": timedelta(hours=1),
    "minute": timedelta(minutes=1),
    "second": timedelta(seconds=1),
    "millisecond": timedelta(milliseconds=1),
}


def parse_interval(text: str) -> timedelta:
    """Parses a Delta interval (``interval 1095 days``, ``interval 12 hours``)."""
    match = _INTERVAL.match(text)
    if not match or match.group(2).lower() not in _UNITS:
        raise RetentionError(f"cannot read the retention interval {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def retention_properties(retention: Retention) -> dict[str, str]:
    """Table properties that keep history and removed files for ``retention``.

    ``retention`` is the policy profile's log retention (days as int/float, or a timedelta).
    Both the log (time travel, history) and removed data files (what vacuum may delete) are
    kept that long, so every version still listed in the log can be read.
    """
    interval = _interval(_as_timedelta(retention))
    return {LOG_RETENTION: interval, DELETED_FILE_RETENTION: interval}


def retention_of(uri: str, storage_options: Mapping[str, str] | None = None) -> timedelta:
    """The shortest age at which vacuum may delete a table's removed files.

    The larger of the table's deleted-file retention (Delta's default: 7 days) and, when set,
    its log retention: then every version still in the log keeps its files and stays readable.
    """
    config = _open(uri, storage_options=storage_options).metadata().configuration
    floor = DEFAULT_DELETED_FILE_RETENTION
    if DELETED_FILE_RETENTION in config:
        floor = parse_interval(config[DELETED_FILE_RETENTION])
    if LOG_RETENTION in config:
        floor = max(floor, parse_interval(config[LOG_RETENTION]))
    return floor


def set_retention(
    uri: str, retention: Retention, storage_options: Mapping[str, str] | None = None
) -> None:
    """Sets a table's log and deleted-file retention (one commit; none if already so)."""
    set_properties(uri, retention_properties(retention), storage_options)


# ===================================================================================== writes


def write_table(
    df: DataFrame,
    uri: str,
    mode: str = "append",
    *,
    partition_by: Sequence[str] | None = None,
    replace_where: str | None = None,
    write_id: WriteId | None = None,
    constraints: Mapping[str, str] | None = None,
    not_null: Sequence[str] | None = None,
    retention_days: Retention | None = None,
    properties: Mapping[str, str] | None = None,
    merge_schema: bool = False,
    storage_options: Mapping[str, str] | None = None,
    spark_parquet: bool = False,
    parquet_files: Sequence[str] | None = None,
) -> WriteResult:
    """Writes a DataFrame to a Delta table in one atomic commit.

    Args:
        df: the rows to write; its columns must match the table's (names and types).
        uri: table location (see :func:`jobs.lake.paths.table_uri`).
        mode: ``"append"`` or ``"overwrite"`` (replaces the whole table, or with
            ``replace_where`` only the rows matching it).
        partition_by: partition columns; used when the write creates the table, checked
            against the table otherwise.
        replace_where: SQL predicate (Spark SQL, simple enough for delta-rs to prune files
            with it) of the rows an overwrite replaces, like Delta's ``replaceWhere``. On
            partition columns whole files are dropped; on data columns the files holding
            matching rows are rewritten with their other rows kept. Every new row must match.
        write_id: idempotency key: a string, or ``(app_id, version)`` where any version up to
            the last applied one counts as applied. A retry with the same id adds nothing.
        constraints: CHECK constraints (name → Spark SQL) the table must carry; missing ones are
            added to the table (their own commit, which also checks existing rows).
        not_null: columns created NOT NULL when the write creates the table.
        retention_days: the policy profile's log retention; sets the table's log and
            deleted-file retention (in the creating commit, or as its own commit if changed).
        properties: further table properties (e.g. ``delta.enableChangeDataFeed``), same rule.
        merge_schema: allow new columns (added as nullable in their own commit first).
        storage_options: delta-rs storage options for object stores.
        spark_parquet: Spark's own Parquet writer writes the files when the write is plain
            enough (:mod:`jobs.lake.spark_parquet`): far less CPU for large tables with nested
            columns; the same commit, table and files' statistics.
        parquet_files: with ``spark_parquet``, local Parquet files that hold exactly ``df``'s
            rows (``df`` reads them: the integration core's task files), on the lake's disk.
            They are moved into the table instead of ``df`` being written again, when their
            columns are the table's (``spark_parquet.can_move``); otherwise ``df`` is written.
            What is left of them (a skipped write, files written instead) is the caller's.

    Returns:
        the version committed, or ``skipped=True`` when ``write_id`` was already applied.

    Raises:
        SchemaMismatchError, ConstraintViolationError, UnsupportedTableError,
        ConcurrentWriteError: nothing was committed and no files are left behind.
    """
    if mode not in ("append", "overwrite"):
        raise LakeError(f"mode must be 'append' or 'overwrite', not {mode!r}")
    if replace_where and mode != "overwrite":
        raise LakeError("replace_where needs mode='overwrite'")
    txn = _write_id(write_id)
    desired = dict(properties or {})
    if retention_days is not None:
        desired.update(retention_properties(retention_days))
    declared = dict(constraints or {})
    exists = table_exists(uri, storage_options)

    if not exists and declared:
        # delta-rs cannot put constraints into the commit that creates a table, so the table is
        # created empty with its constraints first; the data then follows in its own commit.
        create_table(
            uri,
            _data_schema(df),
            partition_by=partition_by,
            constraints=declared,
            not_null=not_null,
            properties=desired,
            storage_options=storage_options,
            if_exists="ignore",
        )
        exists = True

    checks: dict[str, str] = {}
    frame = df
    if exists:
        dt = _open(uri, storage_options=storage_options)
        _check(dt, uri, for_write=True)
        if _already_applied(dt, txn):
            return WriteResult(uri, None, skipped=True)
        table_partitions = list(dt.metadata().partition_columns)
        if partition_by is not None and list(partition_by) != table_partitions:
            raise SchemaMismatchError(
                f"table {uri} is partitioned by {table_partitions}, not {list(partition_by)}"
            )
        # Fail fast, on the driver, with a clean error (the bridge checks again at commit).
        compare_schema(
            table_fields(dt),
            _fields(_data_schema(df)),
            merge_schema=merge_schema,
            where=f"table {uri}",
        )
        config = dt.metadata().configuration
        changed = {k: v for k, v in desired.items() if config.get(k) != v}
        if changed:
            set_properties(uri, changed, storage_options)
        # A constraint is known by its name: delta-rs stores a normalised text ("a IN (1, 2)"
        # becomes "a = 1 OR a = 2"), so texts cannot be compared. Drop and re-add to change one.
        missing = {k: v for k, v in declared.items() if k not in table_constraints(config)}
        if missing:
            add_constraints(uri, missing, storage_options)
        dt = _open(uri, storage_options=storage_options)
        checks.update(table_constraints(dt.metadata().configuration))
    if replace_where:
        checks[REPLACE_WHERE_CHECK] = replace_where
    if checks:
        frame = _with_check_columns(frame, checks)
    rewrite, read_version = None, None
    if exists and replace_where:
        frame, rewrite = _with_surviving_rows(frame, dt, replace_where, checks)
        read_version = dt.version() if rewrite is not None else None
    # Partitioning, NOT NULL and properties go with the write only when it creates the table.
    write = WriteOptions(
        partition_by=() if exists else tuple(partition_by or ()),
        not_null=() if exists else tuple(not_null or ()),
        configuration={} if exists else desired,
        replace_where=replace_where or None,
        checks=checks,
        replace_files=tuple(rewrite) if rewrite is not None else None,
        read_version=read_version,
        write_id=txn,
        merge_schema=merge_schema,
        storage_options=_options(storage_options),
    )

    plan = plan_write(uri, frame.schema, mode == "overwrite", write) if spark_parquet else None
    if plan is not None and spark_parquet_writer.can_write(plan):
        if plan.skip:
            return WriteResult(uri, None, skipped=True)
        movable = parquet_files is not None and spark_parquet_writer.can_move(parquet_files, plan)
        spark_parquet_writer.write(frame, plan, parquet_files if movable else None)
    else:
        activate_session(frame.sparkSession)
        try:
            frame.write.format(FORMAT_NAME).mode(mode).options(**write.as_spark_options()).save(uri)
        except Exception as exc:
            raise_lake_error_from(exc)
            raise
    commit = find_commit(uri, write.job_id, storage_options)
    if commit is None:  # the commit found the write id applied by a concurrent retry
        return WriteResult(uri, None, skipped=True)
    result = WriteResult(
        uri,
        int(commit["version"]),
        skipped=False,
        rows=int(commit.get("govlake.numOutputRows", 0)),
        files=int(commit.get("govlake.numFiles", 0)),
    )
    notify_write(uri, mode, version=result.version, rows=result.rows)
    return result


def _data_schema(df: DataFrame) -> StructType:
    return StructType([f for f in df.schema.fields if not f.name.startswith(CHECK_PREFIX)])


def _fields(schema: StructType) -> list[dict[str, Any]]:
    return json.loads(schema.json())["fields"]


def _violates(expression: str) -> Any:
    # A row violates a CHECK constraint unless the expression is true: NULL counts as a
    # violation, as in Delta Lake.
    return ~F.coalesce(F.expr(expression).cast("boolean"), F.lit(False))


def _with_check_columns(frame: DataFrame, checks: Mapping[str, str]) -> DataFrame:
    """Adds one boolean column per check, true where a row violates it.

    Spark evaluates them in the same pass that feeds the writers, which count them: enforcing
    constraints costs no second pass over the data.
    """
    existing = set(frame.columns)
    extra = [
        _violates(expression).alias(CHECK_PREFIX + name)
        for name, expression in checks.items()
        if CHECK_PREFIX + name not in existing
    ]
    return frame.select("*", *extra) if extra else frame


def _with_surviving_rows(
    frame: DataFrame, dt: Any, predicate: str, checks: Mapping[str, str]
) -> tuple[DataFrame, list[str] | None]:
    """For a replace-where on data columns: adds the rows of the touched files that the
    predicate does not match, and returns those files (relative paths) to remove.

    On partition columns only (exact file selection) nothing is rewritten: returns
    ``(frame, None)`` and the bridge drops the matching files at commit.
    """
    partition_by = set(dt.metadata().partition_columns)
    columns = [f["name"] for f in table_fields(dt)]
    if not referenced_columns(predicate, columns) - partition_by:
        return frame, None
    try:
        touched = dt.file_uris(file_pruning_predicate=predicate)
    except Exception:
        touched = dt.file_uris()  # predicate beyond delta-rs's pruning: consider every file
    if not touched:
        return frame, []
    root = table_root_path(dt)
    kept = _read_files(frame.sparkSession, dt, touched).where(
        ~F.coalesce(F.expr(predicate).cast("boolean"), F.lit(False))
    )
    # Surviving rows are not new: every check passes for them (they met the constraints when
    # written, and they lie outside the predicate by definition).
    check_columns = {CHECK_PREFIX + name for name in checks}
    kept = kept.select(
        *[
            F.lit(False).alias(f.name)
            if f.name in check_columns
            else F.col(f"`{f.name}`")
            if f.name in kept.columns
            else F.lit(None).cast(f.dataType).alias(f.name)
            for f in frame.schema.fields
        ]
    )
    return frame.unionByName(kept), [u[len(root) :].lstrip("/") for u in touched]


def create_table(
    uri: str,
    schema: StructType,
    *,
    partition_by: Sequence[str] | None = None,
    constraints: Mapping[str, str] | None = None,
    not_null: Sequence[str] | None = None,
    retention_days: Retention | None = None,
    properties: Mapping[str, str] | None = None,
    storage_options: Mapping[str, str] | None = None,
    if_exists: str = "error",
) -> None:
    """Creates an empty table (one commit, plus one for its CHECK constraints).

    Use it when a table needs constraints from the start; :func:`write_table` calls it then.
    ``if_exists="ignore"`` leaves an existing table as it is.
    """
    from deltalake import DeltaTable, Schema

    if table_exists(uri, storage_options):
        if if_exists == "ignore":
            return
        raise LakeError(f"a Delta table already exists at {uri}")
    not_null = list(not_null or [])
    fields = _fields(schema)
    names = [f["name"] for f in fields]
    unknown = [c for c in [*(partition_by or []), *not_null] if c not in names]
    if unknown:
        raise SchemaMismatchError(f"columns {unknown} named for table {uri} are not in the schema")
    bad = [
        f["name"]
        for f in fields
        if f["name"] in (partition_by or []) and f["type"] not in PARTITION_TYPES
    ]
    if bad:
        raise SchemaMismatchError(f"cannot partition table {uri} by {bad} (type not supported)")
    fields = table_fields_for(fields, not_null)
    configuration = dict(properties or {})
    if retention_days is not None:
        configuration.update(retention_properties(retention_days))
    try:
        DeltaTable.create(
            uri,
            Schema.from_json(json.dumps({"type": "struct", "fields": fields})),
            mode="error",
            partition_by=list(partition_by or []) or None,
            configuration=configuration or None,
            storage_options=_options(storage_options),
        )
    except Exception as exc:
        if if_exists == "ignore" and "already exists" in str(exc):
            return
        raise
    if constraints:
        add_constraints(uri, constraints, storage_options)


def add_constraints(
    uri: str, constraints: Mapping[str, str], storage_options: Mapping[str, str] | None = None
) -> None:
    """Adds CHECK constraints to a table (one commit; delta-rs checks the existing rows).

    Expressions must be SQL both Spark (which checks writes) and delta-rs/DataFusion (which
    checks existing rows here, and merges) understand: comparisons, ``IN``, ``IS NULL``,
    ``AND``/``OR``, ``character_length()`` (delta-rs cannot store ``length()``). delta-rs stores
    a normalised text (``IN`` becomes ``OR``); constraints are known by name.
    """
    dt = _open(uri, storage_options=storage_options)
    _check(dt, uri, for_write=True)
    try:
        dt.alter.add_constraint(dict(constraints))
    except Exception as exc:
        raise ConstraintViolationError(
            f"cannot add constraints {sorted(constraints)} to table {uri}: "
            f"{' '.join(str(exc).split())[:500]}"
        ) from exc


# ====================================================================================== reads


def read_table(
    spark: SparkSession,
    uri: str,
    version: int | None = None,
    timestamp: datetime | str | None = None,
    *,
    columns: Sequence[str] | None = None,
    predicate: str | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> DataFrame:
    """Reads a table (or an older version of it) as a Spark DataFrame.

    The snapshot's files come from delta-rs and are read by Spark's Parquet reader, so column
    pruning and predicate pushdown work as usual. ``predicate`` (SQL) additionally skips whole
    files using the statistics the bridge writes, then filters the rows.

    Args:
        version: time travel to a version number.
        timestamp: time travel to the last version committed at or before this time (a naive
            datetime is taken as UTC, as delta-rs does; strings are RFC 3339).
        columns: columns to return (default all, in table order).
        predicate: SQL filter applied to the rows (and to file statistics to skip files).

    Raises:
        TableMissingError: no table at ``uri``.
        UnsupportedTableError: the table uses deletion vectors, column mapping, ….
    """
    if version is not None and timestamp is not None:
        raise LakeError("pass version or timestamp, not both")
    dt = _open(uri, version=version, timestamp=timestamp, storage_options=storage_options)
    _check(dt, uri, for_write=False)
    if predicate:
        try:
            files = dt.file_uris(file_pruning_predicate=predicate)
        except Exception:
            files = dt.file_uris()  # a predicate delta-rs cannot parse still filters rows
    else:
        files = dt.file_uris()
    df = _read_files(spark, dt, files)
    if predicate:
        df = df.where(predicate)
    if columns:
        df = df.select(*columns)
    return df


def spark_schema(dt: Any) -> StructType:
    """A delta-rs table's schema as a Spark StructType (Delta and Spark share the JSON form)."""
    return StructType.fromJson(json.loads(dt.schema().to_json()))


def _read_files(spark: SparkSession, dt: Any, files: Sequence[str]) -> DataFrame:
    """Reads some of a snapshot's files with Spark, partition columns restored from the folders."""
    schema = spark_schema(dt)
    if not files:
        return spark.createDataFrame([], schema)
    partition_by = list(dt.metadata().partition_columns)
    reader = spark.read.schema(schema)
    if partition_by:
        root = table_root_path(dt)
        _require_hive_layout(root, files, partition_by)
        # basePath makes Spark read the partition values back from the folder names, typed
        # by the schema given above.
        reader = reader.option("basePath", root)
    return reader.parquet(*files).select(*[F.col(f"`{name}`") for name in schema.fieldNames()])


def _require_hive_layout(root: str, files: Sequence[str], partition_by: Sequence[str]) -> None:
    expected = [escape_path_name(c) + "=" for c in partition_by]
    for file in files:
        folders = file[len(root) :].lstrip("/").split("/")[:-1]
        if len(folders) != len(expected) or not all(
            folder.startswith(prefix) for folder, prefix in zip(folders, expected, strict=True)
        ):
            raise UnsupportedTableError(
                f"cannot read {file}: its folder does not hold the partition values "
                f"{list(partition_by)} (the read path needs Hive-style partition folders)"
            )


# ======================================================================== delta-rs operations


def merge(
    uri: str,
    source: DataFrame | pa.Table,
    keys: Sequence[str],
    *,
    delete_unmatched: bool = False,
    write_id: WriteId | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Upserts ``source`` into a table by ``keys`` (MERGE, one commit; delta-rs).

    Matched rows are updated with every source column, unmatched source rows inserted; with
    ``delete_unmatched`` target rows absent from the source are deleted (a full sync).
    delta-rs enforces the table's NOT NULL and CHECK constraints on this path itself.

    A Spark DataFrame source is collected to the driver as Arrow: merge sources are change
    sets, not whole tables; write large volumes with :func:`write_table`.

    Returns:
        delta-rs merge metrics (``num_target_rows_inserted``, ``…_updated``, …), or
        ``{"skipped": True}`` when ``write_id`` was already applied.
    """
    from deltalake import Schema
    from deltalake.exceptions import CommitFailedError
    from deltalake.transaction import CommitProperties, Transaction

    dt = _open(uri, storage_options=storage_options)
    _check(dt, uri, for_write=True)
    txn = _write_id(write_id)
    if _already_applied(dt, txn):
        return {"skipped": True}
    table = source.toArrow() if isinstance(source, DataFrame) else source
    where = f"table {uri}"
    source_fields = json.loads(Schema.from_arrow(table.schema).to_json())["fields"]
    compare_schema(table_fields(dt), source_fields, merge_schema=False, where=where)
    missing_keys = [k for k in keys if k not in table.column_names]
    if not keys or missing_keys:
        raise SchemaMismatchError(f"merge keys {missing_keys or '[]'} are not source columns")
    duplicates = (
        table.group_by(list(keys)).aggregate([([], "count_all")]).filter(pc.field("count_all") > 1)
    )
    if duplicates.num_rows:
        raise ConstraintViolationError(
            f"merge source for {where} has {duplicates.num_rows} key(s) {list(keys)} on more "
            f"than one row, e.g. {duplicates.slice(0, 3).select(list(keys)).to_pylist()}"
        )
    predicate = " AND ".join(f"t.{_sql_name(k)} = s.{_sql_name(k)}" for k in keys)
    properties = CommitProperties(
        app_transactions=[Transaction(*txn)] if txn else None,
        custom_metadata={"govlake.operation": "merge"},
    )
    merger = dt.merge(
        table, predicate, source_alias="s", target_alias="t", commit_properties=properties
    )
    merger = merger.when_matched_update_all().when_not_matched_insert_all()
    if delete_unmatched:
        merger = merger.when_not_matched_by_source_delete()
    crash_point("lake.merge")
    try:
        metrics = merger.execute()
    except CommitFailedError as exc:
        raise ConcurrentWriteError(
            f"merge into {where} conflicts with a concurrent commit ({exc}); run it again"
        ) from exc
    notify_write(uri, "merge", version=int(dt.version()), rows=table.num_rows)
    return metrics


def _sql_name(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def history(
    uri: str, limit: int | None = None, storage_options: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The table's commits, newest first: version, timestamp, operation, parameters, and the
    bridge's ``govlake.*`` entries (job id, rows, files) for its writes."""
    return _open(uri, storage_options=storage_options).history(limit)


_COMMIT_FILE = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT_FILE = re.compile(r"^(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")


@dataclass(frozen=True)
class CommitLog:
    """A table's Delta log as stored: each commit's actions, oldest first, and its checkpoints."""

    commits: dict[int, list[dict[str, Any]]]
    checkpoints: frozenset[int]


def commit_log(uri: str) -> CommitLog:
    """Every commit still in the table's Delta log, read from the log files themselves.

    :func:`history` shows what each writer said it did (``commitInfo``); this shows what it did,
    every ``add``, ``remove``, ``metaData`` … action, for checks that must not trust a writer
    (the audit log's append-only check). Commits older than the log retention may have been
    cleaned up behind a checkpoint.
    """
    fs, root = filesystem(uri)
    commits: dict[int, list[dict[str, Any]]] = {}
    checkpoints: set[int] = set()
    selector = pafs.FileSelector(f"{root}/_delta_log", allow_not_found=True)
    for info in fs.get_file_info(selector):
        if match := _COMMIT_FILE.match(info.base_name):
            with fs.open_input_stream(info.path) as handle:
                lines = handle.read().decode("utf-8").splitlines()
            commits[int(match[1])] = [json.loads(line) for line in lines if line.strip()]
        elif match := _CHECKPOINT_FILE.match(info.base_name):
            checkpoints.add(int(match[1]))
    return CommitLog(dict(sorted(commits.items())), frozenset(checkpoints))


def optimize(
    uri: str,
    target_size: int | None = None,
    partition_filters: list[tuple[str, str, Any]] | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Compacts small files into files of about ``target_size`` bytes (delta-rs OPTIMIZE).

    Rows do not change (``dataChange=false``): readers and the change data feed are unaffected.
    """
    dt = _open(uri, storage_options=storage_options)
    _check(dt, uri, for_write=True)
    return dt.optimize.compact(partition_filters=partition_filters, target_size=target_size)


def vacuum(
    uri: str,
    retention_hours: float | None = None,
    *,
    dry_run: bool = True,
    storage_options: Mapping[str, str] | None = None,
) -> list[str]:
    """Deletes files no longer referenced by any version within the table's retention.

    Never goes below the table's configured retention (:func:`retention_of`): the regulations'
    log retention is a floor, not a default. ``dry_run`` (the default) only lists the files.

    Raises:
        RetentionError: ``retention_hours`` is shorter than the table's retention.
    """
    dt = _open(uri, storage_options=storage_options)
    _check(dt, uri, for_write=True)
    floor = retention_of(uri, storage_options)
    floor_hours = math.ceil(floor.total_seconds() / 3600)
    if retention_hours is None:
        hours = floor_hours
    elif retention_hours < floor_hours:
        raise RetentionError(
            f"vacuum of table {uri} with {retention_hours} hours would go below its retention "
            f"of {floor_hours} hours ({floor.days} days); change the table's retention first"
        )
    else:
        hours = math.ceil(retention_hours)
    return dt.vacuum(retention_hours=hours, dry_run=dry_run, enforce_retention_duration=True)


def enable_change_data_feed(uri: str, storage_options: Mapping[str, str] | None = None) -> None:
    """Turns on the change data feed (from the next commit on)."""
    set_properties(uri, {"delta.enableChangeDataFeed": "true"}, storage_options)


def change_data_feed(
    spark: SparkSession,
    uri: str,
    starting_version: int = 0,
    ending_version: int | None = None,
    *,
    storage_options: Mapping[str, str] | None = None,
) -> DataFrame:
    """Row changes between two versions, with ``_change_type``, ``_commit_version`` and
    ``_commit_timestamp`` (delta-rs ``load_cdf``).

    The bridge writes no CDC files; delta-rs derives the feed from the commits' add and remove
    actions: appended files are inserts, removed files deletes. An overwrite therefore shows
    as deletes of the old rows and inserts of the new ones, and a data-column replace-where
    also lists the rewritten rows it kept as delete + insert. Changes are available from the
    version where ``delta.enableChangeDataFeed`` was set on.
    """
    dt = _open(uri, storage_options=storage_options)
    _check(dt, uri, for_write=False)
    reader = dt.load_cdf(starting_version=starting_version, ending_version=ending_version)
    changes = pa.table(reader.read_all())
    return spark.createDataFrame(changes.cast(_spark_compatible(changes.schema)))


def _spark_compatible(schema: pa.Schema) -> pa.Schema:
    """Arrow types Spark's conversion takes: delta-rs returns string/binary *views* and
    unsigned integers (``_commit_version``), which it does not."""
    swaps = {pa.string_view(): pa.large_string(), pa.binary_view(): pa.large_binary()}
    return pa.schema(
        [
            f.with_type(
                pa.int64() if pa.types.is_unsigned_integer(f.type) else swaps.get(f.type, f.type)
            )
            for f in schema
        ]
    )


def set_properties(
    uri: str, props: Mapping[str, str], storage_options: Mapping[str, str] | None = None
) -> None:
    """Sets table properties (one commit; none when they already have these values)."""
    dt = _open(uri, storage_options=storage_options)
    config = dt.metadata().configuration
    changed = {k: str(v) for k, v in props.items() if config.get(k) != str(v)}
    if not changed:
        return
    if any(k.startswith("delta.constraints.") for k in changed):
        raise LakeError("set CHECK constraints with add_constraints, which checks existing rows")
    dt.alter.set_table_properties(changed)


def properties(uri: str, storage_options: Mapping[str, str] | None = None) -> dict[str, str]:
    """The table's properties (``delta.*`` settings, constraints, retention, …)."""
    return dict(_open(uri, storage_options=storage_options).metadata().configuration)
