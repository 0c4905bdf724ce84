"""Survivorship (择优): which value of an attribute a base keeps, and why.

DESIGN §6: the authoritative source (一数一源) wins; without it, the most recent observation; then
the most frequent. Worked out in three steps, each a DataFrame → DataFrame transform:

1. :func:`current_statements`: a source's current statements are its records' latest versions
   (a department that corrected a record in a later batch no longer says the old value; a
   record it did not deliver again still stands). Grain: one row per (key kind, key, element,
   resource, record key).
2. :func:`value_candidates`: the distinct current values of an attribute with who states them.
   Grain: one row per (key kind, key, element, value).
3. :func:`surviving_values`: the surviving value with its provenance and the losing values.
   Grain: one row per (key kind, key, element) — table ``base/attribute_values``.

Most attributes have one value that every observation states (99.9 % at a million persons):
their survivor needs no ranking. :func:`attribute_values` settles them in one window over the
observations (:func:`with_group_summary`, :func:`agreed_values`) and takes only the disputed ones
through the three steps; both give the same rows.

Ties that authority, recency and frequency leave open go to the smallest value, then the
smallest resource id, so that the same observations always give the same base.

The build runs these rules as DuckDB SQL inside Spark's tasks (:mod:`jobs.integrate.core_sql`,
:mod:`jobs.integrate.core`; issue #17, figures in the README). The Spark transforms
here are the rules' second implementation, written from DESIGN §6 on their own: the tests hold
the SQL to them (``test_core_reference``, ``test_core``); the plan's steps and its constants
(``BY_*``, ``KEY_COLUMNS``, ``PROVENANCE_FIELDS``, :func:`authority_triples`) are shared.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.frames import kept_on_disk
from jobs.integrate.config import Attribute, BaseSpec, IntegrationConfig

#: How the surviving value was chosen (``survived_by``).
BY_AGREEMENT = "agreement"  # every source states the same value
BY_AUTHORITY = "authority"  # the authoritative source (一数一源) states it
BY_RECENCY = "recency"  # observed more recently than any other value
BY_FREQUENCY = "frequency"  # stated by more sources than any other equally recent value
BY_TIE_BREAK = "tie_break"  # none of the above decides: smallest value

#: Base key kind → the key column of the base table.
KEY_COLUMNS: dict[str, str] = {
    "citizen_id": "person_id",
    "uscc": "uscc",
    "parcel_code": "parcel_code",
    "unit_number": "unit_number",
    "address_code": "address_code",
}

_GROUP = ("key_kind", "key", "element")
#: Where a surviving value comes from: the statement it is credited to.
PROVENANCE_FIELDS = (
    "department",
    "resource",
    "field",
    "batch_id",
    "observed_at",
    "source_file",
    "row_number",
)
#: The order in which a statement is credited with its value (:func:`_credit_order`).
_CREDIT_FIELDS = (
    "is_authority",
    "observed_at",
    "batch_id",
    "resource",
    "source_file",
    "row_number",
)
#: A hash of the attribute (``_GROUP``): leads the shuffle and the sort of the observations.
_GROUP_HASH = "_group_hash"


def authority_triples(config: IntegrationConfig) -> list[str]:
    """``key_kind|element|resource`` for every authoritative source of every base attribute."""
    return sorted(
        {
            f"{spec.key_kind}|{attribute.element}|{resource}"
            for spec in config.bases.values()
            for attribute in spec.attributes
            for resource in attribute.authority
        }
    )


def with_authority(observations_df: DataFrame, triples: Iterable[str]) -> DataFrame:
    """Adds ``is_authority``: the observation comes from the element's authoritative resource."""
    triples = list(triples)
    is_authority = (
        F.concat_ws("|", "key_kind", "element", "resource").isin(triples)
        if triples
        else F.lit(False)
    )
    return observations_df.withColumn("is_authority", is_authority)


