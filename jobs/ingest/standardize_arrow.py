"""Bronze → standardised rows over Arrow: the in-process twin of the pool job's Spark transforms.

:func:`standardized_batch` returns, column for column and value for value, what
``pool.with_content_hash(pool.with_standardized_fields(bronze_df, …), …)`` returns, with ``raw``
kept only on rows that have a problem (as the pipeline keeps it): lineage, one typed column per
catalog field, the columns derived from keys, ``problems`` and ``warnings`` (``<field>:<reason>``
codes in the same order), ``raw`` and ``content_hash``. The rules are the Arrow twins in
:mod:`jobs.standardize.arrow_values` and :mod:`jobs.standardize.arrow_keys`; the hash is
:mod:`jobs.ingest.content_hash`.

The function is pure: no I/O, no Spark, no clock (a citizen ID's birth date is "in the future"
relative to the date of the row's ``ingested_at`` in the bureau's time zone, as Spark's
``to_date(ingested_at)`` reads it). It runs on a batch in the task's process, or inside Spark's
``mapInArrow`` through :func:`standardized_batches` with :func:`standardized_schema`, so one
implementation serves both runners (DESIGN §3); in process, :func:`standardized_table` runs it
over pieces of the batch on every core.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.catalog.models import Catalog, Field, Resource
from jobs.ingest.content_hash import content_hashes
from jobs.ingest.pool import LINEAGE_COLUMNS, NOT_A_VALUE, OUT_OF_RANGE, _key_kind, _pool_type
from jobs.settings import Settings
from jobs.standardize import arrow_dates as D
from jobs.standardize import arrow_keys as K
from jobs.standardize import arrow_values as V
from jobs.standardize.values import RANGE_LIMITED_TYPES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: The bureau's zone when the caller names none (Spark's session time zone, from settings).
DEFAULT_TIMEZONE: str = {f.name: f for f in dataclasses.fields(Settings)}["timezone"].default

_MICROS_PER_DAY = 86_400_000_000
_LINEAGE_TYPES = {"row_number": pa.int64(), "ingested_at": pa.timestamp("us", tz="UTC")}
_STORAGE_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "long": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}
_CODES = pa.list_(pa.string())
_RAW = pa.map_(pa.string(), pa.string())


def _arrow_type(pool_type: str) -> pa.DataType:
    if pool_type.startswith("decimal"):
        precision, scale = (int(x) for x in pool_type[len("decimal(") : -1].split(","))
        return pa.decimal128(precision, scale)
    return _STORAGE_TYPES[pool_type]


def _derived_fields(f: Field) -> list[pa.Field]:
    kind = _key_kind(f)
    if kind == "citizen_id":
        return [
            pa.field(f"{f.name}_birth_date", pa.date32()),
            pa.field(f"{f.name}_gender", pa.string()),
            pa.field(f"{f.name}_region", pa.string()),
        ]
    if kind == "party_id":
        return [pa.field(f"{f.name}_kind", pa.string())]
    return []


def standardized_schema(resource: Resource) -> pa.Schema:
    """The Arrow schema of :func:`standardized_batch`'s result for ``resource`` (also the
    output schema to give Spark's ``mapInArrow``)."""
    columns = [pa.field(c, _LINEAGE_TYPES.get(c, pa.string())) for c in LINEAGE_COLUMNS]
    columns += [pa.field(f.name, _arrow_type(_pool_type(f))) for f in resource.fields]
    columns += [d for f in resource.fields for d in _derived_fields(f)]
    columns += [
        pa.field("problems", _CODES),
        pa.field("warnings", _CODES),
        pa.field("raw", _RAW),
        pa.field("content_hash", pa.string()),
    ]
    return pa.schema(columns)


