"""Conflicts (数据冲突): the same subject and data element, different values from different sources.

Every issue the integration finds, a value conflict here or a logical anomaly
(:mod:`jobs.integrate.anomalies`), has the same shape, :data:`ISSUE_SCHEMA`, so that one table
(``governance/conflicts``) lists them and one ticket lifecycle (:mod:`jobs.govern.tickets`) handles
them. Grain of ``governance/conflicts``: one row per issue found by the latest build.

An issue's id is stable: a hash of its type, its element (conflicts) or rule (anomalies) and the
subject's key, so the next build finds the same issue under the same id and its verification
ticket (校核) continues instead of starting over.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.integrate.config import IntegrationConfig

CONFLICT, ANOMALY = "conflict", "anomaly"

OBSERVED_VALUE_TYPE = (
    "struct<value:string,departments:array<string>,resources:array<string>,observed_at:timestamp>"
)

#: Columns of ``governance/conflicts`` (one row per issue), in order.
ISSUE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("issue_id", "string"),
    ("issue_type", "string"),  # conflict | anomaly
    ("rule", "string"),  # anomaly rule (manifest vocabulary); NULL for a conflict
    ("element", "string"),  # the data element in question (disputed on the base row)
    ("key_kind", "string"),  # citizen_id | uscc | parcel_code | …
    ("key", "string"),  # the subject the issue is about
    ("base", "string"),  # base table whose rows carry the disputed mark
    ("base_keys", "array<string>"),  # keys of those rows
    ("departments", "array<string>"),  # assigned: whose value differs, or named by the rule
    ("resources", "array<string>"),
    ("surviving_value", "string"),
    ("surviving_department", "string"),
    ("observed_values", f"array<{OBSERVED_VALUE_TYPE}>"),
    ("detail", "string"),
    ("values_hash", "string"),  # what the sources said; a change reopens a closed ticket
)


def observed_value(
    value: Column, departments: Column, resources: Column, observed_at: Column
) -> Column:
    """One entry of ``observed_values``."""
    return F.struct(
        value.cast("string").alias("value"),
        departments.alias("departments"),
        resources.alias("resources"),
        observed_at.cast("timestamp").alias("observed_at"),
    ).cast(OBSERVED_VALUE_TYPE)


def issue_id_of(issue_type: Column, topic: Column, key_kind: Column, key: Column) -> Column:
    """Stable issue (and ticket) id: the same subject and topic always give the same id."""
    return F.substring(F.sha2(F.concat_ws("|", issue_type, topic, key_kind, key), 256), 1, 24)


def make_issues(
    df: DataFrame,
    *,
    issue_type: str,
    rule: str | None,
    element: str | Column,
    key_kind: Column,
    key: Column,
    base: str | Column,
    base_keys: Column,
    departments: Column,
    resources: Column,
    surviving_value: Column,
    surviving_department: Column,
    observed_values: Column,
    detail: Column,
) -> DataFrame:
    """Shapes any DataFrame of findings into :data:`ISSUE_COLUMNS`."""
    element_col = element if isinstance(element, Column) else F.lit(element)
    rule_col = F.lit(rule).cast("string")
    topic = F.coalesce(rule_col, element_col)
    shaped = df.select(
        issue_id_of(F.lit(issue_type), topic, key_kind, key).alias("issue_id"),
        F.lit(issue_type).alias("issue_type"),
        rule_col.alias("rule"),
        element_col.cast("string").alias("element"),
        key_kind.cast("string").alias("key_kind"),
        key.cast("string").alias("key"),
        (base if isinstance(base, Column) else F.lit(base)).cast("string").alias("base"),
        F.array_sort(base_keys).alias("base_keys"),
        F.array_sort(F.array_distinct(departments)).alias("departments"),
        F.array_sort(F.array_distinct(resources)).alias("resources"),
        surviving_value.cast("string").alias("surviving_value"),
        surviving_department.cast("string").alias("surviving_department"),
        observed_values.alias("observed_values"),
        detail.cast("string").alias("detail"),
    )
    stated = F.to_json(
        F.struct(
            F.col("surviving_value"),
            F.transform(
                F.col("observed_values"),
                lambda v: F.struct(v["value"].alias("v"), v["departments"].alias("d")),
            ).alias("values"),
            F.col("departments"),
            F.col("base_keys"),
        )
    )
    return shaped.withColumn("values_hash", F.substring(F.sha2(stated, 256), 1, 16))


def conflict_elements(config: IntegrationConfig) -> list[str]:
    """``key_kind|element`` of every attribute configured with ``conflict: true`` that is
    compared value for value (a derived attribute has its own comparison, see
    :func:`jobs.integrate.population.marital_status_conflicts`)."""
    return sorted(
        f"{spec.key_kind}|{a.element}"
        for spec in config.bases.values()
        for a in spec.attributes
        if a.conflict and not a.derived
    )


def value_conflicts(values_df: DataFrame, config: IntegrationConfig) -> DataFrame:
    """Attributes whose sources currently state different values (DESIGN §6).

    Only elements configured with ``conflict: true``. The ticket goes to the departments whose
    value differs from the surviving one (``dissenting_departments``). Grain: one row per
    (key kind, key, element) in conflict.
    """
    flagged = conflict_elements(config)
    base_of = {spec.key_kind: spec.table for spec in config.bases.values()}
    in_conflict = values_df.where(
        (F.col("n_values") > 1) & F.concat_ws("|", "key_kind", "element").isin(flagged)
    )
    survivor = observed_value(
        F.col("value"),
        F.array(F.col("department")),
        F.array(F.col("resource")),
        F.col("observed_at"),
    )
    others = F.transform(
        F.col("losing_values"),
        lambda v: observed_value(v["value"], v["departments"], v["resources"], v["observed_at"]),
    )
    detail = F.concat(
        F.col("element"),
        F.lit(": "),
        F.col("value"),
        F.lit(" ("),
        F.col("resource"),
        F.lit(", "),
        F.col("survived_by"),
        F.lit(") vs "),
        F.array_join(
            F.transform(
                F.col("losing_values"),
                lambda v: F.concat(
                    v["value"], F.lit(" ("), F.array_join(v["resources"], ","), F.lit(")")
                ),
            ),
            "; ",
        ),
    )
    # One pass over the values for every kind of subject: the base is looked up by key kind.
    base = F.create_map(
        *[F.lit(x) for kind, table in sorted(base_of.items()) for x in (kind, table)]
    )
    return make_issues(
        in_conflict,
        issue_type=CONFLICT,
        rule=None,
        element=F.col("element"),
        key_kind=F.col("key_kind"),
        key=F.col("key"),
        base=base[F.col("key_kind")],
        base_keys=F.array(F.col("key")),
        departments=F.col("dissenting_departments"),
        resources=F.flatten(F.transform(F.col("losing_values"), lambda v: v["resources"])),
        surviving_value=F.col("value"),
        surviving_department=F.col("department"),
        observed_values=F.concat(F.array(survivor), others),
        detail=detail,
    )


def without_subsumed(conflicts_df: DataFrame, anomalies_df: DataFrame) -> DataFrame:
    """Drops a conflict that an anomaly on the same subject and element already reports.

    When the surviving birth date or gender contradicts the citizen ID itself, the anomaly
    (``birth_date_id_mismatch``, ``gender_id_mismatch``) goes to the department whose value
    survived; a conflict ticket would instead go to the departments that agree with the ID.
    """
    reported = anomalies_df.select("key_kind", "key", "element").distinct()
    return conflicts_df.join(reported, ["key_kind", "key", "element"], "left_anti")
