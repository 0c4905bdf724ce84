"""Natural resources and spatial geography base (自然资源和空间地理基础库): three tables.

Three tables, each with surviving attributes from the integration core
(:mod:`jobs.integrate.core`):

* ``base/parcel``: one row per parcel (宗地), keyed by parcel code (GB/T 37346). Adds the
  geometry checks of :mod:`jobs.integrate.geometry` (valid, inside the jurisdiction, area in
  the Gauss-Krüger zone, centroid), ``overlaps_with`` (parcels it overlaps) and the region link.
* ``base/real_estate_unit``: one row per real-estate unit (不动产单元), keyed by unit number.
  Adds its ``parcel_code`` (the unit number's first 19 characters) and whether that parcel is in
  the base, and the owner link (``owner_id_kind``, ``owner_base``).
* ``base/standard_address``: one row per standard address (标准地址), keyed by address code. Adds
  whether the point lies inside the jurisdiction and the region link.

Region link (parcel and address → region): ``region_code`` is a known GB/T 2260 code
(``is_known_region``), and ``is_jurisdiction_region`` says it is the jurisdiction's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.integrate.config import IntegrationConfig, Jurisdiction
from jobs.integrate.geometry import overlapping_pairs, with_geometry_checks
from jobs.integrate.observations import observed_at_of
from jobs.standardize.regions import is_known_region


def with_region_link(df: DataFrame, jurisdiction: Jurisdiction) -> DataFrame:
    """Adds ``is_known_region`` and ``is_jurisdiction_region`` for ``region_code``."""
    return df.select(
        "*",
        is_known_region(F.col("region_code")).alias("is_known_region"),
        (F.col("region_code") == F.lit(jurisdiction.region_code)).alias("is_jurisdiction_region"),
    )


def with_parcel_geometry(parcel_df: DataFrame, jurisdiction: Jurisdiction) -> DataFrame:
    """Adds the geometry checks, ``overlaps_with`` and ``area_deviation``.

    ``area_deviation`` compares the boundary's computed area with the registered area (宗地面积):
    of two overlapping parcels, the one whose boundary no longer matches its registered area is
    the likely wrong one (see :func:`jobs.integrate.anomalies.parcel_anomalies`).
    """
    checked = with_geometry_checks(parcel_df, jurisdiction.boundary_json).persist()
    pairs = overlapping_pairs(checked, jurisdiction.overlap_tolerance_m2)
    both_ways = pairs.select("parcel_code", "other_parcel_code", "overlap_area_m2").unionByName(
        pairs.select(
            F.col("other_parcel_code").alias("parcel_code"),
            F.col("parcel_code").alias("other_parcel_code"),
            "overlap_area_m2",
        )
    )
    per_parcel = both_ways.groupBy("parcel_code").agg(
        F.sort_array(F.collect_list("other_parcel_code")).alias("overlaps_with"),
        F.max("overlap_area_m2").alias("max_overlap_area_m2"),
    )
    declared = F.col("land_area").cast("double")
    return (
        checked.join(per_parcel, "parcel_code", "left")
        .withColumn(
            "overlaps_with",
            F.coalesce(F.col("overlaps_with"), F.array().cast("array<string>")),
        )
        .withColumn(
            "area_deviation",
            F.when(
                declared > 0, F.round(F.abs(F.col("computed_area_m2") - declared) / declared, 4)
            ),
        )
        .drop("min_x", "min_y", "max_x", "max_y", "geometry_wkb")
    )


def parcel_pairs(parcel_df: DataFrame) -> DataFrame:
    """Overlapping pairs from a parcel table with ``overlaps_with``. Grain: one row per pair."""
    return parcel_df.select(
        "parcel_code", F.explode("overlaps_with").alias("other_parcel_code")
    ).where(F.col("parcel_code") < F.col("other_parcel_code"))


def current_owner_kinds(real_estate_df: DataFrame) -> DataFrame:
    """``owner_id_kind`` (citizen_id | uscc) of each unit's latest record. Grain: one per unit."""
    latest = Window.partitionBy("unit_number").orderBy(
        F.col("observed_at").desc(), F.col("batch_id").desc(), F.col("row_number").desc()
    )
    return (
        real_estate_df.withColumn(
            "observed_at", observed_at_of(F.col("batch_id"), F.col("ingested_at"))
        )
        .withColumn("_rank", F.row_number().over(latest))
        .where("_rank = 1")
        .select("unit_number", F.col("owner_id").alias("_pool_owner_id"), "owner_id_kind")
    )


