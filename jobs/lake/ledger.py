"""Arrow-native reads and appends through delta-rs, without a Spark job.

For the lake's edges that are not Spark-scale work: the file log, promotion outcomes and row
accounting (a handful of rows per batch), and bronze rows that were read on the driver anyway.
A Spark job costs seconds of scheduling for a few rows; delta-rs commits them in milliseconds.
The tables are the same standard Delta tables, so :func:`jobs.lake.tables.read_table` reads them.

Idempotency follows :func:`jobs.lake.tables.write_table`: a ``write_id`` becomes a Delta app
transaction, and an append whose id the table already carries adds nothing.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from jobs.lake.crash import crash_point
from jobs.lake.files import filesystem, local_path
from jobs.lake.kept import kept
from jobs.lake.parquet_stats import written_file
from jobs.lake.tables import ConcurrentWriteError, WriteId, notify_write, table_exists

#: Rows per Parquet row group of the tables written here. Spark splits a file for its tasks only
#: at row-group boundaries: a 1M-row bronze batch in one row group (delta-rs's default is about
#: a million rows) was standardised by ONE task, leaving the second core idle.
ROWS_PER_ROW_GROUP = 16_384

#: Rows of an append per Parquet file written by one thread (:func:`_append_in_parts`): an
#: append of at least twice as many is written in parts on every core. delta-rs encodes one
#: file on one core: a million bronze rows took it 1.65 s, two halves on two threads 0.97 s.
ROWS_PER_PART = 262_144


@contextlib.contextmanager
def _newest(uri: str, storage_options: Mapping[str, str] | None) -> Iterator[Any]:
    """The table at its newest version (None when there is none), through the table this
    process keeps open for ``uri`` (:mod:`jobs.lake.kept`) when it is a local folder's.

    Opening a table replays its log from the last checkpoint, which grows by a commit with
    every batch of a governance table: at 60 commits an append spent two thirds of its time
    opening (31 ms against 15 ms through the kept table). The kept table is brought up to date
    instead (nothing to read when this process made the newest commit itself). It is used by
    one caller at a time: while another holds it (another thread, or a call made inside this
    one), the table is opened afresh, as before. A kept table that failed a write is dropped.
    """
    from deltalake import DeltaTable

    options = dict(storage_options) if storage_options else None
    keeper, lock = kept(uri)
    if options or local_path(uri) is None or not lock.acquire(blocking=False):
        yield DeltaTable(uri, storage_options=options) if table_exists(uri, options) else None
        return
    try:
        table = keeper.refreshed()
        yield table
        if table is not None:
            keeper.remember()  # after a commit made through it: its new version
    except BaseException:
        keeper.forget()
        raise
    finally:
        lock.release()


def _txn(write_id: WriteId) -> tuple[str, int]:
    return (write_id, 0) if isinstance(write_id, str) else (str(write_id[0]), int(write_id[1]))


def _applied(dt: object, app_id: str, version: int) -> bool:
    applied = dt.transaction_version(app_id)  # type: ignore[attr-defined]
    return applied is not None and applied >= version


def _committed_version(target: object) -> int:
    """The version the write just made: a DeltaTable object that committed holds the snapshot
    of its own commit (not the newest, which a concurrent writer may have moved on), and a
    table this write created starts at version 0. The audit entry of the write names it, as the
    Spark writer's does, so both runners record the same entries."""
    return 0 if isinstance(target, str) else int(target.version())  # type: ignore[attr-defined]


