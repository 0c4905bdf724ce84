"""Bronze → department pool: pure DataFrame → DataFrame transforms.

Bronze holds every delivered row as raw strings in a ``raw`` map (source column → value). Here
each catalog field takes its value from its source columns (synonyms included), is standardised
by its data element's kind, and names what is wrong with it as ``<field>:<reason>`` codes. Rows
with a reason go to quarantine; the rest are pool rows. Nothing is dropped here: exact duplicates
are only *flagged* (the pipeline counts them), and a missing required column is reported so the
pipeline can hold the batch.

Grain of the pool table: one row per accepted delivered record per batch (see the resource's
``grain``); lineage columns say where each row came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.catalog.models import Catalog, Field, Resource
from jobs.ingest.accounting import FILE_KEY_FIELDS
from jobs.standardize import keys, values
from jobs.standardize.regions import is_known_region

#: Lineage columns every bronze, pool and quarantine row carries (DESIGN §2).
LINEAGE_COLUMNS = (
    "department",
    "resource",
    "batch_id",
    "source_file",
    "file_hash",
    "row_number",
    "record_hash",
    "ingested_at",
)

#: What names one delivered row: batch, file and row number (unique within a resource).
ROW_KEY = ("batch_id", "source_file", "row_number")


#: Reason for a typed value the lake cannot store (a date of year 0, an infinite number).
OUT_OF_RANGE = "out_of_range"
#: Reason for a key delivered as a rendering of nothing (``NaN``, ``None``, ``#N/A``).
NOT_A_VALUE = "not_a_value"

# Elements whose value is a citizen ID or a USCC, told apart per row (real-estate owners).
_PARTY_ID_ELEMENTS = {"owner_id"}

#: Spark types of the lineage columns that are not text.
_LINEAGE_TYPES = {"row_number": T.LongType(), "ingested_at": T.TimestampType()}
#: Catalog storage type → the pool's Spark type (integers widened to long; decimals apart).
_STORAGE_TYPES = {
    "string": T.StringType(),
    "date": T.DateType(),
    "timestamp": T.TimestampType(),
    "integer": T.LongType(),
    "long": T.LongType(),
    "double": T.DoubleType(),
    "boolean": T.BooleanType(),
}


def pool_schema(resource: Resource) -> T.StructType:
    """The schema of the pool table of ``resource``, column for column as ingestion writes it:
    lineage, the catalog fields, the columns derived from them (a citizen ID's birth date,
    gender and region; an owner's ``_kind``), ``warnings``, ``content_hash`` and
    ``promoted_at``. Every reader that needs a pool's shape (an empty pool, quality suites,
    tests, benchmarks) takes it from here."""
    columns = [T.StructField(c, _LINEAGE_TYPES.get(c, T.StringType())) for c in LINEAGE_COLUMNS]
    columns += [T.StructField(f.name, _spark_type(f.data_element.type)) for f in resource.fields]
    for f in resource.fields:
        if f.data_element.kind == "citizen_id":
            columns += [
                T.StructField(f"{f.name}_birth_date", T.DateType()),
                T.StructField(f"{f.name}_gender", T.StringType()),
                T.StructField(f"{f.name}_region", T.StringType()),
            ]
        if f.data_element.id in _PARTY_ID_ELEMENTS:
            columns.append(T.StructField(f"{f.name}_kind", T.StringType()))
    columns += [
        T.StructField("warnings", T.ArrayType(T.StringType())),
        T.StructField("content_hash", T.StringType()),
        T.StructField("promoted_at", T.TimestampType()),
    ]
    return T.StructType(columns)


def pool_arrow_schema(resource: Resource) -> pa.Schema:
    """:func:`pool_schema` as Arrow, for the pool rows written through delta-rs."""
    return to_arrow_schema(pool_schema(resource), timezone="UTC")


#: The quarantine table, row-level and file-level rows alike (``stage``: ``standardize`` for
#: a rejected row with its reason codes, ``file`` for a file rejected whole).
QUARANTINE_SCHEMA = pa.schema(
    [
        *FILE_KEY_FIELDS,
        ("file_hash", pa.string()),
        ("row_number", pa.int64()),
        ("record_hash", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
        ("stage", pa.string()),
        ("reasons", pa.list_(pa.string())),
        ("raw", pa.map_(pa.string(), pa.string())),
        ("quarantined_at", pa.timestamp("us", tz="UTC")),
    ]
)


def _spark_type(storage: str) -> T.DataType:
    if storage.startswith("decimal"):
        precision, scale = (int(x) for x in storage[len("decimal(") : -1].split(","))
        return T.DecimalType(precision, scale)
    return _STORAGE_TYPES[storage]


@dataclass(frozen=True)
class ColumnReport:
    """How a batch's delivered columns map onto the catalog."""

    missing_required: tuple[str, ...]
    """Required fields none of whose source columns (or synonyms) was delivered."""
    missing_optional: tuple[str, ...]
    extra_columns: tuple[str, ...]
    """Delivered columns the catalog does not know; they stay in bronze and are reported."""

    @property
    def must_hold(self) -> bool:
        return bool(self.missing_required)

    def hold_message(self, resource_id: str) -> str:
        wanted = ", ".join(self.missing_required)
        return f"{resource_id}: required column(s) missing from the delivery: {wanted}; batch held"