def current_statements(observations_df: DataFrame) -> DataFrame:
    """The latest observation of each (subject, element) in each record of each source.

    Grain: one row per (key kind, key, element, resource, record key). A later delivery wins;
    within one delivery the later file and row (an export lists changes in order). Several
    records of one source (an insured person's pension and medical records) may state different
    values: each is current, so a disagreement inside one department is seen too.
    """
    latest_first = Window.partitionBy(*_GROUP, "resource", "record_key").orderBy(
        F.col("observed_at").desc(),
        F.col("batch_id").desc(),
        F.col("source_file").desc(),
        F.col("row_number").desc(),
        F.col("value"),
    )
    return (
        observations_df.withColumn("_rank", F.row_number().over(latest_first))
        .where(F.col("_rank") == 1)
        .drop("_rank")
    )


def _provenance(prefix: str = "") -> Column:
    return F.struct(*[F.col(f"{prefix}{c}").alias(c) for c in PROVENANCE_FIELDS])


def _credit_order() -> Column:
    # The statement a value is credited to: authoritative first, then the latest; the file and
    # row break the ties between records of one delivery, so the credit does not depend on the
    # order Spark meets the rows in.
    return F.struct(*[F.col(name) for name in _CREDIT_FIELDS])


def value_candidates(statements_df: DataFrame) -> DataFrame:
    """The distinct current values of each attribute and who states them.

    Grain: one row per (key kind, key, element, value). ``n_sources`` counts the resources
    stating the value; ``source`` is the provenance of the statement a survivor would be
    credited to (authoritative first, then the latest).
    """
    return statements_df.groupBy(*_GROUP, "value").agg(
        F.max("is_authority").alias("is_authority"),
        F.max("observed_at").alias("latest_at"),
        F.size(F.collect_set("resource")).alias("n_sources"),
        F.sort_array(F.collect_set("department")).alias("departments"),
        F.sort_array(F.collect_set("resource")).alias("resources"),
        F.max_by(_provenance(), _credit_order()).alias("source"),
    )


def surviving_values(candidates_df: DataFrame) -> DataFrame:
    """The surviving value of every attribute, with provenance and the losing values.

    Grain: one row per (key kind, key, element): table ``base/attribute_values``. Columns:
    the value and its provenance (``department … row_number``), ``survived_by`` (see the
    ``BY_*`` constants), ``n_sources`` and ``n_values`` (sources stating a current value and
    how many different values they state), ``losing_values`` (value, departments, resources,
    latest observation) and ``dissenting_departments`` (departments stating another value).
    """
    # sort_array orders structs field by field, ascending: authority first, then the most recent,
    # then the most sources, then the smallest value.
    ranked = F.struct(
        (~F.col("is_authority")).alias("r_authority"),
        (-F.unix_micros("latest_at")).alias("r_recency"),
        (-F.col("n_sources")).alias("r_frequency"),
        F.col("value"),
        F.col("is_authority"),
        F.col("latest_at"),
        F.col("n_sources"),
        F.col("departments"),
        F.col("resources"),
        F.col("source"),
    )
    grouped = candidates_df.groupBy(*_GROUP).agg(
        F.sort_array(F.collect_list(ranked)).alias("ranked")
    )
    first, second = F.col("ranked")[0], F.col("ranked")[1]
    losing = F.slice(F.col("ranked"), 2, 1 << 20)
    survived_by = (
        F.when(F.size("ranked") == 1, BY_AGREEMENT)
        .when(first["is_authority"] & ~second["is_authority"], BY_AUTHORITY)
        .when(first["latest_at"] > second["latest_at"], BY_RECENCY)
        .when(first["n_sources"] > second["n_sources"], BY_FREQUENCY)
        .otherwise(BY_TIE_BREAK)
    )
    return grouped.select(
        *_GROUP,
        first["value"].alias("value"),
        *[first["source"][c].alias(c) for c in PROVENANCE_FIELDS],
        survived_by.alias("survived_by"),
        F.aggregate(
            F.col("ranked"), F.lit(0).cast("long"), lambda acc, c: acc + c["n_sources"]
        ).alias("n_sources"),
        F.size("ranked").alias("n_values"),
        F.transform(
            losing,
            lambda c: F.struct(
                c["value"].alias("value"),
                c["departments"].alias("departments"),
                c["resources"].alias("resources"),
                c["latest_at"].alias("observed_at"),
            ),
        ).alias("losing_values"),
        F.array_sort(
            F.array_distinct(F.flatten(F.transform(losing, lambda c: c["departments"])))
        ).alias("dissenting_departments"),
    )


