"""The Delta bridge: Spark writes and reads standard Delta tables without the Delta JARs.

Why: ``delta-spark`` downloads its JARs from a Maven repository when Spark starts, and the build
machines and many government networks reach none (DESIGN.md §3). ``deltalake`` (delta-rs) speaks
the Delta protocol natively, and Spark ≥ 4 has a Python data source API. Together:

* every Spark task streams its Arrow batches into Parquet files (pyarrow) written straight into
  the table folder, with unique names, and returns their add-action details (path, size,
  partition values, statistics for file skipping) in its commit message;
* ``commit()`` on the driver makes ONE Delta commit with delta-rs: a new table with
  ``create_table_with_add_actions``, an existing one with ``create_write_transaction``; an
  overwrite removes the old files in the same commit, so readers see all or nothing;
* ``abort()`` deletes the files of the failed job; nothing is committed.

What the bridge adds on top of delta-rs, because this write path skips delta-rs's own checks:
schema comparison with errors that name the columns, NOT NULL and CHECK constraints (evaluated
by Spark in the same pass that writes, counted per task, refused before the commit), refusal of
tables whose features it cannot honour (deletion vectors, column mapping, …), idempotent retries
(``txn`` app transactions), and replace-where overwrites.

Registered as format ``govlake_delta`` by :func:`register_delta_bridge` (``jobs.spark`` does
it). Code outside ``jobs.lake`` should not use the format directly: ``jobs.lake.tables`` owns
reads and writes, evaluates CHECK constraints and rewrites files for data-column replace-where.

Layout of this module: errors · schema and table features · file naming, partitions and
statistics (executor side) · the commit (driver side, plain functions testable without Spark)
· the Spark data source.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.types import StructType

from jobs.lake.crash import crash_point
from jobs.lake.files import filesystem
from jobs.lake.parquet_stats import WrittenFile, _ColumnStats, stats_json

FORMAT_NAME = "govlake_delta"

#: Prefix of the boolean columns ``jobs.lake.tables`` adds to a DataFrame before writing: one per
#: CHECK constraint, true where a row violates it. Writers count and drop them.
CHECK_PREFIX = "__govlake_check__"
#: Name of the check that new rows match a replace-where predicate.
REPLACE_WHERE_CHECK = "replace_where"
#: commitInfo key holding the id of the write job, used to find "our" commit afterwards.
JOB_ID_KEY = "govlake.jobId"

# ================================================================================== errors


class LakeError(Exception):
    """An error the lake edge raises on purpose, with a message meant for the person who wrote the job.

    ``str()`` starts with ``[govlake.<ClassName>]`` so the error can be recognised again after
    Spark wraps it: errors raised in Python workers reach the driver as text inside a Java
    exception (see :func:`raise_lake_error_from`). Messages stay on one line for that reason.
    """

    def __init__(self, message: str) -> None:
        self.detail = message
        super().__init__(f"[govlake.{type(self).__name__}] {message}")


class SchemaMismatchError(LakeError):
    """The data's columns differ from the table's: missing, extra, or a different type."""


class ConstraintViolationError(LakeError):
    """Rows break a NOT NULL or CHECK constraint, or fall outside a replace-where predicate."""


class UnsupportedTableError(LakeError):
    """The table uses a Delta feature the bridge cannot honour (deletion vectors, column mapping…)."""


class ConcurrentWriteError(LakeError):
    """Another writer changed the data this write depends on; nothing was committed. Re-run."""


class RetentionError(LakeError):
    """A vacuum or property change would break the table's configured retention."""


class TableMissingError(LakeError):
    """No Delta table at the location."""


_LAKE_ERRORS: dict[str, type[LakeError]] = {
    cls.__name__: cls
    for cls in (
        LakeError,
        SchemaMismatchError,
        ConstraintViolationError,
        UnsupportedTableError,
        ConcurrentWriteError,
        RetentionError,
        TableMissingError,
    )
}
_LAKE_ERROR_TAG = re.compile(r"\[govlake\.(\w+)\] ([^\n]*)")


def raise_lake_error_from(exc: BaseException) -> None:
    """Re-raises a :class:`LakeError` found inside a Spark exception's text; returns otherwise.

    Spark turns an exception raised in a Python worker (the writer's ``commit()``) into a
    ``PythonException``/``Py4JJavaError`` whose message embeds the original. Callers want the
    original class and message, not a Java stack trace.
    """
    match = _LAKE_ERROR_TAG.search(str(exc))
    if match:
        cls = _LAKE_ERRORS.get(match.group(1), LakeError)
        detail = match.group(2).rstrip()
        # Python workers append the exception's repr; strip a trailing quote/paren it leaves.
        detail = re.sub(r"""['")]+$""", "", detail) if detail.endswith(("'", '")')) else detail
        raise cls(detail) from exc


# ================================================================ schema and table features


def normalised_type(data_type: Any) -> Any:
    """A Delta/Spark JSON type with nullability and metadata removed, for comparison.

    Delta's ``schemaString`` and Spark's ``StructType.json()`` use the same JSON, so one
    comparison serves both. Nullability is left out on purpose: Spark marks most DataFrame
    columns nullable whatever the table says, and NOT NULL is enforced on the data instead.
    """
    if isinstance(data_type, str):
        return data_type
    kind = data_type["type"]
    if kind == "struct":
        return {"struct": [(f["name"], normalised_type(f["type"])) for f in data_type["fields"]]}
    if kind == "array":
        return {"array": normalised_type(data_type["elementType"])}
    if kind == "map":
        return {
            "map": (normalised_type(data_type["keyType"]), normalised_type(data_type["valueType"]))
        }
    return data_type


