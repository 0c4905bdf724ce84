from __future__ import annotations

import datetime as dt

import pytest

from tests.service.forms import as_person, form_token, sign_in
from tests.store.workflow import file


@pytest.fixture
def filed(lake_settings, identity):
    """For rsj: one overdue inquiry, one due in ten working days, one due in a year without an
    official calendar (provisional); for mzj: one inquiry. All filed by other departments."""
    today = lake_settings.today()
    file(lake_settings, "late", opened_on=today - dt.timedelta(days=40), by="mzj_officer")
    file(lake_settings, "fresh", opened_on=today, by="mzj_officer")
    file(lake_settings, "next-year", opened_on=dt.date(2026, 12, 24), by="mzj_officer")
    file(lake_settings, "for-mzj", opened_on=today, acting=("mzj",), by="rsj_officer")


def test_a_department_sees_only_its_own_requests_overdue_first(client, filed):
    as_person(client, "rsj_officer")

    board = client.get("/api/v1/dashboard").json()

    assert (board["department"], board["sees_all_departments"]) == ("rsj", False)
    (rsj,) = board["departments"]
    assert (rsj["department"], rsj["open"], rsj["overdue"]) == ("rsj", 3, 1)
    assert rsj["requests"][0]["id"] == "late"
    assert [i["id"] for i in rsj["requests"] if i["due_provisional"]] == ["next-year"]
    (inquiries,) = rsj["by_type"]
    assert (inquiries["type"], inquiries["open"], inquiries["overdue"]) == ("inquiry", 3, 1)
    assert inquiries["fewest_workdays_left"] < 0
    assert "for-mzj" not in str(board)


def test_the_bureau_sees_every_department(client, filed):
    as_person(client, "steward")

    board = client.get("/api/v1/dashboard").json()

    assert board["sees_all_departments"] is True
    assert [(d["department"], d["open"]) for d in board["departments"]] == [("rsj", 3), ("mzj", 1)]


def test_the_auditor_has_no_dashboard_and_no_notifications(client, filed):
    as_person(client, "auditor")

    assert client.get("/api/v1/dashboard").status_code == 403
    assert client.get("/api/v1/notifications").status_code == 403


def test_the_dashboard_page_marks_overdue_and_provisional_due_dates(client, filed):
    sign_in(client, "rsj_approver")

    page = client.get("/dashboard")

    assert page.status_code == 200
    assert 'data-request="late" class="overdue"' in page.text
    assert "暂定 provisional" in page.text
    assert 'data-department="mzj"' not in page.text
    assert 'id="nav-dashboard"' in page.text
    assert "暂定 provisional" in client.get("/inbox").text


def test_notifications_reach_the_acting_department_and_no_other(client, filed):
    as_person(client, "rsj_approver")
    mine = client.get("/api/v1/notifications").json()
    client.cookies.clear()
    as_person(client, "mzj_approver")
    theirs = client.get("/api/v1/notifications").json()

    assert (mine["unread"], sorted(n["request_id"] for n in mine["items"])) == (
        3,
        ["fresh", "late", "next-year"],
    )
    assert [n["request_id"] for n in theirs["items"]] == ["for-mzj"]
    assert client.get("/api/v1/inbox").json()["unread_notifications"] == 1


def test_an_account_marks_only_its_own_notifications_read(client, filed):
    as_person(client, "mzj_approver")
    (own,) = client.get("/api/v1/notifications").json()["items"]
    client.cookies.clear()
    rsj_headers = as_person(client, "rsj_approver")

    stolen = client.post(
        "/api/v1/notifications/read", json={"ids": [own["id"]]}, headers=rsj_headers
    )
    all_mine = client.post("/api/v1/notifications/read", json={}, headers=rsj_headers)

    assert (stolen.json(), all_mine.json()) == ({"marked": 0}, {"marked": 3})
    client.cookies.clear()
    as_person(client, "mzj_approver")
    assert client.get("/api/v1/notifications").json()["unread"] == 1


def test_the_notifications_page_marks_read_with_its_form_and_refuses_without_a_token(client, filed):
    sign_in(client, "rsj_officer")
    page = client.get("/notifications")
    assert page.text.count('class="unread"') == 3

    forged = client.post("/notifications/read", data={}, follow_redirects=False)
    read = client.post(
        "/notifications/read", data={"csrf_token": form_token(page.text)}, follow_redirects=False
    )

    assert (forged.status_code, read.status_code) == (403, 303)
    assert client.get("/notifications").text.count('class="unread"') == 0
    assert "0 未读" in client.get("/inbox").text