def column_report(resource: Resource, delivered_columns: Iterable[str]) -> ColumnReport:
    """Compares the columns a batch delivered with the catalog's fields and synonyms."""
    delivered = {c.strip() for c in delivered_columns} - {"_raw_line", "_read_problem"}
    known = set(resource.source_column_index())
    missing_required = tuple(
        f"{f.name} ({' / '.join(f.source_columns)})"
        for f in resource.fields
        if (f.required or f.name in resource.key.fields) and not delivered & set(f.source_columns)
    )
    missing_optional = tuple(
        f.name
        for f in resource.fields
        if not (f.required or f.name in resource.key.fields)
        and not delivered & set(f.source_columns)
    )
    return ColumnReport(missing_required, missing_optional, tuple(sorted(delivered - known)))


def _source_value(f: Field) -> Column:
    """The delivered text for a field: the first of its source columns present in the row."""
    return F.coalesce(*[F.col("raw").getItem(name) for name in f.source_columns])


def _reason(condition: Column, field_name: str, code: str | Column) -> Column:
    code_col = code if isinstance(code, Column) else F.lit(code)
    return F.when(condition, F.concat(F.lit(f"{field_name}:"), code_col))


# The standardisation runs in four projections (sourced, checked, prepared, typed) so that each
# expensive expression (a key check is a few hundred nodes) is computed once and then referenced:
# one flat projection that repeats them overflows Java's 64 KB method limit and falls back to
# slow interpreted evaluation.
def _src(f: Field) -> str:
    return f"__src__{f.name}"


def _aux(f: Field, what: str) -> str:
    return f"__{what}__{f.name}"


def _clean(f: Field) -> str:
    """The field's delivered text after :func:`values.clean_text`, computed once in stage 1 and
    read by the field's value, its checks and its reason codes (all expect clean text)."""
    return _aux(f, "clean")


def _cleans_text(f: Field) -> bool:
    # A geometry is kept as delivered (trimmed); folding the white space inside GeoJSON would
    # only cost time.
    return f.data_element.kind != "geometry"


def _key_kind(f: Field) -> str | None:
    if f.data_element.id in _PARTY_ID_ELEMENTS:
        return "party_id"
    kind = f.data_element.kind
    return kind if kind in {"citizen_id", "uscc", "parcel_code", "unit_number"} else None


def _key_checks(f: Field, reference_date: Column) -> dict[str, Column]:
    """Stage 1: normalised key and its reason code (NULL when valid), per key-kind field."""
    src = F.col(_src(f))
    kind = _key_kind(f)
    if kind == "party_id":
        return {
            _aux(f, "id_norm"): keys.normalized_citizen_id(src),
            _aux(f, "id_problem"): keys.citizen_id_problem(src, reference_date),
            _aux(f, "uscc_norm"): keys.normalized_uscc(src),
            _aux(f, "uscc_problem"): keys.uscc_problem(src),
        }
    if kind == "citizen_id":
        return {
            _aux(f, "norm"): keys.normalized_citizen_id(src),
            _aux(f, "problem"): keys.citizen_id_problem(src, reference_date),
        }
    if kind == "uscc":
        return {
            _aux(f, "norm"): keys.normalized_uscc(src),
            _aux(f, "problem"): keys.uscc_problem(src),
        }
    if kind in {"parcel_code", "unit_number"}:
        problem = (
            keys.parcel_code_problem(src)
            if kind == "parcel_code"
            else keys.unit_number_problem(src)
        )
        return {_aux(f, "norm"): keys.normalized_real_estate_code(src), _aux(f, "problem"): problem}
    return {}