def type_name(data_type: Any) -> str:
    """Short readable type for messages: ``long``, ``array<string>``, ``struct<a:int>``."""
    if isinstance(data_type, str):
        return data_type
    kind = data_type["type"]
    if kind == "struct":
        inner = ",".join(f"{f['name']}:{type_name(f['type'])}" for f in data_type["fields"])
        return f"struct<{inner}>"
    if kind == "array":
        return f"array<{type_name(data_type['elementType'])}>"
    if kind == "map":
        return f"map<{type_name(data_type['keyType'])},{type_name(data_type['valueType'])}>"
    return str(kind)


def table_fields_for(
    data_fields: Sequence[Mapping[str, Any]], not_null: Sequence[str]
) -> list[dict[str, Any]]:
    """Fields for a new table: every column and nested value nullable except ``not_null``.

    Spark marks columns built from literals or non-null expressions NOT NULL; a table created
    from such a DataFrame should not inherit that by accident (Delta Lake does the same).
    """
    return [
        {**f, "type": _all_nullable(f["type"]), "nullable": f["name"] not in not_null}
        for f in data_fields
    ]


def _all_nullable(data_type: Any) -> Any:
    if isinstance(data_type, str):
        return data_type
    kind = data_type["type"]
    if kind == "struct":
        return {
            **data_type,
            "fields": [
                {**f, "nullable": True, "type": _all_nullable(f["type"])}
                for f in data_type["fields"]
            ],
        }
    if kind == "array":
        return {
            **data_type,
            "containsNull": True,
            "elementType": _all_nullable(data_type["elementType"]),
        }
    if kind == "map":
        return {
            **data_type,
            "valueContainsNull": True,
            "keyType": _all_nullable(data_type["keyType"]),
            "valueType": _all_nullable(data_type["valueType"]),
        }
    return data_type


def compare_schema(
    table_fields: Sequence[Mapping[str, Any]],
    data_fields: Sequence[Mapping[str, Any]],
    *,
    merge_schema: bool,
    where: str,
) -> list[dict[str, Any]]:
    """Checks the data's columns against the table's; returns the columns to add (schema evolution).

    Missing columns and changed types are always refused; extra columns are refused unless
    ``merge_schema`` (then they are returned, made nullable, to be added to the table).

    Raises:
        SchemaMismatchError: naming every missing, extra and type-changed column.
    """
    table_by_name = {f["name"]: f for f in table_fields}
    data_by_name = {f["name"]: f for f in data_fields}
    missing = [name for name in table_by_name if name not in data_by_name]
    extra = [name for name in data_by_name if name not in table_by_name]
    changed = [
        f"{name} (table {type_name(table_by_name[name]['type'])}, "
        f"data {type_name(data_by_name[name]['type'])})"
        for name in table_by_name
        if name in data_by_name
        and normalised_type(table_by_name[name]["type"])
        != normalised_type(data_by_name[name]["type"])
    ]
    problems = []
    if missing:
        problems.append(f"missing columns {missing}")
    if extra and not merge_schema:
        problems.append(f"extra columns {extra} (pass merge_schema=True to add them)")
    if changed:
        problems.append(f"type changed: {', '.join(changed)}")
    if problems:
        raise SchemaMismatchError(
            f"data does not match the schema of {where}: {'; '.join(problems)}"
        )
    return [{**data_by_name[name], "nullable": True} for name in extra]


#: Reader features the read path handles: none of them changes how a data file is read.
_READABLE_FEATURES = {"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"}
#: Writer features the write path honours (appendOnly and CHECK constraints are enforced here;
#: a change data feed is derived from add/remove actions, see ``tables.change_data_feed``).
_WRITABLE_FEATURES = _READABLE_FEATURES | {
    "appendOnly",
    "checkConstraints",
    "changeDataFeed",
    "domainMetadata",
}
_FEATURE_HINTS = {
    "deletionVectors": "deletion vectors (rows marked deleted outside the Parquet files)",
    "columnMapping": "column mapping (Parquet column names differ from table column names)",
}


def check_supported(
    protocol: Any,
    configuration: Mapping[str, str],
    fields: Sequence[Mapping[str, Any]],
    *,
    for_write: bool,
    where: str,
) -> None:
    """Refuses a table whose protocol features the bridge cannot honour.

    Reading with plain Parquet readers is wrong for deletion vectors (deleted rows come back) and
    column mapping (columns come back empty); writing without honouring generated/identity
    columns, invariants or row tracking would break the table for other engines.

    Args:
        protocol: ``DeltaTable.protocol()`` (reader/writer versions and feature lists).
        configuration: ``DeltaTable.metadata().configuration``.
        fields: the table's top-level fields as Delta JSON dicts.
        for_write: also check writer features.
        where: the table, for the message.

    Raises:
        UnsupportedTableError: naming each unsupported feature.
    """
    reader_features = set(protocol.reader_features or [])
    writer_features = set(protocol.writer_features or [])
    found: set[str] = set()
    if configuration.get("delta.columnMapping.mode", "none") not in ("none", ""):
        found.add("columnMapping")
    if protocol.min_reader_version == 2:  # legacy protocol: reader v2 means column mapping
        found.add("columnMapping")
    if configuration.get("delta.enableDeletionVectors", "false").lower() == "true":
        found.add("deletionVectors")
    found |= reader_features - _READABLE_FEATURES
    if for_write:
        found |= writer_features - _WRITABLE_FEATURES
        # Legacy protocols (writer < 7) imply features through metadata instead of lists.
        for f in fields:
            metadata = f.get("metadata") or {}
            if "delta.generationExpression" in metadata:
                found.add("generatedColumns")
            if any(key.startswith("delta.identity.") for key in metadata):
                found.add("identityColumns")
            if "delta.invariants" in metadata:
                found.add("invariants")
        if configuration.get("delta.enableRowTracking", "false").lower() == "true":
            found.add("rowTracking")
    if found:
        described = [_FEATURE_HINTS.get(name, name) for name in sorted(found)]
        action = "write to" if for_write else "read"
        raise UnsupportedTableError(
            f"cannot {action} {where}: it uses {', '.join(described)}, which the govlake Delta "
            "bridge does not support; use an engine with full Delta support for this table"
        )


