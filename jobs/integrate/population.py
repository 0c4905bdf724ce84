"""Population base (人口基础库): ``base/population`` and its derived fields.

Grain of ``base/population``: one row per natural person, keyed by citizen ID (公民身份号码)
``person_id``. The surviving attributes come from the integration core
(:mod:`jobs.integrate.core`); this module adds what no department states directly:

* ``birth_date_from_id``, ``gender_from_id``, ``region_from_id``: read from the ID (GB 11643);
* ``is_deceased``: a death certificate (死亡医学证明), or the hukou cancelled for death;
* ``marital_status`` (婚姻状况, GB/T 2261.2): from the marriage registry (mzj.marriage, the
  authority): the person's latest registration, widowed when the spouse of a standing marriage
  has died; without any registration, what another department states (the hukou register's
  婚姻状况, the surviving statement), else unmarried below the legal marriage age and "not
  stated" (90) above it, since a marriage registered elsewhere is not in this registry;
* ``is_insured`` and ``employer_uscc``: from the current social-insurance records (the
  employer of the latest active record; the link to the legal-entity base is in ``base/links``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.integrate.config import Attribute, IntegrationConfig
from jobs.integrate.conflicts import CONFLICT, make_issues, observed_value
from jobs.integrate.observations import OBSERVATION_COLUMNS, observed_at_of
from jobs.integrate.survivorship import current_statements

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
#: The data element, as named in data_elements.yaml and schemas/bases/population.yaml.
MARITAL_STATUS = "marital_status"
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
    ``person_id, spouse_id, registration_number, registration_type, registered_on`` and lineage
    (``department, resource, batch_id, observed_at, source_file, row_number``).
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
            "source_file",
            "row_number",
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
            "source_file",
            "row_number",
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
    population_df: DataFrame,
    parties_df: DataFrame | None,
    as_of: dt.date,
    stated_df: DataFrame | None = None,
) -> DataFrame:
    """Adds ``marital_status``, ``spouse_id`` and ``marital_status_provenance``.

    Widowed (30) needs the spouse's death, so this runs after :func:`with_death`.

    Args:
        parties_df: :func:`explode_marriage_parties` of the marriage pool (None: no registry).
        stated_df: ``key, value, department, batch_id, observed_at``: the surviving statement of
            another department (``base/attribute_values``), used when the registry has none.
    """
    provenance_type = "struct<department:string,batch_id:string,observed_at:timestamp,registration_number:string,registered_on:date>"
    if parties_df is None:
        latest = population_df.sparkSession.createDataFrame(
            [],
            "person_id string, spouse_id string, registration_number string, "
            "registration_type string, registered_on date, department string, resource string, "
            "batch_id string, observed_at timestamp",
        )
    else:
        latest = latest_registrations(parties_df)
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
    if stated_df is None:
        stated_df = population_df.sparkSession.createDataFrame(
            [],
            "key string, value string, department string, batch_id string, observed_at timestamp",
        )
    stated = stated_df.select(
        F.col("key").alias("person_id"),
        F.col("value").alias("_stated"),
        F.struct(
            "department",
            "batch_id",
            "observed_at",
            F.lit(None).cast("string").alias("registration_number"),
            F.lit(None).cast("date").alias("registered_on"),
        )
        .cast(provenance_type)
        .alias("_stated_provenance"),
    )
    from_registry = _registry_status(F.col("registration_type"))
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
    unregistered = F.col("registration_type").isNull()
    status = (
        F.when(unregistered & F.col("_stated").isNotNull(), F.col("_stated"))
        .when(unregistered & below_age, UNMARRIED)
        .when(unregistered, NOT_STATED)
        .when(widowed, WIDOWED)
        .otherwise(from_registry)
    )
    return (
        population_df.join(registered, "person_id", "left")
        .join(stated, "person_id", "left")
        .withColumn("marital_status", status)
        .withColumn(
            "spouse_id",
            F.when(
                F.col("marital_status").isin(MARRIED, REMARRIED_FORMER_SPOUSE, WIDOWED),
                F.col("spouse_id"),
            ),
        )
        .withColumn(
            "marital_status_provenance",
            F.when(unregistered, F.col("_stated_provenance")).otherwise(
                F.col("marital_status_provenance").cast(provenance_type)
            ),
        )
        .drop("registration_type", "_spouse_death_date", "_stated", "_stated_provenance")
    )


def _registry_status(registration_type: Column) -> Column:
    mapping = F.create_map(*[F.lit(x) for pair in _REGISTRATION_STATUS.items() for x in pair])
    return mapping[registration_type]


def marital_status_observations(parties_df: DataFrame) -> DataFrame:
    """The registry's statements of marital status, as attribute observations.

    The authority (mzj.marriage) states marital status through registrations, not a column:
    each person's latest registration says "married" (20), "remarried to the former spouse"
    (23) or "divorced" (40) from its date on. Grain: one row per person with a registration,
    in :data:`jobs.integrate.observations.OBSERVATION_COLUMNS` (field ``registration_type``,
    record key the registration number), so that ``base/attribute_observations`` shows the
    registry's value next to every other department's and survivorship credits the authority.
    """
    latest = latest_registrations(parties_df)
    return (
        latest.select(
            F.lit("citizen_id").alias("key_kind"),
            F.col("person_id").alias("key"),
            F.lit(MARITAL_STATUS).alias("element"),
            _registry_status(F.col("registration_type")).alias("value"),
            "department",
            F.concat_ws(".", "department", "resource").alias("resource"),
            F.lit("registration_type").alias("field"),
            F.col("registration_number").alias("record_key"),
            "batch_id",
            "observed_at",
            "source_file",
            F.col("row_number").cast("long").alias("row_number"),
        )
        .where(F.col("value").isNotNull())
        .select(*OBSERVATION_COLUMNS)
    )


def marital_status_class(code: Column) -> Column:
    """The GB/T 2261.2 class of a code: 10 unmarried, 20 married (21–23 refine it), 30 widowed,
    40 divorced, 90 not stated; NULL for anything else."""
    return F.when(code.rlike("^[1-49]0$|^2[1-3]$"), F.concat(F.substring(code, 1, 1), F.lit("0")))


def marital_status_conflicts(
    observations_df: DataFrame,
    population_df: DataFrame,
    parties_df: DataFrame,
    authority: Sequence[str],
) -> DataFrame:
    """Other departments' marital status statements that contradict the marriage registry.

    The registry (the authority, 一数一源) states only its registrations, so each current
    statement of another department is compared with what the registry said when the statement
    was made, the person's latest registration before the delivery, and only a contradiction
    is a conflict:

    * a statement with no registration before it is not compared: a marriage registered
      elsewhere, or one registered after the department last spoke, is not in conflict (its
      record is late, which a later delivery mends);
    * by GB/T 2261.2 class: 初婚 / 再婚 / 复婚 (21–23) are 已婚 (20); 未说明 (90) states nothing;
    * after a marriage, "married" and "widowed" agree with it (a death is not the registry's
      to record); "unmarried" and "divorced" do not. After a divorce, only "divorced" agrees;
    * a registration made after either party's death is the ``deceased_married`` anomaly's
      (:mod:`jobs.integrate.anomalies`), not a statement to measure others against.

    The ticket goes to the departments whose statement contradicts the registry; the surviving
    value shown is the base's (the registry's current word).

    Args:
        observations_df: ``base/attribute_observations`` (other departments' statements).
        population_df: the population base with ``death_date`` and ``marital_status``.
        parties_df: :func:`explode_marriage_parties` of the marriage pool.
        authority: the element's authoritative resources (their statements are not compared).

    Returns:
        issues (:data:`jobs.integrate.conflicts.ISSUE_COLUMNS`), one per person in conflict.
    """
    statements = current_statements(
        observations_df.where(
            (F.col("key_kind") == "citizen_id")
            & (F.col("element") == MARITAL_STATUS)
            & ~F.col("resource").isin(list(authority))
        )
    ).select("key", "value", "department", "resource", "record_key", "observed_at")
    registrations = parties_df.select(
        F.col("person_id").alias("key"),
        "spouse_id",
        "registration_number",
        "registered_on",
        # 复婚 (23) is a marriage: compared as 20.
        marital_status_class(_registry_status(F.col("registration_type"))).alias("_registered"),
        F.col("department").alias("_registry_department"),
        F.concat_ws(".", "department", "resource").alias("_registry_resource"),
        F.col("observed_at").alias("_registry_observed_at"),
    )
    latest_before = Window.partitionBy("key", "resource", "record_key").orderBy(
        F.col("registered_on").desc(), F.col("registration_number").desc()
    )
    compared = (
        statements.join(registrations, "key")
        .where(F.col("registered_on") < F.to_date("observed_at"))
        .withColumn("_rank", F.row_number().over(latest_before))
        .where("_rank = 1")
    )
    deaths = population_df.select(F.col("person_id").alias("key"), F.col("death_date").alias("_d"))
    spouse_deaths = deaths.select(F.col("key").alias("spouse_id"), F.col("_d").alias("_sd"))
    after_death = F.coalesce(F.col("registered_on") > F.col("_d"), F.lit(False)) | F.coalesce(
        F.col("registered_on") > F.col("_sd"), F.lit(False)
    )
    stated = marital_status_class(F.col("value"))
    registered = F.col("_registered")
    agrees = (stated == registered) | ((registered == MARRIED) & (stated == WIDOWED))
    contradicting = (
        compared.join(deaths, "key", "left")
        .join(spouse_deaths, "spouse_id", "left")
        .where(~after_death & stated.isNotNull() & (stated != NOT_STATED) & ~agrees)
    )
    registration = F.struct(
        "registered_on",
        "registration_number",
        "_registry_department",
        "_registry_resource",
        "_registry_observed_at",
    )
    per_value = contradicting.groupBy("key", "value").agg(
        F.sort_array(F.collect_set("department")).alias("departments"),
        F.sort_array(F.collect_set("resource")).alias("resources"),
        F.max("observed_at").alias("observed_at"),
        F.max(registration).alias("registration"),
    )
    per_person = per_value.groupBy("key").agg(
        F.sort_array(
            F.collect_list(F.struct("value", "departments", "resources", "observed_at"))
        ).alias("losing_values"),
        F.max("registration").alias("registration"),
    )
    base = population_df.select(
        F.col("person_id").alias("key"), F.col("marital_status").alias("_survivor")
    )
    found = per_person.join(base, "key", "left")
    losing, reg = F.col("losing_values"), F.col("registration")
    survivor = observed_value(
        F.col("_survivor"),
        F.array(reg["_registry_department"]),
        F.array(reg["_registry_resource"]),
        reg["_registry_observed_at"],
    )
    return make_issues(
        found,
        issue_type=CONFLICT,
        rule=None,
        element=MARITAL_STATUS,
        key_kind=F.lit("citizen_id"),
        key=F.col("key"),
        base="population",
        base_keys=F.array(F.col("key")),
        departments=F.flatten(F.transform(losing, lambda v: v["departments"])),
        resources=F.flatten(F.transform(losing, lambda v: v["resources"])),
        surviving_value=F.col("_survivor"),
        surviving_department=reg["_registry_department"],
        observed_values=F.concat(
            F.array(survivor),
            F.transform(
                losing,
                lambda v: observed_value(
                    v["value"], v["departments"], v["resources"], v["observed_at"]
                ),
            ),
        ),
        detail=F.concat(
            F.lit(MARITAL_STATUS + ": "),
            F.coalesce(F.col("_survivor"), F.lit("")),
            F.lit(" ("),
            reg["_registry_resource"],
            F.lit(", registration "),
            reg["registration_number"],
            F.lit(" of "),
            F.date_format(reg["registered_on"], "yyyy-MM-dd"),
            F.lit(") vs "),
            F.array_join(
                F.transform(
                    losing,
                    lambda v: F.concat(
                        v["value"], F.lit(" ("), F.array_join(v["resources"], ","), F.lit(")")
                    ),
                ),
                "; ",
            ),
        ),
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


def marital_status_attribute(config: IntegrationConfig) -> Attribute | None:
    """The population base's marital status, when configured as derived from registrations."""
    spec = config.bases.get("population")
    for attribute in spec.attributes if spec is not None else ():
        if attribute.element == MARITAL_STATUS and attribute.derived:
            return attribute
    return None


def population_base(
    rows_df: DataFrame,
    values_df: DataFrame,
    config: IntegrationConfig,
    as_of: dt.date,
    insurance_df: DataFrame,
    parties_df: DataFrame,
) -> DataFrame:
    """``base/population``: one row per natural person, the survivors and the fields above.

    ``rows_df``: the base's members with their surviving attributes (the core's ``population``
    table, :mod:`jobs.integrate.core`); ``values_df``: ``base/attribute_values``;
    ``parties_df``: :func:`explode_marriage_parties` of the marriage pool (the integration
    keeps it: three rules read it too).
    """
    spec = config.bases["population"]
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
        rows_df.transform(with_id_facts)
        .transform(with_death)
        .transform(lambda df: with_marital_status(df, parties_df, as_of, stated))
        .transform(lambda df: with_insurance(df, insurance_df))
    )
