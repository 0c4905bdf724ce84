"""Pools → the four base databases (基础数据库), their links and issues, as DataFrames.

:func:`integrate` is the whole integration, pure DataFrames (no lake reads or writes), so tests
and the benchmark run it on DataFrames directly; :func:`jobs.integrate.build.build_bases` runs
it on the lake's pools and writes what it returns. Each base table is built by its own module
(:mod:`~jobs.integrate.population`, :mod:`~jobs.integrate.legal_entity`,
:mod:`~jobs.integrate.spatial`, :mod:`~jobs.integrate.e_licence`) from the attribute values of
:mod:`~jobs.integrate.survivorship`; :mod:`~jobs.integrate.links` links them and
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
from jobs.frames import kept_on_disk, union_all
from jobs.ingest.pool import pool_schema
from jobs.integrate import e_licence, legal_entity, population, spatial
from jobs.integrate.config import IntegrationConfig
from jobs.integrate.corrections import with_corrections
from jobs.integrate.issues import find_issues
from jobs.integrate.links import cross_links
from jobs.integrate.observations import OBSERVATIONS_SCHEMA, observations_from_pools
from jobs.integrate.quarantine import identities_from_quarantine
from jobs.integrate.survivorship import attribute_values


@dataclass
class Bases:
    """The DataFrames of one integration, before disputed marks and writes."""

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
    quarantines: Mapping[str, DataFrame] | None = None,
    corrections: DataFrame | None = None,
    lanes: int = 1,
) -> Bases:
    """All base tables, links and issues from pool DataFrames (no lake reads or writes).

    Args:
        pools: resource id (``gaj.hukou``) → pool DataFrame; missing resources count as empty.
        quarantines: resource id → quarantine DataFrame, to explain keys missing from a base.
        corrections: ``governance/verification_corrections``: each a department's observation
            (:mod:`jobs.integrate.corrections`).
        as_of: the day statuses are derived for (licence expiry, marriage age).
        lanes: worker threads for the independent queries, beside the calling thread's own
            chain (``Settings.integrate_lanes``: one for a city's memory, two for a county).

    Raises:
        ValueError: ``lanes`` is less than 1.
    """
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got {lanes}")

    # Beside this thread, a lane: while the driver plans and compiles one query (on one core),
    # another runs; most of a small county's build is that planning, not its tasks.
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="integrate") as executor:
        return _integrate(pools, config, as_of, spark, quarantines, corrections, executor)


def _integrate(
    pools: Mapping[str, DataFrame],
    config: IntegrationConfig,
    as_of: dt.date,
    spark: SparkSession,
    quarantines: Mapping[str, DataFrame] | None,
    corrections: DataFrame | None,
    lanes: ThreadPoolExecutor,
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
    # Observations and attribute values are worked out and kept one kind of subject at a time,
    # so that each base reads only the values of its own subjects, not all of them.
    marital = population.marital_status_attribute(config)
    person_kind = config.bases["population"].key_kind

    def observed_and_values(kind: str) -> tuple[DataFrame, DataFrame]:
        observed = observations_from_pools(pools, config, key_kind=kind)
        if observed is None:
            observed = spark.createDataFrame([], OBSERVATIONS_SCHEMA)
        if marital is not None and kind == person_kind:
            # The registry states marital status through registrations: its statements join
            # the other departments' so that survivorship credits the authority (一数一源).
            observed = observed.unionByName(
                population.marital_status_observations(marriage_parties)
            )
        if corrections is not None:
            observed = with_corrections(observed, corrections.where(F.col("key_kind") == kind))
        kept = kept_on_disk(observed)
        return kept, kept_on_disk(attribute_values(kept, config))

    kinds = sorted({spec.key_kind for spec in config.bases.values()})
    by_kind = dict(zip(kinds, lanes.map(observed_and_values, kinds), strict=True))
    observations_by_kind = {kind: observed for kind, (observed, _) in by_kind.items()}
    values_by_kind = {kind: values for kind, (_, values) in by_kind.items()}
    observations = union_all(observations_by_kind.values())
    values = union_all(values_by_kind.values())

    def values_of(base: str) -> DataFrame:
        return values_by_kind[config.bases[base].key_kind]

    # Independent of the persons: built in the other lane meanwhile.
    parcel_kept = lanes.submit(
        lambda: kept_on_disk(spatial.parcel_base(pools, values_of("parcel"), config, spark))
    )
    address_kept = lanes.submit(
        lambda: kept_on_disk(
            spatial.standard_address_base(pools, values_of("standard_address"), config, spark)
        )
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
            pools, values_of("population"), config, as_of, insurance, marriage_parties, spark
        )
    )
    legal_entity_df = kept_on_disk(
        legal_entity.legal_entity_base(
            pools, values_of("legal_entity"), config, population_df, insurance, spark
        )
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
            pools,
            values_of("real_estate_unit"),
            config,
            parcel_df,
            population_df,
            legal_entity_df,
            spark,
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
        observations_df=observations_by_kind[person_kind],
    )
    return Bases(
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