def table_constraints(configuration: Mapping[str, str]) -> dict[str, str]:
    """CHECK constraints of a table: ``delta.constraints.<name>`` → SQL expression."""
    prefix = "delta.constraints."
    return {k[len(prefix) :]: v for k, v in configuration.items() if k.startswith(prefix)}


def referenced_columns(predicate: str, columns: Iterable[str]) -> set[str]:
    """Which of ``columns`` a SQL predicate mentions (outside string literals).

    Used to tell a replace-where on partition columns (drop whole files, exact) from one on
    data columns (files must be rewritten). A column name that also appears as a function name
    counts as mentioned, which can only send a write down the slower, still correct, path.
    """
    without_literals = re.sub(r"'(?:[^'\\]|\\.|'')*'", " ", predicate)
    tokens = set()
    for quoted, bare in re.findall(
        r"[`\"]([^`\"]+)[`\"]|([A-Za-z_][A-Za-z0-9_]*)", without_literals
    ):
        tokens.add((quoted or bare).lower())
    return {c for c in columns if c.lower() in tokens}


# ============================================== files, partitions, statistics (executor side)

# Hive's escapePathName set, plus '}' so no path can look like a glob to Spark's reader.
_PATH_ESCAPES = set("\"#%'*/:=?\\\x7f{}[]^") | {chr(c) for c in range(0x01, 0x20)}
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
#: Spark types a table may be partitioned by (Delta partition values are strings in the log;
#: these round-trip exactly).
PARTITION_TYPES = {"string", "byte", "short", "integer", "long", "date", "boolean"}


def escape_path_name(value: str) -> str:
    """Escapes a partition value for a folder name the way Hive and Spark do (``:`` → ``%3A``)."""
    return "".join(f"%{ord(ch):02X}" if ch in _PATH_ESCAPES else ch for ch in value)


def partition_string(value: Any) -> str | None:
    """A partition value as the Delta log stores it (strings; null and '' are null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value or None
    return str(value)


def partition_folder(partition_by: Sequence[str], values: Sequence[str | None]) -> str:
    """``dept=gaj/year=2024``: the Hive-style folder Spark's reader turns back into columns."""
    return "/".join(
        f"{escape_path_name(name)}={HIVE_NULL if v is None else escape_path_name(v)}"
        for name, v in zip(partition_by, values, strict=True)
    )


@dataclass
class DeltaCommitMessage(WriterCommitMessage):
    """What one Spark task sends to the driver: its files and its constraint counts."""

    files: list[WrittenFile] = field(default_factory=list)
    violations: dict[str, int] = field(default_factory=dict)  # check name → rows
    null_violations: dict[str, int] = field(default_factory=dict)  # column → null rows
    num_rows: int = 0


#: The one data source option a write takes: its :class:`WriteOptions`, encoded.
WRITE_OPTIONS = "govlake_write_options"


@dataclass(frozen=True)
class WriteOptions:
    """What the caller decided about one write, typed: ``jobs.lake.tables.write_table`` builds
    it and it crosses the Spark boundary once, as the one string option Spark data sources
    take (:meth:`as_spark_options`); :func:`plan_write` reads it back on the driver.

    Attributes:
        job_id: names the write's files and commit (found again after the commit).
        partition_by, not_null, configuration: used when the write creates the table
            (``partition_by`` is checked against an existing one).
        replace_where: SQL predicate of the rows an overwrite replaces.
        checks: check name → SQL of the CHECK columns ``jobs.lake.tables`` added to the rows.
        replace_files, read_version: for a data-column replace-where, the files whose
            surviving rows were re-read into the write, and the version they were read at.
        write_id: idempotency key ``(app_id, version)``.
        merge_schema: new columns may be added.
        storage_options: delta-rs storage options for object stores.
        max_rows_per_file: rows per Parquet file before a task starts another.
    """

    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    partition_by: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    configuration: Mapping[str, str] = field(default_factory=dict)
    replace_where: str | None = None
    checks: Mapping[str, str] = field(default_factory=dict)
    replace_files: tuple[str, ...] | None = None
    read_version: int | None = None
    write_id: tuple[str, int] | None = None
    merge_schema: bool = False
    storage_options: Mapping[str, str] | None = None
    max_rows_per_file: int = 5_000_000

    def as_spark_options(self) -> dict[str, str]:
        """``.options(**write.as_spark_options())`` on a ``format("govlake_delta")`` writer."""
        return {WRITE_OPTIONS: json.dumps(asdict(self))}

    @classmethod
    def from_spark_options(cls, options: Mapping[str, str]) -> WriteOptions:
        """The options of a data source write (defaults when it was given none).

        Raises:
            LakeError: an option other than the table location and :data:`WRITE_OPTIONS`
                (it would otherwise be ignored silently).
        """
        unknown = sorted(k for k in options if k.lower() not in ("path", WRITE_OPTIONS))
        if unknown:
            raise LakeError(
                f"format {FORMAT_NAME!r} takes its write options as one WriteOptions "
                f"(.options(**WriteOptions(...).as_spark_options())), not {unknown}"
            )
        text = options.get(WRITE_OPTIONS)
        if not text:
            return cls()
        raw = json.loads(text)
        tuples = ("partition_by", "not_null", "replace_files", "write_id")
        raw.update({k: tuple(raw[k]) for k in tuples if raw.get(k) is not None})
        return cls(**raw)


