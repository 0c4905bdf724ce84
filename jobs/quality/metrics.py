"""Every expectation of a suite in one Spark pass: row flags, counts and table metrics.

Great Expectations on Spark computes its metrics expectation by expectation (a job per metric,
often several per expectation) and keeps at most a partial list of failing rows (its issues
#1788, #3303, #11032). Here each row-level expectation becomes two Column expressions, whether
the row is *considered* (GX's domain: nulls, ``ignore_row_if`` and ``row_condition`` excluded)
and whether it is *unexpected*, written exactly as GX's Spark engine writes them. One ``select``
produces those booleans for every expectation (repeated keys found by a small aggregation on the
key and joined back by broadcast; one join per authoritative resource for accuracy), and the
rows stream through ``observe()``, which sums every flag and table metric, into the writer of
the failing-rows table, which keeps every row that failed anything with the names of what it
failed (:mod:`jobs.quality.failing_rows`): counts and failing rows come from the same single
pass, and nothing but the failing rows is materialised. GX's own validation of the same cached DataFrame must find
the same unexpected counts; :mod:`jobs.quality.validate` records both and the tests assert it.

Decisions follow GX: an expectation passes when ``considered == 0`` or
``(considered - unexpected) / considered >= mostly`` (``mostly = 1 - threshold``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.ingest.pool import LINEAGE_COLUMNS
from jobs.quality.suites import AccuracyCheck, Expectation, Suite

#: Lineage columns kept with each row's flags (and in the failing-rows table).
FLAG_LINEAGE: tuple[str, ...] = LINEAGE_COLUMNS
#: The failing-rows table's list of expectation names.
FAILED_COLUMN = "failed_expectations"
KEY_COLUMN = "record_key"


class MissingParameter(KeyError):
    """A suite parameter the run did not supply (e.g. no previous batch for a row-count check)."""


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
    """The result of :func:`compute_metrics`: counts, outcomes and the (lazy) row flags.

    Call :meth:`release` when done with ``flags_df``.
    """

    row_count: int
    outcomes: dict[str, Outcome]
    flags_df: DataFrame
    row_names: tuple[str, ...] = field(default_factory=tuple)
    failing_row_count: int = 0

    def release(self) -> None:
        self.flags_df.unpersist()

    def failing_rows_df(self) -> DataFrame:
        """One row per batch row that failed anything: lineage, key, failed names.

        Recomputed from the batch on each use; the pipeline writes them during the pass
        instead (``write_failing_rows`` of :func:`compute_metrics`).
        """
        return failing_rows_of(self.flags_df)


def failing_rows_of(flags_df: DataFrame) -> DataFrame:
    """The rows of a flags DataFrame that failed anything, with lineage, key and names."""
    return flags_df.where(F.size(FAILED_COLUMN) > 0).select(
        *FLAG_LINEAGE, KEY_COLUMN, FAILED_COLUMN
    )


# ================================================================== compiling expectations


def resolve(value: Any, params: Mapping[str, Any]) -> Any:
    """A kwarg with ``{"$PARAMETER": name}`` replaced by the run's value."""
    if isinstance(value, dict) and "$PARAMETER" in value:
        name = value["$PARAMETER"]
        if name not in params or params[name] is None:
            raise MissingParameter(name)
        return params[name]
    return value


def _row_condition(kwargs: Mapping[str, Any]) -> Column:
    condition = kwargs.get("row_condition")
    if not condition:
        return F.lit(True)
    if kwargs.get("condition_parser", "spark") != "spark":
        raise ValueError("govlake evaluates row_condition with condition_parser 'spark' only")
    # GX filters with DataFrame.filter: a NULL condition drops the row, like false.
    return F.coalesce(F.expr(condition), F.lit(False))


def _between(column: Column, kwargs: Mapping[str, Any], params: Mapping[str, Any]) -> Column:
    low = resolve(kwargs.get("min_value"), params)
    high = resolve(kwargs.get("max_value"), params)
    if low is None and high is None:
        raise ValueError("min_value and max_value cannot both be None")
    conditions = []
    if low is not None:
        conditions.append(column > F.lit(low) if kwargs.get("strict_min") else column >= F.lit(low))
    if high is not None:
        conditions.append(
            column < F.lit(high) if kwargs.get("strict_max") else column <= F.lit(high)
        )
    return conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]


