"""What a batch's validation found, per expectation, read from Great Expectations' results.

Every expectation is computed once, by GX (:mod:`jobs.quality.validate`: its pandas engine for a
batch on the Arrow path, its Spark engine for a large one). govlake reads what it needs from each
result: the rows the expectation considered (GX's element count less its missing count: nulls,
``ignore_row_if`` and ``row_condition`` excluded), those it found unexpected, GX's verdict, and
the source file and row number of every unexpected row (result format ``COMPLETE``), from which
the failing-rows table is written (:mod:`jobs.quality.failing_rows`). GX decides as
:func:`mostly_success` says: a check passes when it considered no row or
``(considered - unexpected) / considered >= mostly`` (``mostly = 1 - threshold``).

Two kinds of check are not GX's to compute. The column types are judged from the batch's schema
(the lake's types: GX's pandas engine sees pandas dtypes), the same on both engines
(:func:`type_outcome`). Accuracy against the authoritative resource (一数一源) compares two
tables, by key, with the authority's latest value: on Arrow (:func:`accuracy_on_arrow`) or on
Spark (:func:`accuracy_on_spark`), one per engine, giving the same counts and rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from jobs.ingest.pool import LINEAGE_COLUMNS
from jobs.quality.suites import AccuracyCheck, Expectation, Suite
from jobs.quality.validate import ROW_ID, GxResult

#: Lineage columns kept with each failing row.
FLAG_LINEAGE: tuple[str, ...] = LINEAGE_COLUMNS
#: The failing-rows table's list of expectation names.
FAILED_COLUMN = "failed_expectations"
KEY_COLUMN = "record_key"

#: A row of a batch, as GX names it: (source file, row number).
RowId = tuple[str, int]


@dataclass
class Outcome:
    """What one expectation (or accuracy check) found in one batch.

    ``considered`` is the number of rows the check looked at (GX's denominator),
    ``unexpected`` those that broke it; both are None for table-level checks. ``status`` is
    ``passed``, ``failed`` or ``skipped`` (with ``reason``).
    """

    name: str
    type: str
    severity: str
    threshold: float
    dimension: str
    level: str  # row | table | accuracy
    status: str
    considered: int | None = None
    unexpected: int | None = None
    observed: str | None = None
    reason: str | None = None

    @property
    def unexpected_fraction(self) -> float | None:
        if self.unexpected is None or not self.considered:
            return None if self.unexpected is None else 0.0
        return self.unexpected / self.considered

    @property
    def pass_rate(self) -> float | None:
        """Share of considered rows that passed (row checks), 1.0/0.0 for table checks, None
        when skipped. Scorecards average these."""
        if self.status == "skipped":
            return None
        if self.level == "table":
            return 1.0 if self.status == "passed" else 0.0
        if not self.considered:
            return 1.0
        return (self.considered - (self.unexpected or 0)) / self.considered

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass
class BatchMetrics:
    """A batch's outcomes and its failing rows: row id → the names of what the row failed
    (in suite order)."""

    row_count: int
    outcomes: dict[str, Outcome]
    failed: dict[RowId, list[str]] = field(default_factory=dict)

    @property
    def failing_row_count(self) -> int:
        return len(self.failed)


@dataclass
class AccuracyFound:
    """What the accuracy checks of a batch found: outcomes and each check's unexpected rows."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    rows: dict[str, list[RowId]] = field(default_factory=dict)


def mostly_success(considered: int, unexpected: int, mostly: float) -> bool:
    """GX's rule: vacuously true on no rows, else the passing share must reach ``mostly``."""
    if considered == 0:
        return True
    return (float(considered) - float(unexpected)) / float(considered) >= mostly


def missing_parameter(exp: Expectation, params: Mapping[str, Any]) -> str | None:
    """The first suite parameter ``exp`` needs that the run has no value for (a first batch
    has no row-count bounds nor due date), or None."""
    return next((p for p in exp.parameters if params.get(p) is None), None)


def skipped_outcomes(suite: Suite, params: Mapping[str, Any]) -> dict[str, Outcome]:
    """The expectations skipped for want of a parameter value, with the reason."""
    out = {}
    for exp in suite.expectations:
        missing = missing_parameter(exp, params)
        if missing is not None:
            level = "row" if exp.is_row_level else "table"
            out[exp.name] = _outcome(
                exp, level, "skipped", reason=f"no value for parameter {missing!r}"
            )
    return out


def _outcome(exp: Expectation, level: str, status: str, **values: Any) -> Outcome:
    return Outcome(
        exp.name, exp.type, exp.severity, exp.threshold, exp.dimension, level, status, **values
    )


# ========================================================================= column types

#: Arrow type of a pool column → the Spark type class name the suites name (``type_``).
_ARROW_TYPE_NAMES: tuple[tuple[Any, str], ...] = (
    (pa.types.is_string, "StringType"),
    (pa.types.is_large_string, "StringType"),
    (pa.types.is_date32, "DateType"),
    (pa.types.is_timestamp, "TimestampType"),
    (pa.types.is_int64, "LongType"),
    (pa.types.is_int32, "IntegerType"),
    (pa.types.is_float64, "DoubleType"),
    (pa.types.is_boolean, "BooleanType"),
    (pa.types.is_decimal, "DecimalType"),
    (pa.types.is_list, "ArrayType"),
)


def column_types_of_arrow(schema: pa.Schema) -> dict[str, str]:
    """Column → the Spark type class name of its Arrow type (as Spark reads the table)."""
    out = {}
    for f in schema:
        out[f.name] = next((name for test, name in _ARROW_TYPE_NAMES if test(f.type)), str(f.type))
    return out


def column_types_of_spark(schema: Any) -> dict[str, str]:
    """Column → Spark type class name of a Spark schema."""
    return {f.name: type(f.dataType).__name__ for f in schema.fields}


def type_outcome(exp: Expectation, column_types: Mapping[str, str]) -> Outcome:
    """A type expectation judged from the schema, as GX's Spark engine judges it."""
    column = exp.kwargs["column"]
    if column not in column_types:
        return _outcome(exp, "table", "failed", observed="missing column")
    observed = column_types[column]
    return _outcome(
        exp, "table", "passed" if observed == exp.kwargs["type_"] else "failed", observed=observed
    )


# ======================================================================= from GX's results


def observed_text(value: Any) -> str | None:
    """A table check's observed value as text, the same from both engines: timestamps as aware
    UTC (Spark hands them to Python as naive local times), dates in ISO form."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.astimezone()
        return aware.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def gx_outcome(exp: Expectation, result: GxResult | None) -> Outcome:
    """One expectation's outcome from GX's result of it (failed, with GX's message, when GX
    raised an error evaluating it or has no result)."""
    level = "row" if exp.is_row_level else "table"
    if result is None or result.error:
        reason = result.error if result else "Great Expectations returned no result"
        return _outcome(exp, level, "failed", reason=reason)
    status = "passed" if result.success else "failed"
    if level == "table":
        return _outcome(
            exp, level, status, observed=observed_text(result.result.get("observed_value"))
        )
    element_count = int(result.result.get("element_count") or 0)
    missing = int(result.result.get("missing_count") or 0)
    return _outcome(
        exp,
        level,
        status,
        considered=element_count - missing,
        unexpected=int(result.unexpected_count or 0),
    )


def batch_metrics(
    suite: Suite,
    row_count: int,
    column_types: Mapping[str, str],
    gx_results: Mapping[str, GxResult],
    skipped: Mapping[str, Outcome],
    accuracy: AccuracyFound,
) -> BatchMetrics:
    """The batch's outcomes (suite order) and failing rows, from GX's results, the schema's
    types and what the accuracy checks found."""
    outcomes: dict[str, Outcome] = {}
    rows_of: dict[str, Sequence[RowId]] = {}
    for exp in suite.expectations:
        if exp.name in skipped:
            outcomes[exp.name] = skipped[exp.name]
        elif exp.type == "expect_column_values_to_be_of_type":
            outcomes[exp.name] = type_outcome(exp, column_types)
        else:
            result = gx_results.get(exp.name)
            outcomes[exp.name] = gx_outcome(exp, result)
            if exp.is_row_level and result is not None and not result.error:
                rows_of[exp.name] = result.unexpected_rows
    outcomes.update(accuracy.outcomes)
    rows_of.update(accuracy.rows)
    failed: dict[RowId, list[str]] = {}
    for name in suite.names:
        for source_file, row_number in rows_of.get(name, ()):
            failed.setdefault((str(source_file), int(row_number)), []).append(name)
    ordered = {n: outcomes[n] for n in suite.names if n in outcomes}
    return BatchMetrics(row_count, ordered, failed)


# ============================================================================= accuracy


def _check_outcome(check: AccuracyCheck, status: str, **values: Any) -> Outcome:
    return Outcome(
        check.name,
        "govlake_accuracy",
        check.severity,
        check.threshold,
        check.dimension,
        "accuracy",
        status,
        **values,
    )


def accuracy_skipped(check: AccuracyCheck) -> Outcome:
    reason = f"no pool of the authoritative resource {check.authority} yet"
    return _check_outcome(check, "skipped", reason=reason)


def _accuracy_outcome(check: AccuracyCheck, considered: int, unexpected: int) -> Outcome:
    passed = mostly_success(considered, unexpected, round(1.0 - check.threshold, 6))
    status = "passed" if passed else "failed"
    return _check_outcome(check, status, considered=considered, unexpected=unexpected)


#: Columns of an authoritative pool that order its rows, latest delivery first.
AUTHORITY_ORDER = ("ingested_at", "batch_id", "row_number")


def authority_columns(checks: Sequence[AccuracyCheck], authority: str) -> list[str]:
    """The columns of ``authority``'s pool the checks read: keys, compared columns, order."""
    mine = [c for c in checks if c.authority == authority]
    return sorted(
        {c.authority_column for c in mine}
        | {c.authority_key[0] for c in mine}
        | set(AUTHORITY_ORDER)
    )


def latest_arrow(authority: pa.Table, key: str) -> pa.Table:
    """The most recent row per key of an authoritative pool's rows (latest delivery wins)."""
    rows = authority.filter(pc.is_valid(authority[key])).sort_by(
        [(key, "ascending"), *[(c, "descending") for c in AUTHORITY_ORDER]]
    )
    values = [c for c in rows.column_names if c != key]
    latest = rows.group_by(key, use_threads=False).aggregate([(c, "first") for c in values])
    return latest.rename_columns([c.removesuffix("_first") for c in latest.column_names])


def accuracy_on_arrow(
    batch: pa.Table, checks: Sequence[AccuracyCheck], authorities: Mapping[str, pa.Table]
) -> AccuracyFound:
    """The accuracy checks of a batch on Arrow: each field compared, by key, with the latest
    value of its authoritative resource (``authorities``: resource id → that pool's rows with
    :func:`authority_columns`; a check whose authority has none is skipped)."""
    found = AccuracyFound()
    for check in checks:
        if check.authority not in authorities:
            found.outcomes[check.name] = accuracy_skipped(check)
            continue
        key, authority_key = check.key[0], check.authority_key[0]
        compared = {authority_key, check.authority_column, *AUTHORITY_ORDER}
        latest = latest_arrow(
            authorities[check.authority].select(sorted(compared)), authority_key
        ).select([authority_key, check.authority_column])
        latest = latest.rename_columns(["__key", "__authority"])
        left = batch.select([*ROW_ID, key, check.column]).rename_columns(
            [*ROW_ID, "__key", "__value"]
        )
        joined = left.join(latest, "__key", join_type="left outer")
        value, authority = joined["__value"], joined["__authority"]
        considered = pc.and_(pc.is_valid(value), pc.is_valid(authority))
        unexpected = pc.and_(considered, pc.not_equal(value, authority))
        failing = joined.filter(unexpected)
        found.outcomes[check.name] = _accuracy_outcome(
            check, pc.sum(considered).as_py() or 0, failing.num_rows
        )
        found.rows[check.name] = list(
            zip(failing[ROW_ID[0]].to_pylist(), failing[ROW_ID[1]].to_pylist(), strict=True)
        )
    return found


def latest_by_key(authority_df: Any, key: str) -> Any:
    """The most recent row per key of an authoritative pool (Spark; latest delivery wins)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(key).orderBy(*[F.col(c).desc() for c in AUTHORITY_ORDER])
    return (
        authority_df.where(F.col(key).isNotNull())
        .withColumn("__rank", F.row_number().over(order))
        .where("__rank = 1")
        .drop("__rank")
    )


def accuracy_on_spark(
    batch_df: Any, checks: Sequence[AccuracyCheck], authorities: Mapping[str, Any]
) -> AccuracyFound:
    """:func:`accuracy_on_arrow` on Spark (``authorities``: resource id → that pool's Spark
    DataFrame): one job counts, one collects the unexpected rows."""
    from pyspark.sql import functions as F

    found = AccuracyFound()
    wide_df = batch_df
    flags = []
    for index, check in enumerate(checks):
        if check.authority not in authorities:
            found.outcomes[check.name] = accuracy_skipped(check)
            continue
        key, authority_key = check.key[0], check.authority_key[0]
        latest = latest_by_key(authorities[check.authority], authority_key).select(
            F.col(authority_key).alias(f"__key{index}"),
            F.col(check.authority_column).alias(f"__authority{index}"),
        )
        wide_df = wide_df.join(latest, wide_df[key] == latest[f"__key{index}"], "left")
        value, authority = F.col(check.column), F.col(f"__authority{index}")
        considered = value.isNotNull() & authority.isNotNull()
        flags.append((check, considered, considered & (value != authority)))
    if not flags:
        return found
    flags_df = wide_df.select(
        *ROW_ID,
        *[c.alias(f"__c{i}") for i, (_, c, _) in enumerate(flags)],
        *[u.alias(f"__u{i}") for i, (_, _, u) in enumerate(flags)],
    ).cache()
    try:
        sums = flags_df.agg(
            *[
                F.sum(F.col(f"__{k}{i}").cast("long")).alias(f"{k}{i}")
                for i in range(len(flags))
                for k in "cu"
            ]
        ).collect()[0]
        any_unexpected = F.lit(False)
        for i in range(len(flags)):
            any_unexpected = any_unexpected | F.col(f"__u{i}")
        failing = flags_df.where(any_unexpected).collect()
    finally:
        flags_df.unpersist()
    for i, (check, _, _) in enumerate(flags):
        found.outcomes[check.name] = _accuracy_outcome(
            check, sums[f"c{i}"] or 0, sums[f"u{i}"] or 0
        )
        found.rows[check.name] = [
            (row[ROW_ID[0]], row[ROW_ID[1]]) for row in failing if row[f"__u{i}"]
        ]
    return found
