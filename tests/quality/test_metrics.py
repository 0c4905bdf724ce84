from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from jobs.quality import metrics
from jobs.quality.suites import Expectation, load_suite
from jobs.settings import Settings

from .conftest import ALICE, BOB, CAROL, INGESTED_AT, lineage

pytestmark = pytest.mark.spark

PARAMS = {
    "today": dt.date(2025, 9, 26),
    "now": INGESTED_AT,
    "row_count_min": 4,
    "row_count_max": 12,
    # Naive local time, as Spark hands timestamps to Python (see pipeline.run_parameters).
    "delivered_by": (INGESTED_AT - dt.timedelta(hours=1)).astimezone().replace(tzinfo=None),
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
            "row_condition": "gender IN ('1', '2')",
            "condition_parser": "spark",
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


@pytest.fixture(scope="module")
def batch(spark, suite):
    from .conftest import make_pool_df

    df = make_pool_df(spark, "gaj.driving_licence", ROWS).cache()
    computed = metrics.compute_metrics(df, suite, PARAMS)
    failing = {
        r["row_number"]: (r["record_key"], sorted(r["failed_expectations"]))
        for r in computed.failing_rows_df().collect()
    }
    yield df, computed, failing
    computed.release()
    df.unpersist()


@pytest.fixture(scope="module")
def gx_run(batch, suite, tmp_path_factory):
    from jobs.quality.validate import run_gx_validation

    df, computed, _ = batch
    skipped = [n for n, o in computed.outcomes.items() if o.status == "skipped"]
    settings = Settings(reports_root=str(tmp_path_factory.mktemp("reports")))
    return run_gx_validation(
        df,
        suite,
        PARAMS,
        settings,
        run_name="b1",
        skip=skipped,
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": ["source_file", "row_number"],
        },
        build_docs=False,
    )


def test_failing_rows_list_every_failure_of_each_row(batch):
    _, _, failing = batch
    assert failing[5] == (
        None,
        sorted(["person_id.not_null", "full_name.not_null", "valid_to.not_null"]),
    )
    assert failing[3] == (
        BOB,
        sorted(
            [
                "valid_to.not_before_valid_from",
                "person_id.unique_in_batch",
                "gender.pairs_with_id",
                "gender.matches_id_when_stated",
            ]
        ),
    )
    assert failing[1] == (ALICE, ["person_id.unique_in_batch"])
    assert set(failing) == {1, 2, 3, 4, 5, 6, 7, 8}


def test_counts_and_verdicts_follow_gx_rules(batch):
    _, computed, _ = batch
    o = computed.outcomes
    assert (
        o["person_id.unique_in_batch"].considered,
        o["person_id.unique_in_batch"].unexpected,
    ) == (7, 6)
    assert o["person_id+file_number.unique_in_batch"].unexpected == 2
    assert o["issued_on.after_2000"].status == "passed"  # mostly 0.5
    assert o["licence_status.in_code_table"].unexpected == 1
    assert o["batch.row_count_change"].status == "passed"
    assert o["batch.freshness"].status == "failed"  # delivered an hour after it was due
    assert o["person_id.type"].status == "passed"
    assert computed.row_count == 8
    assert computed.failing_row_count == 8


def test_single_pass_with_a_writer_gives_the_same_counts_and_rows(batch, suite):
    df, computed, failing = batch
    captured = []
    again = metrics.compute_metrics(
        df, suite, PARAMS, write_failing_rows=lambda rows_df: captured.extend(rows_df.collect())
    )

    def verdicts(result):
        return {n: (o.considered, o.unexpected, o.status) for n, o in result.outcomes.items()}

    assert verdicts(again) == verdicts(computed)
    assert again.failing_row_count == len(captured) == len(failing)
    assert {
        r["row_number"]: (r["record_key"], sorted(r["failed_expectations"])) for r in captured
    } == failing


@pytest.mark.slow
def test_every_failing_row_is_the_one_gx_finds_and_counts_agree(batch, gx_run):
    _, computed, failing = batch
    compared = 0
    for name, outcome in computed.outcomes.items():
        if outcome.status == "skipped":
            assert name not in gx_run.results
            continue
        gx = gx_run.results[name]
        assert gx.error is None, (name, gx.error)
        assert gx.success == (outcome.status == "passed"), name
        if outcome.level != "row":
            continue
        ours = {row for row, (_, names) in failing.items() if name in names}
        theirs = {item["row_number"] for item in gx.result["unexpected_index_list"]}
        assert ours == theirs, name
        assert gx.unexpected_count == outcome.unexpected == len(ours), name
        compared += 1
    assert compared >= 15


