from __future__ import annotations

import datetime as dt
import json

import pytest

from jobs.audit.log import read_entries
from jobs.govern import deadlines
from jobs.govern.inbox import dashboard_of, inbox_of
from jobs.settings import pinned_clock
from jobs.store import notifications, requests
from jobs.store.db import reading
from jobs.store.requests import RequestError
from tests.store.workflow import (
    INQUIRY,
    add_staff,
    announce_2027,
    decide,
    file,
    with_own_schemas,
)

FRIDAY_BEFORE_NATIONAL_DAY = dt.date(2025, 9, 26)


def _at(settings, day: dt.date, hour: int = 9):
    """The settings at ``hour`` o'clock on ``day`` in the bureau's time zone (UTC+8)."""
    instant = dt.datetime(day.year, day.month, day.day, hour - 8, tzinfo=dt.UTC)
    return settings.with_clock(pinned_clock(instant))


@pytest.fixture
def staffed(store_settings):
    settings = _at(store_settings, FRIDAY_BEFORE_NATIONAL_DAY)
    add_staff(settings)
    return settings


def _inquiry(settings, request_id: str) -> requests.Record:
    with reading(settings) as session:
        return requests.find(session, "inquiry", request_id)


def _actions(settings, request_id: str) -> list[str]:
    with reading(settings) as session:
        return [e["action"] for e in requests.events(session, request_id)]


def test_a_request_due_after_national_day_is_overdue_and_escalated_the_day_after(staffed):
    filed = file(staffed, "d1", opened_on=FRIDAY_BEFORE_NATIONAL_DAY, workdays=10)
    # 10 working days: the make-up Sunday 09-28 and Saturday 10-11 count, 10-01…10-08 do not
    assert (filed["due_on"], filed["due_provisional"]) == (dt.date(2025, 10, 16), False)

    on_the_day = deadlines.check_deadlines(_at(staffed, dt.date(2025, 10, 16), hour=23))
    day_after = _at(staffed, dt.date(2025, 10, 17))
    summary = deadlines.check_deadlines(day_after)

    assert (on_the_day["overdue"], summary["overdue"], summary["escalated"]) == (0, 1, 1)
    assert summary["by_type"] == {"inquiry": {"overdue": 1, "escalated": 1}}
    inquiry = _inquiry(staffed, "d1")
    assert (inquiry["state"], inquiry["escalated_to"], inquiry["escalated_on"]) == (
        "open",  # its own procedure goes on: the provider may still answer
        "data_authority",
        dt.date(2025, 10, 17),
    )
    assert _actions(staffed, "d1") == ["filed", "overdue", "escalated"]
    assert [i["id"] for i in inbox_of(day_after, "bureau")] == ["d1"]
    audited = [(e["action"], e["target"]) for e in read_entries(staffed)]
    assert ("request_escalated", "requests/inquiry/d1") in audited
    with reading(staffed) as session:
        told = {r["action"] for r in notifications.of_account(session, "steward")}
    assert told == {"overdue", "escalated"}


def test_a_second_check_on_the_same_day_changes_nothing(staffed):
    file(staffed, "d1", opened_on=FRIDAY_BEFORE_NATIONAL_DAY, workdays=10)
    day_after = _at(staffed, dt.date(2025, 10, 17))
    deadlines.check_deadlines(day_after)

    again = deadlines.check_deadlines(day_after)
    next_week = deadlines.check_deadlines(_at(staffed, dt.date(2025, 10, 20)))

    assert (again["overdue"], again["escalated"]) == (0, 0)
    assert (next_week["overdue"], next_week["escalated"]) == (0, 0)
    assert _actions(staffed, "d1") == ["filed", "overdue", "escalated"]


def test_a_request_answered_in_time_is_never_overdue(staffed):
    file(staffed, "d1", opened_on=FRIDAY_BEFORE_NATIONAL_DAY, workdays=10)
    decide(staffed, "d1", "answered", by="rsj.sun", on=dt.date(2025, 10, 16))

    summary = deadlines.check_deadlines(_at(staffed, dt.date(2025, 11, 3)))

    assert (summary["checked"], summary["overdue"]) == (0, 0)