@dataclass(frozen=True)
class WritePlan:
    """Everything the driver decided about one write; pickled to the tasks and the committer."""

    uri: str
    job_id: str
    overwrite: bool
    table_existed: bool
    partition_by: tuple[str, ...]
    #: the Delta fields of the data being written (table order for an existing table)
    data_fields: tuple[dict[str, Any], ...]
    not_null: tuple[str, ...]
    checks: Mapping[str, str]  # check name → SQL text, for messages
    merge_schema: bool = False
    replace_where: str | None = None
    #: files to remove (relative, as in ``file_uris``) when a data-column replace-where had its
    #: surviving rows re-read into this write, and the version they were read at
    replace_files: tuple[str, ...] | None = None
    read_version: int | None = None
    write_id: tuple[str, int] | None = None
    configuration: Mapping[str, str] = field(default_factory=dict)
    storage_options: Mapping[str, str] | None = None
    max_rows_per_file: int = 5_000_000
    skip: bool = False  # the write id was already applied when the write was planned


class _TaskWriter:
    """Streams one task's Arrow batches into Parquet files, one or more per partition value."""

    _ROWS_PER_FLUSH = 1_000_000  # rows buffered before a row group is written
    _BYTES_PER_FLUSH = 128 << 20  # …or Arrow bytes, across all open partitions

    def __init__(self, plan: WritePlan, partition_id: int) -> None:
        self.plan = plan
        self.partition_id = partition_id
        self.fs, self.root = filesystem(plan.uri)
        self.message = DeltaCommitMessage()
        self.open: dict[tuple[str | None, ...], _OpenFile] = {}
        self.buffers: dict[tuple[str | None, ...], list[pa.Table]] = {}
        self.buffered_rows: dict[tuple[str | None, ...], int] = {}
        self.buffered_bytes = 0
        self.all_paths: list[str] = []  # every file opened, for discard()
        self.made_dirs: set[str] = set()

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        table = pa.Table.from_batches([batch])
        names = table.column_names
        self.message.num_rows += table.num_rows
        for name in names:
            if name.startswith(CHECK_PREFIX):
                bad = pc.sum(pc.fill_null(table.column(name), False)).as_py() or 0
                key = name[len(CHECK_PREFIX) :]
                self.message.violations[key] = self.message.violations.get(key, 0) + bad
        for name in self.plan.not_null:
            nulls = table.column(name).null_count
            if nulls:
                self.message.null_violations[name] = (
                    self.message.null_violations.get(name, 0) + nulls
                )
        table = table.select([n for n in names if not n.startswith(CHECK_PREFIX)])
        for key, part in _split_by_partition(table, self.plan.partition_by):
            data = part.drop_columns(list(self.plan.partition_by))
            self.buffers.setdefault(key, []).append(data)
            self.buffered_rows[key] = self.buffered_rows.get(key, 0) + data.num_rows
            self.buffered_bytes += data.nbytes
            if self.buffered_rows[key] >= self._ROWS_PER_FLUSH:
                self._flush(key)
        if self.buffered_bytes >= self._BYTES_PER_FLUSH:
            for key in list(self.buffers):
                self._flush(key)

    def _flush(self, key: tuple[str | None, ...]) -> None:
        parts = self.buffers.pop(key, [])
        self.buffered_rows.pop(key, None)
        if not parts:
            return
        data = pa.concat_tables(parts)
        self.buffered_bytes = max(0, self.buffered_bytes - data.nbytes)
        current = self.open.get(key)
        if current is None:
            current = self.open[key] = self._open_file(key, data.schema)
        current.write(data)
        if current.rows >= self.plan.max_rows_per_file:
            self._close(key)

    def _open_file(self, key: tuple[str | None, ...], schema: pa.Schema) -> _OpenFile:
        folder = partition_folder(self.plan.partition_by, key) if self.plan.partition_by else ""
        # The job id in every name lets abort() find files of tasks that died before reporting.
        name = (
            f"part-{self.partition_id:05d}-{self.plan.job_id}-{uuid.uuid4().hex[:16]}"
            ".c000.snappy.parquet"
        )
        relative = f"{folder}/{name}" if folder else name
        full = f"{self.root}/{relative}"
        directory = f"{self.root}/{folder}" if folder else self.root
        if directory not in self.made_dirs:  # local folders must exist; stores ignore this
            self.fs.create_dir(directory, recursive=True)
            self.made_dirs.add(directory)
        self.all_paths.append(full)
        return _OpenFile(
            self.fs, full, relative, schema, dict(zip(self.plan.partition_by, key, strict=True))
        )

    def _close(self, key: tuple[str | None, ...]) -> None:
        current = self.open.pop(key)
        self.message.files.append(current.close())

    def finish(self) -> DeltaCommitMessage:
        for key in list(self.buffers):
            self._flush(key)
        for key in list(self.open):
            self._close(key)
        return self.message

    def discard(self) -> None:
        """Deletes every file this task opened (the task failed, or the write is skipped)."""
        for current in self.open.values():
            current.abandon()
        _delete_files(self.fs, self.all_paths)


class _OpenFile:
    def __init__(
        self,
        fs: pafs.FileSystem,
        full_path: str,
        relative: str,
        schema: pa.Schema,
        partition_values: dict[str, str | None],
    ) -> None:
        self.fs = fs
        self.full_path = full_path
        self.relative = relative
        self.partition_values = partition_values
        self.rows = 0
        self.stats = {f.name: _ColumnStats(f.type) for f in schema}
        # store_schema=False: the files carry plain Parquet types, no Arrow-specific metadata
        # (large strings, session time zone) that other Delta readers would have to undo.
        self.writer = pq.ParquetWriter(
            full_path, schema, filesystem=fs, compression="snappy", store_schema=False
        )

    def write(self, data: pa.Table) -> None:
        self.writer.write_table(data)
        crash_point("task.file")  # a row group written, the file not closed
        self.rows += data.num_rows
        for name, stats in self.stats.items():
            stats.update(data.column(name))

    def close(self) -> WrittenFile:
        self.writer.close()
        info = self.fs.get_file_info(self.full_path)
        return WrittenFile(
            path=self.relative,
            size=int(info.size),
            partition_values=self.partition_values,
            modification_time=int(time.time() * 1000),
            num_records=self.rows,
            stats=stats_json(self.rows, self.stats),
        )

    def abandon(self) -> None:
        # The file is deleted next: an error while closing it changes nothing.
        with contextlib.suppress(Exception):
            self.writer.close()


