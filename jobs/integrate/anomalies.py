"""Logical anomalies (逻辑异常) of DESIGN §6, each a DataFrame → issues transform.

Rule names are the synthetic manifest's vocabulary. Each rule names the department a ticket goes
to: the department whose statement the rule finds implausible (the one that can correct it).

| rule | subject (key) | base row marked · element | ticket to |
|---|---|---|---|
| birth_date_id_mismatch | person | population · birth_date | source of the surviving birth date |
| gender_id_mismatch | person | population · gender | source of the surviving gender |
| deceased_still_insured | person | population · death_date | social insurance (active after death) |
| deceased_holds_valid_licence | holder | e_licence · status | issuer (licence still valid) |
| deceased_married | deceased party | population · marital_status | marriage registry |
| deregistered_but_active_at_tax | entity | legal_entity · tax_status | tax (status normal) |
| legal_representative_not_in_population | entity | legal_entity · legal_representative_id | registering authority |
| licence_holder_not_in_population | holder | e_licence · holder_id | issuer |
| licence_holder_not_in_legal_entity | holder | e_licence · holder_id | issuer |
| licence_expired | holder | e_licence · valid_to | issuer (valid after its end date) |
| parcel_invalid_geometry | parcel | parcel · geometry | source of the boundary |
| parcel_outside_jurisdiction | parcel | parcel · geometry | source of the boundary |
| parcel_overlap | parcel whose boundary disagrees more with its registered area | parcel · geometry (both) | source of the boundary |

"After death" always means in a delivery made after the death date: a department cannot be
blamed for a death it could not yet know of.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.integrate.conflicts import ANOMALY, make_issues, observed_value
from jobs.integrate.quarantine import filter_unexplained

BIRTH_DATE_ID_MISMATCH = "birth_date_id_mismatch"
GENDER_ID_MISMATCH = "gender_id_mismatch"
DECEASED_STILL_INSURED = "deceased_still_insured"
DECEASED_HOLDS_VALID_LICENCE = "deceased_holds_valid_licence"
DECEASED_MARRIED = "deceased_married"
DEREGISTERED_BUT_ACTIVE_AT_TAX = "deregistered_but_active_at_tax"
LEGAL_REP_NOT_IN_POPULATION = "legal_representative_not_in_population"
HOLDER_NOT_IN_POPULATION = "licence_holder_not_in_population"
HOLDER_NOT_IN_LEGAL_ENTITY = "licence_holder_not_in_legal_entity"
LICENCE_EXPIRED = "licence_expired"
PARCEL_INVALID_GEOMETRY = "parcel_invalid_geometry"
PARCEL_OUTSIDE_JURISDICTION = "parcel_outside_jurisdiction"
PARCEL_OVERLAP = "parcel_overlap"

#: Anomalies that report a disagreement with the ID itself; a value conflict on the same
#: subject and element is then not reported separately (see conflicts.without_subsumed).
ID_RULES: tuple[str, ...] = (BIRTH_DATE_ID_MISMATCH, GENDER_ID_MISMATCH)


def _one(value: Column) -> Column:
    return F.array(value)


def _from_provenance(
    df: DataFrame,
    *,
    rule: str,
    element: str,
    base: str,
    key_kind: str,
    key: str,
    value: Column,
    provenance: str,
    detail: Column,
) -> DataFrame:
    """An anomaly about a surviving attribute: the ticket goes to the attribute's source."""
    source = F.col(provenance)
    return make_issues(
        df,
        issue_type=ANOMALY,
        rule=rule,
        element=element,
        key_kind=F.lit(key_kind),
        key=F.col(key),
        base=base,
        base_keys=_one(F.col(key)),
        departments=_one(source["department"]),
        resources=_one(source["resource"]),
        surviving_value=value,
        surviving_department=source["department"],
        observed_values=_one(
            observed_value(
                value, _one(source["department"]), _one(source["resource"]), source["observed_at"]
            )
        ),
        detail=detail,
    )