def append_arrow(
    uri: str,
    table: pa.Table,
    write_id: WriteId,
    *,
    storage_options: Mapping[str, str] | None = None,
    add_columns: bool = False,
) -> bool:
    """Appends ``table`` in one commit unless ``write_id`` was already applied.

    ``add_columns``: columns ``table`` has and the table does not yet are added to the table
    (older rows read them as null); without it a schema difference fails the append.

    Returns:
        True when rows were committed, False for an idempotent retry.
    """
    from deltalake import (
        CommitProperties,
        DeltaTable,
        Transaction,
        WriterProperties,
        write_deltalake,
    )
    from deltalake.exceptions import CommitFailedError

    app_id, version = _txn(write_id)
    options = dict(storage_options) if storage_options else None
    with _newest(uri, storage_options) as newest:
        # The commit is made on the snapshot the id was checked on: a concurrent commit of the
        # same id after that snapshot fails delta-rs's conflict check instead of landing twice.
        target: str | DeltaTable = uri if newest is None else newest
        if newest is not None and _applied(newest, app_id, version):
            return False
        crash_point("ledger.append")
        commit = CommitProperties(app_transactions=[Transaction(app_id, version)])
        try:
            committed = None
            if _in_parts(uri, newest, table, options):
                committed = _append_in_parts(uri, newest, table, commit)
            else:
                write_deltalake(
                    target,
                    table,
                    mode="append",
                    schema_mode="merge" if add_columns else None,
                    storage_options=options,
                    writer_properties=WriterProperties(
                        max_row_group_size=ROWS_PER_ROW_GROUP, compression="SNAPPY"
                    ),
                    commit_properties=commit,
                )
        except Exception as exc:
            # Lost a race: to a commit of the same id (a retry that already landed) or to the
            # writer that created the table first. Anything else is re-raised.
            if not isinstance(exc, CommitFailedError) and "already exists" not in str(exc):
                raise
            if _applied(DeltaTable(uri, storage_options=options), app_id, version):
                return False
            raise
        if committed is None:  # before the kept table is free for others
            committed = _committed_version(target)
    notify_write(uri, "append", version=committed, rows=table.num_rows)
    return True


def _in_parts(uri: str, newest: Any, table: pa.Table, options: dict | None) -> bool:
    """Whether an append is written in parts on every core (:func:`_append_in_parts`): large
    enough, into a local folder, into a new table or a :func:`_plain` one with exactly the
    append's columns (adding columns is delta-rs's schema merge). A table another writer
    creates while the parts are written fails the append (nothing committed, files deleted):
    one writer per table is the lake's rule (the resources' writer locks), and a retry appends."""
    if table.num_rows < 2 * ROWS_PER_PART or (os.cpu_count() or 1) < 2:
        return False
    if options or local_path(uri) is None:
        return False
    return newest is None or _plain(newest, table.schema)


def _plain(newest: Any, schema: pa.Schema) -> bool:
    """Whether files can join the table as they are written: the table has exactly ``schema``'s
    columns, and nothing a writer must enforce or lay out (partitions, CHECK or NOT NULL
    constraints, generated columns, column mapping, writer features). delta-rs checks those on
    its own writes; the parts bypass its writer, so such a table keeps being written by it."""
    protocol, metadata = newest.protocol(), newest.metadata()
    table_schema = pa.schema(newest.schema().to_arrow())
    return (
        protocol.min_writer_version <= 2
        and not protocol.writer_features
        and not metadata.partition_columns
        and not any(key.startswith("delta.constraints.") for key in metadata.configuration)
        and metadata.configuration.get("delta.columnMapping.mode", "none") == "none"
        and all(f.nullable and not f.metadata for f in table_schema)
        and table_schema.equals(schema)
    )


