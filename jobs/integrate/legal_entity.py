"""Legal-entity base (法人基础库): ``base/legal_entity`` and its derived fields.

Grain of ``base/legal_entity``: one row per legal person or organisation, keyed by unified
social credit code (统一社会信用代码) ``uscc``. The surviving attributes come from the
integration core (:mod:`jobs.integrate.core`: market regulation, civil affairs and tax); this
module adds:

* ``registering_authority`` (登记管理部门): the USCC's first character (9 market regulation,
  5 civil affairs, 1 institutional establishment …; GB 32100);
* ``is_deregistered``: deregistered (注销) or licence revoked (吊销) at its registering authority;
* ``legal_representative_in_population``: the legal representative's ID is a population row;
* ``employee_count``: persons with an active social-insurance record through this employer.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

#: Registration states after which an entity may no longer operate.
ENDED_STATES: tuple[str, ...] = ("deregistered", "revoked")


def with_registration_facts(legal_entity_df: DataFrame) -> DataFrame:
    """Adds ``registering_authority`` and ``is_deregistered``."""
    return legal_entity_df.select(
        "*",
        F.substring("uscc", 1, 1).alias("registering_authority"),
        F.coalesce(F.col("entity_status").isin(*ENDED_STATES), F.lit(False)).alias(
            "is_deregistered"
        ),
    )


def with_legal_representative_link(
    legal_entity_df: DataFrame, population_keys_df: DataFrame
) -> DataFrame:
    """Adds ``legal_representative_in_population`` (NULL when no representative ID is known)."""
    known = population_keys_df.select(
        F.col("person_id").alias("legal_representative_id"), F.lit(True).alias("_known")
    )
    return (
        legal_entity_df.join(known, "legal_representative_id", "left")
        .withColumn(
            "legal_representative_in_population",
            F.when(
                F.col("legal_representative_id").isNotNull(),
                F.coalesce(F.col("_known"), F.lit(False)),
            ),
        )
        .drop("_known")
    )


def with_employee_count(legal_entity_df: DataFrame, insurance_df: DataFrame | None) -> DataFrame:
    """Adds ``employee_count``: distinct persons actively insured through the entity."""
    if insurance_df is None:
        return legal_entity_df.withColumn("employee_count", F.lit(0).cast("long"))
    counts = (
        insurance_df.where(
            (F.col("insurance_status") == "active") & F.col("employer_uscc").isNotNull()
        )
        .groupBy(F.col("employer_uscc").alias("uscc"))
        .agg(F.countDistinct("person_id").alias("employee_count"))
    )
    return legal_entity_df.join(counts, "uscc", "left").withColumn(
        "employee_count", F.coalesce(F.col("employee_count"), F.lit(0).cast("long"))
    )


def legal_entity_base(
    rows_df: DataFrame, population_df: DataFrame, insurance_df: DataFrame
) -> DataFrame:
    """``base/legal_entity``: one row per USCC, the survivors and the fields above.

    ``rows_df``: the base's members with their surviving attributes (the core's
    ``legal_entity`` table, :mod:`jobs.integrate.core`).
    """
    return (
        rows_df.transform(with_registration_facts)
        .transform(lambda df: with_legal_representative_link(df, population_df.select("person_id")))
        .transform(lambda df: with_employee_count(df, insurance_df))
    )
