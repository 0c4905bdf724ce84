"""Pools → the four base databases (基础数据库), conflicts and verification tickets.

Entry point for the DAGs: :func:`build_bases`. It reads every department pool, rebuilds every
base from all observations (a full rebuild: the same pools always give the same bases, whether
they were loaded in one go or batch by batch), finds conflicts and anomalies, brings the
verification tickets (校核) in line, and writes:

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
(异议); the row stays usable. The transforms are in :func:`integrate` (pure DataFrames, no lake
I/O), so tests and the benchmark run them on DataFrames directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.catalog.models import Catalog
from jobs.frames import union_all
from jobs.integrate import anomalies, e_licence, legal_entity, population, spatial
from jobs.integrate.config import (
    Attribute,
    IntegrationConfig,
    Jurisdiction,
    load_integration_config,
)
from jobs.integrate.conflicts import ISSUE_COLUMNS, value_conflicts, without_subsumed
from jobs.integrate.observations import (
    OBSERVATIONS_SCHEMA,
    members_from_pools,
    observations_from_pools,
)
from jobs.integrate.quarantine import identities_from_quarantine
from jobs.integrate.survivorship import KEY_COLUMNS, attribute_values, base_rows
from jobs.lake import ledger, tables
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
from jobs.settings import Settings

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
    resource = catalog.resource(resource_id)
    columns = [
        "department string",
        "resource string",
        "batch_id string",
        "source_file string",
        "file_hash string",
        "row_number long",
        "record_hash string",
        "ingested_at timestamp",
    ]
    for f in resource.fields:
        storage = "long" if f.data_element.type == "integer" else f.data_element.type
        columns.append(f"`{f.name}` {storage}")
        if f.data_element.kind == "citizen_id":
            columns += [
                f"`{f.name}_birth_date` date",
                f"`{f.name}_gender` string",
                f"`{f.name}_region` string",
            ]
        if f.data_element.id == "owner_id":
            columns.append(f"`{f.name}_kind` string")
    return spark.createDataFrame([], ", ".join(columns))


def _pool_or_empty(
    pools: Mapping[str, DataFrame], spark: SparkSession, catalog: Catalog, resource_id: str
) -> DataFrame:
    return pools[resource_id] if resource_id in pools else empty_pool(spark, catalog, resource_id)


# --- the integration (pure DataFrames) ----------------------------------------------------------


def _members(
    pools: Mapping[str, DataFrame], config: IntegrationConfig, name: str, spark: SparkSession
) -> DataFrame:
    members = members_from_pools(pools, config, name)
    return members if members is not None else spark.createDataFrame([], "key string")


def marital_status_attribute(config: IntegrationConfig) -> Attribute | None:
    """The population base's marital status, when configured as derived from registrations."""
    spec = config.bases.get("population")
    for attribute in spec.attributes if spec is not None else ():
        if attribute.element == population.MARITAL_STATUS and attribute.derived:
            return attribute
    return None


def population_base(
    pools: Mapping[str, DataFrame],
    values_df: DataFrame,
    config: IntegrationConfig,
    as_of: dt.date,
    insurance_df: DataFrame,
    spark: SparkSession,
) -> DataFrame:
    """``base/population``: one row per natural person (see :mod:`jobs.integrate.population`)."""
    spec = config.bases["population"]
    marriage = pools.get("mzj.marriage")
    marital = marital_status_attribute(config)
    # Another department's surviving statement stands where the registry has none.
    stated = (
        values_df.where(
            (F.col("key_kind") == spec.key_kind)
            & (F.col("element") == marital.element)
            & ~F.col("resource").isin(list(marital.authority))
        )
        if marital is not None
        else None
    )
    return (
        base_rows(_members(pools, config, "population", spark), values_df, spec)
        .transform(population.with_id_facts)
        .transform(population.with_death)
        .transform(lambda df: population.with_marital_status(df, marriage, as_of, stated))
        .transform(lambda df: population.with_insurance(df, insurance_df))
    )


