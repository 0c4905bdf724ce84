"""Pools → the four base databases (基础数据库), their links and issues, as DataFrames.

:func:`integrate` is the whole integration on DataFrames (no lake reads or writes: the core's
tasks write their files into a scratch folder the caller gives), so tests and the benchmark run
it on DataFrames directly; :func:`jobs.integrate.build.build_bases` runs it on the lake's pools
and writes what it returns. The core (:mod:`~jobs.integrate.core`: observations, survivorship,
each base's members with their surviving attributes) runs inside Spark's tasks; each base table
is then finished by its own module (:mod:`~jobs.integrate.population`,
:mod:`~jobs.integrate.legal_entity`, :mod:`~jobs.integrate.spatial`,
:mod:`~jobs.integrate.e_licence`); :mod:`~jobs.integrate.links` links them and
:mod:`~jobs.integrate.issues` finds what departments must verify.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.catalog.models import Catalog
from jobs.frames import kept_on_disk
from jobs.ingest.pool import pool_schema
from jobs.integrate import e_licence, legal_entity, population, spatial
from jobs.integrate.config import IntegrationConfig
from jobs.integrate.core import OBSERVATIONS, VALUES, CoreOutput, run_core, statement_rows_for
from jobs.integrate.issues import find_issues
from jobs.integrate.links import cross_links
from jobs.integrate.quarantine import identities_from_quarantine


@dataclass
class Bases:
    """The DataFrames of one integration, before disputed marks and writes.

    ``observations`` and ``values`` read the core's task files (``core.files``): the build
    moves those into their tables last, after everything that reads them.
    """

    core: CoreOutput
    observations: DataFrame
    values: DataFrame
    population: DataFrame
    legal_entity: DataFrame
    parcel: DataFrame
    real_estate_unit: DataFrame
    standard_address: DataFrame
    e_licence: DataFrame
    links: DataFrame
    issues: DataFrame

    def base(self, name: str) -> DataFrame:
        return getattr(self, name)


# --- empty pools ------------------------------------------------------------------------------


def empty_pool(spark: SparkSession, catalog: Catalog, resource_id: str) -> DataFrame:
    """An empty DataFrame shaped like a pool table (for a resource not ingested yet)."""
    return spark.createDataFrame([], pool_schema(catalog.resource(resource_id)))


def _pool_or_empty(
    pools: Mapping[str, DataFrame], spark: SparkSession, catalog: Catalog, resource_id: str
) -> DataFrame:
    return pools[resource_id] if resource_id in pools else empty_pool(spark, catalog, resource_id)


# --- the integration (pure DataFrames) ----------------------------------------------------------


def integrate(
    pools: Mapping[str, DataFrame],
    config: IntegrationConfig,
    as_of: dt.date,
    spark: SparkSession,
    *,
    scratch: str,
    quarantines: Mapping[str, DataFrame] | None = None,
    corrections: DataFrame | None = None,
    lanes: int = 1,
    core_tasks: int | None = None,
) -> Bases:
    """All base tables, links and issues from pool DataFrames (no lake reads or writes).

    Args:
        pools: resource id (``gaj.hukou``) → pool DataFrame; missing resources count as empty.
        scratch: a folder for the core's task files (``core.run_core``), which the returned
            DataFrames read: the caller removes it when done with them.
        quarantines: resource id → quarantine DataFrame, to explain keys missing from a base.
        corrections: ``governance/verification_corrections``: each a department's observation
            (:mod:`jobs.integrate.corrections`).
        as_of: the day statuses are derived for (licence expiry, marriage age).
        lanes: worker threads for the independent queries, beside the calling thread's own
            chain (``Settings.integrate_lanes``: one for a city's memory, two for a county).
        core_tasks: tasks of the core (``core.core_tasks_for``); default the session's shuffle
            partitions.

    Raises:
        ValueError: ``lanes`` or ``core_tasks`` is less than 1.
    """
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got {lanes}")
    if core_tasks is None:
        core_tasks = int(spark.conf.get("spark.sql.shuffle.partitions"))

    # Beside this thread, a lane: while the driver plans and compiles one query (on one core),
    # another runs; most of a small county's build is that planning, not its tasks.
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="integrate") as executor:
        return _integrate(
            pools, config, as_of, spark, quarantines, corrections, executor, scratch, core_tasks
        )


def _integrate(
    pools: Mapping[str, DataFrame],
    config: IntegrationConfig,
    as_of: dt.date,
    spark: SparkSession,
    quarantines: Mapping[str, DataFrame] | None,
    corrections: DataFrame | None,
    lanes: ThreadPoolExecutor,
    scratch: str,
    core_tasks: int,
) -> Bases:
    """:func:`integrate`, running independent queries in ``lanes``."""

    # The tables kept on disk below are reused by several bases, links and a dozen rules: each
    # reuse would otherwise copy the whole plan that made them (jobs.frames.kept_on_disk).
    # Kept: three rules and the population base read the registrations.
    marriage_parties = kept_on_disk(
        population.explode_marriage_parties(
            _pool_or_empty(pools, spark, config.catalog, "mzj.marriage")
        )
    )
    # The registry states marital status through registrations: its statements join the other
    # departments' so that survivorship credits the authority (一数一源).
    registry = (
        [population.marital_status_observations(marriage_parties)]
        if population.marital_status_attribute(config) is not None
        else []
    )
    bases = list(config.bases)
    core = run_core(
        statement_rows_for(pools, config, bases, observed=registry, corrections=corrections),
        config,
        spark,
        scratch,
        bases=bases,
        tasks=core_tasks,
    )
    observations, values = core.frames[OBSERVATIONS], core.frames[VALUES]
    person_kind = config.bases["population"].key_kind

    # Independent of the persons: built in the other lane meanwhile.
    parcel_kept = lanes.submit(
        lambda: kept_on_disk(spatial.parcel_base(core.frames["parcel"], config))
    )
    address_kept = lanes.submit(
        lambda: kept_on_disk(spatial.standard_address_base(core.frames["standard_address"], config))
    )
    # Kept: two rules read them, and each reading would parse the quarantined keys again.
    quarantined_kept = lanes.submit(
        lambda: kept_on_disk(identities_from_quarantine(quarantines or {}, config, spark))
    )
    insurance = kept_on_disk(
        population.current_insurance(_pool_or_empty(pools, spark, config.catalog, "rsj.insured"))
    )
    population_df = kept_on_disk(
        population.population_base(
            core.frames["population"], values, config, as_of, insurance, marriage_parties
        )
    )
    legal_entity_df = kept_on_disk(
        legal_entity.legal_entity_base(core.frames["legal_entity"], population_df, insurance)
    )
    licence_pools = {
        t.resource_id: _pool_or_empty(pools, spark, config.catalog, t.resource_id)
        for t in config.licence_types.values()
    }
    licence_kept = lanes.submit(
        lambda: kept_on_disk(
            e_licence.e_licence_base(licence_pools, config, population_df, legal_entity_df, as_of)
        )
    )
    parcel_df = parcel_kept.result()
    # Kept too: the links read them again, and without the cut their write and the links would
    # each rebuild them from the pools and the attribute values.
    unit_df = kept_on_disk(
        spatial.real_estate_unit_base(
            core.frames["real_estate_unit"], pools, parcel_df, population_df, legal_entity_df
        )
    )
    address_df = address_kept.result()
    licence_df = licence_kept.result()
    links = cross_links(population_df, legal_entity_df, unit_df, parcel_df, address_df, licence_df)
    issues = find_issues(
        values,
        config,
        population_df,
        legal_entity_df,
        parcel_df,
        licence_df,
        insurance,
        marriage_parties,
        quarantined_kept.result(),
        observations_df=observations.where(F.col("key_kind") == person_kind),
    )
    return Bases(
        core=core,
        observations=observations,
        values=values,
        population=population_df,
        legal_entity=legal_entity_df,
        parcel=parcel_df,
        real_estate_unit=unit_df,
        standard_address=address_df,
        e_licence=licence_df,
        links=links,
        issues=issues,
    )


__all__ = ["Bases", "empty_pool", "integrate"]
