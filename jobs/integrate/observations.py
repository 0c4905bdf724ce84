"""Attribute observations: every department's statement about every subject, kept.

Table ``base/attribute_observations``. Grain: one row per (pool row, subject, data element) with
a value: "in batch B, resource R said that subject K has value V for element E". Every
department's value stays here, also when another department's value survives in the base, so
the losing values remain visible and a survivorship decision can always be explained.

Columns: ``key_kind, key, element, value`` (normalised text: ISO dates, plain decimals),
``department, resource`` (catalog id, ``gaj.hukou``), ``field`` (the pool field),
``record_key`` (the resource's own record key: one insured person has a record per insurance
type, and each record stays current until the department delivers it again), lineage
``batch_id, observed_at, source_file, row_number``.

``observed_at`` is the delivery time. Batch folders are named so that they sort in delivery order
and, by the landing convention, start with the delivery time (``20250108T000000_incr``); that
time is used, so that recency means "delivered later" whatever day the pool was loaded. A batch
whose name carries no time falls back to its ingestion time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.catalog.models import Field
from jobs.frames import union_all
from jobs.integrate.config import IntegrationConfig, Subject

#: Columns of ``base/attribute_observations``, in order (typed by the core's SQL, which makes
#: the table: ``core_sql.observations_from_statements_sql``).
OBSERVATION_COLUMNS: tuple[str, ...] = (
    "key_kind",
    "key",
    "element",
    "value",
    "department",
    "resource",
    "field",
    "record_key",
    "batch_id",
    "observed_at",
    "source_file",
    "row_number",
)


def observed_at_of(batch_id: Column, ingested_at: Column) -> Column:
    """The delivery time named by a batch id (``yyyyMMdd'T'HHmmss`` prefix), else ``ingested_at``."""
    named = F.to_timestamp(F.substring(batch_id, 1, 15), "yyyyMMdd'T'HHmmss")
    return F.coalesce(F.when(batch_id.rlike(r"^\d{8}T\d{6}"), named), ingested_at)


def value_text(column: Column, storage_type: str) -> Column:
    """A typed pool value as normalised text, so values of one element compare across sources."""
    if storage_type == "date":
        return F.date_format(column, "yyyy-MM-dd")
    if storage_type == "timestamp":
        return F.date_format(column, "yyyy-MM-dd'T'HH:mm:ss")
    return column.cast("string")


def subject_key(pool_df: DataFrame, subject: Subject) -> tuple[Column, Column]:
    """The subject's key column in ``pool_df`` and its key kind (a column: per row for a
    real-estate owner, a literal otherwise)."""
    key = F.col(subject.key_field)
    if subject.key_kind == "party":
        # A real-estate owner is a person or an entity; the pool says which, per row.
        return key, F.col(f"{subject.key_field}_kind")
    return key, F.lit(subject.key_kind)


def statement_rows(
    pool_df: DataFrame,
    resource_id: str,
    subject: Subject,
    fields: Iterable[Field],
    record_key_fields: Iterable[str] = (),
) -> DataFrame:
    """One row per pool row with the subject's key: its ``statements`` about the subject (an
    array of element, normalised value and pool field, not yet exploded) and the lineage every
    observation of the row shares.

    Args:
        pool_df: the pool table of ``resource_id``.
        subject: whose key the statements are filed under.
        fields: the fields to keep (those describing the subject that are base attributes).
        record_key_fields: the resource's catalog key fields (``record_key``).
    """
    fields = list(fields)
    key, key_kind = subject_key(pool_df, subject)
    statements = F.array(
        *[
            F.struct(
                F.lit(f.element).alias("element"),
                value_text(F.col(f.name), f.data_element.type).alias("value"),
                F.lit(f.name).alias("field"),
            )
            for f in fields
        ]
    )
    department = resource_id.split(".", 1)[0]
    record_key = F.concat_ws("|", *[F.col(n).cast("string") for n in record_key_fields] or [key])
    return pool_df.where(key.isNotNull()).select(
        key_kind.alias("key_kind"),
        key.alias("key"),
        statements.alias("statements"),
        F.lit(department).alias("department"),
        F.lit(resource_id).alias("resource"),
        record_key.alias("record_key"),
        "batch_id",
        observed_at_of(F.col("batch_id"), F.col("ingested_at")).alias("observed_at"),
        "source_file",
        F.col("row_number").cast("long").alias("row_number"),
    )


def statement_rows_of(observations_df: DataFrame) -> DataFrame:
    """Observations (:data:`OBSERVATION_COLUMNS`) as statement rows, one statement each: the
    statements that come as observations (the marriage registry's marital status) join the
    pools' :func:`statement_rows` this way."""
    return observations_df.select(
        "key_kind",
        "key",
        F.array(
            F.struct(
                F.col("element").alias("element"),
                F.col("value").alias("value"),
                F.col("field").alias("field"),
            )
        ).alias("statements"),
        "department",
        "resource",
        "record_key",
        "batch_id",
        "observed_at",
        "source_file",
        "row_number",
    )


def explode_observations(
    pool_df: DataFrame,
    resource_id: str,
    subject: Subject,
    fields: Iterable[Field],
    record_key_fields: Iterable[str] = (),
) -> DataFrame:
    """One observation per (row, field) with a value, for one subject of one pool
    (:func:`statement_rows`, exploded)."""
    # Row-level columns are computed before the explode (statement_rows): above it, Spark would
    # compute the record key and parse the batch's time once per statement instead of once per
    # row.
    return (
        statement_rows(pool_df, resource_id, subject, fields, record_key_fields)
        .select("*", F.explode("statements").alias("s"))
        .where(F.col("s.value").isNotNull())
        .select(
            "key_kind",
            "key",
            F.col("s.element").alias("element"),
            F.col("s.value").alias("value"),
            "department",
            "resource",
            F.col("s.field").alias("field"),
            "record_key",
            "batch_id",
            "observed_at",
            "source_file",
            "row_number",
        )
    )


def attribute_elements(config: IntegrationConfig) -> dict[str, frozenset[str]]:
    """Key kind → the elements some base keyed by it keeps as attributes."""
    out: dict[str, set[str]] = {}
    for spec in config.bases.values():
        out.setdefault(spec.key_kind, set()).update(spec.elements)
    return {kind: frozenset(elements) for kind, elements in out.items()}


def observations_from_pools(
    pools: Mapping[str, DataFrame], config: IntegrationConfig, key_kind: str | None = None
) -> DataFrame | None:
    """Every attribute observation of every subject of every pool given, as one DataFrame.

    Only elements that some base keeps for the subject's key kind are observed (a driving
    licence's name is an observation of the person; its driving class is not an attribute of
    any base and stays in the pool). ``key_kind`` keeps the observations of one kind of subject
    only (``citizen_id``: of persons). ``None`` when no pool yields an observation.
    """
    parts = _subjects_parts(pools, config, key_kind, explode_observations)
    return union_all(parts) if parts else None


def statement_rows_from_pools(
    pools: Mapping[str, DataFrame], config: IntegrationConfig, key_kind: str | None = None
) -> DataFrame | None:
    """:func:`observations_from_pools` before the explode: the :func:`statement_rows` of every
    subject of every pool given, or ``None``."""
    parts = _subjects_parts(pools, config, key_kind, statement_rows)
    return union_all(parts) if parts else None


def _subjects_parts(
    pools: Mapping[str, DataFrame],
    config: IntegrationConfig,
    key_kind: str | None,
    rows_of: Callable[..., DataFrame],
) -> list[DataFrame]:
    """``rows_of(pool, resource id, subject, fields, record key fields)`` for every subject of
    every pool with fields some base keeps (see :func:`observations_from_pools`)."""
    wanted = attribute_elements(config)
    parts: list[DataFrame] = []
    for resource_id, pool_df in pools.items():
        for subject in config.subjects.get(resource_id, ()):
            kinds = ("citizen_id", "uscc") if subject.key_kind == "party" else (subject.key_kind,)
            if key_kind is not None:
                kinds = tuple(k for k in kinds if k == key_kind)
            # A party (a person or an entity, per row) states, under each kind of key, only
            # what that kind's base keeps: one part per kind, its rows of that kind.
            for kind in kinds:
                fields = [f for f in subject.fields if f.element in wanted.get(kind, frozenset())]
                if not fields:
                    continue
                record_key = config.catalog.resource(resource_id).key.fields
                part = rows_of(pool_df, resource_id, subject, fields, record_key)
                if subject.key_kind == "party":
                    part = part.where(F.col("key_kind") == kind)
                parts.append(part)
    return parts


def member_keys(
    pools: Mapping[str, DataFrame], config: IntegrationConfig, base: str
) -> list[DataFrame]:
    """The keys that make a row of ``base`` (its members), a ``key`` column per member pool,
    each key as often as its pool names it (one part per member subject with a pool)."""
    spec = config.bases[base]
    parts = []
    for member in spec.members:
        subject = config.subject(member)
        if subject.resource_id not in pools:
            continue
        pool_df = pools[subject.resource_id]
        key, key_kind = subject_key(pool_df, subject)
        parts.append(
            pool_df.where(key.isNotNull() & (key_kind == spec.key_kind)).select(key.alias("key"))
        )
    return parts


def members_from_pools(
    pools: Mapping[str, DataFrame], config: IntegrationConfig, base: str
) -> DataFrame | None:
    """The keys that make a row of ``base`` (its members), one row per key, or None."""
    parts = member_keys(pools, config, base)
    return union_all(parts).distinct() if parts else None