def legal_entity_base(
    pools: Mapping[str, DataFrame],
    values_df: DataFrame,
    config: IntegrationConfig,
    population_df: DataFrame,
    insurance_df: DataFrame,
    spark: SparkSession,
) -> DataFrame:
    """``base/legal_entity``: one row per USCC (see :mod:`jobs.integrate.legal_entity`)."""
    spec = config.bases["legal_entity"]
    return (
        base_rows(_members(pools, config, "legal_entity", spark), values_df, spec)
        .transform(legal_entity.with_registration_facts)
        .transform(
            lambda df: legal_entity.with_legal_representative_link(
                df, population_df.select("person_id")
            )
        )
        .transform(lambda df: legal_entity.with_employee_count(df, insurance_df))
    )


def parcel_base(
    pools: Mapping[str, DataFrame],
    values_df: DataFrame,
    config: IntegrationConfig,
    spark: SparkSession,
) -> DataFrame:
    """``base/parcel``: one row per parcel, geometry checked (see :mod:`jobs.integrate.spatial`)."""
    jurisdiction = config.jurisdiction
    return (
        base_rows(_members(pools, config, "parcel", spark), values_df, config.bases["parcel"])
        .transform(lambda df: spatial.with_parcel_geometry(df, jurisdiction))
        .transform(lambda df: spatial.with_region_link(df, jurisdiction))
    )


def real_estate_unit_base(
    pools: Mapping[str, DataFrame],
    values_df: DataFrame,
    config: IntegrationConfig,
    parcel_df: DataFrame,
    population_df: DataFrame,
    legal_entity_df: DataFrame,
    spark: SparkSession,
) -> DataFrame:
    """``base/real_estate_unit``: one row per unit, linked to its parcel and owner."""
    owners = (
        spatial.current_owner_kinds(pools["zrzyj.real_estate"])
        if "zrzyj.real_estate" in pools
        else None
    )
    spec = config.bases["real_estate_unit"]
    return base_rows(_members(pools, config, "real_estate_unit", spark), values_df, spec).transform(
        lambda df: spatial.with_unit_links(
            df,
            owners,
            parcel_df.select("parcel_code"),
            population_df.select("person_id"),
            legal_entity_df.select("uscc"),
        )
    )


def standard_address_base(
    pools: Mapping[str, DataFrame],
    values_df: DataFrame,
    config: IntegrationConfig,
    spark: SparkSession,
) -> DataFrame:
    """``base/standard_address``: one row per address code, located and linked to its region."""
    jurisdiction = config.jurisdiction
    spec = config.bases["standard_address"]
    return (
        base_rows(_members(pools, config, "standard_address", spark), values_df, spec)
        .transform(lambda df: spatial.with_address_location(df, jurisdiction))
        .transform(lambda df: spatial.with_region_link(df, jurisdiction))
    )


def e_licence_base(
    pools: Mapping[str, DataFrame],
    config: IntegrationConfig,
    population_df: DataFrame,
    legal_entity_df: DataFrame,
    as_of: dt.date,
    spark: SparkSession,
) -> DataFrame:
    """``base/e_licence``: one row per (licence type, licence number) with derived status."""
    full = {
        t.resource_id: _pool_or_empty(pools, spark, config.catalog, t.resource_id)
        for t in config.licence_types.values()
    }
    licences = e_licence.licences_from_pools(full, config.licence_types, config.catalog)
    return licences.transform(
        lambda df: e_licence.with_holder_links(df, population_df, legal_entity_df)
    ).transform(lambda df: e_licence.with_status(df, as_of))