def _ignore(columns: list[Column], ignore_row_if: str) -> Column:
    """GX's ``ignore_row_if`` for column pairs and column lists, as a 'considered' condition."""
    missing = [c.isNull() for c in columns]
    if ignore_row_if in ("both_values_are_missing", "all_values_are_missing"):
        any_present = missing[0]
        for m in missing[1:]:
            any_present = any_present & m
        return ~any_present
    if ignore_row_if in ("either_value_is_missing", "any_value_is_missing"):
        none_missing = missing[0]
        for m in missing[1:]:
            none_missing = none_missing | m
        return ~none_missing
    if ignore_row_if in ("neither", "never"):
        return F.lit(True)
    raise ValueError(f"unrecognised ignore_row_if {ignore_row_if!r}")


UNIQUENESS_TYPES = frozenset(
    {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"}
)


def _unique_columns(exp: Expectation) -> list[str]:
    kw = exp.kwargs
    return [kw["column"]] if "column" in kw else list(kw["column_list"])


def row_check(
    exp: Expectation, params: Mapping[str, Any], duplicate_flag: str | None = None
) -> tuple[Column, Column]:
    """(considered, unexpected) Columns of one row-level expectation, as GX's Spark engine
    decides them. A row is unexpected only where the expectation's condition is false, not
    NULL: GX counts ``when(~condition, 1)``, which skips NULLs.

    For uniqueness, ``duplicate_flag`` names a column (from :func:`with_duplicate_flags`) that
    is true on rows whose key occurs more than once among the considered rows; without it a
    window over the key gives the same answer, at the price of shuffling whole rows.

    Raises:
        MissingParameter: a ``$PARAMETER`` the run did not supply.
    """
    kw = exp.kwargs
    base = _row_condition(kw)
    t = exp.type
    if t == "expect_column_values_to_not_be_null":
        col = F.col(kw["column"])
        return base, base & col.isNull()
    if t in (
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_be_between",
    ):
        col = F.col(kw["column"])
        considered = base & col.isNotNull()
        if t == "expect_column_values_to_be_in_set":
            expected = col.isin(list(resolve(kw["value_set"], params)))
        elif t == "expect_column_values_to_match_regex":
            expected = col.rlike(resolve(kw["regex"], params))
        else:
            expected = _between(col, kw, params)
        return considered, considered & F.coalesce(~expected, F.lit(False))
    if t in UNIQUENESS_TYPES:
        considered = unique_considered(exp)
        if duplicate_flag is not None:
            return considered, considered & F.coalesce(F.col(duplicate_flag), F.lit(False))
        # GX counts per value over the considered rows only (its window runs on the domain).
        key = F.struct(*[F.col(c) for c in _unique_columns(exp)])
        per_value = F.count(F.when(considered, 1)).over(Window.partitionBy(key))
        return considered, considered & (per_value > 1)
    if t.startswith("expect_column_pair_"):
        a, b = F.col(kw["column_A"]), F.col(kw["column_B"])
        considered = base & _ignore([a, b], kw.get("ignore_row_if", "both_values_are_missing"))
        if t == "expect_column_pair_values_to_be_equal":
            expected = a.eqNullSafe(b)
        elif t == "expect_column_pair_values_a_to_be_greater_than_b":
            expected = (a >= b) | a.eqNullSafe(b) if kw.get("or_equal") else a > b
        else:
            pairs = resolve(kw.get("value_pairs_set"), params)
            if pairs is None:
                expected = a == b
            else:
                expected = F.lit(False)
                for x, y in pairs:
                    expected = expected | (a.eqNullSafe(F.lit(x)) & b.eqNullSafe(F.lit(y)))
        return considered, considered & F.coalesce(~expected, F.lit(False))
    raise ValueError(f"{exp.name}: {t} is not a row-level expectation govlake computes")


def unique_considered(exp: Expectation) -> Column:
    """Rows a uniqueness expectation considers: GX drops nulls of a single column, and rows
    matching ``ignore_row_if`` for a column list."""
    base = _row_condition(exp.kwargs)
    cols = [F.col(c) for c in _unique_columns(exp)]
    if exp.type == "expect_column_values_to_be_unique":
        return base & cols[0].isNotNull()
    return base & _ignore(cols, exp.kwargs.get("ignore_row_if", "all_values_are_missing"))


def with_duplicate_flags(
    df: DataFrame, expectations: list[Expectation], group_by: Sequence[str] = ()
) -> tuple[DataFrame, dict[str, str]]:
    """Adds, per uniqueness expectation, a flag that is true on rows whose key occurs more than
    once among the considered rows (of the same ``group_by`` values: the batch id when several
    batches share one pass, since uniqueness is judged within a batch).

    The keys that repeat are found by an aggregation that shuffles only the key columns, and
    joined back by broadcast (null-safe, as GX's window groups nulls together): a window over
    the key would shuffle every column of every row. Returns the DataFrame and expectation
    name → flag column.
    """
    flags: dict[str, str] = {}
    for i, exp in enumerate(expectations):
        columns = [*group_by, *_unique_columns(exp)]
        flag = f"__dup{i}"
        renamed = [f"__dupk{i}_{j}" for j in range(len(columns))]
        repeated = (
            df.where(unique_considered(exp))
            .groupBy(*[F.col(c).alias(r) for c, r in zip(columns, renamed, strict=True)])
            .count()
            .where(F.col("count") > 1)
            .select(*renamed, F.lit(True).alias(flag))
        )
        condition = None
        for c, r in zip(columns, renamed, strict=True):
            term = df[c].eqNullSafe(repeated[r])
            condition = term if condition is None else condition & term
        df = df.join(F.broadcast(repeated), condition, "left").drop(*renamed)
        flags[exp.name] = flag
    return df, flags


def latest_by_key(authority_df: DataFrame, key: str) -> DataFrame:
    """The most recent row per key of an authoritative pool (latest delivery wins)."""
    order = Window.partitionBy(key).orderBy(
        F.col("ingested_at").desc(), F.col("batch_id").desc(), F.col("row_number").desc()
    )
    return (
        authority_df.where(F.col(key).isNotNull())
        .withColumn("__rank", F.row_number().over(order))
        .where("__rank = 1")
        .drop("__rank")
    )


#: (authoritative resource id, its key column) → that resource's latest row per key, narrowed
#: to the key and the columns compared (:func:`latest_authority_rows`).
AuthorityRows = Mapping[tuple[str, str], DataFrame]


def latest_authority_rows(
    checks: tuple[AccuracyCheck, ...], authority_dfs: Mapping[str, DataFrame]
) -> dict[tuple[str, str], DataFrame]:
    """What the accuracy checks compare with: per authoritative resource and key column, the
    latest row per key with the key and the checked columns.

    Worked out once for all the batches a pass validates (every batch compares with the same
    rows), not once per batch: a million-row authority is otherwise ranked again for each.
    Checks whose authority has no pool (not in ``authority_dfs``) are left out.
    """
    columns: dict[tuple[str, str], set[str]] = {}
    for check in checks:
        if check.authority in authority_dfs:
            columns.setdefault((check.authority, check.authority_key[0]), set()).add(
                check.authority_column
            )
    return {
        (authority, key): latest_by_key(authority_dfs[authority], key).select(
            key, *sorted(compared - {key})
        )
        for (authority, key), compared in columns.items()
    }


def with_authority_values(
    batch_df: DataFrame,
    checks: tuple[AccuracyCheck, ...],
    authority_rows: AuthorityRows,
) -> tuple[DataFrame, dict[str, str]]:
    """Joins, per authoritative resource, its latest value of every checked field by key.

    Returns the widened DataFrame and check name → the column holding the authority's value.
    Checks whose authority has no rows in ``authority_rows`` (no pool yet) are left out.
    """
    out = batch_df
    value_columns: dict[str, str] = {}
    by_authority: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[AccuracyCheck]] = {}
    for check in checks:
        if (check.authority, check.authority_key[0]) in authority_rows:
            by_authority.setdefault((check.authority, check.key, check.authority_key), []).append(
                check
            )
    for index, ((authority, key, authority_key), group) in enumerate(by_authority.items()):
        key_column = f"__auth_key_{index}"
        latest = authority_rows[(authority, authority_key[0])]
        selected = [F.col(authority_key[0]).alias(key_column)]
        for check in group:
            value_column = f"__auth_{index}_{check.authority_column}"
            if value_column not in value_columns.values():
                selected.append(F.col(check.authority_column).alias(value_column))
            value_columns[check.name] = value_column
        right = latest.select(*selected)
        out = out.join(right, out[key[0]] == right[key_column], "left").drop(key_column)
    return out, value_columns