def with_group_hash(observations_df: DataFrame) -> DataFrame:
    """Adds ``_group_hash``, a 64-bit hash of the attribute (key kind, key, element)."""
    return observations_df.withColumn(_GROUP_HASH, F.xxhash64(*_GROUP))


def with_group_summary(observations_df: DataFrame) -> DataFrame:
    """Adds to every observation what its attribute's observations say together.

    ``agreed``: every observation of the attribute states one value; ``n_sources``: the resources
    stating the attribute; ``credit_rank``: 1 for the statement a survivor is credited to
    (:func:`_credit_order`, greatest first). For an agreed attribute its ``credit_rank`` 1 row is
    what the three steps would give: every resource stating the attribute has a current
    statement of that value, and the statement credited is always a current one.

    One window, one sort. The attribute's hash (:func:`with_group_hash`, added here if
    missing) leads the partition key, so that the sort compares rows by a number first: the
    keys share their first characters (the region code), which made every comparison a string
    comparison.
    """
    if _GROUP_HASH not in observations_df.columns:
        observations_df = with_group_hash(observations_df)
    credited_first = Window.partitionBy(_GROUP_HASH, *_GROUP).orderBy(
        *[F.col(name).desc() for name in _CREDIT_FIELDS]
    )
    whole = credited_first.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    agreed = (F.min("value").over(whole) == F.max("value").over(whole)) & (
        F.count("value").over(whole) == F.count(F.lit(1)).over(whole)
    )
    return observations_df.select(
        "*",
        F.coalesce(agreed, F.lit(False)).alias("agreed"),
        F.size(F.collect_set("resource").over(whole)).alias("n_sources"),
        F.row_number().over(credited_first).alias("credit_rank"),
    )


_LOSING_VALUES_TYPE = (
    "array<struct<value:string,departments:array<string>,resources:array<string>,"
    "observed_at:timestamp>>"
)


def agreed_values(summarised_df: DataFrame) -> DataFrame:
    """The ``attribute_values`` rows of agreed attributes (:func:`with_group_summary`): the one
    value with its credited statement's provenance, survived by agreement, no losing values and
    no dissent."""
    return summarised_df.where(F.col("agreed") & (F.col("credit_rank") == 1)).select(
        *_GROUP,
        F.col("value"),
        *PROVENANCE_FIELDS,
        F.lit(BY_AGREEMENT).alias("survived_by"),
        F.col("n_sources").cast("long").alias("n_sources"),
        F.lit(1).alias("n_values"),
        F.array().cast(_LOSING_VALUES_TYPE).alias("losing_values"),
        F.array().cast("array<string>").alias("dissenting_departments"),
    )


def attribute_values(observations_df: DataFrame, config: IntegrationConfig) -> DataFrame:
    """Observations → ``base/attribute_values`` (authority → recency → frequency).

    One shuffle and one sort of the observations (:func:`with_group_summary`) settle the
    agreed attributes and pick out the observations of the disputed ones, which go through
    current statements, candidates and ranking. Kept between the two: only the credited
    statement of each agreed attribute and the few disputed observations.
    """
    observations = with_authority(observations_df, authority_triples(config))
    columns = observations.columns
    summarised = (
        observations.transform(with_group_hash)
        .repartition(_GROUP_HASH)
        .transform(with_group_summary)
        .where((F.col("credit_rank") == 1) | ~F.col("agreed"))
        .transform(kept_on_disk)
    )
    ranked = (
        summarised.where(~F.col("agreed"))
        .select(*columns)
        .repartition(*_GROUP)
        .transform(current_statements)
        .transform(value_candidates)
        .transform(surviving_values)
    )
    return agreed_values(summarised).unionByName(ranked)


