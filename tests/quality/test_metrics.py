from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from jobs.quality import metrics
from jobs.quality.failing_rows import (
    failing_lineage_of_arrow,
    failing_lineage_of_spark,
    failing_rows_table,
)
from jobs.quality.suites import Expectation, load_suite
from jobs.quality.validate import run_gx_validation
from jobs.settings import Settings

from .conftest import ALICE, BOB, CAROL, INGESTED_AT, hukou_row, lineage, make_pool_df, pool_arrow

PARAMS = {
    "today": dt.date(2025, 9, 26),
    "now": INGESTED_AT,
    "row_count_min": 4,
    "row_count_max": 12,
    "delivered_by": INGESTED_AT - dt.timedelta(hours=1),
}


def licence(row_number, person_id, **values):
    born = (
        dt.date(int(person_id[6:10]), int(person_id[10:12]), int(person_id[12:14]))
        if person_id and len(person_id) == 18 and person_id[:6].isdigit()
        else None
    )
    row = {
        **lineage("gaj.driving_licence", "b1", row_number),
        "person_id": person_id,
        "person_id_birth_date": born,
        "person_id_gender": None if born is None else ("1" if int(person_id[16]) % 2 else "2"),
        "full_name": "李四",
        "gender": None if born is None else ("1" if int(person_id[16]) % 2 else "2"),
        "birth_date": born,
        "file_number": f"F{row_number}",
        "driving_class": "C1",
        "issued_on": dt.date(2010, 5, 1),
        "valid_from": dt.date(2016, 5, 1),
        "valid_to": dt.date(2026, 5, 1),
        "licence_status": "valid",
    }
    row.update(values)
    return row


ROWS = [
    licence(1, ALICE),
    licence(2, ALICE),  # same key twice in the batch
    licence(3, BOB, valid_to=dt.date(2015, 1, 1), gender="2"),  # ends before it starts; gender ≠ ID
    licence(
        4,
        CAROL,
        licence_status="bogus",
        birth_date=dt.date(1985, 1, 1),
        issued_on=dt.date(2030, 1, 1),
        file_number="F4",
    ),
    licence(5, None, full_name=None, valid_to=None, gender=None),  # the null row
    licence(6, "ABC123", birth_date=dt.date(1890, 5, 5)),  # the bad row
    licence(7, CAROL, file_number="F4"),  # repeats row 4's (person_id, file_number)
    licence(8, BOB, gender="9"),
]

EXTRA = (
    Expectation(
        "person_id+file_number.unique_in_batch",
        "expect_compound_columns_to_be_unique",
        {"column_list": ["person_id", "file_number"], "ignore_row_if": "any_value_is_missing"},
        "critical",
        0.0,
        "uniqueness",
    ),
    Expectation(
        "gender.pairs_with_id",
        "expect_column_pair_values_to_be_in_set",
        {
            "column_A": "gender",
            "column_B": "person_id_gender",
            "value_pairs_set": [["1", "1"], ["2", "2"]],
            "ignore_row_if": "either_value_is_missing",
        },
        "warning",
        0.0,
        "consistency",
    ),
    Expectation(
        "gender.matches_id_when_stated",
        "expect_column_pair_values_to_be_equal",
        {
            "column_A": "gender",
            "column_B": "person_id_gender",
            "ignore_row_if": "either_value_is_missing",
            "row_condition": {
                "type": "comparison",
                "column": {"name": "gender"},
                "operator": "IN",
                "parameter": ["1", "2"],
            },
        },
        "warning",
        0.0,
        "consistency",
    ),
    Expectation(
        "issued_on.after_2000",
        "expect_column_values_to_be_between",
        {"column": "issued_on", "min_value": "2000-01-01", "strict_min": True, "mostly": 0.5},
        "warning",
        0.5,
        "validity",
    ),
)


@pytest.fixture(scope="module")
def suite():
    base = load_suite("gaj.driving_licence")
    return dataclasses.replace(base, expectations=base.expectations + EXTRA, accuracy=())


def validated(batch, table, suite, settings, params=PARAMS):
    """GX's validation of ``batch`` (a pandas or Spark DataFrame of ``table``'s rows) read as
    govlake's outcomes and failing rows."""
    skipped = metrics.skipped_outcomes(suite, params)
    gx_run = run_gx_validation(
        batch, suite, params, settings, run_name="b1", skip=list(skipped), build_docs=False
    )
    return metrics.batch_metrics(
        suite,
        table.num_rows,
        metrics.column_types_of_arrow(table.schema),
        gx_run.results,
        skipped,
        metrics.AccuracyFound(),
    )