@dataclass
class _Reasons:
    """Reason codes in the order they are found, per row (Spark's filtered ``array(...)``)."""

    n: int
    rows: list[np.ndarray] = field(default_factory=list)
    codes: list[pa.Array] = field(default_factory=list)

    def add(self, when: np.ndarray, prefix: str, code: str | pa.Array) -> None:
        """Adds ``<prefix>:<code>`` on the rows where ``when`` holds (and ``code`` is set)."""
        if not isinstance(code, str):
            when = when & V._mask(pc.is_valid(code))
        rows = np.flatnonzero(when)
        if not len(rows):
            return
        if isinstance(code, str):
            texts = pa.array([f"{prefix}:{code}"] * len(rows), pa.string())
        else:
            texts = pc.binary_join_element_wise(f"{prefix}:", code.take(pa.array(rows)), "")
        self.rows.append(rows)
        self.codes.append(texts)

    def lists(self) -> pa.Array:
        if not self.rows:
            return pa.ListArray.from_arrays(
                pa.array(np.zeros(self.n + 1, np.int32)), pa.array([], pa.string())
            )
        rows = np.concatenate(self.rows)
        order = np.argsort(rows, kind="stable")  # found order within a row
        counts = np.bincount(rows, minlength=self.n)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        values = pa.concat_arrays(self.codes).take(pa.array(order))
        return pa.ListArray.from_arrays(pa.array(offsets), values)


def _column(table: pa.Table | pa.RecordBatch, name: str) -> pa.Array:
    column = table.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


class _SourceColumns:
    """The delivered text of each source column, read out of bronze's ``raw`` maps at once.

    ``raw[column]`` per column and row is one pass over the maps' keys (an index lookup of
    every key, then numpy), not a search of every map per column (pyarrow's ``map_lookup``
    was a third of the work)."""

    def __init__(self, raw: pa.MapArray, names: list[str]) -> None:
        self._n = len(raw)
        offsets = raw.offsets.to_numpy()
        self._items = raw.items
        keys = raw.keys.slice(offsets[0], offsets[-1] - offsets[0])
        self._names = {name: i for i, name in enumerate(dict.fromkeys(names))}
        code = pc.index_in(keys, pa.array(list(self._names), pa.string()))
        self._code = pc.fill_null(code, -1).to_numpy(zero_copy_only=False)
        rows = np.repeat(np.arange(self._n), np.diff(offsets))
        self._rows, self._first_entry = rows, offsets[0]
        self._null_rows = np.flatnonzero(~V._mask(pc.is_valid(raw)))

    def text(self, name: str) -> pa.Array:
        """``raw[name]`` per row: the first entry with that key, NULL when there is none."""
        # a comparison per column costs less than sorting every entry by its column once
        entries = np.flatnonzero(self._code == self._names[name])
        position = np.full(self._n, -1, np.int64)
        # Reversed, so that the first entry of a row with the key twice is the one kept.
        position[self._rows[entries[::-1]]] = entries[::-1] + self._first_entry
        position[self._null_rows] = -1
        return self._items.take(pa.array(position, mask=position < 0))

    def field_text(self, f: Field) -> pa.Array:
        """The delivered text of a field: the first of its source columns set in the row."""
        found = [self.text(name) for name in f.source_columns]
        return found[0] if len(found) == 1 else pc.coalesce(*found)


def _reference_days(ingested_at: pa.Array, timezone: str) -> np.ndarray:
    """The date of each row's ``ingested_at`` in ``timezone`` (day numbers; NULL → none)."""
    utc = ingested_at.cast(pa.timestamp("us", tz="UTC"))
    wall = pc.local_timestamp(utc.fill_null(0).cast(pa.timestamp("us", tz=timezone)))
    days = wall.cast(pa.int64()).to_numpy() // _MICROS_PER_DAY
    return np.where(V._mask(pc.is_valid(utc)), days, np.iinfo(np.int64).min)


def _citizen_id_parts(value: pa.Array) -> list[pa.Array]:
    """Birth date, gender and region of valid IDs (GB 11643: region 1–6, birth date 7–14,
    odd 17th character = male)."""
    valid = V._mask(pc.is_valid(value))
    rows = np.flatnonzero(valid)
    days = np.zeros(len(value), np.int64)
    gender = np.zeros(len(value), np.int64)
    if len(rows):
        days[rows], _ = K.birth_days(value, rows)
        gender[rows] = K._bytes_of(value, rows, 17)[:, 16] % 2
    birth = pa.array(days.astype(np.int32), pa.date32(), mask=~valid)
    genders = pc.if_else(pa.array(gender == 1), "1", "2")
    return [
        birth,
        pc.if_else(pa.array(valid), genders, pa.scalar(None, pa.string())),
        pc.utf8_slice_codeunits(value, 0, 6),
    ]


