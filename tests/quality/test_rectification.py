from __future__ import annotations

import datetime as dt

import pytest

from jobs.policy import WorkdayCalendar, load_profile
from jobs.policy.workdays import YearSchedule
from jobs.quality.metrics import Outcome
from jobs.quality.rectification import (
    plan_tasks,
    recount_entries,
    recount_provisional,
    rectification_rule,
    refresh_overdue,
)
from jobs.settings import Settings

SCHEMAS = Settings().schemas_root

NOW = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)
FRIDAY_BEFORE_NATIONAL_DAY = dt.date(2025, 9, 26)


@pytest.fixture(scope="module")
def calendar():
    return WorkdayCalendar()


def failed(name="person_id.unique_in_batch", unexpected=3, severity="critical"):
    return Outcome(name, "t", severity, 0.01, "uniqueness", "row", "failed", 100, unexpected)


def passed(name="person_id.unique_in_batch"):
    return Outcome(name, "t", "critical", 0.01, "uniqueness", "row", "passed", 100, 0)


def skipped(name="person_id.unique_in_batch"):
    return Outcome(name, "t", "critical", 0.01, "uniqueness", "row", "skipped", reason="x")


@pytest.mark.parametrize(
    ("profile", "workdays", "deadline"),
    [
        # 5 wd: Sun 09-28 (make-up day), 09-29, 09-30, then 10-01..10-08 off, 10-09, 10-10.
        ("zhenhai", 5, dt.date(2025, 10, 10)),
        # 7 wd: … 10-10, Sat 10-11 (make-up day), Mon 10-13.
        ("taizhou", 7, dt.date(2025, 10, 13)),
        # 鹤壁 sets no rectification deadline: its 10-wd verification deadline applies.
        ("hebi", 10, dt.date(2025, 10, 16)),
    ],
)
def test_deadline_counts_working_days_across_national_day(calendar, profile, workdays, deadline):
    tasks = plan_tasks(
        [],
        "gaj.hukou",
        "b1",
        [failed()],
        FRIDAY_BEFORE_NATIONAL_DAY,
        NOW,
        load_profile(profile, SCHEMAS),
        calendar,
    )
    (task,) = tasks
    assert (task["workdays"], task["deadline"], task["deadline_provisional"]) == (
        workdays,
        deadline,
        False,
    )
    assert task["status"] == "open"
    assert task["department"] == "gaj"
    assert task["detected_on"] == FRIDAY_BEFORE_NATIONAL_DAY


def test_rule_names_where_the_number_comes_from():
    assert rectification_rule(load_profile("zhenhai", SCHEMAS)).source == "002 §18"
    assert "verification" in rectification_rule(load_profile("hebi", SCHEMAS)).source


def test_deadline_into_a_year_without_official_schedule_is_provisional(calendar):
    (task,) = plan_tasks(
        [],
        "gaj.hukou",
        "b1",
        [failed()],
        dt.date(2026, 12, 28),
        NOW,
        load_profile("taizhou", SCHEMAS),
        calendar,
    )
    assert task["deadline"].year == 2027
    assert task["deadline_provisional"] is True


