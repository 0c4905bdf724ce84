"""E-licence base (电子证照基础库): ``base/e_licence``.

Grain: one row per (licence type, licence number); ``licence_id`` is ``<type>:<number>``.
Licence types and the pool fields they come from are configuration (``schemas/bases/
e_licence.yaml``). A licence has one issuer, which is its authority (一数一源): the latest record
of the licence in the issuing pool wins, and its provenance is kept on the row.

Status (证照状态) is derived, in this order of precedence:

1. ``revoked`` / ``cancelled``: the issuer revoked (吊销) or cancelled (注销) it;
2. ``holder_deceased``: a holder who is a person is deceased in the population base;
3. ``holder_deregistered``: a holder that is an entity is deregistered or revoked in the
   legal-entity base;
4. ``expired``: its validity ended before ``as_of``;
5. ``suspended``: the issuer suspended it (暂扣);
6. ``valid``.

``issuer_status`` keeps what the issuer said. Holder links (licence holder → population or
legal entity) are ``holder_base`` and ``holders_in_base``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.catalog.models import Catalog
from jobs.frames import union_all
from jobs.integrate.config import IntegrationConfig, LicenceType, key_kind_of
from jobs.integrate.observations import observed_at_of

VALID, SUSPENDED, EXPIRED, REVOKED, CANCELLED = (
    "valid",
    "suspended",
    "expired",
    "revoked",
    "cancelled",
)
HOLDER_DECEASED, HOLDER_DEREGISTERED = "holder_deceased", "holder_deregistered"

_HOLDER = "struct<holder_id:string,holder_kind:string>"


def _field_or_null(name: str | None, spark_type: str) -> Column:
    return F.col(name).cast(spark_type) if name else F.lit(None).cast(spark_type)


def _holder(pool_df: DataFrame, licence: LicenceType, catalog: Catalog, name: str) -> Column:
    f = catalog.resource(licence.resource_id).field(name)
    kind = key_kind_of(f)
    holder_kind = F.col(f"{name}_kind") if kind == "party" else F.lit(kind)
    return F.when(
        F.col(name).isNotNull(),
        F.struct(F.col(name).alias("holder_id"), holder_kind.alias("holder_kind")),
    )


def licence_records(pool_df: DataFrame, licence: LicenceType, catalog: Catalog) -> DataFrame:
    """One licence type's pool rows in the e-licence shape (every record, not yet the latest)."""
    status = F.lit(VALID)
    if licence.status:
        mapped = F.col(licence.status)
        if licence.status_map:
            mapping = F.create_map(*[F.lit(x) for pair in licence.status_map.items() for x in pair])
            mapped = F.coalesce(mapping[F.col(licence.status)], F.col(licence.status))
        status = mapped
    holders = F.filter(
        F.array(*[_holder(pool_df, licence, catalog, h).cast(_HOLDER) for h in licence.holders]),
        lambda h: h.isNotNull(),
    )
    department = licence.resource_id.split(".", 1)[0]
    return pool_df.where(F.col(licence.number).isNotNull()).select(
        F.concat_ws(":", F.lit(licence.type), F.col(licence.number)).alias("licence_id"),
        F.lit(licence.type).alias("licence_type"),
        F.lit(licence.name).alias("licence_type_name"),
        F.col(licence.number).cast("string").alias("licence_number"),
        _field_or_null(licence.category, "string").alias("category"),
        holders.alias("holders"),
        _field_or_null(licence.holder_name, "string").alias("holder_name"),
        _field_or_null(licence.issued_on, "date").alias("issued_on"),
        _field_or_null(licence.valid_from, "date").alias("valid_from"),
        _field_or_null(licence.valid_to, "date").alias("valid_to"),
        status.alias("issuer_status"),
        F.lit(department).alias("department"),
        F.lit(licence.resource_id).alias("resource"),
        "batch_id",
        observed_at_of(F.col("batch_id"), F.col("ingested_at")).alias("observed_at"),
        "source_file",
        F.col("row_number").cast("long").alias("row_number"),
    )


def latest_licences(records_df: DataFrame) -> DataFrame:
    """The issuer's latest record of each licence. Grain: one row per licence id."""
    latest = Window.partitionBy("licence_id").orderBy(
        F.col("observed_at").desc(),
        F.col("batch_id").desc(),
        F.col("source_file").desc(),
        F.col("row_number").desc(),
    )
    return (
        records_df.withColumn("_rank", F.row_number().over(latest)).where("_rank = 1").drop("_rank")
    )