def id_mismatches(population_df: DataFrame) -> DataFrame:
    """``birth_date_id_mismatch`` and ``gender_id_mismatch``: the surviving value contradicts
    the citizen ID (GB 11643 birth date; parity of the 17th character). Unknown genders (0, 9)
    contradict nothing."""
    birth = population_df.where(
        F.col("birth_date").isNotNull() & (F.col("birth_date") != F.col("birth_date_from_id"))
    )
    gender = population_df.where(
        F.col("gender").isin("1", "2") & (F.col("gender") != F.col("gender_from_id"))
    )
    return _from_provenance(
        birth,
        rule=BIRTH_DATE_ID_MISMATCH,
        element="birth_date",
        base="population",
        key_kind="citizen_id",
        key="person_id",
        value=F.date_format("birth_date", "yyyy-MM-dd"),
        provenance="birth_date_provenance",
        detail=F.concat(
            F.lit("birth date "),
            F.date_format("birth_date", "yyyy-MM-dd"),
            F.lit(" but the ID says "),
            F.date_format("birth_date_from_id", "yyyy-MM-dd"),
        ),
    ).unionByName(
        _from_provenance(
            gender,
            rule=GENDER_ID_MISMATCH,
            element="gender",
            base="population",
            key_kind="citizen_id",
            key="person_id",
            value=F.col("gender"),
            provenance="gender_provenance",
            detail=F.concat(
                F.lit("gender "),
                F.col("gender"),
                F.lit(" but the ID says "),
                F.col("gender_from_id"),
            ),
        )
    )


def _resource_id(df: DataFrame) -> Column:
    """``gaj.hukou`` from a pool row's ``department`` and short ``resource`` lineage."""
    return F.concat_ws(".", F.col("department"), F.col("resource"))


def deceased_still_insured(population_df: DataFrame, insurance_df: DataFrame) -> DataFrame:
    """Active social insurance (参保) reported after the person's death."""
    dead = population_df.where(F.col("death_date").isNotNull()).select("person_id", "death_date")
    active = insurance_df.where(F.col("insurance_status") == "active").join(dead, "person_id")
    late = active.where(F.to_date("observed_at") > F.col("death_date"))
    grouped = late.groupBy("person_id", "death_date").agg(
        F.sort_array(F.collect_set("insurance_type")).alias("types"),
        F.collect_set("department").alias("departments"),
        F.collect_set(_resource_id(late)).alias("resources"),
        F.max("observed_at").alias("observed_at"),
    )
    return make_issues(
        grouped,
        issue_type=ANOMALY,
        rule=DECEASED_STILL_INSURED,
        element="death_date",
        key_kind=F.lit("citizen_id"),
        key=F.col("person_id"),
        base="population",
        base_keys=_one(F.col("person_id")),
        departments=F.col("departments"),
        resources=F.col("resources"),
        surviving_value=F.date_format("death_date", "yyyy-MM-dd"),
        surviving_department=F.lit(None),
        observed_values=_one(
            observed_value(
                F.array_join("types", ","),
                F.col("departments"),
                F.col("resources"),
                F.col("observed_at"),
            )
        ),
        detail=F.concat(
            F.lit("died "),
            F.date_format("death_date", "yyyy-MM-dd"),
            F.lit("; still actively insured: "),
            F.array_join("types", ", "),
        ),
    )


