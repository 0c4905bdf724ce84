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

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.catalog.models import Catalog, Field, Resource
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

# Elements whose value is a citizen ID or a USCC, told apart per row (real-estate owners).
_PARTY_ID_ELEMENTS = {"owner_id"}


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


@dataclass
class _Standardized:
    value: Column
    problems: list[Column]
    warnings: list[Column]
    derived: dict[str, Column]


def _standardize_field(
    f: Field, resource: Resource, catalog: Catalog, reference_date: Column
) -> _Standardized:
    """One field's typed value, reason codes (row goes to quarantine) and warnings (row kept)."""
    raw = _source_value(f)
    element = f.data_element
    kind = element.kind
    is_key = f.name in resource.key.fields
    mandatory = f.required or is_key
    blank = values.is_blank(raw)
    problems: list[Column] = []
    warnings: list[Column] = []
    derived: dict[str, Column] = {}

    if element.id in _PARTY_ID_ELEMENTS:
        id_problem = keys.citizen_id_problem(raw, reference_date)
        uscc_problem = keys.uscc_problem(raw)
        value = F.when(id_problem.isNull(), keys.normalized_citizen_id(raw)).when(
            uscc_problem.isNull(), keys.normalized_uscc(raw)
        )
        derived[f"{f.name}_kind"] = F.when(id_problem.isNull(), "citizen_id").when(
            uscc_problem.isNull(), "uscc"
        )
        # Report the citizen-ID reason for digit-led values, the USCC reason otherwise.
        digit_led = F.regexp_extract(values.half_width(F.trim(raw)), r"^\s*(\d)", 1) != ""
        reason = F.when(
            digit_led & (F.length(keys.normalized_citizen_id(raw)) == 18), id_problem
        ).otherwise(F.coalesce(uscc_problem, id_problem))
        problems.append(_reason(~blank & value.isNull(), f.name, reason))
    elif kind == "citizen_id":
        problem = keys.citizen_id_problem(raw, reference_date)
        value = F.when(problem.isNull(), keys.normalized_citizen_id(raw))
        problems.append(_reason(~blank & problem.isNotNull(), f.name, problem))
        derived[f"{f.name}_birth_date"] = keys.birth_date_of(raw, reference_date)
        derived[f"{f.name}_gender"] = keys.gender_of(raw, reference_date)
        derived[f"{f.name}_region"] = keys.region_of(raw, reference_date)
    elif kind == "uscc":
        problem = keys.uscc_problem(raw)
        value = F.when(problem.isNull(), keys.normalized_uscc(raw))
        problems.append(_reason(~blank & problem.isNotNull(), f.name, problem))
    elif kind in {"parcel_code", "unit_number"}:
        problem = (
            keys.parcel_code_problem(raw)
            if kind == "parcel_code"
            else keys.unit_number_problem(raw)
        )
        value = F.when(problem.isNull(), keys.normalized_real_estate_code(raw))
        problems.append(_reason(~blank & problem.isNotNull(), f.name, problem))
    elif kind == "code":
        mapping = catalog.value_map(resource.id, f.name)
        value = values.mapped_code(raw, mapping)
        problems.append(_reason(values.code_is_unknown(raw, mapping), f.name, "unknown_code"))
    elif kind == "date":
        value = values.parsed_date(raw)
        problems.append(_reason(values.date_is_bad(raw), f.name, "bad_date"))
    elif kind == "timestamp":
        value = values.parsed_timestamp(raw)
        problems.append(_reason(values.timestamp_is_bad(raw), f.name, "bad_timestamp"))
    elif kind in {"decimal", "integer"} or element.type not in {
        "string",
        "date",
        "timestamp",
        "boolean",
    }:
        spark_type = "long" if element.type in {"integer", "long"} else element.type
        value = values.parsed_number(raw, spark_type)
        problems.append(_reason(values.number_is_bad(raw, spark_type), f.name, "bad_number"))
    elif kind == "boolean":
        value = values.parsed_boolean(raw)
        problems.append(_reason(~blank & value.isNull(), f.name, "bad_boolean"))
    elif kind == "name":
        value = values.normalized_name(raw)
    elif kind == "phone":
        value = values.normalized_phone(raw)
        # A malformed phone number is not a reason to reject a resident's record: keep the row,
        # leave the value empty, and say so (bronze still has what was delivered).
        warnings.append(_reason(values.phone_is_bad(raw), f.name, "bad_format"))
    elif kind == "region_code":
        value = values.clean_text(raw)
        known = is_known_region(value)
        warnings.append(_reason(~blank & ~known, f.name, "unknown_region"))
    else:  # text, address, geometry
        value = values.clean_text(raw) if kind != "geometry" else F.trim(raw)

    if mandatory:
        problems.insert(0, _reason(blank, f.name, "missing"))
    return _Standardized(value, problems, warnings, derived)


def _pool_type(f: Field) -> str:
    element_type = f.data_element.type
    return "long" if element_type == "integer" else element_type


def with_standardized_fields(
    bronze_df: DataFrame, resource: Resource, catalog: Catalog
) -> DataFrame:
    """Adds one typed column per catalog field, derived columns, ``problems`` and ``warnings``.

    Returns lineage + fields (+ ``<id field>_birth_date/_gender/_region`` for citizen IDs) +
    ``problems`` (array of ``field:reason``; empty for a pool row) + ``warnings`` + ``raw``.
    """
    reference_date = F.to_date(F.col("ingested_at"))
    columns: list[Column] = [F.col(c) for c in LINEAGE_COLUMNS]
    problems: list[Column] = [
        _reason(F.col("read_problem").isNotNull(), "record", F.col("read_problem"))
    ]
    warnings: list[Column] = []
    derived: list[Column] = []
    for f in resource.fields:
        std = _standardize_field(f, resource, catalog, reference_date)
        columns.append(std.value.cast(_pool_type(f)).alias(f.name))
        problems.extend(std.problems)
        warnings.extend(std.warnings)
        derived.extend(col.alias(name) for name, col in std.derived.items())
    return bronze_df.select(
        *columns,
        *derived,
        F.filter(F.array(*problems), lambda x: x.isNotNull()).alias("problems"),
        F.filter(
            F.array(*warnings) if warnings else F.array().cast("array<string>"),
            lambda x: x.isNotNull(),
        ).alias("warnings"),
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
    """Adds ``is_duplicate``: the row repeats an earlier row of the same batch (lower file/row
    number) or a row already in the pool from an earlier batch (``earlier_hashes_df`` has a
    ``content_hash`` column). The first occurrence stays; repeats are counted, not kept.
    """
    first_in_batch = Window.partitionBy("content_hash").orderBy("source_file", "row_number")
    flagged = accepted_df.withColumn("_occurrence", F.row_number().over(first_in_batch))
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