def _split_by_partition(
    table: pa.Table, partition_by: Sequence[str]
) -> Iterator[tuple[tuple[str | None, ...], pa.Table]]:
    """Splits rows by partition value: sort on the partition columns, cut where a value changes."""
    if not partition_by:
        yield (), table
        return
    columns = [table.column(c) for c in partition_by]
    if all(pc.count_distinct(c, mode="all").as_py() == 1 for c in columns):
        yield tuple(partition_string(c[0].as_py()) for c in columns), table
        return
    order = pc.sort_indices(
        table.select(list(partition_by)),
        sort_keys=[(c, "ascending", "at_end") for c in partition_by],
    )
    ordered = table.take(order)
    n = ordered.num_rows
    change = None
    for name in partition_by:
        col = ordered.column(name)
        after, before = col.slice(1), col.slice(0, n - 1)
        differs = pc.fill_null(pc.not_equal(after, before), True)
        both_null = pc.and_(pc.is_null(after), pc.is_null(before))
        step = pc.and_not(differs, both_null)
        change = step if change is None else pc.or_(change, step)
    cuts = [0, *(i + 1 for i in pc.indices_nonzero(change).to_pylist()), n]
    for start, stop in itertools.pairwise(cuts):
        part = ordered.slice(start, stop - start)
        yield tuple(partition_string(part.column(c)[0].as_py()) for c in partition_by), part


def _delete_files(fs: pafs.FileSystem, paths: Iterable[str]) -> None:
    for path in paths:
        # Already gone (or never created) is fine: the goal is that it does not exist.
        with contextlib.suppress(FileNotFoundError, OSError):
            fs.delete_file(path)


# ======================================================================== commit (driver side)


def _delta_table(uri: str, plan_or_options: Any = None, version: int | None = None) -> Any:
    from deltalake import DeltaTable

    options = getattr(plan_or_options, "storage_options", plan_or_options)
    return DeltaTable(uri, version=version, storage_options=dict(options) if options else None)


def _is_delta_table(uri: str, storage_options: Mapping[str, str] | None) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(uri, dict(storage_options) if storage_options else None)


def table_fields(dt: Any) -> list[dict[str, Any]]:
    """The top-level fields of a delta-rs table as Delta JSON dicts."""
    return json.loads(dt.schema().to_json())["fields"]


def describe_violations(
    violations: Mapping[str, int], null_violations: Mapping[str, int], checks: Mapping[str, str]
) -> str:
    """One line naming each broken constraint and how many rows break it."""
    parts = [
        f"NOT NULL {column}: {rows} row(s)"
        for column, rows in sorted(null_violations.items())
        if rows
    ]
    # Stable order for readers and tests: NOT NULL, CHECKs by name, then the replace-where.
    for name, rows in sorted(
        violations.items(), key=lambda kv: (kv[0] == REPLACE_WHERE_CHECK, kv[0])
    ):
        if not rows:
            continue
        if name == REPLACE_WHERE_CHECK:
            parts.append(f"replace_where ({checks.get(name, '?')}): {rows} new row(s) outside it")
        else:
            parts.append(f"CHECK {name} ({checks.get(name, '?')}): {rows} row(s)")
    return "; ".join(parts)