def _per_holder(
    licences_df: DataFrame, rule: str, element: str, key_kind: Column, key: Column, detail: Column
) -> DataFrame:
    """Licence findings grouped per (rule, holder): one issue marks all the holder's licences."""
    rows = licences_df.select(
        key_kind.alias("_key_kind"),
        key.alias("_key"),
        "licence_id",
        "department",
        "resource",
        "observed_at",
        F.concat(F.col("licence_id"), F.lit(": "), detail).alias("_detail"),
    )
    grouped = rows.groupBy("_key_kind", "_key").agg(
        F.collect_set("licence_id").alias("licence_ids"),
        F.collect_set("department").alias("departments"),
        F.collect_set("resource").alias("resources"),
        F.max("observed_at").alias("observed_at"),
        F.array_join(F.array_sort(F.collect_set("_detail")), "; ").alias("detail"),
    )
    return make_issues(
        grouped,
        issue_type=ANOMALY,
        rule=rule,
        element=element,
        key_kind=F.col("_key_kind"),
        key=F.col("_key"),
        base="e_licence",
        base_keys=F.col("licence_ids"),
        departments=F.col("departments"),
        resources=F.col("resources"),
        surviving_value=F.lit(None),
        surviving_department=F.lit(None),
        observed_values=_one(
            observed_value(
                F.array_join(F.array_sort("licence_ids"), ","),
                F.col("departments"),
                F.col("resources"),
                F.col("observed_at"),
            )
        ),
        detail=F.col("detail"),
    )


def deceased_holds_valid_licence(
    e_licence_df: DataFrame, licence_types: Iterable[str]
) -> DataFrame:
    """A licence that must die with its holder (a driving licence) still valid at its issuer in a
    delivery after the holder's death."""
    found = e_licence_df.where(
        F.col("licence_type").isin(list(licence_types))
        & (F.col("issuer_status") == "valid")
        & F.col("is_holder_deceased")
        & (F.to_date("observed_at") > F.col("holder_death_date"))
    )
    return _per_holder(
        found,
        DECEASED_HOLDS_VALID_LICENCE,
        "status",
        F.col("holder_id_kind"),
        F.col("holder_id"),
        F.concat(F.lit("valid, holder died "), F.date_format("holder_death_date", "yyyy-MM-dd")),
    )


def deceased_married(population_df: DataFrame, parties_df: DataFrame) -> DataFrame:
    """A marriage (or remarriage) registered after one party's death."""
    dead = population_df.where(F.col("death_date").isNotNull()).select("person_id", "death_date")
    found = (
        parties_df.where(F.col("registration_type").isin("marriage", "remarriage"))
        .join(dead, "person_id")
        .where(F.col("registered_on") > F.col("death_date"))
    )
    grouped = found.groupBy("person_id", "death_date").agg(
        F.sort_array(F.collect_set("registration_number")).alias("registrations"),
        F.collect_set("department").alias("departments"),
        F.collect_set(_resource_id(found)).alias("resources"),
        F.max("observed_at").alias("observed_at"),
        F.max("registered_on").alias("registered_on"),
    )
    departments, resources = F.col("departments"), F.col("resources")
    return make_issues(
        grouped,
        issue_type=ANOMALY,
        rule=DECEASED_MARRIED,
        element="marital_status",
        key_kind=F.lit("citizen_id"),
        key=F.col("person_id"),
        base="population",
        base_keys=_one(F.col("person_id")),
        departments=departments,
        resources=resources,
        surviving_value=F.date_format("death_date", "yyyy-MM-dd"),
        surviving_department=F.lit(None),
        observed_values=_one(
            observed_value(
                F.array_join("registrations", ","), departments, resources, F.col("observed_at")
            )
        ),
        detail=F.concat(
            F.lit("registered "),
            F.date_format("registered_on", "yyyy-MM-dd"),
            F.lit(" after the death on "),
            F.date_format("death_date", "yyyy-MM-dd"),
            F.lit(": "),
            F.array_join("registrations", ", "),
        ),
    )


