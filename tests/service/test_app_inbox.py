from __future__ import annotations

import datetime as dt

import pytest

from jobs.govern import tickets
from tests.govern.test_tickets import issue, policy
from tests.service.forms import as_person, sign_in

NOW = dt.datetime(2025, 9, 26, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def opened(lake_settings):
    """Two tickets for rsj, one of them overdue by today, and none for mzj."""
    today = lake_settings.today()
    tickets.sync_tickets(
        [issue("late")],
        lake_settings,
        build_id="b1",
        today=today - dt.timedelta(days=40),
        now=NOW,
        policy=policy(),
    )
    tickets.sync_tickets(
        [issue("late"), issue("fresh")],
        lake_settings,
        build_id="b2",
        today=today,
        now=NOW,
        policy=policy(),
    )


def test_a_department_officer_sees_its_tickets_overdue_first(client, identity, opened):
    as_person(client, "rsj_officer")

    inbox = client.get("/api/v1/inbox").json()

    assert inbox["department"] == "rsj"
    assert [(i["id"], i["is_overdue"]) for i in inbox["items"]] == [
        ("late", True),
        ("fresh", False),
    ]
    assert inbox["items"][1]["workdays_left"] == 10
    assert [(d["department"], d["open"], d["overdue"]) for d in inbox["dashboard"]] == [
        ("rsj", 2, 1)
    ]


def test_another_department_sees_none_of_them(client, identity, opened):
    as_person(client, "mzj_officer")

    inbox = client.get("/api/v1/inbox").json()

    assert (inbox["items"], inbox["dashboard"]) == ([], [])


def test_the_auditor_has_no_inbox(client, identity, opened):
    as_person(client, "auditor")

    response = client.get("/api/v1/inbox")

    assert response.status_code == 403


def test_no_session_no_inbox(client, opened):
    assert client.get("/api/v1/inbox").status_code == 401


def test_the_inbox_page_lists_the_tickets_with_working_days_left(client, identity, opened):
    sign_in(client, "rsj_officer")

    page = client.get("/inbox")

    assert page.status_code == 200
    assert 'data-request="late" class="overdue"' in page.text
    assert 'data-request="fresh"' in page.text
    assert 'id="nav-inbox"' in page.text