def commit_write(plan: WritePlan, messages: Sequence[DeltaCommitMessage | None]) -> int | None:
    """Makes the one Delta commit of a write; deletes the written files if it does not commit.

    Returns the version committed, or None when nothing was committed because the write id had
    already been applied (an idempotent retry).

    Raises:
        ConstraintViolationError: rows broke NOT NULL/CHECK/replace-where (counted by the tasks).
        SchemaMismatchError, UnsupportedTableError: the table changed under the write.
        ConcurrentWriteError: a concurrent commit conflicts with this one.
    """
    from deltalake import Schema
    from deltalake.exceptions import CommitFailedError, DeltaError
    from deltalake.transaction import (
        AddAction,
        CommitProperties,
        Transaction,
        create_table_with_add_actions,
    )

    fs, root = filesystem(plan.uri)
    files = [f for m in messages if m is not None for f in m.files]
    written = [f"{root}/{f.path}" for f in files]
    where = f"table {plan.uri}"
    committed = False
    try:
        violations: dict[str, int] = {}
        null_violations: dict[str, int] = {}
        for m in messages:
            if m is None:
                continue
            for k, v in m.violations.items():
                violations[k] = violations.get(k, 0) + v
            for k, v in m.null_violations.items():
                null_violations[k] = null_violations.get(k, 0) + v
        if any(violations.values()) or any(null_violations.values()):
            raise ConstraintViolationError(
                f"nothing written to {where}: "
                + describe_violations(violations, null_violations, plan.checks)
            )
        if plan.skip:
            return None
        num_rows = sum(m.num_rows for m in messages if m is not None)
        metadata = {
            JOB_ID_KEY: plan.job_id,
            "govlake.numOutputRows": num_rows,
            "govlake.numFiles": len(files),
        }
        if plan.replace_where:
            metadata["govlake.replaceWhere"] = plan.replace_where
        transactions = [Transaction(plan.write_id[0], plan.write_id[1])] if plan.write_id else None
        properties = CommitProperties(custom_metadata=metadata, app_transactions=transactions)
        adds = [
            AddAction(f.path, f.size, f.partition_values, f.modification_time, True, f.stats)
            for f in files
        ]
        options = dict(plan.storage_options) if plan.storage_options else None
        crash_point("bridge.commit")  # every file written, none committed

        if not _is_delta_table(plan.uri, plan.storage_options):
            fields = table_fields_for(plan.data_fields, plan.not_null)
            schema = Schema.from_json(json.dumps({"type": "struct", "fields": fields}))
            try:
                create_table_with_add_actions(
                    plan.uri,
                    schema,
                    adds,
                    mode="error",
                    partition_by=list(plan.partition_by),
                    configuration=dict(plan.configuration) or None,
                    storage_options=options,
                    commit_properties=properties,
                )
                committed = True
                return 0
            except DeltaError as exc:
                # Another writer created the table first: commit into it like any other write.
                if "already exists" not in str(exc):
                    raise

        latest = _delta_table(plan.uri, plan)
        _check_table_for_write(plan, latest, where, at_commit=True)
        if plan.write_id and _write_id_applied(latest, plan.write_id):
            return None
        new_fields = compare_schema(
            table_fields(latest), plan.data_fields, merge_schema=plan.merge_schema, where=where
        )
        if new_fields:
            latest = _add_columns(latest, new_fields, plan)
        partition_by = list(latest.metadata().partition_columns)
        schema = latest.schema()

        if plan.replace_files is not None:
            # Data-column replace-where: remove exactly the files whose surviving rows were
            # re-read at read_version. Committing on that version's snapshot makes delta-rs
            # fail the commit if anyone removed those files meanwhile.
            base = _delta_table(plan.uri, plan, version=plan.read_version)
            removes = _remove_actions(base, set(plan.replace_files))
            base.create_write_transaction(
                adds + removes, "append", schema, partition_by, commit_properties=properties
            )
        elif plan.replace_where:
            try:
                matched = _file_uris(latest, plan.replace_where)
            except Exception as exc:
                raise LakeError(
                    f"nothing written to {where}: delta-rs cannot evaluate replace_where "
                    f"({plan.replace_where}) on the partition values: {' '.join(str(exc).split())}"
                ) from exc
            predicate_files = {_relative(latest, u) for u in matched}
            removes = _remove_actions(latest, predicate_files)
            latest.create_write_transaction(
                adds + removes, "append", schema, partition_by, commit_properties=properties
            )
        else:
            mode = "overwrite" if plan.overwrite else "append"
            latest.create_write_transaction(
                adds, mode, schema, partition_by, commit_properties=properties
            )
        committed = True
        return committed_version(plan.uri, plan.job_id, plan.storage_options)
    except CommitFailedError as exc:
        # The same write id committed concurrently: this retry is a duplicate, not an error.
        if plan.write_id and _write_id_applied(_delta_table(plan.uri, plan), plan.write_id):
            return None
        raise ConcurrentWriteError(
            f"nothing written to {where}: a concurrent commit conflicts with this write "
            f"({' '.join(str(exc).split())}); run it again"
        ) from exc
    finally:
        if not committed and not _commit_landed(plan):
            _delete_files(fs, written)


def _write_id_applied(dt: Any, write_id: tuple[str, int]) -> bool:
    applied = dt.transaction_version(write_id[0])
    return applied is not None and applied >= write_id[1]


def _check_table_for_write(
    plan: WritePlan, dt: Any, where: str, *, at_commit: bool = False
) -> None:
    metadata = dt.metadata()
    configuration = metadata.configuration
    fields = table_fields(dt)
    check_supported(dt.protocol(), configuration, fields, for_write=True, where=where)
    if at_commit:
        # Constraints added while the tasks ran (or carried by a table another writer created
        # meanwhile) were not evaluated by them.
        unchecked = set(table_constraints(configuration)) - set(plan.checks)
        unchecked |= {f["name"] for f in fields if not f.get("nullable", True)} - set(plan.not_null)
        if unchecked:
            raise ConcurrentWriteError(
                f"nothing written to {where}: constraints {sorted(unchecked)} were added while "
                "the write ran; run it again"
            )
    table_partitions = tuple(metadata.partition_columns)
    if plan.partition_by and tuple(plan.partition_by) != table_partitions:
        raise SchemaMismatchError(
            f"{where} is partitioned by {list(table_partitions)}, not {list(plan.partition_by)}"
        )
    if (plan.overwrite or plan.replace_where) and (
        configuration.get("delta.appendOnly", "false").lower() == "true"
    ):
        raise UnsupportedTableError(f"{where} is append-only (delta.appendOnly): cannot overwrite")


def _add_columns(dt: Any, new_fields: list[dict[str, Any]], plan: WritePlan) -> Any:
    """Schema evolution: one ADD COLUMNS commit before the write (delta-rs's write
    transaction does not change the table schema)."""
    from deltalake import Field

    dt.alter.add_columns([Field.from_json(json.dumps(f)) for f in new_fields])
    return _delta_table(plan.uri, plan)


def _file_uris(dt: Any, predicate: str | None = None) -> list[str]:
    return dt.file_uris(file_pruning_predicate=predicate) if predicate else dt.file_uris()


def _relative(dt: Any, file_uri: str) -> str:
    """A ``file_uris()`` entry relative to the table root (the form add actions take)."""
    root = table_root_path(dt)
    return file_uri[len(root) :].lstrip("/") if file_uri.startswith(root) else file_uri


def table_root_path(dt: Any) -> str:
    """The table root in the form ``file_uris()`` uses (plain path for local tables)."""
    root = dt.table_uri
    if root.startswith("file://"):
        root = unquote(root[len("file://") :])
    return root.rstrip("/")


def _remove_actions(dt: Any, relative_paths: set[str]) -> list[Any]:
    """Remove actions for active files, with the size and partition values readers of the
    change data feed need."""
    from deltalake.transaction import RemoveAction

    if not relative_paths:
        return []
    actions = pa.table(dt.get_add_actions(flatten=False)).to_pylist()
    now = int(time.time() * 1000)
    removes = []
    for action in actions:
        # get_add_actions returns the log's URL-encoded path; RemoveAction takes it decoded.
        path = unquote(action["path"])
        if path in relative_paths:
            values = action.get("partition") or {}
            removes.append(
                RemoveAction(
                    path,
                    True,
                    now,
                    action["size_bytes"],
                    {k: partition_string(v) for k, v in values.items()},
                )
            )
    return removes


