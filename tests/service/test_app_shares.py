from __future__ import annotations

import pytest

from tests.service.forms import as_person, form_token, sign_in


def test_consumer_requests_and_the_providers_approver_approves_through_the_api(client, identity):
    requested = client.post(
        "/api/v1/shares",
        json={"dataset": "rsj.insured", "fields": ["name"], "purpose": "低保核验"},
        headers=identity.bearer("mzj_app"),
    )
    pending = client.get("/api/v1/shares", headers=as_person(client, "rsj_approver")).json()
    decided = client.post(
        f"/api/v1/shares/{requested.json()['request_id']}/decision",
        json={"decision": "approve", "why": "依申请", "expires_on": "2027-12-31"},
        headers=as_person(client, "rsj_approver"),
    )
    datasets = client.get("/api/v1/datasets", headers=identity.bearer("mzj_app")).json()

    assert requested.status_code == 201
    assert [g["dataset"] for g in pending["to_decide"]] == ["rsj.insured"]
    assert decided.json()["decided_by"] == "rsj_approver"
    assert "rsj.insured" in [d["name"] for d in datasets["datasets"]]


def test_approver_of_another_department_cannot_decide(client, identity, shares):
    requested = client.post(
        "/api/v1/shares",
        json={"dataset": "rsj.insured", "fields": ["name"], "purpose": "低保核验"},
        headers=identity.bearer("mzj_app"),
    ).json()

    response = client.post(
        f"/api/v1/shares/{requested['request_id']}/decision",
        json={"decision": "approve", "why": "自批", "expires_on": "2099-12-31"},
        headers=as_person(client, "mzj_approver"),
    )

    assert response.status_code == 403
    assert shares.grants[0]["status"] == "pending"


def test_data_officer_cannot_decide_at_all(client, identity):
    response = client.post(
        "/api/v1/shares/0000000000000001/decision",
        json={"decision": "approve", "why": "x"},
        headers=as_person(client, "rsj_officer"),
    )

    assert response.status_code == 403
    assert "approver" in response.json()["message"]


@pytest.mark.parametrize("request_id", ["0000", "../../x", "000000000000000g", "0" * 17])
def test_malformed_request_id_is_400(client, identity, request_id):
    response = client.post(
        f"/api/v1/shares/{request_id}/decision",
        json={"decision": "deny", "why": "x"},
        headers=as_person(client, "rsj_approver"),
    )

    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert "request id" in response.json()["message"]


def test_request_without_purpose_is_400(client, identity):
    response = client.post(
        "/api/v1/shares",
        json={"dataset": "rsj.insured", "purpose": "  "},
        headers=identity.bearer("mzj_app"),
    )

    assert response.status_code == 400
    assert "purpose" in response.json()["message"]


def test_request_and_approval_through_the_pages(client, app, shares):
    from fastapi.testclient import TestClient

    sign_in(client, "mzj_officer")
    token = form_token(client.get("/shares").text)
    client.post(
        "/shares",
        data={
            "csrf_token": token,
            "dataset": "rsj.insured",
            "fields": "name",
            "purpose": "低保核验",
            "expires_on": "2027-12-31",
        },
    )
    with TestClient(app, base_url="http://localhost") as approver:
        sign_in(approver, "rsj_approver")
        page = approver.get("/shares")
        request_id = shares.grants[0]["request_id"]
        approver.post(
            f"/shares/{request_id}/decision",
            data={"csrf_token": form_token(page.text), "decision": "approve", "why": "依申请"},
        )

    assert f'data-request="{request_id}"' in page.text
    assert shares.grants[0]["decided_by"] == "rsj_approver"
    assert 'data-dataset="rsj.insured"' in client.get("/datasets").text


def test_decision_form_without_csrf_token_is_refused(client, shares, identity):
    client.post(
        "/api/v1/shares",
        json={"dataset": "rsj.insured", "fields": ["name"], "purpose": "低保核验"},
        headers=identity.bearer("mzj_app"),
    )
    sign_in(client, "rsj_approver")

    response = client.post(
        f"/shares/{shares.grants[0]['request_id']}/decision",
        data={"decision": "approve", "why": "x"},
    )

    assert response.status_code == 403
    assert shares.grants[0]["status"] == "pending"


def test_real_grant_rules_refuse_an_approver_of_another_department(lake_settings, identity):
    from fastapi.testclient import TestClient

    from jobs.audit import log as audit
    from jobs.service.app import create_app

    app = create_app(lake_settings, identity=identity)
    with TestClient(app, base_url="http://localhost") as client:
        requested = client.post(
            "/api/v1/shares",
            json={"dataset": "rsj.insured", "fields": ["full_name"], "purpose": "低保核验"},
            headers=identity.bearer("mzj_app"),
        )
        request_id = requested.json()["request_id"]
        decision = {"decision": "approve", "why": "依申请", "expires_on": "2099-12-31"}
        own = client.post(
            f"/api/v1/shares/{request_id}/decision",
            json=decision,
            headers=as_person(client, "mzj_approver"),
        )
        provider = client.post(
            f"/api/v1/shares/{request_id}/decision",
            json=decision,
            headers=as_person(client, "rsj_approver"),
        )

    assert requested.status_code == 201 and requested.json()["state"] == "pending"
    assert own.status_code == 403
    assert "may not share.decide" in own.json()["message"]
    assert provider.status_code == 200 and provider.json()["decided_by"] == "rsj_approver"
    decided = [e for e in audit.read_entries(lake_settings) if e["action"] == "grant_granted"]
    assert [e["actor"] for e in decided] == ["rsj_approver"]