def _prepared_text(f: Field) -> Column | None:
    """Stage 1b: the text a parser reads several times (date, timestamp, phone, number), from
    the clean text. Spark does not share an expression between the branches of a CASE WHEN, so
    a parser handed the raw expression re-ran its regular expressions up to six times a row."""
    clean = F.col(_clean(f))
    kind = _key_kind(f) or f.data_element.kind
    if kind == "date":
        return values.date_text(clean, cleaned=True)
    if kind == "timestamp":
        return values.timestamp_text(clean, cleaned=True)
    if kind == "phone":
        return values.phone_digits(clean, cleaned=True)
    if kind in {"decimal", "integer"}:
        return values.number_text(clean, cleaned=True)
    return None


def _typed_value(
    f: Field, resource: Resource, catalog: Catalog
) -> tuple[Column, dict[str, Column]]:
    """Stage 2: the field's standardised value, and columns derived from it."""
    src = F.col(_src(f))
    text = F.col(_clean(f)) if _cleans_text(f) else None
    element = f.data_element
    kind = _key_kind(f) or element.kind
    derived: dict[str, Column] = {}
    if kind == "party_id":
        id_ok, uscc_ok = (
            F.col(_aux(f, "id_problem")).isNull(),
            F.col(_aux(f, "uscc_problem")).isNull(),
        )
        value = F.when(id_ok, F.col(_aux(f, "id_norm"))).when(uscc_ok, F.col(_aux(f, "uscc_norm")))
        derived[f"{f.name}_kind"] = F.when(id_ok, "citizen_id").when(uscc_ok, "uscc")
    elif kind in {"citizen_id", "uscc", "parcel_code", "unit_number"}:
        value = F.when(F.col(_aux(f, "problem")).isNull(), F.col(_aux(f, "norm")))
        if kind == "citizen_id":
            # The ID is valid wherever value is set, so its parts can be read directly (GB 11643:
            # region 1–6, birth date 7–14, odd 17th character = male).
            derived[f"{f.name}_birth_date"] = F.to_date(F.substring(value, 7, 8), "yyyyMMdd")
            derived[f"{f.name}_gender"] = F.when(
                value.isNotNull(),
                F.when(F.substring(value, 17, 1).cast("int") % 2 == 1, "1").otherwise("2"),
            )
            derived[f"{f.name}_region"] = F.substring(value, 1, 6)
    elif kind == "code":
        value = values.mapped_code(text, catalog.value_map(resource.id, f.name), cleaned=True)
    elif kind == "date":
        value = values.parsed_date(text, cleaned=True, text=F.col(_aux(f, "prepared")))
    elif kind == "timestamp":
        value = values.parsed_timestamp(text, cleaned=True, text=F.col(_aux(f, "prepared")))
    elif kind == "boolean":
        value = values.parsed_boolean(text, cleaned=True)
    elif kind in {"decimal", "integer"}:
        value = values.parsed_number(
            text, _pool_type(f), cleaned=True, text=F.col(_aux(f, "prepared"))
        )
    elif kind == "name":
        value = values.normalized_name(text, cleaned=True)
    elif kind == "phone":
        value = values.phone_of_digits(F.col(_aux(f, "prepared")))
    elif kind == "geometry":
        value = F.trim(src)
    else:  # text, address, region_code
        value = text
    return value.cast(_pool_type(f)), derived