# ==================================================================== the one pass


def compute_metrics(
    batch_df: DataFrame,
    suite: Suite,
    params: Mapping[str, Any],
    authority_rows: AuthorityRows | None = None,
    write_failing_rows: Callable[[DataFrame], Any] | None = None,
) -> BatchMetrics:
    """Evaluates every expectation and accuracy check of ``suite`` on one pool batch.

    With ``write_failing_rows`` (a function taking the failing rows' DataFrame and returning
    the lake write's result), counts and failing rows come out of the same single pass over the
    batch; without it the counts take one aggregation and :meth:`BatchMetrics.failing_rows_df`
    recomputes the rows when asked.

    Args:
        batch_df: the pool rows of one batch (pool columns as in :mod:`jobs.ingest.pool`).
        suite: the resource's suite.
        params: suite parameter values (``today``, ``now``, ``row_count_min`` …); expectations
            whose parameters are missing are skipped with the reason.
        authority_rows: what accuracy compares with (:func:`latest_authority_rows`); checks
            whose authority is absent are skipped.

    Returns:
        counts and outcomes per expectation, and the lazy per-row flags; one Spark job
        computes all of them.
    """
    plan = _plan(batch_df, suite, params, authority_rows or {}, ())
    aggregates = _aggregates(plan)
    totals = _run_pass(plan.flags_df, aggregates, write_failing_rows)
    return _batch_metrics(plan, suite, totals, params, plan.flags_df)


