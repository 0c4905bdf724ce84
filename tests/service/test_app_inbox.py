from __future__ import annotations

import datetime as dt

import pytest

from jobs.govern import tickets
from tests.govern.test_tickets import issue, policy
from tests.service.forms import as_person, form_token, sign_in

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


def test_an_officer_confirms_its_ticket_through_the_api_signed_by_its_account(
    client, identity, opened, lake_settings
):
    from jobs.audit.log import read_entries

    headers = as_person(client, "rsj_officer")

    response = client.post(
        "/api/v1/tickets/fresh/decision",
        json={"action": "confirm", "why": "值已核实"},
        headers=headers,
    )
    again = client.post(
        "/api/v1/tickets/fresh/decision", json={"action": "resolve", "why": "再办"}, headers=headers
    )

    assert response.status_code == 200
    assert (response.json()["state"], response.json()["closed_by"]) == ("confirmed", "rsj_officer")
    assert again.status_code == 409 and "already confirmed" in again.json()["message"]
    confirmed = [e for e in read_entries(lake_settings) if e["action"] == "ticket_confirmed"]
    assert [e["actor"] for e in confirmed] == ["rsj_officer"]
    assert [i["id"] for i in client.get("/api/v1/inbox").json()["items"]] == ["late"]


def test_an_officer_of_another_department_cannot_answer_the_ticket(client, identity, opened):
    headers = as_person(client, "mzj_officer")

    response = client.post(
        "/api/v1/tickets/fresh/decision", json={"action": "confirm", "why": "代办"}, headers=headers
    )

    assert response.status_code == 403
    assert tickets.find_ticket(client.app.state.service.settings, "fresh")["state"] == "open"


def test_an_approver_sees_the_inbox_but_answers_no_ticket(client, identity, opened):
    headers = as_person(client, "rsj_approver")

    response = client.post(
        "/api/v1/tickets/fresh/decision", json={"action": "resolve", "why": "x"}, headers=headers
    )

    assert response.status_code == 403
    assert "data_officer" in response.json()["message"]


def test_the_inbox_form_extends_a_ticket_and_a_form_without_its_token_is_refused(
    client, identity, opened
):
    sign_in(client, "rsj_officer")
    token = form_token(client.get("/inbox").text)

    forged = client.post("/inbox/fresh/decision", data={"action": "extend", "why": "档案在库房"})
    sent = client.post(
        "/inbox/fresh/decision",
        data={"action": "extend", "why": "档案在库房", "csrf_token": token},
        follow_redirects=False,
    )

    assert forged.status_code == 403
    assert sent.status_code == 303
    asked = tickets.find_ticket(client.app.state.service.settings, "fresh")
    assert (asked["state"], asked["workflow"]["extension_request"]["by"]) == ("open", "rsj_officer")


def test_the_department_asks_for_the_extension_and_only_the_bureaus_steward_grants_it(
    client, identity, opened
):
    officer = as_person(client, "rsj_officer")
    asked = client.post(
        "/api/v1/tickets/fresh/decision",
        json={"action": "extend", "why": "档案在库房", "workdays": 11},
        headers=officer,
    )
    assert asked.status_code == 409 and "1 to 10 working days" in asked.json()["message"]
    asked = client.post(
        "/api/v1/tickets/fresh/decision",
        json={"action": "extend", "why": "档案在库房", "workdays": 3},
        headers=officer,
    )
    granted_by_itself = client.post(
        "/api/v1/tickets/fresh/decision",
        json={"action": "approve_extension", "why": "自批"},
        headers=officer,
    )
    steward = as_person(client, "steward")
    granted = client.post(
        "/api/v1/tickets/fresh/decision",
        json={"action": "approve_extension", "why": "同意"},
        headers=steward,
    )

    assert asked.status_code == 200 and asked.json()["state"] == "open"
    assert granted_by_itself.status_code == 403
    assert granted.status_code == 200
    assert (granted.json()["state"], granted.json()["extensions"]) == ("extended", 1)


def test_a_correction_and_a_filed_request_through_the_api_follow_the_record_mark(
    client, identity, opened
):
    officer = as_person(client, "rsj_officer")
    corrected = client.post(
        "/api/v1/tickets/fresh/decision",
        json={"action": "correct", "why": "按户籍更正", "value": "张三"},
        headers=officer,
    )
    mzj = as_person(client, "mzj_officer")
    not_ours = client.post(
        "/api/v1/tickets/late/decision",
        json={"action": "correct", "why": "代改", "value": "张三"},
        headers=mzj,
    )
    filed = client.post(
        "/api/v1/verification-requests",
        json={
            "base": "population",
            "key": "11010519491231002X",
            "element": "birth_date",
            "problem": "出生日期与低保档案不符",
        },
        headers=mzj,
    )
    unknown = client.post(
        "/api/v1/verification-requests",
        json={"base": "population", "key": "1", "element": "salary", "problem": "?"},
        headers=mzj,
    )
    marks = client.get(
        "/api/v1/verification/marks", params={"base": "population", "key": "11010519491231002X"}
    )

    assert corrected.status_code == 200 and corrected.json()["state"] == "corrected"
    assert not_ours.status_code == 403
    assert filed.status_code == 201
    assert (filed.json()["assigned_departments"], filed.json()["state"]) == (["gaj"], "open")
    assert unknown.status_code == 400 and "salary" in unknown.json()["message"]
    assert marks.json()["disputed_elements"] == ["birth_date", "person_name"]