def _field_reasons(f: Field, resource: Resource) -> tuple[list[Column], list[Column]]:
    """Stage 3: reason codes (the row goes to quarantine) and warnings (the row is kept)."""
    src, value = F.col(_src(f)), F.col(f.name)
    present = F.col(_clean(f)).isNotNull() if _cleans_text(f) else ~values.is_blank(src)
    kind = _key_kind(f) or f.data_element.kind
    problems: list[Column] = []
    warnings: list[Column] = []
    if f.required or f.name in resource.key.fields:
        problems.append(_reason(~present, f.name, "missing"))
    if kind == "party_id":
        # Name the citizen-ID reason for an 18-character value that starts with a digit and fails
        # as an ID, the USCC reason otherwise.
        id_problem, uscc_problem = F.col(_aux(f, "id_problem")), F.col(_aux(f, "uscc_problem"))
        id_like = (F.length(F.col(_aux(f, "id_norm"))) == 18) & F.col(_aux(f, "id_norm")).rlike(
            r"^\d"
        )
        reason = F.when(id_like, id_problem).otherwise(F.coalesce(uscc_problem, id_problem))
        problems.append(_reason(present & value.isNull(), f.name, reason))
    elif kind in {"citizen_id", "uscc", "parcel_code", "unit_number"}:
        problem = F.col(_aux(f, "problem"))
        problems.append(_reason(present & problem.isNotNull(), f.name, problem))
    elif kind == "code":
        problems.append(_reason(present & value.isNull(), f.name, "unknown_code"))
    elif kind == "date":
        problems.append(
            _reason(
                present & ~values.is_no_end_date(F.col(_clean(f)), cleaned=True) & value.isNull(),
                f.name,
                "bad_date",
            )
        )
    elif kind == "timestamp":
        problems.append(_reason(present & value.isNull(), f.name, "bad_timestamp"))
    elif kind == "boolean":
        problems.append(_reason(present & value.isNull(), f.name, "bad_boolean"))
    elif kind in {"decimal", "integer"}:
        problems.append(_reason(present & value.isNull(), f.name, "bad_number"))
    elif kind == "phone":
        # A malformed phone number is no reason to reject a resident's record: keep the row,
        # leave the value empty, and say so (bronze still has what was delivered).
        warnings.append(_reason(present & value.isNull(), f.name, "bad_format"))
    elif kind == "region_code":
        warnings.append(_reason(present & ~is_known_region(value), f.name, "unknown_region"))
    if f.name in resource.key.fields and _key_kind(f) is None:
        # The key kinds have their own reasons; a plain text key must not be "NaN".
        not_a_value = values.is_not_a_value(F.col(_clean(f)), cleaned=True)
        problems.append(_reason(present & not_a_value, f.name, NOT_A_VALUE))
    if _pool_type(f) in values.RANGE_LIMITED_TYPES:
        problems.append(_reason(~values.is_storable(value, _pool_type(f)), f.name, OUT_OF_RANGE))
    return problems, warnings


def _stored_value(f: Field) -> Column:
    """Stage 4: the typed value, or NULL where the lake cannot store it (its row carries
    :data:`OUT_OF_RANGE` and goes to quarantine, so the write never meets it)."""
    value = F.col(f.name)
    if _pool_type(f) not in values.RANGE_LIMITED_TYPES:
        return value
    return F.when(values.is_storable(value, _pool_type(f)), value).alias(f.name)


def _pool_type(f: Field) -> str:
    element_type = f.data_element.type
    return "long" if element_type == "integer" else element_type


def with_standardized_fields(
    bronze_df: DataFrame, resource: Resource, catalog: Catalog
) -> DataFrame:
    """Adds one typed column per catalog field, derived columns, ``problems`` and ``warnings``.

    Returns lineage + fields (+ ``<id field>_birth_date/_gender/_region`` for citizen IDs,
    ``<field>_kind`` for an owner that may be a person or an entity) + ``problems`` (array of
    ``field:reason``; empty for a pool row) + ``warnings`` + ``raw``.
    """
    reference_date = F.to_date(F.col("ingested_at"))
    lineage = [F.col(c) for c in LINEAGE_COLUMNS]
    sourced = bronze_df.select(
        *lineage, "raw", "read_problem", *[_source_value(f).alias(_src(f)) for f in resource.fields]
    )
    checked = sourced.select(
        "*",
        *[
            values.clean_text(F.col(_src(f))).alias(_clean(f))
            for f in resource.fields
            if _cleans_text(f)
        ],
        *[
            col.alias(name)
            for f in resource.fields
            for name, col in _key_checks(f, reference_date).items()
        ],
    )

    prepared = checked.select(
        "*",
        *[
            text.alias(_aux(f, "prepared"))
            for f in resource.fields
            if (text := _prepared_text(f)) is not None
        ],
    )

    typed_columns, derived_columns, derived_names = [], [], []
    for f in resource.fields:
        value, derived = _typed_value(f, resource, catalog)
        typed_columns.append(value.alias(f.name))
        derived_columns.extend(col.alias(name) for name, col in derived.items())
        derived_names.extend(derived)
    typed = prepared.select("*", *typed_columns, *derived_columns)

    problems: list[Column] = [
        _reason(F.col("read_problem").isNotNull(), "record", F.col("read_problem"))
    ]
    warnings: list[Column] = []
    for f in resource.fields:
        field_problems, field_warnings = _field_reasons(f, resource)
        problems.extend(field_problems)
        warnings.extend(field_warnings)
    no_warnings = F.array().cast("array<string>")
    return typed.select(
        *lineage,
        *[_stored_value(f) for f in resource.fields],
        *[F.col(name) for name in derived_names],
        F.filter(F.array(*problems), lambda x: x.isNotNull()).alias("problems"),
        F.filter(F.array(*warnings) if warnings else no_warnings, lambda x: x.isNotNull()).alias(
            "warnings"
        ),
        F.col("raw"),
    )