class BatchedPassUnsupported(ValueError):
    """The pending batches cannot share one pass: a row-level expectation's parameters differ
    between them (validate them one by one)."""


def compute_metrics_by_batch(
    pending_df: DataFrame,
    suite: Suite,
    params_by_batch: Mapping[str, Mapping[str, Any]],
    authority_rows: AuthorityRows | None = None,
    write_failing_rows: Callable[[DataFrame], Any] | None = None,
) -> dict[str, BatchMetrics]:
    """:func:`compute_metrics` for several small batches of one pool in two Spark jobs.

    Each batch gets exactly what :func:`compute_metrics` on that batch alone gives: uniqueness
    is decided within the batch (repeated keys grouped by batch id and key), every count and
    table metric is aggregated per batch (``groupBy("batch_id")``), and table-level
    expectations are judged with the batch's own parameters (row-count bounds and due date come
    from each batch's predecessor). One job writes the failing rows of all the batches, one
    aggregates: the flags are computed twice, which costs less than a job per batch only while
    the batches are small (the caller decides; a large batch keeps its single pass).

    Args:
        pending_df: the pool rows of the batches (at least those in ``params_by_batch``).
        params_by_batch: batch id → that batch's suite parameters.

    Returns:
        batch id → its metrics (``flags_df`` is the batch's slice of the shared flags).

    Raises:
        BatchedPassUnsupported: a row-level expectation would need different parameter values
            in different batches.
    """
    batch_ids = list(params_by_batch)
    first = params_by_batch[batch_ids[0]]
    for exp in suite.expectations:
        if exp.is_row_level and exp.parameters:
            wanted = [{p: params_by_batch[b].get(p) for p in exp.parameters} for b in batch_ids]
            if any(w != wanted[0] for w in wanted[1:]):
                raise BatchedPassUnsupported(f"{exp.name}: parameters differ between batches")
    pending_df = pending_df.where(F.col("batch_id").isin(batch_ids))
    plan = _plan(pending_df, suite, first, authority_rows or {}, ("batch_id",))
    if write_failing_rows is not None:
        write_failing_rows(failing_rows_of(plan.flags_df))
    grouped = {
        row["batch_id"]: row.asDict()
        for row in plan.flags_df.groupBy("batch_id").agg(*_aggregates(plan)).collect()
    }
    out = {}
    for batch_id in batch_ids:
        totals = grouped.get(batch_id) or {"__rows": 0, "__failing": 0}
        out[batch_id] = _batch_metrics(
            plan,
            suite,
            defaultdict(lambda: None, totals),
            params_by_batch[batch_id],
            plan.flags_df.where(F.col("batch_id") == F.lit(batch_id)),
        )
    return out


@dataclass
class _Plan:
    """The compiled pass: flags DataFrame, row checks, and what is decided without data."""

    flags_df: DataFrame
    schema: T.StructType
    row_exprs: list[tuple[str, Column, Column]]
    table_exps: list[Expectation]
    accuracy_checks: list[AccuracyCheck]
    min_max_columns: list[str]
    preset: dict[str, Outcome]