def test_accuracy_compares_with_the_latest_authoritative_value_by_key(spark):
    from .conftest import hukou_row, make_pool_df

    hukou = make_pool_df(
        spark,
        "gaj.hukou",
        [
            hukou_row("h0", 1, ALICE, full_name="张三"),
            {
                **hukou_row("h1", 1, ALICE, full_name="张叁"),
                "ingested_at": INGESTED_AT + dt.timedelta(days=1),
            },
            hukou_row("h1", 2, BOB, full_name="王五"),
        ],
    )
    student = {
        "student_number": "S1",
        "school_name": "实验小学",
        "grade": "3",
        "enrolled_on": dt.date(2020, 9, 1),
        "student_status": "enrolled",
    }
    rows = [
        {**lineage("jyj.student", "s1", 1), **student, "person_id": ALICE, "full_name": "张叁"},
        {**lineage("jyj.student", "s1", 2), **student, "person_id": BOB, "full_name": "王六"},
        {**lineage("jyj.student", "s1", 3), **student, "person_id": CAROL, "full_name": "赵七"},
        {**lineage("jyj.student", "s1", 4), **student, "person_id": BOB, "full_name": None},
    ]
    suite = dataclasses.replace(load_suite("jyj.student"), expectations=())
    computed = metrics.compute_metrics(
        make_pool_df(spark, "jyj.student", rows),
        suite,
        PARAMS,
        metrics.latest_authority_rows(suite.accuracy, {"gaj.hukou": hukou}),
    )
    try:
        name = computed.outcomes["full_name.matches_gaj_hukou"]
        # ALICE matches the newer hukou name; BOB differs; CAROL has no hukou row; row 4 no name.
        assert (name.considered, name.unexpected, name.status) == (2, 1, "failed")
        failing = {
            r["row_number"]: r["failed_expectations"] for r in computed.failing_rows_df().collect()
        }
        assert failing == {2: ["full_name.matches_gaj_hukou"]}
    finally:
        computed.release()


def test_accuracy_is_skipped_until_the_authority_has_a_pool(spark):
    from .conftest import make_pool_df

    suite = dataclasses.replace(load_suite("jyj.student"), expectations=())
    computed = metrics.compute_metrics(
        make_pool_df(
            spark, "jyj.student", [{**lineage("jyj.student", "s1", 1), "person_id": ALICE}]
        ),
        suite,
        PARAMS,
    )
    computed.release()
    outcome = computed.outcomes["birth_date.matches_gaj_hukou"]
    assert outcome.status == "skipped"
    assert "gaj.hukou" in outcome.reason


def test_one_pass_over_several_batches_equals_one_pass_per_batch(spark, suite):
    from .conftest import make_pool_df

    second = [
        # ALICE again: a duplicate in b1, but once only in this batch.
        {**licence(1, ALICE), **lineage("gaj.driving_licence", "b2", 1)},
        {**licence(2, None, full_name=None), **lineage("gaj.driving_licence", "b2", 2)},
        {**licence(3, "ABC123", gender="9"), **lineage("gaj.driving_licence", "b2", 3)},
    ]
    both = make_pool_df(spark, "gaj.driving_licence", ROWS + second)
    params = {
        "b1": PARAMS,
        # Bounds from b1's 8 rows: b2's 3 rows fail them; the due date is b2's own.
        "b2": {**PARAMS, "row_count_min": 7, "row_count_max": 9, "delivered_by": None},
    }
    captured = []
    together = metrics.compute_metrics_by_batch(
        both, suite, params, write_failing_rows=lambda rows_df: captured.extend(rows_df.collect())
    )

    def whole(result):
        return (result.row_count, result.failing_row_count, result.outcomes)

    def rows(collected):
        return sorted(
            (r["batch_id"], r["row_number"], r["record_key"], sorted(r["failed_expectations"]))
            for r in collected
        )

    alone_rows = []
    for batch_id, batch_params in params.items():
        alone = metrics.compute_metrics(
            both.where(f"batch_id = '{batch_id}'"),
            suite,
            batch_params,
            write_failing_rows=lambda rows_df: alone_rows.extend(rows_df.collect()),
        )
        assert whole(together[batch_id]) == whole(alone), batch_id
    assert rows(captured) == rows(alone_rows)
    assert together["b2"].outcomes["person_id.unique_in_batch"].unexpected == 0
    assert together["b2"].outcomes["batch.row_count_change"].status == "failed"
    assert together["b2"].outcomes["batch.freshness"].status == "skipped"
    assert together["b1"].outcomes["batch.freshness"].status == "failed"


def test_batches_whose_row_checks_need_different_parameters_are_not_batched(spark, suite):
    from .conftest import make_pool_df

    df = make_pool_df(spark, "gaj.driving_licence", ROWS)
    later = {**PARAMS, "today": dt.date(2025, 10, 9)}
    with pytest.raises(metrics.BatchedPassUnsupported):
        metrics.compute_metrics_by_batch(df, suite, {"b1": PARAMS, "b0": later})