def find_commit(
    uri: str, job_id: str, storage_options: Mapping[str, str] | None = None, limit: int = 100
) -> dict[str, Any] | None:
    """The commit (history entry) a write job made, found by its job id, or None."""
    if not _is_delta_table(uri, storage_options):
        return None
    for commit in _delta_table(uri, storage_options).history(limit=limit):
        if commit.get(JOB_ID_KEY) == job_id:
            return commit
    return None


def committed_version(
    uri: str, job_id: str, storage_options: Mapping[str, str] | None = None
) -> int | None:
    """The version a write job committed, or None."""
    commit = find_commit(uri, job_id, storage_options)
    return None if commit is None else int(commit["version"])


def _commit_landed(plan: WritePlan) -> bool:
    """Whether a commit of this job is in the log (so its files must not be deleted)."""
    try:
        return committed_version(plan.uri, plan.job_id, plan.storage_options) is not None
    except Exception:
        # Cannot tell: keeping files is safe (vacuum removes unreferenced ones); deleting a
        # committed file would corrupt the table.
        return True


def abort_write(plan: WritePlan, messages: Sequence[DeltaCommitMessage | None]) -> None:
    """Deletes the files of a failed write: those tasks reported and those of tasks that died.

    A task that failed never reports its files, so the table folder is also searched for file
    names carrying the job id. Tasks cancelled by the failure may still be closing files when
    the driver aborts, so a task that failed (a None message) triggers a second sweep after
    Spark's Python kill timeout. Files a killed worker leaves after that are unreferenced and
    go with the next ``vacuum``.
    """
    if _commit_landed(plan):
        return
    fs, root = filesystem(plan.uri)
    _delete_files(fs, [f"{root}/{f.path}" for m in messages if m is not None for f in m.files])
    _sweep_job_files(fs, root, plan.job_id)
    if any(m is None for m in messages):
        time.sleep(3)
        _sweep_job_files(fs, root, plan.job_id)


def _sweep_job_files(fs: pafs.FileSystem, root: str, job_id: str) -> None:
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    except OSError:
        return
    _delete_files(
        fs,
        [
            info.path
            for info in infos
            if info.type == pafs.FileType.File
            and job_id in info.base_name
            and "/_delta_log" not in info.path
        ],
    )


# ========================================================================= the Spark data source


def _json_option(options: Mapping[str, str], key: str, default: Any) -> Any:
    value = options.get(key)
    if value is None or value == "":
        return default
    return json.loads(value)


def _table_location(options: Mapping[str, str]) -> str:
    path = options.get("path")
    if not path:
        raise LakeError(f"format {FORMAT_NAME!r} needs a table location: .save(uri)/.load(uri)")
    return path if "://" in path else os.path.abspath(path)


def plan_write(uri: str, schema: StructType, overwrite: bool, options: WriteOptions) -> WritePlan:
    """Checks a write against the table before any task runs, and fixes its plan."""
    where = f"table {uri}"
    storage_options = options.storage_options
    incoming = json.loads(schema.json())["fields"]
    checks_present = {
        f["name"][len(CHECK_PREFIX) :] for f in incoming if f["name"].startswith(CHECK_PREFIX)
    }
    data_fields = [f for f in incoming if not f["name"].startswith(CHECK_PREFIX)]
    partition_by = list(options.partition_by)
    replace_where = options.replace_where
    replace_files = options.replace_files
    merge_schema = options.merge_schema
    write_id = options.write_id
    checks = dict(options.checks)
    if replace_where and not overwrite:
        raise LakeError(f"replace_where on {where} needs mode('overwrite')")
    if replace_where:
        checks.setdefault(REPLACE_WHERE_CHECK, replace_where)

    exists = _is_delta_table(uri, storage_options)
    skip = False
    if exists:
        dt = _delta_table(uri, storage_options)
        fields = table_fields(dt)
        plan_stub = WritePlan(
            uri, "", overwrite, True, tuple(partition_by), (), (), {}, replace_where=replace_where
        )
        _check_table_for_write(plan_stub, dt, where)
        new_fields = compare_schema(fields, data_fields, merge_schema=merge_schema, where=where)
        by_name = {f["name"]: f for f in data_fields}
        # Table order, then new columns: the files then follow the table's column order.
        data_fields = [by_name[f["name"]] for f in fields] + new_fields
        partition_by = list(dt.metadata().partition_columns)
        not_null = [f["name"] for f in fields if not f.get("nullable", True)]
        constraints = table_constraints(dt.metadata().configuration)
        unchecked = sorted(set(constraints) - checks_present)
        if unchecked:
            raise LakeError(
                f"{where} has CHECK constraint(s) {unchecked} that this write does not evaluate; "
                "write through jobs.lake.tables.write_table, which does"
            )
        for name, expression in constraints.items():
            checks.setdefault(name, expression)
        skip = bool(write_id) and _write_id_applied(dt, write_id)
    else:
        names = [f["name"] for f in data_fields]
        not_null = list(options.not_null)
        unknown = [c for c in [*partition_by, *not_null] if c not in names]
        if unknown:
            raise SchemaMismatchError(f"columns {unknown} named for {where} are not in the data")
        bad = [
            f"{f['name']} ({type_name(f['type'])})"
            for f in data_fields
            if f["name"] in partition_by and f["type"] not in PARTITION_TYPES
        ]
        if bad:
            raise SchemaMismatchError(
                f"cannot partition {where} by {bad}: partition columns must be one of "
                f"{sorted(PARTITION_TYPES)}"
            )
    if replace_where and exists and replace_files is None:
        data_only = referenced_columns(replace_where, [f["name"] for f in data_fields]) - set(
            partition_by
        )
        if data_only:
            raise LakeError(
                f"replace_where on {where} uses data column(s) {sorted(data_only)}: files must be "
                "rewritten; write through jobs.lake.tables.write_table, which does"
            )
    return WritePlan(
        uri=uri,
        job_id=options.job_id,
        overwrite=overwrite,
        table_existed=exists,
        partition_by=tuple(partition_by),
        data_fields=tuple(data_fields),
        not_null=tuple(not_null),
        checks=checks,
        merge_schema=merge_schema,
        replace_where=replace_where,
        replace_files=replace_files,
        read_version=options.read_version,
        write_id=write_id,
        configuration=dict(options.configuration),
        storage_options=storage_options,
        max_rows_per_file=options.max_rows_per_file,
        skip=skip,
    )