def _standardized_field(
    f: Field,
    resource: Resource,
    catalog: Catalog,
    sources: _SourceColumns,
    reference_days: np.ndarray,
    timezone: str,
    problems: _Reasons,
    warnings: _Reasons,
) -> tuple[pa.Array, list[pa.Array]]:
    """One field's stored value and derived columns; its reasons are added to ``problems``
    and ``warnings`` (pool._typed_value, pool._field_reasons and pool._stored_value)."""
    src = sources.field_text(f)
    clean = V.clean_text(src)
    present = V._mask(pc.is_valid(clean))
    kind = _key_kind(f) or f.data_element.kind
    pool_type = _pool_type(f)
    derived: list[pa.Array] = []
    null_text = pa.scalar(None, pa.string())
    if f.required or f.name in resource.key.fields:
        problems.add(~present, f.name, "missing")
    if kind == "party_id":
        id_norm = K.normalized_citizen_id(src)
        id_problem = K.citizen_id_problem(id_norm, reference_days)
        uscc_norm = K.normalized_uscc(src)
        uscc_problem = K.uscc_problem(uscc_norm)
        id_ok, uscc_ok = pc.is_null(id_problem), pc.is_null(uscc_problem)
        value = pc.if_else(id_ok, id_norm, pc.if_else(uscc_ok, uscc_norm, null_text))
        derived.append(pc.if_else(id_ok, "citizen_id", pc.if_else(uscc_ok, "uscc", null_text)))
        id_like = pc.and_(
            pc.equal(pc.utf8_length(id_norm), 18), pc.match_substring_regex(id_norm, r"^[0-9]")
        )
        reason = pc.if_else(
            pc.fill_null(id_like, False), id_problem, pc.coalesce(uscc_problem, id_problem)
        )
        problems.add(present & ~V._mask(pc.is_valid(value)), f.name, reason)
    elif kind in {"citizen_id", "uscc", "parcel_code", "unit_number"}:
        if kind == "citizen_id":
            norm = K.normalized_citizen_id(src)
            problem = K.citizen_id_problem(norm, reference_days)
        elif kind == "uscc":
            norm = K.normalized_uscc(src)
            problem = K.uscc_problem(norm)
        else:
            norm = K.normalized_real_estate_code(src)
            check = K.parcel_code_problem if kind == "parcel_code" else K.unit_number_problem
            problem = check(norm)
        value = pc.if_else(pc.is_null(problem), norm, null_text)
        if kind == "citizen_id":
            derived = _citizen_id_parts(value)
        problems.add(present, f.name, problem)
    elif kind == "code":
        value = V.mapped_code(clean, catalog.value_map(resource.id, f.name))
        problems.add(present & ~V._mask(pc.is_valid(value)), f.name, "unknown_code")
    elif kind == "date":
        value = D.parsed_date(clean)
        bad = present & ~V._mask(D.is_no_end_date(clean)) & ~V._mask(pc.is_valid(value))
        problems.add(bad, f.name, "bad_date")
    elif kind == "timestamp":
        value = D.parsed_timestamp(clean, timezone)
        problems.add(present & ~V._mask(pc.is_valid(value)), f.name, "bad_timestamp")
    elif kind == "boolean":
        value = V.parsed_boolean(clean)
        problems.add(present & ~V._mask(pc.is_valid(value)), f.name, "bad_boolean")
    elif kind in {"decimal", "integer"}:
        value = V.parsed_number(clean, pool_type)
        problems.add(present & ~V._mask(pc.is_valid(value)), f.name, "bad_number")
    elif kind == "name":
        value = V.normalized_name(clean)
    elif kind == "phone":
        value = V.phone_of_digits(V.phone_digits(clean))
        # A malformed phone number keeps the row (pool._field_reasons says why).
        warnings.add(present & ~V._mask(pc.is_valid(value)), f.name, "bad_format")
    elif kind == "geometry":
        value = pc.utf8_trim(src, " ")
    else:  # text, address, region_code
        value = clean
        if kind == "region_code":
            warnings.add(present & ~V._mask(K.is_known_region(value)), f.name, "unknown_region")
    if f.name in resource.key.fields and _key_kind(f) is None:
        problems.add(present & V._mask(V.is_not_a_value(clean)), f.name, NOT_A_VALUE)
    if pool_type in RANGE_LIMITED_TYPES:
        storable = V.is_storable(value, pool_type)
        problems.add(~V._mask(storable), f.name, OUT_OF_RANGE)
        value = pc.if_else(storable, value, pa.scalar(None, value.type))
    return value.cast(_arrow_type(pool_type)), derived