def _append_in_parts(uri: str, newest: Any, table: pa.Table, commit: Any) -> int:
    """Writes ``table`` as one Parquet file per part, the parts on every core at once, and
    commits them in one Delta commit carrying ``commit``'s app transaction (creating the table
    when ``newest`` is None); returns the version committed. The files of a write that did not
    commit are deleted."""
    from deltalake import Schema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    root = local_path(uri)
    fs = pafs.LocalFileSystem()
    fs.create_dir(root, recursive=True)
    count = min(os.cpu_count() or 1, table.num_rows // ROWS_PER_PART)
    size = -(-table.num_rows // count)
    write = uuid.uuid4().hex
    names = [f"part-{n:05d}-{write}-c000.snappy.parquet" for n in range(count)]

    options = _parquet_options(table)

    def write_part(n: int) -> Any:
        pq.write_table(
            table.slice(n * size, size),
            f"{root}/{names[n]}",
            row_group_size=ROWS_PER_ROW_GROUP,
            compression="snappy",
            **options,
        )
        return written_file(fs, root, names[n])

    base = -1 if newest is None else int(newest.version())
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=count) as threads:
            files = list(threads.map(write_part, range(count)))
        adds = [AddAction(f.path, f.size, {}, f.modification_time, True, f.stats) for f in files]
        if newest is None:
            create_table_with_add_actions(
                uri, Schema.from_arrow(table.schema), adds, mode="error", commit_properties=commit
            )
        else:
            newest.create_write_transaction(
                adds, "append", newest.schema(), commit_properties=commit
            )
    except BaseException:
        if not _may_be_committed(root, base + 1, names[0]):
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{root}/{name}")
        raise
    if newest is not None:
        # The kept table's snapshot takes in its own commit; failing that, the commit stands
        # and the kept table catches up when it is next used.
        with contextlib.suppress(Exception):
            newest.update_incremental()
    version = _version_adding(root, base + 1, names[0])
    if version is None:  # cannot happen after a commit that returned
        raise RuntimeError(f"the commit of {names[0]} is not in the log of {uri}")
    return version


#: Rows sampled by :func:`_parquet_options`, and the share of distinct values under which a
#: column is dictionary-encoded.
_SAMPLED_ROWS = ROWS_PER_ROW_GROUP
_DISTINCT_FOR_DICTIONARY = 1 / 8


def _parquet_options(table: pa.Table) -> dict[str, Any]:
    """Dictionary encoding for the columns whose values repeat (fewer distinct values than
    :data:`_DISTINCT_FOR_DICTIONARY` of the first rows: batch ids, file names, code values, a
    map's keys) and statistics for the top-level plain columns only (Delta skips files by
    those; nested ones it ignores). Parquet's default tries a dictionary on every column of
    every row group and falls back once it passes a megabyte: wasted on hashes, IDs and names.
    Measured on 500,000 rows: bronze 0.775 → 0.541 s (75 → 72 MB), pool 0.636 → 0.479 s."""
    sample = table.slice(0, _SAMPLED_ROWS)

    def repeats(values: pa.Array | pa.ChunkedArray) -> bool:
        return len(values) > 0 and len(pc.unique(values)) <= len(values) * _DISTINCT_FOR_DICTIONARY

    dictionary, plain = [], []
    for field in table.schema:
        kind = field.type
        if not pa.types.is_nested(kind):
            plain.append(field.name)
            if repeats(sample[field.name]):
                dictionary.append(field.name)
        elif pa.types.is_map(kind) and not pa.types.is_nested(kind.item_type):
            maps = sample[field.name].combine_chunks()
            dictionary += [
                f"{field.name}.key_value.{leaf}"
                for leaf, values in (("key", maps.keys), ("value", maps.items))
                if repeats(values)
            ]
    return {"use_dictionary": dictionary, "write_statistics": plain}


def _may_be_committed(root: str, first: int, name: str) -> bool:
    """Whether a commit from ``first`` on may add ``name``: True when the log says so or
    cannot be read (as the bridge's ``_commit_landed``: keeping files is safe, vacuum removes
    unreferenced ones; deleting a committed file would corrupt the table)."""
    try:
        return _version_adding(root, first, name) is not None
    except Exception:
        return True


def _version_adding(root: str, first: int, name: str) -> int | None:
    """The version from ``first`` on whose commit adds the file ``name``, or None. A commit's
    JSON names its files as they are: these names need no escaping."""
    version = first
    while True:
        try:
            with open(f"{root}/_delta_log/{version:020d}.json", encoding="utf-8") as commit:
                if f'"{name}"' in commit.read():
                    return version
        except FileNotFoundError:
            return None
        version += 1


T = TypeVar("T")

#: One lock per snapshot name: the service's threads write a snapshot one at a time.
_snapshot_locks: dict[str, threading.Lock] = {}
_snapshot_locks_guard = threading.Lock()


def _lost_race(exc: Exception) -> bool:
    from deltalake.exceptions import CommitFailedError

    return isinstance(exc, CommitFailedError | ConcurrentWriteError) or "already exists" in str(exc)


def write_snapshot_of(name: str, write: Callable[[], T], *, attempts: int = 5) -> T:
    """Runs ``write``, a snapshot that reads its rows from their source of truth (the workflow
    store) every time it runs, until it commits.

    Two decisions at the same instant each write the snapshot: in one process they take turns
    (a lock per ``name``); against another process's writer (the deadline task, a build) the
    loser of delta-rs's conflict check runs ``write`` again after a short random pause, so it
    reads the store and the lake anew and writes what the winner did not.
    """
    with _snapshot_locks_guard:
        lock = _snapshot_locks.setdefault(name, threading.Lock())
    with lock:
        for attempt in range(1, attempts):
            try:
                return write()
            except Exception as exc:
                if not _lost_race(exc):
                    raise
            time.sleep(random.uniform(0.02, 0.1) * attempt)
        return write()


def append_rows(
    uri: str,
    rows: Sequence[Mapping],
    schema: pa.Schema,
    write_id: WriteId,
    *,
    add_columns: bool = False,
) -> bool:
    """Appends Python rows (dicts keyed by the schema's column names)."""
    table = pa.Table.from_pylist(list(rows), schema=schema)
    return append_arrow(uri, table, write_id, add_columns=add_columns)


def table_version(uri: str, *, storage_options: Mapping[str, str] | None = None) -> int | None:
    """The table's newest version (its log only is read); None when there is no table."""
    from deltalake import DeltaTable

    if not table_exists(uri, storage_options):
        return None
    options = dict(storage_options) if storage_options else None
    return int(DeltaTable(uri, storage_options=options).version())


def read_rows(
    uri: str,
    filters: Sequence[tuple[str, str, object]] | None = None,
    columns: Sequence[str] | None = None,
    *,
    storage_options: Mapping[str, str] | None = None,
) -> list[dict]:
    """The rows of a small table as dicts (``[]`` when the table does not exist yet).

    Args:
        filters: delta-rs/pyarrow DNF conjunction, e.g. ``[("resource", "=", "hukou")]``.
    """
    table = read_arrow(uri, filters, columns, storage_options=storage_options)
    return [] if table is None else table.to_pylist()


def count_rows_by(
    uri: str,
    keys: Sequence[str],
    filters: Sequence[tuple[str, str, object]] | None = None,
    *,
    storage_options: Mapping[str, str] | None = None,
) -> dict[tuple, int]:
    """Rows per distinct value of ``keys`` (only those columns are read), ``{}`` without a table.

    The keys are read as dictionaries (their values once per chunk, not once per row): a
    table's batches and files are few, its rows many. The row accounting counts bronze, pool and
    quarantine on every promotion: for a city's hukou (a million rows in bronze and in pool),
    0.13-0.20 s read as texts in a warm process, 0.08-0.10 s as dictionaries.
    """
    table = read_arrow(uri, filters, keys, storage_options=storage_options, dictionaries=keys)
    if table is None or table.num_rows == 0:
        return {}
    # group_by needs one dictionary per column across the chunks (files) read
    counted = table.unify_dictionaries().group_by(list(keys)).aggregate([([], "count_all")])
    return {tuple(row[k] for k in keys): row["count_all"] for row in counted.to_pylist()}


def read_arrow(
    uri: str,
    filters: Sequence[tuple[str, str, object]] | None = None,
    columns: Sequence[str] | None = None,
    *,
    storage_options: Mapping[str, str] | None = None,
    dictionaries: Sequence[str] = (),
) -> pa.Table | None:
    """A table's rows as Arrow (None when the table does not exist yet); see :func:`read_rows`.

    ``dictionaries``: text columns read as dictionary arrays, each chunk's distinct values once
    (for columns of few values, such as a batch id: see :func:`count_rows_by`).
    """
    from pyarrow.parquet import filters_to_expression

    # A native pyarrow filesystem: delta-rs's default Python filesystem handler can abort the
    # interpreter at exit (a known delta-rs/pyarrow teardown issue, delta-rs #2184).
    fs, root = filesystem(uri)
    subtree = pafs.SubTreeFileSystem(root, fs)
    with _newest(uri, storage_options) as table:
        if table is None:
            return None
        schema, read_options = _read_as(table, dictionaries)
        if (
            filters
            and not table.metadata().partition_columns
            and table.protocol().min_reader_version == 1
        ):
            paths = _files_that_may_match(table, filters)
            dataset = _dataset_of(paths, subtree, schema, read_options)
        else:
            # delta-rs makes the columns the read options name dictionaries itself
            dataset = table.to_pyarrow_dataset(
                filesystem=subtree, parquet_read_options=read_options
            )
    # Read once the files are known: the table is free for its next user meanwhile.
    return dataset.to_table(
        columns=list(columns) if columns else None,
        filter=filters_to_expression(list(filters)) if filters else None,
    )


#: A string statistic this long may be a truncated prefix (Spark cuts them at 32 characters):
#: no upper bound, so it never rules a file out.
_TRUNCATED_STRING_STATISTIC = 32


def _files_that_may_match(table: object, filters: Sequence[tuple[str, str, object]]) -> list[str]:
    """The table's files (paths inside it, in the table's own order) that the log's statistics
    do not rule out for the filters' equality tests; a file without a statistic is kept.

    delta-rs's own skipping does this as it sets up every file of the table, which is most of
    a small read's cost once a governance table has gained a file per batch (a resource's rows
    of the demo's file log, 73 files: 56 ms, of which 24 ms when only its 5 files are set up);
    and it drops a file whose statistics leave out the filtered column (delta-rs 1.6), such as
    the audit log's files, which :mod:`jobs.lake.appends` writes with integer statistics only.
    """
    actions = pa.table(table.get_add_actions(flatten=True))  # type: ignore[attr-defined]
    keep = pa.array([True] * actions.num_rows, pa.bool_())
    for column, op, value in filters:
        low, high = f"min.{column}", f"max.{column}"
        if op not in ("=", "==") or value is None or low not in actions.column_names:
            continue
        if high not in actions.column_names:
            continue
        lows, highs = actions[low], actions[high]
        try:
            below = pc.fill_null(pc.less(value, lows), False)
            above = pc.fill_null(pc.greater(value, highs), False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
            continue  # a value the statistic cannot be compared with: no skipping
        if pa.types.is_string(highs.type) or pa.types.is_large_string(highs.type):
            maybe_cut = pc.fill_null(
                pc.greater_equal(pc.utf8_length(highs), _TRUNCATED_STRING_STATISTIC), True
            )
            above = pc.and_(above, pc.invert(maybe_cut))
        keep = pc.and_(keep, pc.invert(pc.or_(below, above)))
    return actions["path"].filter(keep).to_pylist()


def _read_as(table: object, dictionaries: Sequence[str]) -> tuple[pa.Schema, object]:
    """The schema a table's files are read with, ``dictionaries``' text columns as dictionary
    arrays, and the Parquet read options that decode them so."""
    import pyarrow.dataset as ds

    schema = pa.schema(table.schema().to_arrow())  # type: ignore[attr-defined]
    texts = [
        name
        for name in dictionaries
        if name in schema.names
        and (
            pa.types.is_string(schema.field(name).type)
            or pa.types.is_large_string(schema.field(name).type)
        )
    ]
    for name in texts:
        index = schema.get_field_index(name)
        field = schema.field(index)
        schema = schema.set(index, field.with_type(pa.dictionary(pa.int32(), field.type)))
    return schema, ds.ParquetReadOptions(dictionary_columns=texts)


def _dataset_of(
    paths: list[str],
    filesystem: pafs.FileSystem,
    schema: pa.Schema,
    read_options: object,
) -> object:
    """A pyarrow dataset of some of a table's files (paths inside it), read as delta-rs reads
    them (Parquet with pre-buffering), in ``schema`` with ``read_options`` (:func:`_read_as`)."""
    import pyarrow.dataset as ds

    file_format = ds.ParquetFileFormat(
        read_options=read_options,
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=True),
    )
    fragments = [file_format.make_fragment(path, filesystem=filesystem) for path in paths]
    return ds.FileSystemDataset(fragments, schema, file_format, filesystem)


def scan_arrow(
    uri: str,
    columns: Sequence[str],
    where: pc.Expression | None = None,
    *,
    storage_options: Mapping[str, str] | None = None,
) -> pa.Table | None:
    """Some columns of the rows matching ``where`` (a pyarrow expression), for row-level reads
    of any size (bronze, pool) in the task's own process; None when the table does not exist.

    Files are skipped by their Parquet row-group statistics, never by the Delta log's: the
    Delta bridge leaves out the maximum of a string over 32 characters (a file hash), and a
    delta-rs filter on such a column can silently return no rows at all.
    """
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    if not table_exists(uri, storage_options):
        return None
    options = dict(storage_options) if storage_options else None
    table = DeltaTable(uri, storage_options=options)
    schema = pa.schema(table.schema().to_arrow())
    if table.metadata().partition_columns:
        fs, root = filesystem(uri)
        dataset = table.to_pyarrow_dataset(filesystem=pafs.SubTreeFileSystem(root, fs))
    else:
        fs, _root = filesystem(uri)
        files = [f.split("://", 1)[1] if "://" in f else f for f in table.file_uris()]
        dataset = ds.dataset(files, schema=schema, format="parquet", filesystem=fs)
    return dataset.to_table(columns=list(columns), filter=where)


def overwrite_where(
    uri: str,
    table: pa.Table,
    predicate: str,
    *,
    storage_options: Mapping[str, str] | None = None,
    add_columns: bool = False,
) -> None:
    """Replaces the rows matching ``predicate`` (delta-rs SQL) with ``table`` in one commit
    (``add_columns`` as in :func:`append_arrow`)."""
    from deltalake import DeltaTable, write_deltalake

    options = dict(storage_options) if storage_options else None
    crash_point("ledger.overwrite")
    with _newest(uri, storage_options) as newest:
        target: str | DeltaTable = uri if newest is None else newest
        if newest is None:
            write_deltalake(uri, table, mode="append", storage_options=options)
        else:
            write_deltalake(
                target,
                table,
                mode="overwrite",
                predicate=predicate,
                schema_mode="merge" if add_columns else None,
                storage_options=options,
            )
        committed = _committed_version(target)
    notify_write(uri, "overwrite", version=committed, rows=table.num_rows, predicate=predicate)


def delete_where(
    uri: str, predicate: str, *, storage_options: Mapping[str, str] | None = None
) -> int:
    """Deletes the rows matching ``predicate`` (delta-rs SQL) in one commit; no commit when
    none match, so a retried delete adds nothing. Returns how many rows were deleted."""
    from deltalake import DeltaTable

    if not table_exists(uri, storage_options):
        return 0
    options = dict(storage_options) if storage_options else None
    crash_point("ledger.delete")
    target = DeltaTable(uri, storage_options=options)
    deleted = int(target.delete(predicate)["num_deleted_rows"])
    if deleted:
        notify_write(
            uri, "delete", version=_committed_version(target), rows=deleted, predicate=predicate
        )
    return deleted