def test_a_deadline_in_a_year_without_an_official_calendar_is_provisional(staffed):
    before_the_year_ends = file(staffed, "in-2026", opened_on=dt.date(2026, 12, 10), workdays=5)
    across_the_year = file(staffed, "into-2027", opened_on=dt.date(2026, 12, 24), workdays=10)

    assert (before_the_year_ends["due_on"], before_the_year_ends["due_provisional"]) == (
        dt.date(2026, 12, 17),
        False,
    )
    # 2027 is counted Monday to Friday (New Year's Day included) until its schedule is known
    assert (across_the_year["due_on"], across_the_year["due_provisional"]) == (
        dt.date(2027, 1, 7),
        True,
    )
    new_year = _at(staffed, dt.date(2027, 1, 4))
    shown = {i["id"]: i for i in inbox_of(new_year, "rsj")}
    assert (shown["into-2027"]["due_provisional"], shown["into-2027"]["workdays_left"]) == (True, 3)
    (line,) = [d for d in dashboard_of(new_year, "rsj") if d["department"] == "rsj"]
    assert line["provisional"] == 1

    summary = deadlines.check_deadlines(_at(staffed, dt.date(2027, 1, 8)))

    assert summary["by_type"] == {"inquiry": {"overdue": 2, "escalated": 2}}
    assert _inquiry(staffed, "into-2027")["escalated_on"] == dt.date(2027, 1, 8)


def test_the_deadline_actions_keep_the_state_of_a_type_that_does_not_name_them():
    INQUIRY.check("overdue", "open", "open")
    with pytest.raises(RequestError, match="keeps an open inquiry request's state"):
        INQUIRY.check("overdue", "open", "answered")
    with pytest.raises(RequestError, match="keeps an open inquiry request's state"):
        INQUIRY.check("escalated", "answered", "answered")


def test_escalation_after_spring_festival_counts_the_make_up_saturday():
    from dataclasses import dataclass

    from jobs.policy.workdays import WorkdayCalendar

    @dataclass(frozen=True)
    class Policy:
        calendar: WorkdayCalendar
        escalate_to: str = "data_authority"
        escalate_after_overdue_workdays: int = 2

    calendar = WorkdayCalendar()
    due = calendar.deadline(dt.date(2026, 2, 12), 5)  # Sat 02-14 works, 02-15…02-23 do not
    record = {
        "id": "q1",
        "type": "inquiry",
        "state": "open",
        "due_on": due.date,
        "closed_on": None,
        "escalated_to": None,
        "escalated_on": None,
    }
    now = dt.datetime(2026, 2, 28, 1, tzinfo=dt.UTC)

    def plan(day, marked=()):
        return deadlines.plan_deadlines(
            [record], Policy(calendar), today=day, now=now, marked=marked
        )

    assert due.date == dt.date(2026, 2, 26)
    friday, events = plan(dt.date(2026, 2, 27))
    assert [e["action"] for e in events] == ["overdue"]
    assert friday[0]["escalated_to"] is None  # one working day late: not yet
    saturday, events = plan(dt.date(2026, 2, 28), marked={"q1"})  # the make-up working day
    assert [e["action"] for e in events] == ["escalated"]
    assert (saturday[0]["state"], saturday[0]["escalated_on"]) == ("open", dt.date(2026, 2, 28))


