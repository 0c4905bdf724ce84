from __future__ import annotations

import datetime as dt

import pytest

from jobs.settings import pinned_clock
from jobs.share import grants
from jobs.store.roles import DATA_OFFICER
from tests.service.conftest import MemoryAudit
from tests.service.forms import as_person, form_token, sign_in

#: Friday 26 Sep 2025: 鹤壁's 5 working days run past National Day to Friday 10 Oct.
NOW = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)
ASK = {
    "dataset": "rsj.insured",
    "fields": ["person_id", "insurance_status"],
    "purpose": "低保资格核验",
    "legal_basis": "社会救助暂行办法 第十一条",
    "expires_on": "2026-09-30",
}


@pytest.fixture
def settings(lake_settings):
    return lake_settings.with_clock(pinned_clock(NOW))


@pytest.fixture
def app(settings, identity, data):
    """The service over the real share rules and store (jobs.service.wiring), with wjw's officer
    besides the usual accounts."""
    from jobs.service.app import create_app

    identity.add("wjw_officer", "wjw", DATA_OFFICER)
    return create_app(settings, identity=identity, data=data, audit=MemoryAudit(data))


@pytest.fixture
def refused(client, settings, identity):
    """A request of mzj for rsj's conditional data, refused by rsj's approver; returns its id."""
    asked = client.post("/api/v1/shares", json=ASK, headers=as_person(client, "mzj_officer"))
    request_id = asked.json()["request_id"]
    grants.decide_request(
        settings, request_id, False, by=identity.actor("rsj_approver"), why="超出履职范围"
    )
    return request_id


def test_a_request_is_in_the_providers_inbox_and_only_its_approver_answers(client):
    asked = client.post("/api/v1/shares", json=ASK, headers=as_person(client, "mzj_officer"))
    request_id = asked.json()["request_id"]

    other = client.post(
        f"/api/v1/shares/{request_id}/decision",
        json={"decision": "approve", "why": "自批", "expires_on": "2026-09-30"},
        headers=as_person(client, "mzj_approver"),
    )
    headers = as_person(client, "rsj_approver")
    (item,) = client.get("/api/v1/inbox", headers=headers).json()["items"]
    (to_decide,) = client.get("/api/v1/shares", headers=headers).json()["to_decide"]
    unexplained = client.post(
        f"/api/v1/shares/{request_id}/decision",
        json={"decision": "deny", "why": " "},
        headers=headers,
    )
    denied = client.post(
        f"/api/v1/shares/{request_id}/decision",
        json={"decision": "deny", "why": "超出履职范围"},
        headers=headers,
    )

    assert asked.status_code == 201
    assert other.status_code == 403
    assert (item["id"], item["type"], item["due_on"], item["workdays_left"]) == (
        request_id,
        "share",
        "2025-10-10",
        5,
    )
    assert (to_decide["legal_basis"], to_decide["workdays_left"]) == (ASK["legal_basis"], 5)
    assert unexplained.status_code == 400 and "reason" in unexplained.json()["message"]
    assert (denied.json()["state"], denied.json()["decision_reason"]) == ("denied", "超出履职范围")
    assert client.get("/api/v1/inbox", headers=headers).json()["items"] == []


def test_refusal_coordination_and_the_bureaus_grant_through_the_api(client, refused):
    stranger = client.post(
        f"/api/v1/shares/{refused}/coordination",
        json={"why": "代为申请"},
        headers=as_person(client, "rsj_officer"),
    )
    asked = client.post(
        f"/api/v1/shares/{refused}/coordination",
        json={"why": "低保审核必需"},
        headers=as_person(client, "mzj_officer"),
    )
    approver = client.post(
        f"/api/v1/shares/{refused}/coordination/decision",
        json={"decision": "grant", "why": "自批"},
        headers=as_person(client, "rsj_approver"),
    )
    headers = as_person(client, "steward")
    (item,) = client.get("/api/v1/inbox", headers=headers).json()["items"]
    (waiting,) = client.get("/api/v1/shares", headers=headers).json()["to_coordinate"]
    granted = client.post(
        f"/api/v1/shares/{refused}/coordination/decision",
        json={"decision": "grant", "why": "依法履职所需", "expires_on": "2026-06-30"},
        headers=headers,
    )

    assert stranger.status_code == 403 and "share.ask_coordination" in stranger.json()["message"]
    assert asked.status_code == 200
    assert approver.status_code == 403
    assert (item["id"], item["state"]) == (refused, "coordinating")
    assert (waiting["request_id"], waiting["decision_reason"]) == (refused, "超出履职范围")
    assert (granted.json()["state"], granted.json()["decided_by"]) == ("granted", "steward")
    mine = client.get("/api/v1/shares", headers=as_person(client, "mzj_officer")).json()
    assert [g["status"] for g in mine["requests"]] == ["granted"]


def test_the_consumer_asks_and_the_steward_upholds_through_the_pages(client, app, refused):
    from fastapi.testclient import TestClient

    sign_in(client, "mzj_officer")
    page = client.get("/shares")
    forged = client.post(f"/shares/{refused}/coordination", data={"why": "履职必需"})
    client.post(
        f"/shares/{refused}/coordination",
        data={"why": "履职必需", "csrf_token": form_token(page.text)},
    )
    with TestClient(app, base_url="http://localhost") as steward:
        sign_in(steward, "steward")
        waiting = steward.get("/shares").text
        steward.post(
            f"/shares/{refused}/coordination/decision",
            data={"decision": "uphold", "why": "可改用核验接口", "csrf_token": form_token(waiting)},
        )

    assert 'class="ask-coordination"' in page.text
    assert forged.status_code == 403
    assert f'action="/shares/{refused}/coordination/decision"' in waiting
    after = client.get("/shares").text
    assert '<td class="status">upheld</td>' in after and "可改用核验接口" in after
    assert 'class="ask-coordination"' not in after


def test_the_steps_of_a_request_are_shown_to_its_departments_only(client, refused):
    consumer = client.get(f"/api/v1/shares/{refused}", headers=as_person(client, "mzj_officer"))
    outsider = client.get(f"/api/v1/shares/{refused}", headers=as_person(client, "wjw_officer"))
    sign_in(client, "rsj_approver")
    page = client.get(f"/shares/{refused}")

    assert [(s["action"], s["by"], s["reason"]) for s in consumer.json()["steps"]] == [
        ("requested", "mzj_officer", "低保资格核验 (依据 社会救助暂行办法 第十一条)"),
        ("denied", "rsj_approver", "超出履职范围"),
    ]
    assert consumer.json()["steps"][0]["due_on"] == "2025-10-10"
    assert outsider.status_code == 403
    assert page.status_code == 200 and "超出履职范围" in page.text
