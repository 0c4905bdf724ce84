"""Records held in quarantine that explain a "missing from the base" finding.

When a department's record of a person or entity is quarantined because its key is broken (a
wrong check character, Excel damage, an empty key), that person or entity is missing from the
base until the department rectifies the record (整改, the quality workflow already has a task
for it). A licence holder or legal representative who is "not in the population base" for that
reason is not a verification matter for the licence issuer: the ticket would go to the wrong
department for a fault already being handled. Such findings are set aside as *pending
quarantine* instead of opening a ticket.

A quarantined record explains a missing key when (never used to create or merge a base row —
keys are never guessed):

* its key differs only in the check character: same first 17 characters (citizen ID, USCC), or
  the same first 16 for a USCC whose organisation-code check character is wrong;
* Excel turned its last three digits into ``000``: same first 15 characters;
* otherwise (key empty or unreadable) a person's record with the same name and birth date, an
  entity's record with the same name.

Grain of :func:`quarantined_identities`: one row per quarantined record with a broken key.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.catalog.models import Field
from jobs.frames import union_all
from jobs.integrate.config import IntegrationConfig, Subject
from jobs.standardize import arrow, arrow_keys

IDENTITY_SCHEMA = "key_kind string, prefix string, name string, birth_date date"
_IDENTITY_ARROW_SCHEMA = pa.schema(
    [
        ("key_kind", pa.string()),
        ("prefix", pa.string()),
        ("name", pa.string()),
        ("birth_date", pa.date32()),
    ]
)
#: Quarantine reason code → how many leading characters of the normalised key still hold.
_PREFIX_LENGTHS = {"bad_check_character": 17, "bad_organization_code": 16, "excel_damaged": 15}


def _raw(f: Field) -> Column:
    return F.coalesce(*[F.col("raw").getItem(c) for c in f.source_columns])


def _first(subject: Subject, element: str) -> Field | None:
    for f in subject.fields:
        if f.element == element:
            return f
    return None


def identity_batch(batch: pa.RecordBatch, key_kind: str) -> pa.RecordBatch:
    """The identity readable in quarantined records: ``code`` (the key's reason code),
    ``raw_key``, ``raw_name``, ``raw_birth_date`` (delivered text) → :data:`IDENTITY_SCHEMA`.

    The pool's own rules over Arrow (:mod:`jobs.standardize.arrow_keys`,
    :mod:`jobs.standardize.arrow`): the key normalised as the pool normalises it, its prefix
    kept by the reason code (an Excel-damaged key only when it ends in ``000``).
    """
    code = batch.column("code")
    if key_kind == "citizen_id":
        normalized = arrow_keys.normalized_citizen_id(batch.column("raw_key"))
    else:
        normalized = arrow_keys.normalized_uscc(batch.column("raw_key"))
    prefix = pa.nulls(batch.num_rows, pa.string())
    for reason, length in _PREFIX_LENGTHS.items():
        chosen = pc.fill_null(pc.equal(code, reason), False)
        if reason == "excel_damaged":
            damaged = pc.fill_null(pc.match_substring_regex(normalized, r"^[0-9]{15}000$"), False)
            chosen = pc.and_(chosen, damaged)
        prefix = pc.if_else(chosen, pc.utf8_slice_codeunits(normalized, 0, length), prefix)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([key_kind] * batch.num_rows, pa.string()),
            prefix,
            arrow.normalized_name(batch.column("raw_name")),
            arrow.parsed_date(batch.column("raw_birth_date")),
        ],
        schema=_IDENTITY_ARROW_SCHEMA,
    )


def _identity_batches(batches: Iterator[pa.RecordBatch], key_kind: str) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if batch.num_rows:
            yield identity_batch(batch, key_kind)


def quarantined_identities(
    quarantine_df: DataFrame, subject: Subject, key_field: Field
) -> DataFrame:
    """What can be read of the identity in quarantined records of one subject whose key broke.

    The raw values are picked in Spark and read in ``mapInArrow`` (:func:`identity_batch`):
    the same rules as Spark expressions made one generated method too large to compile, and
    Spark then spent seconds failing before it interpreted the plan instead.
    """
    reason = F.filter("reasons", lambda r: r.startswith(f"{subject.key_field}:"))[0]
    name_element = "person_name" if subject.key_kind == "citizen_id" else "entity_name"
    name_field = _first(subject, name_element)
    birth = _first(subject, "birth_date") if subject.key_kind == "citizen_id" else None
    no_text = F.lit(None).cast("string")
    raw = quarantine_df.where((F.col("stage") != F.lit("file")) & reason.isNotNull()).select(
        F.substring_index(reason, ":", -1).alias("code"),
        _raw(key_field).alias("raw_key"),
        (_raw(name_field) if name_field else no_text).alias("raw_name"),
        (_raw(birth) if birth else no_text).alias("raw_birth_date"),
    )
    return raw.mapInArrow(
        functools.partial(_identity_batches, key_kind=subject.key_kind), IDENTITY_SCHEMA
    )


def identities_from_quarantine(
    quarantines: Mapping[str, DataFrame], config: IntegrationConfig, spark
) -> DataFrame:
    """Quarantined identities of every member subject of the population and legal-entity bases."""
    parts = []
    for base in ("population", "legal_entity"):
        for member in config.bases[base].members:
            subject = config.subject(member)
            if subject.resource_id not in quarantines:
                continue
            key_field = config.catalog.resource(subject.resource_id).field(subject.key_field)
            parts.append(
                quarantined_identities(quarantines[subject.resource_id], subject, key_field)
            )
    if not parts:
        return spark.createDataFrame([], IDENTITY_SCHEMA)
    return union_all(parts)


def filter_unexplained(
    missing_df: DataFrame,
    identities_df: DataFrame,
    key_kind: str,
    key: str,
    name: str | None = None,
) -> DataFrame:
    """Drops the rows of ``missing_df`` whose key (column ``key``, of ``key_kind``) a quarantined
    record explains; ``name`` is the column with the holder's or representative's name."""
    mine = identities_df.where(F.col("key_kind") == key_kind)
    out = missing_df
    for length in (17, 16, 15):
        prefixes = (
            mine.where(F.length("prefix") == length)
            .select(F.col("prefix").alias(f"_p{length}"))
            .distinct()
        )
        out = out.join(
            prefixes, F.substring(F.col(key), 1, length) == F.col(f"_p{length}"), "left_anti"
        )
    if name is not None:
        named = (
            mine.where(F.col("name").isNotNull())
            .select(F.col("name").alias("_name"), F.col("birth_date").alias("_birth"))
            .distinct()
        )
        if key_kind == "citizen_id":
            birth = F.to_date(F.substring(F.col(key), 7, 8), "yyyyMMdd")
            condition = (F.col(name) == F.col("_name")) & (birth == F.col("_birth"))
        else:
            condition = F.col(name) == F.col("_name")
        out = out.join(named, condition, "left_anti")
    return out