def _plan(
    batch_df: DataFrame,
    suite: Suite,
    params: Mapping[str, Any],
    authority_rows: AuthorityRows,
    group_by: tuple[str, ...],
) -> _Plan:
    outcomes: dict[str, Outcome] = {}
    row_exprs: list[tuple[str, Column, Column]] = []  # (name, considered, unexpected)
    table_exps: list[Expectation] = []
    wide_df, auth_columns = with_authority_values(batch_df, suite.accuracy, authority_rows)
    wide_df, duplicate_flags = with_duplicate_flags(
        wide_df, [e for e in suite.expectations if e.type in UNIQUENESS_TYPES], group_by
    )
    for exp in suite.expectations:
        if not exp.is_row_level:
            table_exps.append(exp)
            continue
        try:
            considered, unexpected = row_check(exp, params, duplicate_flags.get(exp.name))
        except MissingParameter as missing:
            outcomes[exp.name] = _skipped(exp, "row", f"no value for parameter {missing}")
            continue
        row_exprs.append((exp.name, considered, unexpected))

    accuracy_checks = []
    for check in suite.accuracy:
        if check.name not in auth_columns:
            outcomes[check.name] = Outcome(
                check.name,
                "govlake_accuracy",
                check.severity,
                check.threshold,
                check.dimension,
                "accuracy",
                "skipped",
                reason=f"no pool of the authoritative resource {check.authority} yet",
            )
            continue
        value, authority_value = F.col(check.column), F.col(auth_columns[check.name])
        considered = value.isNotNull() & authority_value.isNotNull()
        unexpected = considered & (value != authority_value)
        row_exprs.append((check.name, considered, unexpected))
        accuracy_checks.append(check)

    key_columns = list(suite.key) or []
    # NULL, not "", when the whole key is missing: a row without a key has no key to show.
    record_key = (
        F.when(
            F.coalesce(*[F.col(k).cast("string") for k in key_columns]).isNotNull(),
            F.concat_ws("|", *[F.col(k).cast("string") for k in key_columns]),
        )
        if key_columns
        else F.lit(None).cast("string")
    )
    min_max_columns = sorted(
        {
            exp.kwargs["column"]
            for exp in table_exps
            if exp.type in ("expect_column_min_to_be_between", "expect_column_max_to_be_between")
            and exp.kwargs.get("column") in batch_df.columns
        }
    )
    flag_columns = []
    failed_names = []
    for i, (name, considered, unexpected) in enumerate(row_exprs):
        flag_columns += [considered.alias(f"__c{i}"), unexpected.alias(f"__u{i}")]
        failed_names.append(F.when(F.col(f"__u{i}"), F.lit(name)))
    flags_df = wide_df.select(
        *[F.col(c) for c in FLAG_LINEAGE],
        record_key.alias(KEY_COLUMN),
        *[F.col(c).alias(f"__m_{c}") for c in min_max_columns],
        *flag_columns,
    )
    flags_df = flags_df.withColumn(
        FAILED_COLUMN,
        F.array_compact(F.array(*failed_names))
        if failed_names
        else F.array().cast(T.ArrayType(T.StringType())),
    )
    return _Plan(
        flags_df,
        batch_df.schema,
        row_exprs,
        table_exps,
        accuracy_checks,
        min_max_columns,
        outcomes,
    )


def _aggregates(plan: _Plan) -> list[Column]:
    """The pass's sums, minima and maxima."""
    aggregates = [
        F.count(F.lit(1)).alias("__rows"),
        F.sum((F.size(FAILED_COLUMN) > 0).cast("long")).alias("__failing"),
    ]
    for i in range(len(plan.row_exprs)):
        aggregates += [
            F.sum(F.col(f"__c{i}").cast("long")).alias(f"__sc{i}"),
            F.sum(F.col(f"__u{i}").cast("long")).alias(f"__su{i}"),
        ]
    for c in plan.min_max_columns:
        aggregates += [F.min(f"__m_{c}").alias(f"__min_{c}"), F.max(f"__m_{c}").alias(f"__max_{c}")]
    return aggregates


def _run_pass(
    flags_df: DataFrame,
    aggregates: list[Column],
    write_failing_rows: Callable[[DataFrame], Any] | None,
) -> dict[str, Any]:
    totals = None
    if write_failing_rows is not None:
        # One pass does both: the rows stream through observe(), which sums every flag, and
        # on into the writer, which keeps only the failing ones.
        observation = Observation("govlake_quality")
        observed = flags_df.observe(observation, *aggregates)
        written = write_failing_rows(failing_rows_of(observed))
        if not getattr(written, "skipped", False):
            totals = observation.get
    if totals is None:  # no writer, or a retried write that was already applied
        totals = flags_df.agg(*aggregates).collect()[0].asDict()
    return dict(totals)