def standardized_batch(
    bronze: pa.Table | pa.RecordBatch,
    resource: Resource,
    catalog: Catalog,
    *,
    timezone: str = DEFAULT_TIMEZONE,
) -> pa.Table:
    """Standardises bronze rows of ``resource`` (schema ``bronze.BRONZE_SCHEMA``).

    Args:
        bronze: bronze rows (any number of chunks).
        resource: the catalog resource the rows belong to.
        catalog: the catalog (code maps).
        timezone: the zone delivered wall-clock times are in and dates are read in (Spark's
            session time zone: ``settings.timezone``).

    Returns:
        A table of :func:`standardized_schema`, one row per bronze row in the same order.
    """
    n = bronze.num_rows
    raw = _column(bronze, "raw")
    sources = _SourceColumns(raw, [c for f in resource.fields for c in f.source_columns])
    reference_days = _reference_days(_column(bronze, "ingested_at"), timezone)
    problems, warnings = _Reasons(n), _Reasons(n)
    read_problem = _column(bronze, "read_problem")
    problems.add(np.ones(n, bool), "record", read_problem)
    values: dict[str, pa.Array] = {}
    derived: list[pa.Array] = []
    for f in resource.fields:
        value, parts = _standardized_field(
            f, resource, catalog, sources, reference_days, timezone, problems, warnings
        )
        values[f.name] = value
        derived.extend(parts)
    problem_lists = problems.lists()
    has_problem = pc.greater(pc.list_value_length(problem_lists), 0)
    schema = standardized_schema(resource)
    columns = [_column(bronze, c).cast(schema.field(c).type) for c in LINEAGE_COLUMNS]
    columns += [*values.values(), *derived, problem_lists, warnings.lists()]
    columns.append(pc.if_else(has_problem, raw, pa.scalar(None, raw.type)).cast(_RAW))
    columns.append(content_hashes(values, timezone))
    return pa.Table.from_arrays(columns, schema=schema)


#: Rows standardised per piece by :func:`standardized_table`: small enough that the pieces keep
#: both cores busy to the end, large enough that a kernel call's fixed cost stays small.
ROWS_PER_PIECE = 131_072


def standardized_table(
    bronze: pa.Table,
    resource: Resource,
    catalog: Catalog,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    rows_per_piece: int = ROWS_PER_PIECE,
) -> pa.Table:
    """:func:`standardized_batch` over pieces of ``bronze`` on every core, as Spark's
    ``mapInArrow`` runs it over record batches: the rules go row by row, so the pieces joined
    in order are the rows of the whole table. Arrow's kernels, numpy and DuckDB release the
    GIL, so threads share the cores (the in-process runner's parallelism)."""
    pieces = bronze.to_batches(max_chunksize=rows_per_piece)
    standardize = functools.partial(
        standardized_batch, resource=resource, catalog=catalog, timezone=timezone
    )
    if len(pieces) <= 1:
        return standardize(bronze)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as workers:
        return pa.concat_tables(workers.map(standardize, pieces))


def standardized_batches(
    batches: Iterator[pa.RecordBatch],
    resource: Resource,
    catalog: Catalog,
    *,
    timezone: str = DEFAULT_TIMEZONE,
) -> Iterator[pa.RecordBatch]:
    """:func:`standardized_batch` over a stream of record batches (Spark's ``mapInArrow``)."""
    for batch in batches:
        yield from standardized_batch(batch, resource, catalog, timezone=timezone).to_batches()


def standardized_df(bronze_df: DataFrame, resource: Resource, catalog: Catalog) -> DataFrame:
    """The same rows as :func:`standardized_batch`, computed by Spark inside ``mapInArrow``:
    the runner for batches above the in-process threshold and for a cluster, which then
    distributes the very functions the in-process path runs. Wall-clock times are read in the
    session's time zone."""
    from pyspark.sql.pandas.types import from_arrow_schema

    timezone = bronze_df.sparkSession.conf.get("spark.sql.session.timeZone")
    standardize = functools.partial(
        standardized_batches, resource=resource, catalog=catalog, timezone=timezone
    )
    return bronze_df.mapInArrow(standardize, from_arrow_schema(standardized_schema(resource)))