def with_unit_links(
    unit_df: DataFrame,
    owner_kinds_df: DataFrame | None,
    parcel_keys_df: DataFrame,
    population_keys_df: DataFrame,
    legal_entity_keys_df: DataFrame,
) -> DataFrame:
    """Adds ``parcel_code``, ``parcel_in_base``, ``owner_id_kind``, ``owner_base``."""
    parcels = parcel_keys_df.select("parcel_code", F.lit(True).alias("parcel_in_base"))
    persons = population_keys_df.select(
        F.col("person_id").alias("owner_id"), F.lit(True).alias("_owner_person")
    )
    entities = legal_entity_keys_df.select(
        F.col("uscc").alias("owner_id"), F.lit(True).alias("_owner_entity")
    )
    df = unit_df.withColumn("parcel_code", F.substring("unit_number", 1, 19))
    if owner_kinds_df is not None:
        df = (
            df.join(owner_kinds_df, "unit_number", "left")
            .withColumn(
                # The kind belongs to the owner id of the latest record; a surviving owner id from
                # elsewhere keeps no kind rather than a wrong one.
                "owner_id_kind",
                F.when(F.col("_pool_owner_id") == F.col("owner_id"), F.col("owner_id_kind")),
            )
            .drop("_pool_owner_id")
        )
    else:
        df = df.withColumn("owner_id_kind", F.lit(None).cast("string"))
    return (
        df.join(parcels, "parcel_code", "left")
        .join(persons, "owner_id", "left")
        .join(entities, "owner_id", "left")
        .withColumn("parcel_in_base", F.coalesce(F.col("parcel_in_base"), F.lit(False)))
        .withColumn(
            "owner_base",
            F.when(F.col("_owner_person"), "population").when(
                F.col("_owner_entity"), "legal_entity"
            ),
        )
        .drop("_owner_person", "_owner_entity")
    )


_INSIDE_SCHEMA = T.StructType(
    [
        T.StructField("address_code", T.StringType()),
        T.StructField("is_inside_jurisdiction", T.BooleanType()),
    ]
)


def _points_inside(
    batches: Iterator[pd.DataFrame], boundary_geojson: str
) -> Iterator[pd.DataFrame]:
    import shapely

    boundary = shapely.from_geojson(boundary_geojson)
    shapely.prepare(boundary)
    for batch in batches:
        x = batch["longitude"].to_numpy(dtype=float)
        y = batch["latitude"].to_numpy(dtype=float)
        known = np.isfinite(x) & np.isfinite(y)
        inside = np.where(
            known, shapely.contains_xy(boundary, np.nan_to_num(x), np.nan_to_num(y)), None
        )
        yield pd.DataFrame(
            {"address_code": batch["address_code"], "is_inside_jurisdiction": inside}
        )


def with_address_location(address_df: DataFrame, jurisdiction: Jurisdiction) -> DataFrame:
    """Adds ``is_inside_jurisdiction`` for the address point (point-in-polygon, shapely)."""
    boundary = jurisdiction.boundary_json
    inside = address_df.select("address_code", "longitude", "latitude").mapInPandas(
        lambda batches: _points_inside(batches, boundary), _INSIDE_SCHEMA
    )
    return address_df.join(inside, "address_code", "left")


# --- the three base tables ----------------------------------------------------------------------


def parcel_base(rows_df: DataFrame, config: IntegrationConfig) -> DataFrame:
    """``base/parcel``: one row per parcel, geometry checked and linked to its region.

    ``rows_df``: the base's members with their surviving attributes (the core's ``parcel``
    table, :mod:`jobs.integrate.core`).
    """
    jurisdiction = config.jurisdiction
    return rows_df.transform(lambda df: with_parcel_geometry(df, jurisdiction)).transform(
        lambda df: with_region_link(df, jurisdiction)
    )


def real_estate_unit_base(
    rows_df: DataFrame,
    pools: Mapping[str, DataFrame],
    parcel_df: DataFrame,
    population_df: DataFrame,
    legal_entity_df: DataFrame,
) -> DataFrame:
    """``base/real_estate_unit``: one row per unit, linked to its parcel and owner.

    ``rows_df``: the base's members with their surviving attributes (the core's
    ``real_estate_unit`` table, :mod:`jobs.integrate.core`); ``pools``: the owners come from
    the real-estate register's pool.
    """
    owners = (
        current_owner_kinds(pools["zrzyj.real_estate"]) if "zrzyj.real_estate" in pools else None
    )
    return rows_df.transform(
        lambda df: with_unit_links(
            df,
            owners,
            parcel_df.select("parcel_code"),
            population_df.select("person_id"),
            legal_entity_df.select("uscc"),
        )
    )


def standard_address_base(rows_df: DataFrame, config: IntegrationConfig) -> DataFrame:
    """``base/standard_address``: one row per address code, located and linked to its region.

    ``rows_df``: the base's members with their surviving attributes (the core's
    ``standard_address`` table, :mod:`jobs.integrate.core`).
    """
    jurisdiction = config.jurisdiction
    return rows_df.transform(lambda df: with_address_location(df, jurisdiction)).transform(
        lambda df: with_region_link(df, jurisdiction)
    )