@pytest.fixture(scope="module")
def on_pandas(suite, tmp_path_factory):
    import pandas as pd

    table = pool_arrow("gaj.driving_licence", ROWS)
    settings = Settings(reports_root=str(tmp_path_factory.mktemp("reports")))
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    return table, validated(frame, table, suite, settings)


@pytest.fixture(scope="module")
def on_spark(spark, suite, tmp_path_factory):
    table = pool_arrow("gaj.driving_licence", ROWS)
    settings = Settings(reports_root=str(tmp_path_factory.mktemp("reports")))
    df = make_pool_df(spark, "gaj.driving_licence", ROWS).cache()
    try:
        return table, validated(df, table, suite, settings)
    finally:
        df.unpersist()


def failing_by_row(found):
    return {row_number: sorted(names) for (_, row_number), names in found.failed.items()}


def test_failing_rows_list_every_failure_of_each_row(on_pandas):
    _, found = on_pandas
    failing = failing_by_row(found)
    assert failing[5] == sorted(["person_id.not_null", "full_name.not_null", "valid_to.not_null"])
    assert failing[3] == sorted(
        [
            "valid_to.not_before_valid_from",
            "person_id.unique_in_batch",
            "gender.pairs_with_id",
            "gender.matches_id_when_stated",
        ]
    )
    assert failing[1] == ["person_id.unique_in_batch"]
    assert set(failing) == {1, 2, 3, 4, 5, 6, 7, 8}


def test_counts_and_verdicts_follow_gx_rules(on_pandas):
    _, found = on_pandas
    o = found.outcomes
    assert (
        o["person_id.unique_in_batch"].considered,
        o["person_id.unique_in_batch"].unexpected,
    ) == (7, 6)
    assert o["person_id+file_number.unique_in_batch"].unexpected == 2
    assert o["issued_on.after_2000"].status == "passed"  # mostly 0.5
    assert o["licence_status.in_code_table"].unexpected == 1
    assert (o["birth_date.from_1900"].considered, o["birth_date.from_1900"].unexpected) == (7, 1)
    assert o["issued_on.not_in_future"].unexpected == 1
    # Row 8's gender 9 is no code of the pairs; the row condition keeps rows of gender 1 or 2.
    assert o["gender.pairs_with_id"].unexpected == 2
    assert o["gender.matches_id_when_stated"].considered == 5
    assert o["batch.row_count_change"].status == "passed"
    assert o["batch.freshness"].status == "failed"  # delivered an hour after it was due
    assert o["batch.freshness"].observed == "2025-09-26T02:00:00+00:00"
    assert o["person_id.type"].status == "passed"
    assert found.row_count == 8
    assert found.failing_row_count == 8


def test_both_engines_find_the_same_outcomes_and_failing_rows(on_pandas, on_spark):
    (_, pandas_found), (_, spark_found) = on_pandas, on_spark
    assert spark_found.outcomes == pandas_found.outcomes
    assert spark_found.failed == pandas_found.failed
    ran = [o for o in pandas_found.outcomes.values() if o.level == "row"]
    assert len(ran) >= 15 and any(o.unexpected for o in ran)


def test_every_unexpected_row_is_listed_once_per_expectation(on_pandas):
    _, found = on_pandas
    for name, outcome in found.outcomes.items():
        if outcome.level == "row":
            listed = [row for row, names in found.failed.items() if name in names]
            assert len(listed) == outcome.unexpected, name


def test_failing_rows_table_carries_lineage_key_and_names(on_pandas, suite):
    table, found = on_pandas
    lineage_rows = failing_lineage_of_arrow(table, found.failed, suite.key)
    rows = failing_rows_table(lineage_rows, found.failed, suite.key, suite.version, INGESTED_AT)
    by_row = {r["row_number"]: r for r in rows.to_pylist()}
    assert set(by_row) == {1, 2, 3, 4, 5, 6, 7, 8}
    assert by_row[5]["record_key"] is None  # the null row has no key to show
    assert by_row[3]["record_key"] == BOB
    assert by_row[3]["failed_expectations"] == found.failed[("b1.csv", 3)]
    assert by_row[3]["record_hash"] == "r-b1-3"
    assert {r["validated_at"] for r in by_row.values()} == {INGESTED_AT}