def cross_links(
    population_df: DataFrame,
    legal_entity_df: DataFrame,
    real_estate_unit_df: DataFrame,
    parcel_df: DataFrame,
    standard_address_df: DataFrame,
    e_licence_df: DataFrame,
) -> DataFrame:
    """``base/links``: one row per (relation, from key, to key) with whether the target exists.

    Relations: legal_representative (entity → person), employer (person → entity),
    licence_holder (licence → person or entity), owner (unit → person or entity), parcel
    (unit → parcel), region (parcel or address → GB/T 2260 region).
    """

    def link(df, relation, from_base, from_key, to_base, to_key_kind, to_key, resolved):
        return df.select(
            F.lit(relation).alias("relation"),
            F.lit(from_base).alias("from_base"),
            from_key.cast("string").alias("from_key"),
            to_base.cast("string").alias("to_base"),
            to_key_kind.cast("string").alias("to_key_kind"),
            to_key.cast("string").alias("to_key"),
            F.coalesce(resolved, F.lit(False)).alias("is_resolved"),
        ).where(F.col("to_key").isNotNull())

    holders = e_licence_df.select(
        "licence_id", F.posexplode("holders").alias("position", "h")
    ).select("licence_id", "h.holder_id", "h.holder_kind")
    persons = population_df.select(F.col("person_id").alias("holder_id"), F.lit(True).alias("_p"))
    entities = legal_entity_df.select(F.col("uscc").alias("holder_id"), F.lit(True).alias("_e"))
    holders = holders.join(persons, "holder_id", "left").join(entities, "holder_id", "left")
    holder_base = F.when(F.col("holder_kind") == "citizen_id", "population").when(
        F.col("holder_kind") == "uscc", "legal_entity"
    )
    employers = legal_entity_df.select(
        F.col("uscc").alias("employer_uscc"), F.lit(True).alias("_e")
    )
    owners = real_estate_unit_df.join(
        persons.withColumnRenamed("holder_id", "owner_id"), "owner_id", "left"
    ).join(entities.withColumnRenamed("holder_id", "owner_id"), "owner_id", "left")
    return union_all(
        [
            link(
                legal_entity_df,
                "legal_representative",
                "legal_entity",
                F.col("uscc"),
                F.lit("population"),
                F.lit("citizen_id"),
                F.col("legal_representative_id"),
                F.col("legal_representative_in_population"),
            ),
            link(
                population_df.join(employers, "employer_uscc", "left"),
                "employer",
                "population",
                F.col("person_id"),
                F.lit("legal_entity"),
                F.lit("uscc"),
                F.col("employer_uscc"),
                F.col("_e"),
            ),
            link(
                holders,
                "licence_holder",
                "e_licence",
                F.col("licence_id"),
                holder_base,
                F.col("holder_kind"),
                F.col("holder_id"),
                F.when(F.col("holder_kind") == "citizen_id", F.col("_p")).otherwise(F.col("_e")),
            ),
            link(
                owners,
                "owner",
                "real_estate_unit",
                F.col("unit_number"),
                F.col("owner_base"),
                F.col("owner_id_kind"),
                F.col("owner_id"),
                F.coalesce(F.col("_p"), F.col("_e")),
            ),
            link(
                real_estate_unit_df,
                "parcel",
                "real_estate_unit",
                F.col("unit_number"),
                F.lit("parcel"),
                F.lit("parcel_code"),
                F.col("parcel_code"),
                F.col("parcel_in_base"),
            ),
            link(
                parcel_df,
                "region",
                "parcel",
                F.col("parcel_code"),
                F.lit("region"),
                F.lit("region_code"),
                F.col("region_code"),
                F.col("is_known_region"),
            ),
            link(
                standard_address_df,
                "region",
                "standard_address",
                F.col("address_code"),
                F.lit("region"),
                F.lit("region_code"),
                F.col("region_code"),
                F.col("is_known_region"),
            ),
        ]
    )


def find_issues(
    values_df: DataFrame,
    config: IntegrationConfig,
    population_df: DataFrame,
    legal_entity_df: DataFrame,
    parcel_df: DataFrame,
    e_licence_df: DataFrame,
    insurance_df: DataFrame,
    marriage_parties_df: DataFrame,
    quarantined_df: DataFrame | None = None,
    observations_df: DataFrame | None = None,
) -> DataFrame:
    """Conflicts and anomalies, one row per issue (``governance/conflicts`` before tickets).

    ``quarantined_df``: identities in quarantined records (:mod:`jobs.integrate.quarantine`)
    that explain a key missing from a base. ``observations_df``: the attribute observations,
    for marital status statements compared with the marriage registry (a derived attribute).
    """
    must_be_alive = [t.type for t in config.licence_types.values() if t.holder_must_be_alive]
    id_anomalies = anomalies.id_mismatches(population_df)
    others = [
        anomalies.deceased_still_insured(population_df, insurance_df),
        anomalies.deceased_holds_valid_licence(e_licence_df, must_be_alive),
        anomalies.deceased_married(population_df, marriage_parties_df),
        anomalies.deregistered_but_active_at_tax(legal_entity_df),
        anomalies.legal_representative_not_in_population(legal_entity_df, quarantined_df),
        anomalies.holders_not_in_base(
            e_licence_df,
            population_df.select("person_id"),
            legal_entity_df.select("uscc"),
            quarantined_df,
        ),
        anomalies.licence_expired(e_licence_df),
        anomalies.parcel_anomalies(parcel_df),
    ]
    conflicts = without_subsumed(value_conflicts(values_df, config), id_anomalies)
    marital = marital_status_attribute(config)
    if marital is not None and marital.conflict and observations_df is not None:
        marital_conflicts = population.marital_status_conflicts(
            observations_df, population_df, marriage_parties_df, marital.authority
        )
        conflicts = conflicts.unionByName(marital_conflicts)
    return union_all([conflicts, id_anomalies, *others]).select(*[c for c, _ in ISSUE_COLUMNS])