def licences_from_pools(
    pools: Mapping[str, DataFrame], licence_types: Mapping[str, LicenceType], catalog: Catalog
) -> DataFrame | None:
    """Every configured licence type whose issuing pool is given, latest record per licence."""
    parts = [
        licence_records(pools[t.resource_id], t, catalog)
        for t in licence_types.values()
        if t.resource_id in pools
    ]
    if not parts:
        return None
    return latest_licences(union_all(parts))


def with_holder_links(
    licence_df: DataFrame, population_df: DataFrame, legal_entity_df: DataFrame
) -> DataFrame:
    """Adds ``holder_id``, ``holder_id_kind``, ``holder_base``, ``holders_in_base`` and the
    holder facts the status needs (``is_holder_deceased``, ``is_holder_deregistered``).

    Grain unchanged (one row per licence): the holders are exploded, looked up and re-grouped.
    """
    persons = population_df.select(
        F.col("person_id").alias("holder_id"),
        F.lit("citizen_id").alias("holder_kind"),
        F.lit("population").alias("_base"),
        F.col("is_deceased").alias("_deceased"),
        F.col("death_date").alias("_death_date"),
        F.lit(False).alias("_deregistered"),
    )
    entities = legal_entity_df.select(
        F.col("uscc").alias("holder_id"),
        F.lit("uscc").alias("holder_kind"),
        F.lit("legal_entity").alias("_base"),
        F.lit(False).alias("_deceased"),
        F.lit(None).cast("date").alias("_death_date"),
        F.col("is_deregistered").alias("_deregistered"),
    )
    known = persons.unionByName(entities)
    exploded = licence_df.select(
        "licence_id", F.posexplode("holders").alias("position", "h")
    ).select("licence_id", "position", "h.holder_id", "h.holder_kind")
    looked_up = exploded.join(known, ["holder_id", "holder_kind"], "left")
    per_licence = looked_up.groupBy("licence_id").agg(
        F.max(F.when(F.col("position") == 0, F.col("_base"))).alias("holder_base"),
        F.min(F.col("_base").isNotNull()).alias("holders_in_base"),
        F.max(F.coalesce(F.col("_deceased"), F.lit(False))).alias("is_holder_deceased"),
        F.min(F.col("_death_date")).alias("holder_death_date"),
        F.max(F.coalesce(F.col("_deregistered"), F.lit(False))).alias("is_holder_deregistered"),
    )
    return (
        licence_df.withColumn("holder_id", F.col("holders")[0]["holder_id"])
        .withColumn("holder_id_kind", F.col("holders")[0]["holder_kind"])
        .join(per_licence, "licence_id", "left")
        .withColumn("is_holder_deceased", F.coalesce(F.col("is_holder_deceased"), F.lit(False)))
        .withColumn(
            "is_holder_deregistered", F.coalesce(F.col("is_holder_deregistered"), F.lit(False))
        )
    )


def with_status(licence_df: DataFrame, as_of: dt.date) -> DataFrame:
    """Adds the derived ``status`` (see the module docstring for the precedence)."""
    issuer = F.col("issuer_status")
    status = (
        F.when(issuer == REVOKED, REVOKED)
        .when(issuer == CANCELLED, CANCELLED)
        .when(F.col("is_holder_deceased"), HOLDER_DECEASED)
        .when(F.col("is_holder_deregistered"), HOLDER_DEREGISTERED)
        .when(F.col("valid_to") < F.lit(as_of), EXPIRED)
        .when(issuer == SUSPENDED, SUSPENDED)
        .otherwise(VALID)
    )
    return licence_df.withColumn("status", status)


def e_licence_base(
    licence_pools: Mapping[str, DataFrame],
    config: IntegrationConfig,
    population_df: DataFrame,
    legal_entity_df: DataFrame,
    as_of: dt.date,
) -> DataFrame:
    """``base/e_licence``: one row per (licence type, licence number) with derived status.

    Args:
        licence_pools: the issuing pool of every configured licence type (empty when not
            ingested yet), by resource id.
    """
    licences = licences_from_pools(licence_pools, config.licence_types, config.catalog)
    return licences.transform(
        lambda df: with_holder_links(df, population_df, legal_entity_df)
    ).transform(lambda df: with_status(df, as_of))
