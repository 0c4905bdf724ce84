"""Cross-links between the base tables: ``base/links``.

Grain: one row per (relation, from key, to key), with whether the target exists in its base
(``is_resolved``). Relations: legal_representative (entity → person), employer (person →
entity), licence_holder (licence → person or entity), owner (unit → person or entity), parcel
(unit → parcel), region (parcel or address → GB/T 2260 region).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.frames import union_all


def cross_links(
    population_df: DataFrame,
    legal_entity_df: DataFrame,
    real_estate_unit_df: DataFrame,
    parcel_df: DataFrame,
    standard_address_df: DataFrame,
    e_licence_df: DataFrame,
) -> DataFrame:
    """``base/links`` from the built bases (see the module doc for the relations)."""

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
