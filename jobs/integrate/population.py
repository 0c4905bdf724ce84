"""Population base (人口基础库): derived fields of ``base/population``.

Grain of ``base/population``: one row per natural person, keyed by citizen ID (公民身份号码)
``person_id``. The surviving attributes come from :mod:`jobs.integrate.survivorship`; this
module adds what no department states directly:

* ``birth_date_from_id``, ``gender_from_id``, ``region_from_id``: read from the ID (GB 11643);
* ``is_deceased``: a death certificate (死亡医学证明), or the hukou cancelled for death;
* ``marital_status`` (婚姻状况, GB/T 2261.2): from the marriage registry (mzj.marriage, the
  authority): the person's latest registration, widowed when the spouse of a standing marriage
  has died; without any registration, unmarried below the legal marriage age and "not stated"
  (90) above it, since a marriage registered elsewhere is not in this registry;
* ``is_insured`` and ``employer_uscc``: from the current social-insurance records (the
  employer of the latest active record; the link to the legal-entity base is in ``base/links``).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.integrate.observations import observed_at_of

#: GB/T 2261.2 codes used by the derivation.
UNMARRIED, MARRIED, REMARRIED_FORMER_SPOUSE, WIDOWED, DIVORCED, NOT_STATED = (
    "10",
    "20",
    "23",
    "30",
    "40",
    "90",
)
#: Registration type (登记类型) → marital status after it.
_REGISTRATION_STATUS = {
    "marriage": MARRIED,
    "remarriage": REMARRIED_FORMER_SPOUSE,
    "divorce": DIVORCED,
}
#: Legal marriage age (民法典 §1047): men 22, women 20.
MARRIAGE_AGE = {"1": 22, "2": 20}


def birth_date_from_id(person_id: Column) -> Column:
    """The birth date inside a (valid, normalised) citizen ID: characters 7–14."""
    return F.to_date(F.substring(person_id, 7, 8), "yyyyMMdd")


def gender_from_id(person_id: Column) -> Column:
    """GB/T 2261.1 gender of a citizen ID: odd 17th character = male (1), even = female (2)."""
    return F.when(F.substring(person_id, 17, 1).cast("int") % 2 == 1, "1").otherwise("2")


def with_id_facts(population_df: DataFrame) -> DataFrame:
    """Adds ``birth_date_from_id``, ``gender_from_id`` and ``region_from_id``."""
    person_id = F.col("person_id")
    return population_df.select(
        "*",
        birth_date_from_id(person_id).alias("birth_date_from_id"),
        gender_from_id(person_id).alias("gender_from_id"),
        F.substring(person_id, 1, 6).alias("region_from_id"),
    )


def with_death(population_df: DataFrame) -> DataFrame:
    """Adds ``is_deceased``: a death date survives, or the hukou is cancelled for death."""
    return population_df.withColumn(
        "is_deceased",
        F.col("death_date").isNotNull()
        | F.coalesce(F.col("hukou_status") == "deceased", F.lit(False)),
    )


def explode_marriage_parties(marriage_df: DataFrame) -> DataFrame:
    """Marriage registrations → one row per (registration, party).

    Grain: one row per party of the latest record of each registration number. Columns:
    ``person_id, spouse_id, registration_number, registration_type, registered_on`` and lineage.
    """
    latest = Window.partitionBy("registration_number").orderBy(
        F.col("observed_at").desc(), F.col("batch_id").desc(), F.col("row_number").desc()
    )
    current = (
        marriage_df.withColumn(
            "observed_at", observed_at_of(F.col("batch_id"), F.col("ingested_at"))
        )
        .withColumn("_rank", F.row_number().over(latest))
        .where("_rank = 1")
    )
    sides = F.array(
        F.struct(F.col("male_id").alias("person_id"), F.col("female_id").alias("spouse_id")),
        F.struct(F.col("female_id").alias("person_id"), F.col("male_id").alias("spouse_id")),
    )
    return (
        current.select(
            F.explode(sides).alias("side"),
            "registration_number",
            "registration_type",
            "registered_on",
            "department",
            "resource",
            "batch_id",
            "observed_at",
        )
        .select(
            "side.person_id",
            "side.spouse_id",
            "registration_number",
            "registration_type",
            "registered_on",
            "department",
            "resource",
            "batch_id",
            "observed_at",
        )
        .where(F.col("person_id").isNotNull())
    )


def latest_registrations(parties_df: DataFrame) -> DataFrame:
    """Each person's latest marriage registration. Grain: one row per person."""
    latest = Window.partitionBy("person_id").orderBy(
        F.col("registered_on").desc(), F.col("registration_number").desc()
    )
    return (
        parties_df.withColumn("_rank", F.row_number().over(latest)).where("_rank = 1").drop("_rank")
    )