def integrate(
    pools: Mapping[str, DataFrame],
    config: IntegrationConfig,
    as_of: dt.date,
    spark: SparkSession,
    *,
    quarantines: Mapping[str, DataFrame] | None = None,
) -> Bases:
    """All base tables, links and issues from pool DataFrames (no lake reads or writes).

    Args:
        pools: resource id (``gaj.hukou``) → pool DataFrame; missing resources count as empty.
        quarantines: resource id → quarantine DataFrame, to explain keys missing from a base.
        as_of: the day statuses are derived for (licence expiry, marriage age).
    """

    def keep(df: DataFrame) -> DataFrame:
        # Materialised with its lineage cut: the tables below are reused by several bases, links
        # and a dozen rules, and without the cut every reuse copies the whole plan that made
        # them, so that the optimiser works on trees of hundreds of thousands of nodes (minutes,
        # and a driver out of memory, even for a few rows). Kept on the executors (a local
        # checkpoint): a lost executor fails the build, which Airflow retries. On disk only:
        # the largest (tens of millions of observations) do not fit the executor's memory, and
        # trying memory first made every checkpoint a fifth slower (measured at 1M persons).
        return df.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)

    # Kept: three rules and the population base read the registrations.
    marriage_parties = keep(
        population.explode_marriage_parties(
            _pool_or_empty(pools, spark, config.catalog, "mzj.marriage")
        )
    )
    # Observations and attribute values are worked out and kept one kind of subject at a time,
    # so that each base reads only the values of its own subjects, not all of them.
    observations_by_kind: dict[str, DataFrame] = {}
    values_by_kind: dict[str, DataFrame] = {}
    marital = marital_status_attribute(config)
    person_kind = config.bases["population"].key_kind
    for kind in sorted({spec.key_kind for spec in config.bases.values()}):
        observed = observations_from_pools(pools, config, key_kind=kind)
        if observed is None:
            observed = spark.createDataFrame([], OBSERVATIONS_SCHEMA)
        if marital is not None and kind == person_kind:
            # The registry states marital status through registrations: its statements join
            # the other departments' so that survivorship credits the authority (一数一源).
            observed = observed.unionByName(
                population.marital_status_observations(marriage_parties)
            )
        observations_by_kind[kind] = keep(observed)
        values_by_kind[kind] = keep(attribute_values(observations_by_kind[kind], config))
    observations = union_all(observations_by_kind.values())
    values = union_all(values_by_kind.values())

    def values_of(base: str) -> DataFrame:
        return values_by_kind[config.bases[base].key_kind]

    insurance = keep(
        population.current_insurance(_pool_or_empty(pools, spark, config.catalog, "rsj.insured"))
    )
    population_df = keep(
        population_base(pools, values_of("population"), config, as_of, insurance, spark)
    )
    legal_entity_df = keep(
        legal_entity_base(pools, values_of("legal_entity"), config, population_df, insurance, spark)
    )
    parcel_df = keep(parcel_base(pools, values_of("parcel"), config, spark))
    # Kept too: the links read them again, and without the cut their write and the links would
    # each rebuild them from the pools and the attribute values.
    unit_df = keep(
        real_estate_unit_base(
            pools,
            values_of("real_estate_unit"),
            config,
            parcel_df,
            population_df,
            legal_entity_df,
            spark,
        )
    )
    address_df = keep(standard_address_base(pools, values_of("standard_address"), config, spark))
    licence_df = keep(e_licence_base(pools, config, population_df, legal_entity_df, as_of, spark))
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
        # Kept: two rules read them, and each reading would parse the quarantined keys again.
        keep(identities_from_quarantine(quarantines or {}, config, spark)),
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