def test_a_provisional_deadline_is_counted_again_at_the_next_batch_once_the_year_is_announced(
    calendar,
):
    new_year_off = frozenset(dt.date(2027, 1, d) for d in range(1, 5))  # Friday to Monday
    official = WorkdayCalendar({2027: YearSchedule(2027, True, new_year_off, frozenset(), "t")})
    profile = load_profile("taizhou", SCHEMAS)
    both = [failed(), failed("gender.in_code_table", severity="warning")]
    received = dt.date(2026, 12, 28)
    across, settled = plan_tasks([], "gaj.hukou", "b1", both, received, NOW, profile, calendar)
    settled = {**settled, "detected_on": dt.date(2026, 12, 1), "deadline": dt.date(2026, 12, 10)}
    settled["deadline_provisional"] = False
    # 7 wd, 2027 counted Monday to Friday: 12-29, 12-30, 12-31, 01-01, 01-04, 01-05, 01-06
    assert (across["deadline"], across["deadline_provisional"]) == (dt.date(2027, 1, 6), True)
    overdue = refresh_overdue([across, settled], dt.date(2027, 1, 7))

    later = plan_tasks(
        overdue, "gaj.hukou", "b2", both, dt.date(2027, 1, 7), NOW, profile, official
    )

    recounted, unmoved = later
    assert (recounted["deadline"], recounted["deadline_provisional"]) == (
        dt.date(2027, 1, 8),
        False,
    )
    assert recounted["status"] == "open"  # overdue only under the provisional date
    assert (unmoved["deadline"], unmoved["deadline_provisional"], unmoved["status"]) == (
        dt.date(2026, 12, 10),
        False,
        "overdue",
    )
    (entry,) = recount_entries(overdue, later)
    assert (entry["detail"]["from"], entry["detail"]["to"]) == ("2027-01-06", "2027-01-08")
    assert recount_provisional(later, official) == later
    assert recount_entries(later, recount_provisional(later, official)) == []
    assert recount_provisional(overdue, calendar) == overdue  # 2027 still unknown


def test_task_closes_when_a_later_batch_passes_the_same_expectation(calendar):
    profile = load_profile("zhenhai", SCHEMAS)
    opened = plan_tasks(
        [],
        "gaj.hukou",
        "b1",
        [failed(), failed("gender.in_code_table", severity="warning")],
        FRIDAY_BEFORE_NATIONAL_DAY,
        NOW,
        profile,
        calendar,
    )
    later = plan_tasks(
        opened,
        "gaj.hukou",
        "b2",
        [passed(), failed("gender.in_code_table", severity="warning")],
        dt.date(2025, 10, 9),
        NOW,
        profile,
        calendar,
    )
    by_name = {t["expectation"]: t for t in later}
    closed = by_name["person_id.unique_in_batch"]
    assert (closed["status"], closed["closed_batch_id"], closed["closed_late"]) == (
        "closed",
        "b2",
        False,
    )
    still_open = by_name["gender.in_code_table"]
    assert (still_open["status"], still_open["failures"], still_open["last_failed_batch_id"]) == (
        "open",
        2,
        "b2",
    )
    assert len(later) == 2


def test_skipped_check_neither_opens_nor_closes(calendar):
    profile = load_profile("zhenhai", SCHEMAS)
    opened = plan_tasks(
        [], "gaj.hukou", "b1", [failed()], FRIDAY_BEFORE_NATIONAL_DAY, NOW, profile, calendar
    )
    after = plan_tasks(
        opened, "gaj.hukou", "b2", [skipped()], dt.date(2025, 9, 29), NOW, profile, calendar
    )
    assert [t["status"] for t in after] == ["open"]


def test_task_is_overdue_after_the_deadline_day_and_closes_late(calendar):
    profile = load_profile("zhenhai", SCHEMAS)
    (task,) = plan_tasks(
        [], "gaj.hukou", "b1", [failed()], FRIDAY_BEFORE_NATIONAL_DAY, NOW, profile, calendar
    )
    assert refresh_overdue([task], dt.date(2025, 10, 10))[0]["status"] == "open"
    overdue = refresh_overdue([task], dt.date(2025, 10, 11))
    assert overdue[0]["status"] == "overdue"
    (closed,) = plan_tasks(
        overdue, "gaj.hukou", "b3", [passed()], dt.date(2025, 10, 14), NOW, profile, calendar
    )
    assert (closed["status"], closed["closed_late"]) == ("closed", True)


def test_same_failure_planned_twice_gives_one_task(calendar):
    profile = load_profile("zhenhai", SCHEMAS)
    once = plan_tasks(
        [], "gaj.hukou", "b1", [failed()], FRIDAY_BEFORE_NATIONAL_DAY, NOW, profile, calendar
    )
    twice = plan_tasks(
        once, "gaj.hukou", "b1", [failed()], FRIDAY_BEFORE_NATIONAL_DAY, NOW, profile, calendar
    )
    assert len(twice) == 1
    assert twice[0]["failures"] == 1