def deregistered_but_active_at_tax(legal_entity_df: DataFrame) -> DataFrame:
    """Deregistered (注销) at the registering authority, still a normal taxpayer at tax."""
    found = legal_entity_df.where(
        (F.col("entity_status") == "deregistered") & (F.col("tax_status") == "normal")
    )
    return _from_provenance(
        found,
        rule=DEREGISTERED_BUT_ACTIVE_AT_TAX,
        element="tax_status",
        base="legal_entity",
        key_kind="uscc",
        key="uscc",
        value=F.col("tax_status"),
        provenance="tax_status_provenance",
        detail=F.concat(
            F.lit("deregistered at "),
            F.col("entity_status_provenance.resource"),
            F.lit(", tax status normal"),
        ),
    )


def legal_representative_not_in_population(
    legal_entity_df: DataFrame, quarantined_df: DataFrame | None = None
) -> DataFrame:
    """The legal representative's (valid) ID is not a row of the population base, and no
    quarantined population record explains it (:mod:`jobs.integrate.quarantine`)."""
    found = legal_entity_df.where(F.col("legal_representative_in_population") == F.lit(False))
    if quarantined_df is not None:
        found = filter_unexplained(
            found,
            quarantined_df,
            "citizen_id",
            "legal_representative_id",
            name="legal_representative_name",
        )
    return _from_provenance(
        found,
        rule=LEGAL_REP_NOT_IN_POPULATION,
        element="legal_representative_id",
        base="legal_entity",
        key_kind="uscc",
        key="uscc",
        value=F.col("legal_representative_id"),
        provenance="legal_representative_id_provenance",
        detail=F.concat(F.lit("legal representative "), F.col("legal_representative_id")),
    )


def holders_not_in_base(
    e_licence_df: DataFrame,
    population_keys_df: DataFrame,
    legal_entity_keys_df: DataFrame,
    quarantined_df: DataFrame | None = None,
) -> DataFrame:
    """Licence holders missing from their base: a person from population, an entity from the
    legal-entity base (``licence_holder_not_in_population`` / ``…_legal_entity``), unless a
    quarantined record explains the absence (:mod:`jobs.integrate.quarantine`)."""
    holders = e_licence_df.select(
        "licence_id",
        "department",
        "resource",
        "observed_at",
        "holder_name",
        F.posexplode("holders").alias("position", "h"),
    ).select(
        "licence_id",
        "department",
        "resource",
        "observed_at",
        F.col("h.holder_id").alias("holder_id"),
        F.col("h.holder_kind").alias("holder_kind"),
        # the licence names its principal holder only
        F.when(F.col("position") == 0, F.col("holder_name")).alias("_holder_name"),
    )
    persons = population_keys_df.select(F.col("person_id").alias("holder_id"))
    entities = legal_entity_keys_df.select(F.col("uscc").alias("holder_id"))
    missing_person = holders.where(F.col("holder_kind") == "citizen_id").join(
        persons, "holder_id", "left_anti"
    )
    missing_entity = holders.where(F.col("holder_kind") == "uscc").join(
        entities, "holder_id", "left_anti"
    )
    if quarantined_df is not None:
        missing_person = filter_unexplained(
            missing_person, quarantined_df, "citizen_id", "holder_id", name="_holder_name"
        )
        missing_entity = filter_unexplained(
            missing_entity, quarantined_df, "uscc", "holder_id", name="_holder_name"
        )
    return _per_holder(
        missing_person,
        HOLDER_NOT_IN_POPULATION,
        "holder_id",
        F.col("holder_kind"),
        F.col("holder_id"),
        F.concat(F.lit("holder "), F.col("holder_id"), F.lit(" not in the population base")),
    ).unionByName(
        _per_holder(
            missing_entity,
            HOLDER_NOT_IN_LEGAL_ENTITY,
            "holder_id",
            F.col("holder_kind"),
            F.col("holder_id"),
            F.concat(F.lit("holder "), F.col("holder_id"), F.lit(" not in the legal-entity base")),
        )
    )