# --- the build (lake edges) ----------------------------------------------------------------------


def held_batches(settings: Settings) -> dict[str, list[str]]:
    """resource id → batches whose latest quality decision is ``held`` (sorted).

    A held batch stays in its pool, visible, but is not promoted (DESIGN §2, issue #5): base
    builds leave it out until a quality officer marks it promotable after rectification.
    Batches never validated count as usable (quality flags are used where present).
    """
    from jobs.quality.gates import latest_decisions

    held: dict[str, list[str]] = {}
    for (department, resource, batch_id), row in sorted(latest_decisions(settings).items()):
        if row["status"] == "held":
            held.setdefault(f"{department}.{resource}", []).append(batch_id)
    return held


def read_pools(
    spark: SparkSession,
    settings: Settings,
    catalog: Catalog,
    table: LakeTable = POOL,
    *,
    exclude_batches: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, DataFrame], dict[str, int]]:
    """Every pool (or quarantine: ``table``) table that exists, and its Delta version (for the build's
    inputs key); ``exclude_batches`` (resource id → batch ids) leaves held batches out."""
    pools: dict[str, DataFrame] = {}
    versions: dict[str, int] = {}
    for resource in catalog.resources.values():
        uri = table.uri(settings, resource.department, resource.resource)
        if not tables.table_exists(uri):
            continue
        df = tables.read_table(spark, uri)
        excluded = list((exclude_batches or {}).get(resource.id, ()))
        if excluded:
            df = df.where(~F.col("batch_id").isin(excluded))
        pools[resource.id] = df
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
    from jobs.govern import tickets as ticketing

    if spark is None:
        from jobs.spark import get_spark

        spark = get_spark(settings)
    now, today = settings.now(), settings.today()
    as_of = as_of or today
    config = load_integration_config(settings, jurisdiction=jurisdiction)
    held = held_batches(settings)
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
    bases = integrate(pools, config, as_of, spark, quarantines=quarantines)
    # Issues are few (thousands at a million persons): collected once, as Arrow, for the
    # tickets and the conflicts table, instead of recomputing them from the bases.
    issues_arrow = bases.issues.toArrow()
    issues = issues_arrow.to_pylist()
    synced = ticketing.sync_tickets(issues, settings, build_id=build_id, today=today, now=now)
    open_ids = set(synced["open_ticket_ids"])
    marks = [
        {"base": i["base"], "base_key": k, "element": i["element"]}
        for i in issues
        if i["issue_id"] in open_ids
        for k in i["base_keys"] or ()
    ]
    disputed = spark.createDataFrame(marks, "base string, base_key string, element string")
    # The same inputs with other open tickets (a steward confirmed one) write other disputed
    # marks: the write id names both, so only a true retry is skipped.
    marks_key = hashlib.sha256(
        json.dumps(sorted(tuple(m.values()) for m in marks)).encode()
    ).hexdigest()[:12]

    counts: dict[str, int] = {}

    def write(table: LakeTable, df: DataFrame) -> None:
        result = tables.write_table(
            with_nullable_fields(df),
            table.uri(settings),
            mode="overwrite",
            write_id=(f"govlake.build.{table.layer}.{table.name}.{inputs_key}.{marks_key}", 0),
        )
        counts[table.name] = result.rows

    write(ATTRIBUTE_OBSERVATIONS, bases.observations)
    write(ATTRIBUTE_VALUES, bases.values)
    for base_table in BASE_TABLES:
        name = base_table.name
        write(base_table, with_disputed(bases.base(name), disputed, name))
    write(LINKS, bases.links)
    counts["conflicts"] = _write_conflicts(settings, issues_arrow, synced["states"], build_id)
    # The local checkpoints of integrate() are freed by Spark's context cleaner once ``bases``
    # is garbage collected.
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


__all__ = [
    "KEY_COLUMNS",
    "Bases",
    "build_bases",
    "e_licence_base",
    "empty_pool",
    "integrate",
    "legal_entity_base",
    "parcel_base",
    "population_base",
    "read_pools",
    "real_estate_unit_base",
    "standard_address_base",
    "with_disputed",
]
