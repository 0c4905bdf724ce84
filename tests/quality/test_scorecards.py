from __future__ import annotations

import datetime as dt

import pytest

from jobs.quality.metrics import Outcome
from jobs.quality.scorecards import dimension_scores, overall_score, scorecard_row


def row(name, dimension, considered, unexpected, status=None):
    status = status or ("failed" if unexpected else "passed")
    return Outcome(name, "t", "warning", 0.0, dimension, "row", status, considered, unexpected)


def table(name, dimension, status):
    return Outcome(name, "t", "warning", 0.0, dimension, "table", status, observed="x")


OUTCOMES = [
    row("a.not_null", "completeness", 100, 10),  # 0.90
    row("b.not_null", "completeness", 100, 0),  # 1.00
    table("batch.row_count_change", "completeness", "failed"),  # 0.00
    row("a.format", "validity", 80, 20),  # 0.75
    table("a.type", "validity", "passed"),  # 1.00
    row("k.unique_in_batch", "uniqueness", 100, 4),  # 0.96
    row("birth_date.matches_id", "consistency", 0, 0),  # nothing considered: 1.00
    Outcome(
        "batch.freshness", "t", "warning", 0.0, "timeliness", "table", "skipped", reason="first"
    ),
    Outcome(
        "full_name.matches_gaj_hukou", "a", "warning", 0.05, "accuracy", "accuracy", "failed", 50, 5
    ),
]


def test_dimension_score_is_the_mean_pass_rate_of_its_checks():
    scores = dimension_scores(OUTCOMES)
    assert scores["completeness"] == pytest.approx((0.90 + 1.00 + 0.00) / 3)
    assert scores["validity"] == pytest.approx((0.75 + 1.00) / 2)
    assert scores["uniqueness"] == pytest.approx(0.96)
    assert scores["consistency"] == pytest.approx(1.0)
    assert scores["accuracy"] == pytest.approx(0.90)


def test_dimension_without_a_check_that_ran_has_no_score():
    assert dimension_scores(OUTCOMES)["timeliness"] is None


def test_overall_is_the_mean_of_scored_dimensions():
    scores = dimension_scores(OUTCOMES)
    expected = ((0.90 + 1.00 + 0.00) / 3 + 0.875 + 0.96 + 1.0 + 0.90) / 5
    assert overall_score(scores) == pytest.approx(expected)


def test_scorecard_row_counts_checks_run_and_failed():
    card = scorecard_row(
        "gaj", "hukou", "b1", 100, OUTCOMES, "warned", "v1", dt.datetime(2025, 1, 1)
    )
    assert (card["checks_run"], card["checks_failed"]) == (8, 5)
    assert card["timeliness"] is None
    assert card["row_count"] == 100
