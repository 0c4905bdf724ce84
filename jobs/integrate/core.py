"""The integration core inside Spark's tasks: statement rows in, the core's tables as files out.

Spark reads the pools and shuffles each pool row's statements about a subject by the subject's
key, unexploded (5.9M rows with the member rows at a million persons, where the observations
are 17M). Every task
runs the core's DuckDB SQL (:mod:`jobs.integrate.core_sql`) on its keys' rows — all statements
about a key are in one task — and writes its part of each table as a Parquet file into a scratch
folder. The driver reads the files as DataFrames (the bases and the rules read them), and the
build moves the observations' and attribute values' files into their Delta tables instead of
writing them again (``tables.write_table``'s ``parquet_files``).

Nothing is exploded, sorted or kept in the JVM, and no result row crosses back into it: at a
million persons the core took 64.7 s against the DuckDB reference's 50.2 s (session 19), where
the Spark survivorship it replaced took 142 s and then 20-25 s more to write the values. Spark still reads, shuffles and distributes: on a cluster its executors run the
tasks, and the scratch folder must then be one they and the driver share.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from jobs.frames import union_all
from jobs.integrate.config import IntegrationConfig
from jobs.integrate.core_sql import (
    MEMBER_PREFIX,
    SHIPPED_STATEMENT_ROWS_SCHEMA,
    STATEMENT_ROWS_SCHEMA,
    core_on_statements,
    statement_queries,
)
from jobs.integrate.corrections import correction_statement_rows
from jobs.integrate.observations import member_keys, statement_rows_from_pools, statement_rows_of
from jobs.lake.files import local_path

#: Pool rows per task: each task's DuckDB holds its keys' statement rows, their observations and
#: windows. At a million persons (3.4M pool rows) 8 tasks took 68-80 s and peaked at 5.6-6.1 GB
#: (the process tree), 32 took 60-62 s at 3.3-3.7 GB, 64 63.5 s at 3.2 GB (session 18).
POOL_ROWS_PER_TASK = 100_000

#: The tables the build takes from the core, besides a table of rows per base.
OBSERVATIONS, VALUES = "observations", "attribute_values"


def core_tasks_for(pool_rows: int, shuffle_partitions: int) -> int:
    """Tasks for :func:`run_core`: one per :data:`POOL_ROWS_PER_TASK` pool rows, at least the
    session's shuffle partitions."""
    return max(shuffle_partitions, -(-pool_rows // POOL_ROWS_PER_TASK))


def statement_rows_for(
    pools: Mapping[str, DataFrame],
    config: IntegrationConfig,
    bases: Sequence[str],
    *,
    observed: Sequence[DataFrame] = (),
    corrections: DataFrame | None = None,
) -> DataFrame | None:
    """Every statement the core reads (``core_sql.STATEMENT_ROWS_SCHEMA``), or None when there
    are none: the pools' statement rows, statements that come as observations (``observed``:
    the marriage registry's marital status), the departments' corrections, and a row per member
    key of each of ``bases`` that states nothing (``resource`` ``member:<base>``)."""
    parts = [statement_rows_from_pools(pools, config)]
    parts += [statement_rows_of(df) for df in observed]
    if corrections is not None:
        parts.append(correction_statement_rows(corrections))
    for base in bases:
        parts += [
            _member_rows(keys, config.bases[base].key_kind, base)
            for keys in member_keys(pools, config, base)
        ]
    parts = [p for p in parts if p is not None]
    return union_all(parts) if parts else None


_STATEMENT_ROWS_TYPE = from_arrow_schema(STATEMENT_ROWS_SCHEMA)
#: What each task reports: a row per file it wrote.
_WRITTEN_FILES = pa.schema([("table", pa.string()), ("path", pa.string()), ("rows", pa.int64())])


def _member_rows(keys: DataFrame, key_kind: str, base: str) -> DataFrame:
    """A statement row per member key that states nothing, every column typed: members may be
    all there is (no pool states an attribute yet)."""
    named = {
        "key_kind": F.lit(key_kind),
        "key": F.col("key"),
        "resource": F.lit(f"{MEMBER_PREFIX}{base}"),
    }
    return keys.select(
        *[
            named.get(f.name, F.lit(None).cast(f.dataType)).alias(f.name)
            for f in _STATEMENT_ROWS_TYPE
        ]
    )


@dataclass(frozen=True)
class CoreOutput:
    """The core's tables: each as a DataFrame reading its task files, and the files."""

    frames: dict[str, DataFrame]
    #: table → the Parquet files holding its rows (absolute paths; files of no rows left out)
    files: dict[str, list[str]]
    #: table → its rows, as the tasks counted them
    rows: dict[str, int]


def run_core(
    statement_rows: DataFrame | None,
    config: IntegrationConfig,
    spark: SparkSession,
    scratch: str,
    *,
    bases: Sequence[str],
    tasks: int,
    observations: bool = True,
    conflicts: bool = False,
) -> CoreOutput:
    """Runs the core's SQL in Spark's tasks on ``statement_rows`` (:func:`statement_rows_for`),
    the rows shuffled by key into ``tasks`` tasks.

    Makes ``observations`` (as ``base/attribute_observations``; unless ``observations`` is
    false), ``attribute_values``, a table of rows per base in ``bases`` and, with
    ``conflicts``, ``conflicts``. Every task writes its
    part of each table as ``<scratch>/<table>/part-<task>.parquet``: a retried task replaces its
    own files (written under a temporary name first, then renamed). The returned DataFrames read
    the files; the caller removes ``scratch`` when done with them.

    Args:
        scratch: a local folder (created if missing) that every executor and the driver see.
        tasks: how many tasks (:func:`core_tasks_for`).

    Raises:
        ValueError: ``tasks`` is less than 1, or ``scratch`` is not a local folder.
    """
    if tasks < 1:
        raise ValueError(f"tasks must be at least 1, got {tasks}")
    local = local_path(scratch)
    if local is None:
        raise ValueError(f"the core's scratch folder must be a local folder, not {scratch!r}")
    scratch = os.path.abspath(local)
    names = (
        *((OBSERVATIONS,) if observations else ()),
        VALUES,
        *bases,
        *(("conflicts",) if conflicts else ()),
    )
    queries = statement_queries(config, bases, conflicts=conflicts)
    timezone = spark.conf.get("spark.sql.session.timeZone")
    # The tables' schemas, from the queries on no rows: a table no task writes is still typed.
    schemas = {
        name: table.schema
        for name, table in core_on_statements(
            STATEMENT_ROWS_SCHEMA.empty_table(), queries, timezone, names
        ).items()
    }
    for name in names:
        os.makedirs(f"{scratch}/{name}", exist_ok=True)

    def run_tasks_core(batches):  # type: ignore[no-untyped-def]  (Spark's iterator of batches)
        from pyspark import TaskContext

        batches = list(batches)
        if not batches:
            return
        tables_of_keys = core_on_statements(
            pa.Table.from_batches(batches).cast(SHIPPED_STATEMENT_ROWS_SCHEMA),
            queries,
            timezone,
            names,
        )
        file = f"part-{TaskContext.get().partitionId():05d}.parquet"
        written = []
        for name, table in tables_of_keys.items():
            if not table.num_rows:
                continue
            path = f"{scratch}/{name}/{file}"
            # Renamed into place whole: a file of the task's name is always a finished one.
            temporary = f"{path}.{uuid.uuid4().hex}.tmp"
            pq.write_table(table, temporary, compression="snappy")
            os.replace(temporary, path)
            written.append({"table": name, "path": path, "rows": table.num_rows})
        yield pa.RecordBatch.from_pylist(written, _WRITTEN_FILES)

    written = []
    if statement_rows is not None:
        shipped = statement_rows.select(*STATEMENT_ROWS_SCHEMA.names).withColumn(
            # Statements without a value state nothing: left out before the shuffle.
            "statements",
            F.to_json(F.filter("statements", lambda s: s["value"].isNotNull())),
        )
        written = (
            shipped.repartition(tasks, F.xxhash64("key"))
            .mapInArrow(run_tasks_core, from_arrow_schema(_WRITTEN_FILES))
            .collect()
        )
    files = {name: sorted(w["path"] for w in written if w["table"] == name) for name in names}
    rows = {name: sum(w["rows"] for w in written if w["table"] == name) for name in names}
    frames = {}
    for name in names:
        schema = from_arrow_schema(schemas[name])
        frames[name] = (
            spark.read.schema(schema).parquet(*files[name])
            if files[name]
            else spark.createDataFrame([], schema)
        )
    return CoreOutput(frames=frames, files=files, rows=rows)


__all__ = [
    "OBSERVATIONS",
    "POOL_ROWS_PER_TASK",
    "VALUES",
    "CoreOutput",
    "core_tasks_for",
    "run_core",
    "statement_rows_for",
]