def with_content_hash(standardized_df: DataFrame, resource: Resource) -> DataFrame:
    """Adds ``content_hash``: SHA-256 of the standardised field values, lineage excluded.

    Two rows with the same content hash say the same thing, whichever batch or file they came in.
    """
    payload = F.to_json(F.struct(*[F.col(f.name) for f in resource.fields]))
    return standardized_df.withColumn("content_hash", F.sha2(payload, 256))


def filter_quarantined(standardized_df: DataFrame) -> DataFrame:
    """Rows with at least one reason code, shaped for the quarantine table."""
    return standardized_df.filter(F.size("problems") > 0).select(
        *LINEAGE_COLUMNS,
        F.lit("standardize").alias("stage"),
        F.col("problems").alias("reasons"),
        F.col("raw"),
    )


def filter_accepted(standardized_df: DataFrame) -> DataFrame:
    """Rows without a reason code (still including exact duplicates; see :func:`with_duplicate_flag`)."""
    return standardized_df.filter(F.size("problems") == 0).drop("problems", "raw")


def with_duplicate_flag(accepted_df: DataFrame, earlier_hashes_df: DataFrame | None) -> DataFrame:
    """Adds ``is_duplicate``: the row repeats an earlier row (in batch, file, row order) of the
    rows given, or a row already in the pool from an earlier batch (``earlier_hashes_df`` has a
    ``content_hash`` column). The first occurrence stays; repeats are counted, not kept.
    """
    first_seen = Window.partitionBy("content_hash").orderBy(*ROW_KEY)
    flagged = accepted_df.withColumn("_occurrence", F.row_number().over(first_seen))
    if earlier_hashes_df is not None:
        seen = (
            earlier_hashes_df.select("content_hash")
            .distinct()
            .withColumn("_seen_before", F.lit(True))
        )
        flagged = flagged.join(seen, "content_hash", "left")
    else:
        flagged = flagged.withColumn("_seen_before", F.lit(None).cast("boolean"))
    is_duplicate = (F.col("_occurrence") > 1) | F.coalesce(F.col("_seen_before"), F.lit(False))
    return flagged.withColumn("is_duplicate", is_duplicate).drop("_occurrence", "_seen_before")


def duplicate_row_keys(
    standardized_df: DataFrame, earlier_hashes_df: DataFrame | None
) -> DataFrame:
    """The row keys (:data:`ROW_KEY`) of accepted rows that repeat an earlier row.

    Only the content hash and the row key go through the shuffle that finds first occurrences:
    moving whole standardised rows there cost more than standardising them.
    """
    accepted_keys = standardized_df.filter(F.size("problems") == 0).select("content_hash", *ROW_KEY)
    return (
        with_duplicate_flag(accepted_keys, earlier_hashes_df)
        .filter("is_duplicate")
        .select(*ROW_KEY)
    )


def with_disposition(standardized_df: DataFrame, duplicate_keys_df: DataFrame) -> DataFrame:
    """Adds ``disposition``: ``quarantine`` (a reason code), ``duplicate`` (a repeat; its key is
    in ``duplicate_keys_df``) or ``pool``. Every row keeps exactly one disposition."""
    flagged = standardized_df.join(
        F.broadcast(duplicate_keys_df.withColumn("_is_duplicate", F.lit(True))),
        list(ROW_KEY),
        "left",
    )
    return flagged.withColumn(
        "disposition",
        F.when(F.size("problems") > 0, "quarantine")
        .when(F.col("_is_duplicate"), "duplicate")
        .otherwise("pool"),
    ).drop("_is_duplicate")
