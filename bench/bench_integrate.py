"""Benchmark of the base-database integration, with DuckDB SQL over the same pools as reference.

Pool tables for a county of N persons are generated with Spark expressions (no Python UDFs) and
written through the Delta bridge to a temporary lake: hukou (every person), social insurance
(40 %, two insurance types each), driving licences (30 %), students (15 %), marriages (a third
of the persons, in pairs), death certificates, enterprises / taxpayers / business licences
(one per 40 persons), real-estate units, parcels (GeoJSON squares on a grid) and standard
addresses. About one record in a thousand of the non-authoritative sources states another name,
birth date or gender, a few entities are deregistered at market regulation and normal at tax,
a few parcels overlap: the integration has real work to do.

Measured (wall seconds and CPU seconds of this process, the JVM and its workers):

* ``spark_core_s``: the integration core as the build runs it (:mod:`jobs.integrate.core`):
  Spark shuffles every pool row's statements about a subject by the subject's key, unexploded,
  and each task runs the core's SQL (attribute observations → survivorship: authority →
  recency → frequency → ``attribute_values``, the population and legal-entity base rows, the
  value conflicts) on its keys' rows and writes its part of each table as a Parquet file
  (``spark_tasks_s``); the files are then moved into Delta tables (``spark_commit_s``);
* ``duckdb_core_s``: the same core as DuckDB SQL (generated from the same configuration, by the
  same plan) over the same pool Parquet files, the same four tables column for column, each
  written as Parquet: the reference; ``ratio`` = spark / duckdb;
* ``build_bases_s``: the whole build as the DAG runs it (every base, parcel geometry with shapely,
  e-licences, links, all rules, tickets, writes) — no DuckDB counterpart (DuckDB's spatial
  extension is not installed here);
* ``*_peak_mb``: resident memory of this process and its children (the JVM, Python workers)
  during the core and during the build;
* ``same_tables``: whether DuckDB and Spark wrote the same rows, every column (values,
  provenance, survival reasons, losing values; typed base rows with provenance; conflict issue
  rows with their ids and hashes); ``different_<table>`` counts the rows only one of them wrote.

``--quick`` measures 20,000 persons. Run alone with ``python -m bench.bench_integrate``
(``--persons N`` for another size; ``--core-only`` leaves out the whole build).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import duckdb
import psutil
from deltalake import DeltaTable
from pyspark.sql import functions as F

from bench.bench_bridge import PeakMemory
from bench.common import settings_under
from jobs.catalog.models import Catalog
from jobs.integrate.build import build_bases, read_pools
from jobs.integrate.config import load_integration_config
from jobs.integrate.core import core_tasks_for, run_core, statement_rows_for
from jobs.integrate.core_sql import (
    ATTRIBUTE_VALUES_SQL,
    CORE_BASES,
    CORE_TABLES,
    base_rows_sql,
    conflicts_sql,
    sql_list,
)
from jobs.integrate.observations import attribute_elements
from jobs.integrate.pipeline import empty_pool
from jobs.integrate.survivorship import authority_triples
from jobs.lake import tables
from jobs.lake.paths import table_uri
from jobs.settings import Settings, pinned_clock
from jobs.spark import get_spark

QUICK_SIZES = (20_000,)
FULL_SIZES = (1_000_000,)
FULL = "20250101T000000_full"
INGESTED_AT = dt.datetime(2025, 1, 2, 2, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2025, 1, 29)
#: Noon of AS_OF in Beijing time (UTC+8), when the benchmark's builds run.
BUILT_AT = dt.datetime(2025, 1, 29, 4, 0, tzinfo=dt.UTC)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its children (JVM, Python workers)."""
    total = 0.0
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


# --- generated pools ----------------------------------------------------------------------------


def _shaped(df: Any, schema: Any, resource: str, department: str) -> Any:
    """``df`` in the pool schema: given columns cast, the others NULL, lineage filled."""
    lineage = {
        "department": F.lit(department),
        "resource": F.lit(resource),
        "batch_id": F.lit(FULL),
        "source_file": F.lit(f"{resource}_{FULL}.csv"),
        "file_hash": F.lit("bench"),
        "row_number": F.monotonically_increasing_id() + 1,
        "record_hash": F.lit(None),
        "ingested_at": F.lit(INGESTED_AT),
    }
    columns = []
    for field in schema.fields:
        if field.name in df.columns:
            value = F.col(field.name)
        elif field.name in lineage:
            value = lineage[field.name]
        else:
            value = F.lit(None)
        columns.append(value.cast(field.dataType).alias(field.name))
    return df.select(*columns)