@pytest.mark.parametrize("failures", ["some", "none"])
def test_failing_lineage_is_the_same_from_spark_and_arrow_even_when_nothing_failed(
    spark, on_pandas, suite, failures
):
    """A batch where no expectation failed (the usual case on a cluster, where every batch
    is validated on Spark) made the Spark side infer a schema from an empty pandas frame."""
    table, found = on_pandas
    failed = found.failed if failures == "some" else {}
    df = make_pool_df(spark, "gaj.driving_licence", ROWS)
    on_spark = failing_lineage_of_spark(df, failed, suite.key)
    on_arrow = failing_lineage_of_arrow(table, failed, suite.key)

    def rows(t):
        return sorted(t.select(on_arrow.column_names).to_pylist(), key=lambda r: r["row_number"])

    assert on_spark.num_rows == len(failed)
    assert rows(on_spark) == rows(on_arrow)


def test_a_missing_parameter_skips_its_expectation_with_the_reason(suite):
    skipped = metrics.skipped_outcomes(suite, {**PARAMS, "delivered_by": None})
    assert list(skipped) == ["batch.freshness"]
    assert "delivered_by" in skipped["batch.freshness"].reason


def test_types_are_judged_from_the_schema_alike_on_both_engines(spark):
    rows = [{**lineage("gaj.hukou", "b1", 1), "person_id": ALICE}]
    from_arrow = metrics.column_types_of_arrow(pool_arrow("gaj.hukou", rows).schema)
    from_spark = metrics.column_types_of_spark(make_pool_df(spark, "gaj.hukou", rows).schema)
    assert from_arrow == from_spark
    assert from_arrow["birth_date"] == "DateType"


HUKOU = [
    hukou_row("h0", 1, ALICE, full_name="张三"),
    {
        **hukou_row("h1", 1, ALICE, full_name="张叁"),
        "ingested_at": INGESTED_AT + dt.timedelta(days=1),
    },
    hukou_row("h1", 2, BOB, full_name="王五"),
]
STUDENT = {
    "student_number": "S1",
    "school_name": "实验小学",
    "grade": "3",
    "enrolled_on": dt.date(2020, 9, 1),
    "student_status": "enrolled",
}
STUDENTS = [
    {**lineage("jyj.student", "s1", 1), **STUDENT, "person_id": ALICE, "full_name": "张叁"},
    {**lineage("jyj.student", "s1", 2), **STUDENT, "person_id": BOB, "full_name": "王六"},
    {**lineage("jyj.student", "s1", 3), **STUDENT, "person_id": CAROL, "full_name": "赵七"},
    {**lineage("jyj.student", "s1", 4), **STUDENT, "person_id": BOB, "full_name": None},
]


def test_accuracy_compares_with_the_latest_authoritative_value_by_key(spark):
    checks = load_suite("jyj.student").accuracy
    on_arrow = metrics.accuracy_on_arrow(
        pool_arrow("jyj.student", STUDENTS), checks, {"gaj.hukou": pool_arrow("gaj.hukou", HUKOU)}
    )
    on_spark = metrics.accuracy_on_spark(
        make_pool_df(spark, "jyj.student", STUDENTS),
        checks,
        {"gaj.hukou": make_pool_df(spark, "gaj.hukou", HUKOU)},
    )
    name = on_arrow.outcomes["full_name.matches_gaj_hukou"]
    # ALICE matches the newer hukou name; BOB differs; CAROL has no hukou row; row 4 no name.
    assert (name.considered, name.unexpected, name.status) == (2, 1, "failed")
    assert on_arrow.rows["full_name.matches_gaj_hukou"] == [("s1.csv", 2)]
    assert on_spark.outcomes == on_arrow.outcomes
    assert on_spark.rows == on_arrow.rows


def test_accuracy_is_skipped_until_the_authority_has_a_pool():
    checks = load_suite("jyj.student").accuracy
    found = metrics.accuracy_on_arrow(pool_arrow("jyj.student", STUDENTS[:1]), checks, {})
    outcome = found.outcomes["birth_date.matches_gaj_hukou"]
    assert outcome.status == "skipped"
    assert "gaj.hukou" in outcome.reason