def test_the_cli_runs_the_check_and_retries_the_mail(lake_settings, monkeypatch, capsys):
    import json

    from jobs.cli import main

    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", lake_settings.lake_root)
    settings = _at(lake_settings, FRIDAY_BEFORE_NATIONAL_DAY)
    add_staff(settings)
    file(settings, "d1", opened_on=FRIDAY_BEFORE_NATIONAL_DAY, workdays=10)

    assert main(["requests", "check-deadlines", "--today", "2025-10-17"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert main(["requests", "send-mail"]) == 0

    assert (summary["overdue"], summary["escalated"]) == (1, 1)
    assert summary["mail"]["error"].startswith("mail is off")
    assert json.loads(capsys.readouterr().out)["mailed"] == 0


@pytest.fixture
def own_schemas(staffed, tmp_path):
    return with_own_schemas(staffed, tmp_path / "schemas")


def test_a_provisional_due_date_is_counted_again_once_the_year_is_announced(own_schemas):
    settled = file(own_schemas, "in-2026", opened_on=dt.date(2026, 12, 10), workdays=5)
    across = file(own_schemas, "into-2027", opened_on=dt.date(2026, 12, 28), workdays=10)
    assert (across["due_on"], across["due_provisional"]) == (dt.date(2027, 1, 11), True)
    announce_2027(own_schemas)
    new_year = _at(own_schemas, dt.date(2027, 1, 5))

    summary = deadlines.check_deadlines(new_year)
    again = deadlines.check_deadlines(new_year)

    assert (summary["recounted"], summary["overdue"], again["recounted"]) == (1, 1, 0)
    # Dec 29–31 and Jan 5–8 are seven working days, the 10th is Wednesday 01-13
    recounted = _inquiry(own_schemas, "into-2027")
    assert (recounted["due_on"], recounted["due_provisional"]) == (dt.date(2027, 1, 13), False)
    unmoved = _inquiry(own_schemas, "in-2026")
    assert (unmoved["due_on"], unmoved["due_provisional"]) == (settled["due_on"], False)
    assert _actions(own_schemas, "into-2027") == ["filed", "due_recounted"]
    assert "due_recounted" not in _actions(own_schemas, "in-2026")
    (audited,) = [e for e in read_entries(own_schemas) if e["action"] == "request_due_recounted"]
    detail = json.loads(audited["detail"])
    assert (audited["target"], detail["due_on"]) == ("requests/inquiry/into-2027", "2027-01-13")
    assert "provisional due date 2027-01-11" in detail["why"]
    with reading(own_schemas) as session:
        told = [r["action"] for r in notifications.of_account(session, "rsj.zhao")]
    assert told.count("due_recounted") == 1
    (line,) = [d for d in dashboard_of(new_year, "rsj") if d["department"] == "rsj"]
    assert line["provisional"] == 0


def test_a_request_overdue_only_under_the_provisional_date_keeps_its_marks(own_schemas):
    file(own_schemas, "into-2027", opened_on=dt.date(2026, 12, 28), workdays=10)
    tuesday = _at(own_schemas, dt.date(2027, 1, 12))
    marked = deadlines.check_deadlines(tuesday)
    announce_2027(own_schemas)

    recount = deadlines.check_deadlines(tuesday)
    after_the_official_date = deadlines.check_deadlines(_at(own_schemas, dt.date(2027, 1, 14)))

    assert (marked["overdue"], marked["escalated"]) == (1, 1)
    assert (recount["recounted"], recount["overdue"]) == (1, 0)
    (shown,) = [i for i in inbox_of(tuesday, "rsj") if i["id"] == "into-2027"]
    assert (shown["due_on"], shown["is_overdue"]) == (dt.date(2027, 1, 13), False)
    assert (after_the_official_date["overdue"], after_the_official_date["escalated"]) == (1, 0)
    assert _actions(own_schemas, "into-2027") == [
        "filed",
        "overdue",
        "escalated",
        "due_recounted",
        "overdue",
    ]
    with reading(own_schemas) as session:
        (recounted,) = [
            e for e in requests.events(session, "into-2027") if e["action"] == "due_recounted"
        ]
    assert recounted["reason"].endswith("not under the official one")
    assert _inquiry(own_schemas, "into-2027")["escalated_on"] == dt.date(2027, 1, 12)


def test_a_provisional_date_stays_while_its_year_is_still_unknown(own_schemas):
    file(own_schemas, "into-2027", opened_on=dt.date(2026, 12, 28), workdays=10)

    summary = deadlines.check_deadlines(_at(own_schemas, dt.date(2027, 1, 5)))

    assert summary["recounted"] == 0
    kept = _inquiry(own_schemas, "into-2027")
    assert (kept["due_on"], kept["due_provisional"]) == (dt.date(2027, 1, 11), True)