def county_pools(spark: Any, catalog: Catalog, persons: int) -> dict[str, Any]:
    """Pool DataFrames of a generated county (see the module docstring)."""
    i = F.col("id")
    born = F.date_add(F.lit(dt.date(1940, 1, 1)), ((i * 7919) % 30000).cast("int"))
    sequence = (F.floor(i / 30000) % 1000).cast("long")

    def person_id(index: Any) -> Any:
        b = F.date_add(F.lit(dt.date(1940, 1, 1)), ((index * 7919) % 30000).cast("int"))
        s = (F.floor(index / 30000) % 1000).cast("long")
        return F.concat(
            F.lit("410622"),
            F.date_format(b, "yyyyMMdd"),
            F.lpad(s.cast("string"), 3, "0"),
            F.substring(F.lit("10X98765432"), ((index % 11) + 1).cast("int"), 1),
        )

    gender = F.when(sequence % 2 == 1, "1").otherwise("2")
    name = F.concat(F.lit("居民"), i.cast("string"))
    people = spark.range(persons).select(
        "id",
        person_id(i).alias("person_id"),
        name.alias("full_name"),
        gender.alias("gender"),
        born.alias("birth_date"),
    )
    entities = max(persons // 40, 10)

    def uscc(index: Any) -> Any:
        return F.concat(F.lit("91410622"), F.lpad(index.cast("string"), 9, "0"), F.lit("X"))

    def other(value: Any, every: int, suffix: str) -> Any:
        """About one row in ``every`` states another value."""
        return F.when(i % every == 0, F.concat(value, F.lit(suffix))).otherwise(value)

    pools = {
        "gaj.hukou": people.select(
            "person_id",
            "full_name",
            "gender",
            "birth_date",
            F.lit("01").alias("ethnicity"),
            F.concat(F.lit("H"), (i / 3).cast("long").cast("string")).alias("household_id"),
            F.concat(F.lit("河南省鹤壁市淇县幸福路"), i.cast("string"), F.lit("号")).alias(
                "domicile_address"
            ),
            F.lit("410622").alias("domicile_region"),
            F.lit("normal").alias("status"),
        ),
        "rsj.insured": people.where(i % 5 < 2)
        .select("*", F.explode(F.array(F.lit("pension"), F.lit("medical"))).alias("insurance_type"))
        .select(
            "person_id",
            other(F.col("full_name"), 997, "甲").alias("full_name"),
            "gender",
            "birth_date",
            "insurance_type",
            uscc(i % entities).alias("employer_uscc"),
            F.lit("active").alias("insurance_status"),
        ),
        "gaj.driving_licence": people.where(i % 10 < 3).select(
            "person_id",
            "full_name",
            "gender",
            F.when(i % 1009 == 0, F.date_add("birth_date", 1))
            .otherwise(F.col("birth_date"))
            .alias("birth_date"),
            F.concat(F.lit("L"), i.cast("string")).alias("file_number"),
            F.lit("C1").alias("driving_class"),
            F.lit(dt.date(2020, 1, 1)).alias("issued_on"),
            F.lit(dt.date(2020, 1, 1)).alias("valid_from"),
            F.lit(dt.date(2030, 1, 1)).alias("valid_to"),
            F.lit("valid").alias("licence_status"),
        ),
        "jyj.student": people.where(i % 20 < 3).select(
            "person_id",
            "full_name",
            F.when(i % 1013 == 0, F.when(F.col("gender") == "1", "2").otherwise("1"))
            .otherwise(F.col("gender"))
            .alias("gender"),
            "birth_date",
            F.concat(F.lit("G"), F.col("person_id")).alias("student_number"),
            F.lit("enrolled").alias("student_status"),
        ),
        "wjw.death_cert": people.where(i % 150 == 0).select(
            F.concat(F.lit("D"), i.cast("string")).alias("certificate_number"),
            "person_id",
            "full_name",
            F.lit(dt.date(2024, 6, 1)).alias("death_date"),
            F.lit(dt.date(2024, 6, 2)).alias("issued_on"),
        ),
        "mzj.marriage": spark.range(persons // 2)
        .where(F.col("id") % 3 == 0)
        .select(
            F.concat(F.lit("J"), F.col("id").cast("string")).alias("registration_number"),
            F.lit("marriage").alias("registration_type"),
            F.lit(dt.date(2015, 5, 1)).alias("registered_on"),
            person_id(F.col("id") * 2).alias("male_id"),
            F.concat(F.lit("居民"), (F.col("id") * 2).cast("string")).alias("male_name"),
            person_id(F.col("id") * 2 + 1).alias("female_id"),
            F.concat(F.lit("居民"), (F.col("id") * 2 + 1).cast("string")).alias("female_name"),
        ),
    }
    firms = spark.range(entities).select(
        "id",
        uscc(i).alias("uscc"),
        F.concat(F.lit("淇县企业"), i.cast("string"), F.lit("有限公司")).alias("entity_name"),
        person_id((i * 37) % persons).alias("legal_representative_id"),
        F.concat(F.lit("居民"), ((i * 37) % persons).cast("string")).alias(
            "legal_representative_name"
        ),
    )
    pools["scjgj.enterprise"] = firms.select(
        "uscc",
        "entity_name",
        F.lit("有限责任公司").alias("entity_type"),
        "legal_representative_name",
        "legal_representative_id",
        F.when(i % 100 == 0, "deregistered").otherwise("active").alias("entity_status"),
        F.lit(dt.date(2010, 1, 1)).alias("established_on"),
        F.lit("410622").alias("region_code"),
    )
    pools["swj.taxpayer"] = firms.select(
        "uscc",
        other(F.col("entity_name"), 211, "分公司").alias("entity_name"),
        "legal_representative_name",
        F.lit("一般纳税人").alias("taxpayer_type"),
        F.lit("normal").alias("tax_status"),
    )
    pools["scjgj.business_licence"] = firms.select(
        "uscc",
        "entity_name",
        "legal_representative_name",
        F.lit(dt.date(2010, 1, 1)).alias("issued_on"),
        F.lit(dt.date(2010, 1, 1)).alias("valid_from"),
        F.lit("valid").alias("licence_status"),
    )
    parcels = max(persons // 4, 10)
    side, step, columns = 0.0003, 0.0004, 600
    x0 = F.lit(114.07) + (i % columns) * step
    y0 = F.lit(35.51) + F.floor(i / columns) * step
    x1 = x0 + F.when(i % 997 == 0, side + 0.0002).otherwise(side)  # stretched over its neighbour
    y1 = y0 + side
    ring = F.format_string(
        '{"type":"Polygon","coordinates":[[[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f]]]}',
        x0,
        y0,
        x1,
        y0,
        x1,
        y1,
        x0,
        y1,
        x0,
        y0,
    )

    def parcel_code(index: Any) -> Any:
        return F.concat(
            F.lit("410622"),
            F.lpad((index / 100000).cast("long").cast("string"), 3, "0"),
            F.lit("001JC"),
            F.lpad((index % 100000).cast("string"), 5, "0"),
        )

    pools["zrzyj.parcel"] = spark.range(parcels).select(
        parcel_code(i).alias("parcel_code"),
        F.lit("0702").alias("land_use"),
        F.lit(900).alias("land_area"),
        F.lit("410622").alias("region_code"),
        ring.alias("geometry"),
    )
    units = int(persons * 0.35)
    pools["zrzyj.real_estate"] = spark.range(units).select(
        F.concat(
            parcel_code(i % parcels),
            F.lit("F0001"),
            F.lpad((i / parcels + 1).cast("long").cast("string"), 4, "0"),
        ).alias("unit_number"),
        F.concat(F.lit("豫(2024)淇县不动产权第"), i.cast("string"), F.lit("号")).alias(
            "certificate_number"
        ),
        person_id((i * 3) % persons).alias("owner_id"),
        F.lit("citizen_id").alias("owner_id_kind"),
        F.concat(F.lit("居民"), ((i * 3) % persons).cast("string")).alias("owner_name"),
        F.lit("person").alias("owner_type"),
        F.lit("国有建设用地使用权/房屋所有权").alias("rights_type"),
        F.concat(F.lit("河南省鹤壁市淇县幸福路"), i.cast("string"), F.lit("号")).alias("address"),
        F.lit(dt.date(2020, 1, 1)).alias("registered_on"),
        F.lit("current").alias("property_status"),
    )
    pools["zrzyj.address"] = spark.range(max(persons // 3, 10)).select(
        F.lpad(i.cast("string"), 18, "0").alias("address_code"),
        F.concat(F.lit("河南省鹤壁市淇县幸福路"), i.cast("string"), F.lit("号")).alias(
            "full_address"
        ),
        F.lit("410622").alias("region_code"),
        (F.lit(114.07) + (i % 1000) * 0.0002).alias("longitude"),
        (F.lit(35.51) + F.floor(i / 1000) * 0.0002).alias("latitude"),
    )
    return {
        rid: _shaped(
            df, empty_pool(spark, catalog, rid).schema, rid.split(".")[1], rid.split(".")[0]
        )
        for rid, df in pools.items()
    }


# --- the DuckDB reference -----------------------------------------------------------------------


def _sql_value(column: str, storage: str) -> str:
    """A pool value as the normalised text of ``observations.value_text``."""
    if storage == "date":
        return f"strftime({column}, '%Y-%m-%d')"
    if storage == "timestamp":
        return f"strftime({column}, '%Y-%m-%dT%H:%M:%S')"
    return f"CAST({column} AS VARCHAR)"


def _pool_members_sql(spec: Any, config: Any, files: Mapping[str, list[str]]) -> str:
    """The keys that make a row of the base ``spec`` (``observations.members_from_pools``), read
    from the pool views."""
    return " UNION ".join(
        f'SELECT {config.subject(m).key_field} AS key FROM "{config.subject(m).resource_id}" '
        f"WHERE {config.subject(m).key_field} IS NOT NULL"
        + (
            f" AND {config.subject(m).key_field}_kind = '{spec.key_kind}'"
            if config.subject(m).key_kind == "party"
            else ""
        )
        for m in spec.members
        if config.subject(m).resource_id in files
    )


#: DuckDB's memory limit for the reference (see :func:`duckdb_core`).
DUCKDB_MEMORY_LIMIT = "6GB"


def duckdb_core(
    con: Any, files: Mapping[str, list[str]], config: Any, out: str, timezone: str
) -> dict[str, int]:
    """The integration core as DuckDB SQL, generated from the same configuration.

    Computes the same four tables as the Spark core, column for column (``attribute_values``
    with provenance, survival reason and losing values; ``population`` and ``legal_entity``
    typed, with each attribute's provenance; ``conflicts`` as issue rows), writes each as
    Parquet under ``out`` and returns their row counts. Batch times are read in ``timezone``,
    as Spark's session reads them.
    """
    con.execute(f"SET TimeZone = '{timezone}'")
    # Within the city's memory budget, next to the JVM of the Spark core: DuckDB takes 80 % of
    # the machine by default, and its windows over 17 million observations (a million persons)
    # grew to 18 GB, swapping; with a limit it spills to its temporary folder instead.
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    con.execute(f"SET temp_directory = '{out}/spill'")
    for resource_id, paths in files.items():
        listed = ", ".join(f"'{p}'" for p in paths)
        con.execute(
            f'CREATE OR REPLACE VIEW "{resource_id}" AS SELECT * FROM read_parquet([{listed}])'
        )
    wanted = attribute_elements(config)
    authority = sql_list(authority_triples(config))
    selects = []
    for resource_id in files:
        record_key = " || '|' || ".join(
            f"CAST({k} AS VARCHAR)" for k in config.catalog.resource(resource_id).key.fields
        )
        department = resource_id.split(".")[0]
        for subject in config.subjects.get(resource_id, ()):
            kinds = ("citizen_id", "uscc") if subject.key_kind == "party" else (subject.key_kind,)
            elements = set().union(*(wanted.get(k, set()) for k in kinds))
            key_kind = (
                f"{subject.key_field}_kind"
                if subject.key_kind == "party"
                else f"'{subject.key_kind}'"
            )
            for f in subject.fields:
                if f.element not in elements:
                    continue
                value = _sql_value(f.name, f.data_element.type)
                selects.append(
                    f"SELECT {key_kind} AS key_kind, {subject.key_field} AS key, "
                    f"'{f.element}' AS element, {value} AS value, '{department}' AS department, "
                    f"'{resource_id}' AS resource, '{f.name}' AS field, "
                    f"{record_key} AS record_key, batch_id, "
                    "coalesce(CAST(try_strptime(substr(batch_id, 1, 15), '%Y%m%dT%H%M%S') "
                    "AS TIMESTAMPTZ), ingested_at) AS observed_at, "
                    f"source_file, CAST(row_number AS BIGINT) AS row_number, "
                    f"{key_kind} || '|{f.element}|{resource_id}' IN ({authority}) AS is_authority "
                    f'FROM "{resource_id}" WHERE {subject.key_field} IS NOT NULL AND {f.name} IS NOT NULL'
                )
    con.execute("CREATE OR REPLACE TEMP TABLE observations AS " + " UNION ALL ".join(selects))
    con.execute(ATTRIBUTE_VALUES_SQL)
    for name in CORE_BASES:
        spec = config.bases[name]
        con.execute(base_rows_sql(name, spec, _pool_members_sql(spec, config, files)))
    con.execute(conflicts_sql(config))
    counts = {}
    for name in CORE_TABLES:
        con.execute(f"COPY {name} TO '{out}/{name}.parquet' (FORMAT parquet)")
        counts[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    return counts


# --- the Spark core -----------------------------------------------------------------------------


def spark_core(
    spark: Any,
    pools: Mapping[str, Any],
    config: Any,
    settings: Any,
    tasks: int,
    *,
    observations: bool = False,
) -> tuple[dict[str, int], dict[str, float]]:
    """Observations → attribute values → population and legal-entity rows → conflicts as the
    build runs them (:mod:`jobs.integrate.core`: Spark shuffles every pool row's statements by
    key, each task runs the core's SQL on its keys' rows and writes its part of each table as a
    Parquet file), each table then moved into a Delta table as the build moves its observations
    and values (``parquet_files``); returns the row counts and the seconds of the tasks
    (``tasks``) and of the commits. ``observations``: the tasks also write the observations, as
    the build's do (the reference makes no such table)."""
    started = time.perf_counter()
    scratch = table_uri(settings, "scratch", "bench_core", "run")
    core = run_core(
        statement_rows_for(pools, config, CORE_BASES),
        config,
        spark,
        scratch,
        bases=CORE_BASES,
        tasks=tasks,
        observations=observations,
        conflicts=True,
    )
    seconds = {"tasks": time.perf_counter() - started}
    started = time.perf_counter()
    counts = {}
    for name in CORE_TABLES:
        result = tables.write_table(
            core.frames[name],
            table_uri(settings, "base", f"core_{name}"),
            mode="overwrite",
            spark_parquet=True,
            parquet_files=core.files[name],
        )
        counts[name] = result.rows
    seconds["commit"] = time.perf_counter() - started
    return counts, seconds


def different_rows(con: Any, settings: Any, duck_out: str, prefix: str = "core_") -> dict[str, int]:
    """Rows of each core table that only one engine wrote, whole rows with every column (a row
    written twice by one engine and once by the other counts once). Rows are compared by a
    64-bit hash of all their columns: at a million persons, set operations on the rows
    themselves took four minutes."""
    out = {}
    for name in CORE_TABLES:
        uris = DeltaTable(table_uri(settings, "base", f"{prefix}{name}")).file_uris()
        spark_rows = "read_parquet([" + ", ".join(f"'{u}'" for u in uris) + "])"
        duck_rows = f"read_parquet('{duck_out}/{name}.parquet')"
        columns = ", ".join(
            f'"{row[0]}"' for row in con.execute(f"DESCRIBE SELECT * FROM {spark_rows}").fetchall()
        )
        spark_hashes = f"SELECT hash(struct_pack({columns})) AS h FROM {spark_rows}"
        duck_hashes = f"SELECT hash(struct_pack({columns})) AS h FROM {duck_rows}"
        out[name] = con.execute(
            f"""
            SELECT (SELECT count(*) FROM ({spark_hashes} EXCEPT ALL {duck_hashes}))
                 + (SELECT count(*) FROM ({duck_hashes} EXCEPT ALL {spark_hashes}))
            """
        ).fetchone()[0]
    return out


def run(args: argparse.Namespace, base: Settings) -> list[dict]:
    if getattr(args, "persons", None):
        sizes = tuple(args.persons)
    else:
        sizes = QUICK_SIZES if getattr(args, "quick", False) else FULL_SIZES
    spark = get_spark(base, app_name="govlake-bench-integrate")
    config = load_integration_config(base)
    memory = PeakMemory()
    rows_out = []
    for persons in sizes:
        with tempfile.TemporaryDirectory(prefix="govlake-bench-integrate-") as tmp:
            settings = settings_under(base, tmp)
            started = time.perf_counter()
            pool_rows = 0
            for resource_id, df in county_pools(spark, config.catalog, persons).items():
                department, resource = resource_id.split(".")
                pool_rows += tables.write_table(
                    df, table_uri(settings, "pool", department, resource), mode="append"
                ).rows
            write_s = time.perf_counter() - started
            pools, _ = read_pools(spark, settings, config.catalog)
            files = {
                rid: DeltaTable(table_uri(settings, "pool", *rid.split("."))).file_uris()
                for rid in pools
            }

            # The reference first: run after the core, in the process whose JVM had just run it,
            # it took 93.1 s / 171.2 CPU-s of the process tree at 1M persons, against
            # 64.7-68.0 s / 122-129 CPU-s in a process of its own. Its connection is closed
            # before the core runs, so that the core's peak memory is not DuckDB's.
            duck_out = f"{tmp}/duckdb"
            os.makedirs(duck_out)
            con = duckdb.connect()
            con.execute(f"SET threads = {os.cpu_count() or 2}")
            started, cpu = time.perf_counter(), cpu_seconds()
            duck_counts = duckdb_core(con, files, config, duck_out, base.timezone)
            duck_s, duck_cpu = time.perf_counter() - started, cpu_seconds() - cpu
            con.close()

            started, cpu = time.perf_counter(), cpu_seconds()
            with memory.measure() as spark_memory:
                spark_counts, steps = spark_core(
                    spark,
                    pools,
                    config,
                    settings,
                    core_tasks_for(pool_rows, settings.shuffle_partitions),
                )
            spark_s, spark_cpu = time.perf_counter() - started, cpu_seconds() - cpu

            con = duckdb.connect()
            con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
            different = different_rows(con, settings, duck_out)
            con.close()

            rows_out.append(
                {
                    "persons": persons,
                    "pool_rows": pool_rows,
                    "write_pools_s": round(write_s, 1),
                    "attribute_values": spark_counts["attribute_values"],
                    "conflicts": spark_counts["conflicts"],
                    "spark_core_s": round(spark_s, 1),
                    "spark_core_cpu_s": round(spark_cpu, 1),
                    **{f"spark_{step}_s": round(t, 1) for step, t in steps.items()},
                    "spark_core_peak_mb": spark_memory["tree"],
                    "duckdb_core_s": round(duck_s, 1),
                    "duckdb_core_cpu_s": round(duck_cpu, 1),
                    "ratio": round(spark_s / duck_s, 2) if duck_s else None,
                    "same_tables": not any(different.values()) and spark_counts == duck_counts,
                    **{f"different_{name}": n for name, n in different.items() if n},
                    "cores": os.cpu_count(),
                }
            )
            if getattr(args, "core_only", False):
                continue
            started, cpu = time.perf_counter(), cpu_seconds()
            # The build runs "on" AS_OF: its tickets open on the day the statuses are derived for.
            on_as_of = settings.with_clock(pinned_clock(BUILT_AT))
            with memory.measure() as build_memory:
                summary = build_bases(on_as_of, spark, as_of=AS_OF)
            build_s, build_cpu = time.perf_counter() - started, cpu_seconds() - cpu
            rows_out[-1].update(
                {
                    "build_bases_s": round(build_s, 1),
                    "build_bases_cpu_s": round(build_cpu, 1),
                    "build_bases_peak_mb": build_memory["tree"],
                    "issues": sum(summary.get("issues", {}).values()),
                }
            )
    return rows_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_integrate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="20,000 persons only")
    parser.add_argument("--persons", type=int, action="append", help="measure these sizes")
    parser.add_argument(
        "--core-only", action="store_true", help="measure the core and its reference, not the build"
    )
    args = parser.parse_args(argv)
    for row in run(args, Settings.from_env()):
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
