from __future__ import annotations

import datetime as dt

import pytest

from jobs.settings import pinned_clock
from jobs.store import notifications
from jobs.store.db import reading, transaction
from tests.store.workflow import add_staff, decide, file

NOW = dt.datetime(2025, 3, 3, 2, 0, tzinfo=dt.UTC)
MONDAY = dt.date(2025, 3, 3)


@pytest.fixture
def staffed(store_settings):
    settings = store_settings.with_clock(pinned_clock(NOW))
    add_staff(settings)
    return settings


def _of(settings, login: str) -> list[tuple[str, str]]:
    with reading(settings) as session:
        rows = notifications.of_account(session, login)
    return sorted((r["request_id"], r["action"]) for r in rows)


def test_a_new_request_notifies_the_acting_department_only(staffed):
    file(staffed, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")

    assert _of(staffed, "rsj.zhao") == [("d1", "filed")]
    assert _of(staffed, "rsj.sun") == [("d1", "filed")]
    for outsider in ("mzj.li", "mzj.wang", "gaj.he", "steward", "reviewer", "auditor", "rsj.app"):
        assert _of(staffed, outsider) == [], outsider


def test_a_decision_notifies_the_requester_and_the_others_of_the_department(staffed):
    file(staffed, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")

    decide(staffed, "d1", "refused", by="rsj.zhao", on=MONDAY)

    assert _of(staffed, "mzj.li") == [("d1", "refused")]
    assert _of(staffed, "rsj.sun") == [("d1", "filed"), ("d1", "refused")]
    assert _of(staffed, "rsj.zhao") == [("d1", "filed")]  # not of its own decision
    assert _of(staffed, "mzj.wang") == [] and _of(staffed, "gaj.he") == []


def test_no_department_hears_of_another_departments_requests(staffed):
    file(staffed, "for-rsj", opened_on=MONDAY, acting=("rsj",), by="mzj.li")
    file(staffed, "for-gaj", opened_on=MONDAY, acting=("gaj",), by="mzj.li")

    assert _of(staffed, "rsj.sun") == [("for-rsj", "filed")]
    assert _of(staffed, "gaj.he") == [("for-gaj", "filed")]


def test_reading_marks_only_the_accounts_own_notifications(staffed):
    file(staffed, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")
    file(staffed, "d2", opened_on=MONDAY, acting=("rsj",), by="mzj.li")
    with reading(staffed) as session:
        mine = notifications.of_account(session, "rsj.sun")
        others = notifications.of_account(session, "rsj.zhao")

    with transaction(staffed) as session:
        assert notifications.mark_read(session, "rsj.sun", [mine[0]["id"]], now=NOW) == 1
        assert notifications.mark_read(session, "gaj.he", [o["id"] for o in others], now=NOW) == 0

    with reading(staffed) as session:
        assert notifications.unread_count(session, "rsj.sun") == 1
        assert notifications.unread_count(session, "rsj.zhao") == 2
        listed = notifications.of_account(session, "rsj.sun")
    assert [r["is_read"] for r in listed] == [False, True]  # unread first


def test_history_copied_into_the_store_notifies_no_one(staffed):
    from jobs.store import requests

    record = file(staffed, "d1", opened_on=MONDAY, acting=("rsj",), by="mzj.li")
    with reading(staffed) as session:
        event = requests.events(session, "d1")[0]
    copied = {**record, "id": "d2"}
    with transaction(staffed) as session:
        requests.insert_as_found(
            session, [copied], [{**event, "event_id": "copied", "request_id": "d2"}]
        )

    assert _of(staffed, "rsj.sun") == [("d1", "filed")]