def licence_expired(e_licence_df: DataFrame) -> DataFrame:
    """Reported valid by its issuer in a delivery made after its validity ended."""
    found = e_licence_df.where(
        (F.col("issuer_status") == "valid") & (F.col("valid_to") < F.to_date("observed_at"))
    )
    return _per_holder(
        found,
        LICENCE_EXPIRED,
        "valid_to",
        F.coalesce(F.col("holder_id_kind"), F.lit("licence")),
        F.coalesce(F.col("holder_id"), F.col("licence_id")),
        F.concat(
            F.lit("valid to "),
            F.date_format("valid_to", "yyyy-MM-dd"),
            F.lit(" but reported valid"),
        ),
    )


def parcel_anomalies(parcel_df: DataFrame) -> DataFrame:
    """Invalid boundaries, parcels outside the jurisdiction, and overlapping parcels.

    Of two overlapping parcels, the issue is filed under the one whose computed area departs
    more from its registered area (宗地面积): its boundary is the likely wrong one. Both rows are
    marked disputed.
    """

    def geometry_issue(df: DataFrame, rule: str, key: Column, base_keys: Column, detail: Column):
        source = F.col("geometry_provenance")
        return make_issues(
            df,
            issue_type=ANOMALY,
            rule=rule,
            element="geometry",
            key_kind=F.lit("parcel_code"),
            key=key,
            base="parcel",
            base_keys=base_keys,
            departments=_one(source["department"]),
            resources=_one(source["resource"]),
            surviving_value=F.lit(None),
            surviving_department=source["department"],
            observed_values=_one(
                observed_value(
                    F.col("geometry_problem"),
                    _one(source["department"]),
                    _one(source["resource"]),
                    source["observed_at"],
                )
            ),
            detail=detail,
        )

    invalid = parcel_df.where(F.col("geometry").isNotNull() & ~F.col("is_valid_geometry"))
    outside = parcel_df.where(F.col("is_inside_jurisdiction") == F.lit(False))
    a = parcel_df.select(
        "parcel_code",
        F.explode("overlaps_with").alias("other_parcel_code"),
        "area_deviation",
    )
    b = parcel_df.select(
        F.col("parcel_code").alias("other_parcel_code"),
        F.col("area_deviation").alias("other_area_deviation"),
    )
    pairs = a.where(F.col("parcel_code") < F.col("other_parcel_code")).join(b, "other_parcel_code")
    this_one = F.coalesce(F.col("area_deviation"), F.lit(0.0)) >= F.coalesce(
        F.col("other_area_deviation"), F.lit(0.0)
    )
    # A parcel stretched over two neighbours is one issue naming both.
    culprits = (
        pairs.select(
            F.when(this_one, F.col("parcel_code"))
            .otherwise(F.col("other_parcel_code"))
            .alias("culprit"),
            F.when(this_one, F.col("other_parcel_code"))
            .otherwise(F.col("parcel_code"))
            .alias("other"),
        )
        .groupBy("culprit")
        .agg(F.sort_array(F.collect_set("other")).alias("others"))
        .join(
            parcel_df.select(
                F.col("parcel_code").alias("culprit"), "geometry_provenance", "geometry_problem"
            ),
            "culprit",
        )
    )
    return (
        geometry_issue(
            invalid,
            PARCEL_INVALID_GEOMETRY,
            F.col("parcel_code"),
            _one(F.col("parcel_code")),
            F.coalesce(F.col("geometry_problem"), F.lit("invalid")),
        )
        .unionByName(
            geometry_issue(
                outside,
                PARCEL_OUTSIDE_JURISDICTION,
                F.col("parcel_code"),
                _one(F.col("parcel_code")),
                F.lit("not inside the jurisdiction boundary"),
            )
        )
        .unionByName(
            geometry_issue(
                culprits,
                PARCEL_OVERLAP,
                F.col("culprit"),
                F.concat(F.array(F.col("culprit")), F.col("others")),
                F.concat(F.lit("overlaps "), F.array_join("others", ", ")),
            )
        )
    )
