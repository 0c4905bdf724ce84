"""The base build at the lake's edge: pools in, base tables, conflicts and tickets out.

Entry point for the DAGs: :func:`build_bases`. It reads every department pool, rebuilds every
base from all observations with :func:`jobs.integrate.pipeline.integrate` (a full rebuild: the
same pools always give the same bases, whether they were loaded in one go or batch by batch),
brings the verification tickets (校核) in line with the issues found, and writes:

  base/attribute_observations   one row per (pool row, subject, element): every department's value
                                (the marriage registry's marital status: one per person's latest
                                registration, population.marital_status_observations)
  base/attribute_values         one row per (key kind, key, element): the survivor + provenance
  base/population               one row per natural person (citizen ID)
  base/legal_entity             one row per legal entity (USCC)
  base/parcel                   one row per parcel (parcel code)
  base/real_estate_unit         one row per real-estate unit (unit number)
  base/standard_address         one row per standard address (address code)
  base/e_licence                one row per (licence type, licence number)
  base/links                    one row per cross-link (relation, from key, to key)
  governance/conflicts          one row per conflict or anomaly found by this build
  governance/verification_tickets, governance/ticket_events   (jobs.govern.tickets)
  governance/base_builds        one row per build: inputs, counts, outcome

Every base row carries ``disputed_elements``: the elements with an open verification ticket
(异议) when the build ran; the row stays usable. Between builds the marks follow the tickets in
``governance/disputed_marks`` (:mod:`jobs.govern.ticket_snapshot`). The corrections departments
made answering tickets (the store's, :func:`jobs.govern.tickets.read_corrections`) are their
observations (:mod:`jobs.integrate.corrections`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.catalog.models import Catalog
from jobs.govern import tickets as ticketing
from jobs.integrate.config import Jurisdiction, load_integration_config
from jobs.integrate.core import OBSERVATIONS, VALUES, core_tasks_for
from jobs.integrate.pipeline import integrate
from jobs.lake import files, ledger, tables
from jobs.lake.crash import crash_point
from jobs.lake.registry import (
    ATTRIBUTE_OBSERVATIONS,
    ATTRIBUTE_VALUES,
    BASE_BUILDS,
    BASE_KEYS,
    BASE_TABLES,
    CONFLICTS,
    LINKS,
    POOL,
    QUARANTINE,
    LakeTable,
)
from jobs.quality import gates
from jobs.settings import Settings
from jobs.spark import get_spark

log = logging.getLogger(__name__)


BUILDS_SCHEMA = pa.schema(
    [
        ("build_id", pa.string()),
        ("inputs_key", pa.string()),
        ("as_of", pa.date32()),
        ("pool_versions", pa.string()),
        ("tickets_version", pa.int64()),
        ("counts", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
    ]
)


def _nullable_type(data_type: T.DataType) -> T.DataType:
    if isinstance(data_type, T.StructType):
        return T.StructType(
            [T.StructField(f.name, _nullable_type(f.dataType), True) for f in data_type.fields]
        )
    if isinstance(data_type, T.ArrayType):
        return T.ArrayType(_nullable_type(data_type.elementType), True)
    if isinstance(data_type, T.MapType):
        return T.MapType(data_type.keyType, _nullable_type(data_type.valueType), True)
    return data_type


def with_nullable_fields(df: DataFrame) -> DataFrame:
    """Every nested field nullable: a NULL struct (an attribute no source states) must be
    writable even where Spark knows a field inside it is never NULL when the struct is set."""
    return df.select(
        *[F.col(f"`{f.name}`").cast(_nullable_type(f.dataType)).alias(f.name) for f in df.schema]
    )


def with_disputed(base_df: DataFrame, disputed_df: DataFrame, base: str) -> DataFrame:
    """Adds ``disputed_elements`` (sorted; empty when nothing is disputed) to a base table.

    Args:
        disputed_df: ``base, base_key, element`` of every open ticket's marks.
    """
    key_column = BASE_KEYS[base]
    marks = (
        disputed_df.where(F.col("base") == base)
        .groupBy(F.col("base_key").alias(key_column))
        .agg(F.array_sort(F.collect_set("element")).alias("disputed_elements"))
    )
    return base_df.join(marks, key_column, "left").withColumn(
        "disputed_elements",
        F.coalesce(F.col("disputed_elements"), F.array().cast("array<string>")),
    )


def read_pools(
    spark: SparkSession,
    settings: Settings,
    catalog: Catalog,
    table: LakeTable = POOL,
    *,
    exclude_batches: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, DataFrame], dict[str, int]]:
    """Every pool (or quarantine: ``table``) table that exists, and its Delta version (for the
    build's inputs key); ``exclude_batches`` (resource id → batch ids,
    :func:`gates.held_batches`) leaves the batches the quality gate holds out."""
    pools: dict[str, DataFrame] = {}
    versions: dict[str, int] = {}
    for resource in catalog.resources.values():
        uri = table.uri(settings, resource.department, resource.resource)
        if not tables.table_exists(uri):
            continue
        df = tables.read_table(spark, uri)
        pools[resource.id] = gates.without_held_batches(
            df, (table.layer, resource.department, resource.resource), exclude_batches or {}
        )
        versions[resource.id] = int(tables.history(uri, limit=1)[0]["version"])
    return pools, versions


def _last_build(settings: Settings) -> dict[str, Any] | None:
    rows = ledger.read_rows(BASE_BUILDS.uri(settings))
    return max(rows, key=lambda r: r["finished_at"]) if rows else None


def build_bases(
    settings: Settings,
    spark: SparkSession | None = None,
    *,
    as_of: dt.date | None = None,
    jurisdiction: Jurisdiction | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Builds every base table, the conflicts and the verification tickets (see module doc).

    Idempotent: when neither the pools, the configuration, ``as_of`` nor the tickets changed
    since the last build, nothing is recomputed or written (``skipped``); a retried write with
    the same inputs commits nothing twice.

    Args:
        settings: effective settings; its clock dates the build and the tickets (today in the
            bureau's time zone).
        spark: the Spark session; created from ``settings`` when omitted.
        as_of: the day statuses are derived for (default: the bureau's today).
        jurisdiction: override ``schemas/jurisdiction.yaml`` (a generated city's boundary).
        force: rebuild even when the inputs are unchanged.

    Returns:
        a JSON-serialisable summary: build id, row counts per table, ticket events.
    """
    if spark is None:
        spark = get_spark(settings)
    now, today = settings.now(), settings.today()
    as_of = as_of or today
    config = load_integration_config(settings, jurisdiction=jurisdiction)
    held = gates.held_batches(settings)
    pools, versions = read_pools(spark, settings, config.catalog, exclude_batches=held)
    quarantines, quarantine_versions = read_pools(spark, settings, config.catalog, QUARANTINE)
    inputs_key = hashlib.sha256(
        json.dumps(
            {
                "pools": versions,
                # Releasing a held batch changes no pool version, but changes the inputs.
                "held": held,
                "quarantine": quarantine_versions,
                "config": config.fingerprint,
                "as_of": as_of.isoformat(),
                "profile": settings.policy_profile,
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:20]
    last = _last_build(settings)
    if (
        not force
        and last is not None
        and last["inputs_key"] == inputs_key
        and last["tickets_version"] == ticketing.tickets_version(settings)
    ):
        log.info("bases are up to date with build %s", last["build_id"])
        return {"skipped": True, "build_id": last["build_id"], "inputs_key": inputs_key}

    build_id = f"{today.isoformat()}-{inputs_key[:12]}"
    corrections = ticketing.read_corrections(settings)
    with _core_scratch(settings, build_id) as scratch:
        pool_rows = sum(
            tables.row_count(POOL.uri(settings, *resource_id.split(".", 1)))
            for resource_id in pools
        )
        bases = integrate(
            pools,
            config,
            as_of,
            spark,
            scratch=scratch,
            quarantines=quarantines,
            corrections=spark.createDataFrame(corrections) if corrections.num_rows else None,
            lanes=settings.integrate_lanes,
            core_tasks=core_tasks_for(pool_rows, settings.shuffle_partitions),
        )
        # Issues are few (thousands at a million persons): collected once, as Arrow, for the
        # tickets and the conflicts table, instead of recomputing them from the bases.
        issues_arrow = bases.issues.toArrow()
        issues = issues_arrow.to_pylist()
        synced = ticketing.sync_tickets(issues, settings, build_id=build_id, today=today, now=now)
        open_ids = set(synced["open_ticket_ids"])
        marks = [
            {"base": m["base"], "base_key": m["base_key"], "element": m["element"]}
            for m in synced["marks"]
        ]
        disputed = spark.createDataFrame(marks, "base string, base_key string, element string")
        # The same inputs with other open tickets (a steward confirmed one) write other disputed
        # marks: the write id names both, so only a true retry is skipped.
        marks_key = hashlib.sha256(
            json.dumps(sorted(tuple(m.values()) for m in marks)).encode()
        ).hexdigest()[:12]

        counts: dict[str, int] = {}

        def write(table: LakeTable, df: DataFrame, core_files: list[str] | None = None) -> None:
            result = tables.write_table(
                with_nullable_fields(df),
                table.uri(settings),
                mode="overwrite",
                write_id=(f"govlake.build.{table.layer}.{table.name}.{inputs_key}.{marks_key}", 0),
                # Spark's own Parquet writer where the write is plain: 59 s less than the bridge for
                # the city's bases (1M persons). Its apparent 3 GB more memory was the JVM counted
                # twice by the benchmark's sampler (see bench.bench_bridge.PeakMemory).
                spark_parquet=True,
                # The core's task files hold the observations and values: moved in, not rewritten.
                parquet_files=core_files,
            )
            # A write an earlier, stopped attempt of this build already committed is skipped and
            # writes no rows: the build record counts the table's rows all the same.
            counts[table.name] = tables.row_count(result.uri) if result.skipped else result.rows

        for base_table in BASE_TABLES:
            name = base_table.name
            write(base_table, with_disputed(bases.base(name), disputed, name))
        write(LINKS, bases.links)
        # Last: the bases above read the values' files, which these writes move into the tables.
        crash_point("build.core_files_written")
        write(ATTRIBUTE_OBSERVATIONS, bases.observations, bases.core.files[OBSERVATIONS])
        write(ATTRIBUTE_VALUES, bases.values, bases.core.files[VALUES])
        counts["conflicts"] = _write_conflicts(settings, issues_arrow, synced["states"], build_id)
        # The local checkpoints of integrate() are freed by Spark's context cleaner once ``bases``
        # is garbage collected; the core's scratch folder by build_bases.
        finished = settings.now()
        ledger.append_rows(
            BASE_BUILDS.uri(settings),
            [
                {
                    "build_id": build_id,
                    "inputs_key": inputs_key,
                    "as_of": as_of,
                    "pool_versions": json.dumps(versions, sort_keys=True),
                    "tickets_version": ticketing.tickets_version(settings),
                    "counts": json.dumps(counts, sort_keys=True),
                    "started_at": now,
                    "finished_at": finished,
                }
            ],
            BUILDS_SCHEMA,
            write_id=f"base_builds/{build_id}/{now.isoformat()}",
        )
        by_type: dict[str, int] = {}
        for issue in issues:
            topic = issue["rule"] or f"conflict:{issue['element']}"
            by_type[topic] = by_type.get(topic, 0) + 1
        return {
            "skipped": False,
            "build_id": build_id,
            "as_of": as_of.isoformat(),
            "pools": sorted(pools),
            "rows": counts,
            "issues": dict(sorted(by_type.items())),
            "tickets": synced["events"],
            "open_tickets": len(open_ids),
        }


@contextlib.contextmanager
def _core_scratch(settings: Settings, build_id: str) -> Iterator[str]:
    """Where the integration core's tasks write their files while the build runs: inside the
    lake, so that the observations' and values' files move into their tables without a copy (a
    folder of its own for a lake in an object store). Removed before (a stopped attempt of the
    same build may have left files) and after."""
    scratch = files.scratch_folder(settings, "integrate_core", build_id)
    files.remove_tree(scratch)
    try:
        yield scratch
    finally:
        files.remove_tree(scratch)


def _write_conflicts(
    settings: Settings, issues: pa.Table, states: Mapping[str, str], build_id: str
) -> int:
    """``governance/conflicts``: this build's issues with their ticket state (delta-rs; a MERGE
    that deletes the issues no longer found, so the table is always the latest build's)."""
    ticket_states = pa.array(
        [states.get(i) for i in issues.column("issue_id").to_pylist()], pa.string()
    )
    table = issues.append_column("ticket_state", ticket_states).append_column(
        "build_id", pa.array([build_id] * issues.num_rows, pa.string())
    )
    uri = CONFLICTS.uri(settings)
    if not tables.table_exists(uri):
        ledger.append_arrow(uri, table, write_id=f"conflicts/{build_id}")
    else:
        tables.merge(uri, table, ["issue_id"], delete_unmatched=True)
    return table.num_rows
