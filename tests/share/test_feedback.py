from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from jobs.govern import procedure
from jobs.govern.procedure import ProcedureError
from jobs.reports.sources import read_requests
from jobs.settings import pinned_clock
from jobs.share import feedback, grants
from jobs.share.feedback import Flag
from jobs.store.roles import DATA_OFFICER, Actor, Forbidden
from tests.actors import GAJ_OFFICER, MZJ_OFFICER, REVIEWER, RSJ_OFFICER, STEWARD

#: Friday before National Day 2025 (10-01 to 10-08 off; Sunday 09-28 and Saturday 10-11 worked),
#: 08:00 in the bureau's time zone.
FRIDAY = dt.datetime(2025, 9, 26, 0, 0, tzinfo=dt.UTC)
HUKOU_NAME = Flag("gaj.hukou", "110101199003070017", "full_name", "姓名错字", "张三")


def at(settings, instant: dt.datetime):
    return settings.with_clock(pinned_clock(instant))


@pytest.fixture
def granted(store_settings):
    """泰州's profile (rectification in 7 wd); mzj holds a grant of gaj.hukou's name fields."""
    settings = at(dataclasses.replace(store_settings, policy_profile="taizhou"), FRIDAY)
    grants.request_share(
        settings,
        consumer="mzj",
        dataset_id="gaj.hukou",
        fields=["person_id", "full_name"],
        purpose="低保核验",
        by=MZJ_OFFICER,
    )
    return settings


def test_feedback_opens_a_rectification_task_for_the_provider_due_after_national_day(granted):
    record = feedback.file_feedback(granted, HUKOU_NAME, by=MZJ_OFFICER)

    assert (record["state"], record["departments"], record["requester_department"]) == (
        "open",
        ["gaj"],
        "mzj",
    )
    # Sunday 09-28 is a make-up working day; 10-01 to 10-08 are off; Saturday 10-11 is worked.
    assert (record["due_on"], record["due_provisional"]) == (dt.date(2025, 10, 13), False)
    assert record["facts"]["workdays_source"] == "001 §12"
    assert [e["action"] for e in procedure.history(granted, feedback.FEEDBACK, record["id"])] == [
        "filed"
    ]


def test_a_profile_without_a_rectification_number_uses_the_quality_checks_fallback(granted):
    hebi = dataclasses.replace(granted, policy_profile="hebi")

    record = feedback.file_feedback(hebi, HUKOU_NAME, by=MZJ_OFFICER)

    assert record["facts"]["workdays"] == 10
    assert "verification deadline" in record["facts"]["workdays_source"]


def test_a_department_without_a_grant_cannot_file_feedback_on_that_data(granted):
    with pytest.raises(ProcedureError, match=r"rsj holds no active grant of gaj\.hukou"):
        feedback.file_feedback(granted, HUKOU_NAME, by=RSJ_OFFICER)


def test_feedback_on_a_field_outside_the_grant_is_refused(granted):
    flag = dataclasses.replace(HUKOU_NAME, field="marital_status")

    with pytest.raises(ProcedureError, match="with the field 'marital_status'"):
        feedback.file_feedback(granted, flag, by=MZJ_OFFICER)


def test_only_the_providing_department_answers(granted):
    record = feedback.file_feedback(granted, HUKOU_NAME, by=MZJ_OFFICER)

    for outsider in (RSJ_OFFICER, MZJ_OFFICER, REVIEWER, STEWARD):
        with pytest.raises(Forbidden):
            feedback.answer_feedback(granted, record["id"], "fixed", by=outsider, why="改了")
    fixed = feedback.answer_feedback(
        granted, record["id"], "fixed", by=GAJ_OFFICER, why="已按户籍档案更正"
    )

    assert (fixed["state"], fixed["closed_by"], fixed["closed_on"]) == (
        "fixed",
        "gaj.li",
        dt.date(2025, 9, 26),
    )


def test_not_an_error_needs_a_reason_and_an_answer_is_given_once(granted):
    record = feedback.file_feedback(granted, HUKOU_NAME, by=MZJ_OFFICER)

    with pytest.raises(ProcedureError, match="say the reason"):
        feedback.answer_feedback(granted, record["id"], "not_an_error", by=GAJ_OFFICER, why=" ")
    feedback.answer_feedback(
        granted, record["id"], "not_an_error", by=GAJ_OFFICER, why="户籍档案即为此名"
    )
    with pytest.raises(ProcedureError, match="answered already"):
        feedback.answer_feedback(granted, record["id"], "fixed", by=GAJ_OFFICER, why="再改")


def test_the_bureau_answers_feedback_on_a_base_database(granted):
    grants.request_share(
        granted,
        consumer="mzj",
        dataset_id="population",
        fields=["person_id"],
        purpose="低保核验",
        by=MZJ_OFFICER,
    )
    flag = dataclasses.replace(HUKOU_NAME, dataset="population", field="person_id")
    record = feedback.file_feedback(granted, flag, by=MZJ_OFFICER)

    answered = feedback.answer_feedback(granted, record["id"], "fixed", by=REVIEWER, why="已改")

    assert (record["departments"], answered["state"]) == (["bureau"], "fixed")


def test_the_quality_report_and_the_evaluation_see_the_feedback(granted):
    first = feedback.file_feedback(granted, HUKOU_NAME, by=MZJ_OFFICER)
    feedback.file_feedback(granted, HUKOU_NAME, by=MZJ_OFFICER)
    late = at(granted, dt.datetime(2025, 10, 14, 2, 0, tzinfo=dt.UTC))
    gaj_app = Actor("gaj.app", "gaj", frozenset({DATA_OFFICER}))
    feedback.answer_feedback(late, first["id"], "fixed", by=gaj_app, why="已更正")
    records = read_requests(granted)["feedback"]

    tasks = feedback.as_rectification_tasks(records)
    counts = feedback.feedback_counts(records, 2025, dt.date(2025, 12, 31))

    assert sorted(
        (t["department"], t["resource"], t["status"], t["closed_late"]) for t in tasks
    ) == [
        ("gaj", "hukou", "closed", True),
        ("gaj", "hukou", "open", None),
    ]
    assert counts == {"gaj": feedback.FeedbackCounts(received=2, fixed=1, answered_on_time=0)}
    assert feedback.feedback_counts(records, 2024, dt.date(2024, 12, 31)) == {}