def typed_value(value: Column, attribute: Attribute) -> Column:
    """An attribute's text value back in its element's storage type."""
    if attribute.type == "date":
        return F.to_date(value, "yyyy-MM-dd")
    if attribute.type == "timestamp":
        return F.to_timestamp(value, "yyyy-MM-dd'T'HH:mm:ss")
    return value.cast(attribute.type)


def provenance_struct(values: str = "") -> Column:
    """The provenance kept next to every surviving attribute of a base row."""
    return F.struct(
        F.col("department"),
        F.col("resource"),
        F.col("batch_id"),
        F.col("observed_at"),
        F.col("survived_by"),
        F.col("n_values"),
    )


#: A hash of a base row's key: leads the pivot's grouping and the members join (:func:`base_rows`).
_KEY_HASH = "_key_hash"


def pivot_attributes(values_df: DataFrame, spec: BaseSpec) -> DataFrame:
    """Long ``attribute_values`` → one row per key with ``<column>`` (typed) and
    ``<column>_provenance`` for every attribute of the base, and ``_key_hash`` (a 64-bit hash of
    the key, see :func:`base_rows`).

    Grain: one row per key of ``spec.key_kind`` that has at least one attribute value.
    Derived attributes are left out: the base's own module adds them.
    """
    key_column = KEY_COLUMNS[spec.key_kind]
    pivoted = [a for a in spec.attributes if not a.derived]
    # One aggregate: each key's attributes collected into a map (element → value and
    # provenance; an attribute has one row per key, its grain) and read back per column. One
    # max(CASE WHEN …) per column and provenance made a sort-based aggregate evaluating
    # twice as many conditions and struct comparisons per row as the base has attributes.
    entries = values_df.where(
        (F.col("key_kind") == spec.key_kind) & F.col("element").isin([a.element for a in pivoted])
    ).select(
        F.xxhash64("key").alias(_KEY_HASH),
        "key",
        F.struct(
            "element",
            F.struct("value", provenance_struct().alias("provenance")).alias("stated"),
        ).alias("entry"),
    )
    # Grouped by the key's hash first: collect_list's aggregate sorts its rows by the grouping
    # key once it holds more than a few keys, and a sort compares a number before the keys,
    # which share their first characters (the region code) and were compared as whole strings.
    stated = entries.groupBy(_KEY_HASH, "key").agg(
        F.map_from_entries(F.collect_list("entry")).alias("stated")
    )
    by_element = F.col("stated")
    return stated.select(
        _KEY_HASH,
        F.col("key").alias(key_column),
        *[typed_value(by_element[a.element]["value"], a).alias(a.column) for a in pivoted],
        *[by_element[a.element]["provenance"].alias(f"{a.column}_provenance") for a in pivoted],
    )


def base_rows(members_df: DataFrame, values_df: DataFrame, spec: BaseSpec) -> DataFrame:
    """The rows of one base: its members with their surviving attributes.

    Grain: one row per member key (``spec.grain``); an attribute no source states is NULL.
    """
    key_column = KEY_COLUMNS[spec.key_kind]
    # Joined on the key's hash too: both sides are then shuffled alike by the aggregates
    # (the members' distinct, the pivot's), so the wide pivoted rows are not shuffled again,
    # and the join's sorts compare numbers first.
    members = members_df.select(
        F.xxhash64("key").alias(_KEY_HASH), F.col("key").alias(key_column)
    ).distinct()
    return members.join(pivot_attributes(values_df, spec), [_KEY_HASH, key_column], "left").drop(
        _KEY_HASH
    )