def _batch_metrics(
    plan: _Plan,
    suite: Suite,
    totals: Mapping[str, Any],
    params: Mapping[str, Any],
    flags_df: DataFrame,
) -> BatchMetrics:
    outcomes = dict(plan.preset)
    row_count = int(totals["__rows"])
    by_name = {e.name: e for e in suite.expectations}
    by_check = {c.name: c for c in plan.accuracy_checks}
    for i, (name, _, _) in enumerate(plan.row_exprs):
        considered_n = int(totals[f"__sc{i}"] or 0)
        unexpected_n = int(totals[f"__su{i}"] or 0)
        if name in by_name:
            exp = by_name[name]
            mostly = exp.mostly
            severity, threshold, dimension, type_, level = (
                exp.severity,
                exp.threshold,
                exp.dimension,
                exp.type,
                "row",
            )
        else:
            check = by_check[name]
            mostly = round(1.0 - check.threshold, 6)
            severity, threshold, dimension, type_, level = (
                check.severity,
                check.threshold,
                check.dimension,
                "govlake_accuracy",
                "accuracy",
            )
        passed = mostly_success(considered_n, unexpected_n, mostly)
        outcomes[name] = Outcome(
            name,
            type_,
            severity,
            threshold,
            dimension,
            level,
            "passed" if passed else "failed",
            considered_n,
            unexpected_n,
        )

    for exp in plan.table_exps:
        outcomes[exp.name] = _table_outcome(exp, plan.schema, row_count, totals, params)

    ordered = {n: outcomes[n] for n in suite.names if n in outcomes}
    return BatchMetrics(
        row_count,
        ordered,
        flags_df,
        tuple(n for n, _, _ in plan.row_exprs),
        int(totals["__failing"] or 0),
    )


def mostly_success(considered: int, unexpected: int, mostly: float) -> bool:
    """GX's rule: vacuously true on no rows, else the passing share must reach ``mostly``."""
    if considered == 0:
        return True
    return (float(considered) - float(unexpected)) / float(considered) >= mostly


def _skipped(exp: Expectation, level: str, reason: str) -> Outcome:
    return Outcome(
        exp.name,
        exp.type,
        exp.severity,
        exp.threshold,
        exp.dimension,
        level,
        "skipped",
        reason=reason,
    )


def _in_range(observed: Any, kwargs: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    low = resolve(kwargs.get("min_value"), params)
    high = resolve(kwargs.get("max_value"), params)
    if observed is None:
        return False
    if low is not None and (observed <= low if kwargs.get("strict_min") else observed < low):
        return False
    return not (
        high is not None and (observed >= high if kwargs.get("strict_max") else observed > high)
    )


def _table_outcome(
    exp: Expectation,
    schema: T.StructType,
    row_count: int,
    totals: Mapping[str, Any],
    params: Mapping[str, Any],
) -> Outcome:
    kw = exp.kwargs

    def done(passed: bool, observed: Any) -> Outcome:
        return Outcome(
            exp.name,
            exp.type,
            exp.severity,
            exp.threshold,
            exp.dimension,
            "table",
            "passed" if passed else "failed",
            observed=None if observed is None else str(observed),
        )

    try:
        if exp.type == "expect_column_values_to_be_of_type":
            if kw["column"] not in schema.fieldNames():
                return done(False, "missing column")
            actual = schema[kw["column"]].dataType
            expected = getattr(T, kw["type_"], None)
            return done(
                expected is not None and isinstance(actual, expected), type(actual).__name__
            )
        if exp.type == "expect_table_row_count_to_be_between":
            return done(_in_range(row_count, kw, params), row_count)
        if exp.type in ("expect_column_min_to_be_between", "expect_column_max_to_be_between"):
            if kw["column"] not in schema.fieldNames():
                return done(False, "missing column")
            which = "min" if exp.type == "expect_column_min_to_be_between" else "max"
            observed = totals.get(f"__{which}_{kw['column']}")
            return done(_in_range(observed, kw, params), _iso(observed))
    except MissingParameter as missing:
        return _skipped(exp, "table", f"no value for parameter {missing}")
    raise ValueError(f"{exp.name}: {exp.type} is not a table-level expectation govlake computes")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value