def with_marital_status(
    population_df: DataFrame, marriage_df: DataFrame | None, as_of: dt.date
) -> DataFrame:
    """Adds ``marital_status``, ``spouse_id`` and ``marital_status_provenance``.

    Widowed (30) needs the spouse's death, so this runs after :func:`with_death`.
    """
    provenance_type = "struct<department:string,batch_id:string,observed_at:timestamp,registration_number:string,registered_on:date>"
    if marriage_df is None:
        latest = population_df.sparkSession.createDataFrame(
            [],
            "person_id string, spouse_id string, registration_number string, "
            "registration_type string, registered_on date, department string, resource string, "
            "batch_id string, observed_at timestamp",
        )
    else:
        latest = latest_registrations(explode_marriage_parties(marriage_df))
    spouses = population_df.select(
        F.col("person_id").alias("spouse_id"), F.col("death_date").alias("_spouse_death_date")
    )
    registered = latest.join(spouses, "spouse_id", "left").select(
        "person_id",
        "spouse_id",
        "registration_type",
        "_spouse_death_date",
        F.struct(
            "department", "batch_id", "observed_at", "registration_number", "registered_on"
        ).alias("marital_status_provenance"),
    )
    mapping = F.create_map(*[F.lit(x) for pair in _REGISTRATION_STATUS.items() for x in pair])
    from_registry = mapping[F.col("registration_type")]
    widowed = (
        from_registry.isin(MARRIED, REMARRIED_FORMER_SPOUSE)
        & F.col("_spouse_death_date").isNotNull()
    )
    age = F.floor(F.months_between(F.lit(as_of), F.col("birth_date_from_id")) / 12)
    below_age = age < F.coalesce(
        F.create_map(*[F.lit(x) for pair in MARRIAGE_AGE.items() for x in pair])[
            F.col("gender_from_id")
        ],
        F.lit(22),
    )
    status = (
        F.when(F.col("registration_type").isNull() & below_age, UNMARRIED)
        .when(F.col("registration_type").isNull(), NOT_STATED)
        .when(widowed, WIDOWED)
        .otherwise(from_registry)
    )
    return (
        population_df.join(registered, "person_id", "left")
        .withColumn("marital_status", status)
        .withColumn(
            "spouse_id",
            F.when(
                F.col("marital_status").isin(MARRIED, REMARRIED_FORMER_SPOUSE, WIDOWED),
                F.col("spouse_id"),
            ),
        )
        .withColumn(
            "marital_status_provenance", F.col("marital_status_provenance").cast(provenance_type)
        )
        .drop("registration_type", "_spouse_death_date")
    )


def current_insurance(insured_df: DataFrame) -> DataFrame:
    """The latest record of each (person, insurance type). Grain: one row per pair."""
    latest = Window.partitionBy("person_id", "insurance_type").orderBy(
        F.col("observed_at").desc(), F.col("batch_id").desc(), F.col("row_number").desc()
    )
    return (
        insured_df.withColumn(
            "observed_at", observed_at_of(F.col("batch_id"), F.col("ingested_at"))
        )
        .withColumn("_rank", F.row_number().over(latest))
        .where("_rank = 1")
        .drop("_rank")
    )


def with_insurance(population_df: DataFrame, insurance_df: DataFrame | None) -> DataFrame:
    """Adds ``is_insured`` and ``employer_uscc`` from the current insurance records."""
    if insurance_df is None:
        return population_df.withColumn("is_insured", F.lit(False)).withColumn(
            "employer_uscc", F.lit(None).cast("string")
        )
    active = insurance_df.where(F.col("insurance_status") == "active")
    per_person = active.groupBy("person_id").agg(
        F.max_by(
            "employer_uscc",
            F.struct(
                F.col("employer_uscc").isNotNull(), F.col("observed_at"), F.col("employer_uscc")
            ),
        ).alias("employer_uscc")
    )
    return population_df.join(
        per_person.withColumn("is_insured", F.lit(True)), "person_id", "left"
    ).withColumn("is_insured", F.coalesce(F.col("is_insured"), F.lit(False)))