class DeltaBridgeWriter(DataSourceArrowWriter):
    """Executor side writes Parquet files; driver side commits them in one Delta commit."""

    def __init__(self, plan: WritePlan) -> None:
        self.plan = plan

    def write(self, iterator: Iterator[pa.RecordBatch]) -> DeltaCommitMessage:
        from pyspark import TaskContext

        context = TaskContext.get()
        task = _TaskWriter(self.plan, context.partitionId() if context else 0)
        try:
            if self.plan.skip:  # already applied: drain the input, write nothing
                for _ in iterator:
                    pass
                return DeltaCommitMessage()
            for batch in iterator:
                task.add(batch)
            return task.finish()
        except BaseException:
            task.discard()
            raise

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:  # type: ignore[override]
        commit_write(self.plan, messages)  # type: ignore[arg-type]

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:  # type: ignore[override]
        abort_write(self.plan, messages)  # type: ignore[arg-type]


class DeltaBridgeReader(DataSourceReader):
    """Reads a table file by file with pyarrow (one Spark partition per file).

    ``jobs.lake.tables.read_table`` is the faster path (Spark's own Parquet reader keeps column
    pruning and predicate pushdown); this reader exists so ``spark.read.format("govlake_delta")``
    works too.
    """

    def __init__(self, schema_json: str, files: list[tuple[str, dict[str, str | None]]]) -> None:
        self.schema_json = schema_json
        self.files = files

    def partitions(self) -> Sequence[InputPartition]:
        return [InputPartition(entry) for entry in self.files]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        from deltalake import Schema

        path, values = partition.value
        target = pa.schema(Schema.from_json(self.schema_json).to_arrow())
        if "://" in path:
            fs, inner = pafs.FileSystem.from_uri(path)
        else:
            fs, inner = pafs.LocalFileSystem(), path
        with fs.open_input_file(inner) as handle:
            for batch in pq.ParquetFile(handle).iter_batches():
                columns = []
                for f in target:
                    if f.name in values:
                        column = pa.array([values[f.name]] * batch.num_rows, pa.string())
                        columns.append(column.cast(f.type))
                    elif f.name in batch.schema.names:
                        columns.append(batch.column(f.name).cast(f.type))
                    else:  # added by schema evolution after this file was written
                        columns.append(pa.nulls(batch.num_rows, f.type))
                yield pa.RecordBatch.from_arrays(columns, schema=target)


class DeltaBridgeDataSource(DataSource):
    """``format("govlake_delta")``: Delta tables through delta-rs, without the Delta JARs.

    Write: ``df.write.format("govlake_delta").mode("append"|"overwrite")
    .options(**WriteOptions(...).as_spark_options()).save(uri)`` (Python data sources refuse
    ``partitionBy()``, so partition columns are ``WriteOptions.partition_by``).
    Read: ``spark.read.format("govlake_delta").option("versionAsOf", n).load(uri)`` (or
    ``timestampAsOf``).
    """

    @classmethod
    def name(cls) -> str:
        return FORMAT_NAME

    def _snapshot(self) -> Any:
        from deltalake import DeltaTable

        uri = _table_location(self.options)
        storage_options = _json_option(self.options, "storage_options", None)
        if not _is_delta_table(uri, storage_options):
            raise TableMissingError(f"no Delta table at {uri}")
        version = self.options.get("versionAsOf")
        dt = DeltaTable(
            uri,
            version=int(version) if version not in (None, "") else None,
            storage_options=storage_options,
        )
        timestamp = self.options.get("timestampAsOf")
        if timestamp:
            dt.load_as_version(timestamp)
        check_supported(
            dt.protocol(),
            dt.metadata().configuration,
            table_fields(dt),
            for_write=False,
            where=f"table {uri}",
        )
        return dt

    def schema(self) -> StructType:
        return StructType.fromJson(json.loads(self._snapshot().schema().to_json()))

    def reader(self, schema: StructType) -> DataSourceReader:
        dt = self._snapshot()
        actions = pa.table(dt.get_add_actions(flatten=False)).to_pylist()
        root = table_root_path(dt)
        files = [
            (
                f"{root}/{unquote(a['path'])}",
                {k: partition_string(v) for k, v in (a.get("partition") or {}).items()},
            )
            for a in actions
        ]
        return DeltaBridgeReader(dt.schema().to_json(), files)

    def writer(self, schema: StructType, overwrite: bool) -> DeltaBridgeWriter:
        options = WriteOptions.from_spark_options(self.options)
        return DeltaBridgeWriter(
            plan_write(_table_location(self.options), schema, overwrite, options)
        )


def register_delta_bridge(spark: Any) -> None:
    """Registers ``format("govlake_delta")`` on a Spark session (idempotent)."""
    spark.dataSource.register(DeltaBridgeDataSource)


def activate_session(spark: Any) -> None:
    """Makes ``spark`` the JVM's active session for the calling thread.

    Spark looks Python data sources up in the thread's active session; a Python thread (a
    scheduler's worker pool, concurrent writers) has none, and ``format("govlake_delta")``
    would not be found there.
    """
    jvm = getattr(spark, "_jvm", None)
    if jvm is not None:  # classic Spark; Spark Connect resolves sources on the server
        jvm.org.apache.spark.sql.SparkSession.setActiveSession(spark._jsparkSession)
