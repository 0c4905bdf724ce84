from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re

import pyarrow as pa
import pytest

from jobs.audit.log import read_entries
from jobs.govern import open_requests
from jobs.lake import ledger
from jobs.lake.registry import OPEN_DATASET
from jobs.settings import pinned_clock
from jobs.store.roles import APPROVER, BUREAU, BUREAU_STEWARD
from tests.service.forms import as_person, form_token, sign_in

LICENCES = "scjgj.business_licence"
APPLICATION = {
    "dataset": LICENCES,
    "applicant": {
        "kind": "person",
        "name": "柳如是",
        "id_type": "resident_id",
        "id_number": "11010119900307002X",
        "phone": "13912345678",
        "email": "liu.rushi@example.cn",
    },
    "purpose": "研究市场主体分布",
}
CONTACT = ("柳如是", "11010119900307002X", "13912345678", "liu.rushi@example.cn", "研究市场主体")
FORM = {
    "dataset": LICENCES,
    "kind": "person",
    "name": "柳如是",
    "id_type": "resident_id",
    "id_number": "11010119900307002X",
    "phone": "13912345678",
    "purpose": "研究市场主体分布",
}


@pytest.fixture
def published(identity, lake_settings):
    """The on-request licences published under open/, and who answers for them."""
    identity.add("scjgj_approver", "scjgj", APPROVER)
    rows = pa.table({"uscc": ["91110000100000000A"], "entity_name": ["=某公司"]})
    ledger.append_arrow(OPEN_DATASET.uri(lake_settings, LICENCES), rows, write_id="test")


def _token(client) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/api/v1/open/token").json()["csrf_token"]}


def _apply(client, body=APPLICATION):
    return client.post("/api/v1/open/requests", json=body, headers=_token(client))


def _grant(client, receipt: str, login: str = "scjgj_approver"):
    headers = as_person(client, login)
    response = client.post(
        f"/api/v1/open/requests/{receipt}/decision",
        json={"decision": "grant", "why": "同意开放"},
        headers=headers,
    )
    client.post("/logout", headers=headers)
    return response


def _at(client, instant: dt.datetime) -> None:
    service = client.app.state.service
    settings = service.settings.with_clock(pinned_clock(instant))
    client.app.state.service = dataclasses.replace(service, settings=settings)


def test_the_public_form_is_refused_without_its_csrf_token(client, published):
    form_page = client.get("/open/apply")
    token = form_token(form_page.text)
    client.cookies.clear()

    api = client.post("/api/v1/open/requests", json=APPLICATION)
    page = client.post("/open/apply", data={**FORM, "csrf_token": token})  # another cookie's

    assert form_page.status_code == 200 and 'id="apply-form"' in form_page.text
    assert (api.status_code, api.json()["error"]) == (403, "csrf_token_invalid")
    assert page.status_code == 403
    assert open_requests.to_answer(client.app.state.service.settings, _steward()) == []


def _steward():
    from jobs.store.roles import Actor

    return Actor("steward", BUREAU, frozenset({BUREAU_STEWARD}))


def test_a_citizen_applies_is_granted_and_downloads_until_the_link_expires(client, published):
    token = form_token(client.get("/open/apply?dataset=" + LICENCES).text)
    applied = client.post("/open/apply", data={**FORM, "csrf_token": token})
    receipt = re.search(r'id="receipt-number">([^<]+)<', applied.text).group(1)
    secret = re.search(r'id="receipt-secret">([^<]+)<', applied.text).group(1)
    granted = _grant(client, receipt)
    token = form_token(client.get("/open").text)
    status = client.post(
        "/open/status", data={"receipt": receipt, "secret": secret, "csrf_token": token}
    )
    link = re.search(r'id="download" href="([^"]+)"', status.text).group(1)

    downloaded = client.get(link)
    again = client.get(link)  # a link works once: a leaked one is worth nothing more
    token = form_token(client.get("/open").text)
    status = client.post(
        "/open/status", data={"receipt": receipt, "secret": secret, "csrf_token": token}
    )
    renewed = re.search(r'id="download" href="([^"]+)"', status.text).group(1)
    tampered = client.get(renewed[:-1] + ("0" if renewed[-1] != "0" else "1"))
    other = client.get(
        renewed.replace(receipt, receipt[:-1] + ("0" if receipt[-1] != "0" else "1"))
    )
    _at(client, client.app.state.service.settings.now() + dt.timedelta(days=31))
    expired = client.get(renewed)

    assert applied.status_code == 201 and granted.json()["state"] == "granted"
    assert 'id="status-state">同意开放' in status.text
    assert downloaded.status_code == 200
    assert downloaded.content.decode("utf-8-sig").splitlines() == [
        "uscc,entity_name",
        "91110000100000000A,'=某公司",
    ]
    assert [r.status_code for r in (again, tampered, other, expired)] == [404, 404, 404, 404]
    assert renewed != link and 'id="downloads-left"' in status.text
    audited = [e["action"] for e in read_entries(client.app.state.service.settings)]
    assert audited.count("open_request_downloaded") == 1


def test_the_status_api_names_the_link_only_once_granted(client, published):
    receipt = _apply(client).json()
    asked = {"receipt": receipt["receipt"], "secret": receipt["secret"]}

    pending = client.post("/api/v1/open/requests/status", json=asked, headers=_token(client))
    _grant(client, receipt["receipt"])
    granted = client.post("/api/v1/open/requests/status", json=asked, headers=_token(client))
    wrong = client.post(
        "/api/v1/open/requests/status", json={**asked, "secret": "guess"}, headers=_token(client)
    )

    assert (pending.json()["state"], pending.json()["download_url"]) == ("pending", None)
    assert granted.json()["download_url"].startswith(f"/open/download/{receipt['receipt']}?sig=")
    assert wrong.status_code == 404


def test_the_sixth_application_from_one_address_is_throttled(client, published):
    for _ in range(open_requests.MAX_REQUESTS_FROM_SOURCE):
        assert _apply(client).status_code == 201

    throttled = _apply(client)

    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0


def test_a_name_with_a_right_to_left_override_is_refused(client, published):
    applicant = {**APPLICATION["applicant"], "name": "柳\u202e如是"}

    response = _apply(client, {**APPLICATION, "applicant": applicant})

    assert response.status_code == 400 and "U+202E" in response.json()["message"]


def test_an_oversized_application_is_refused_unread(client, published):
    body = {**APPLICATION, "purpose": "很长" * 10_000}

    response = _apply(client, body)

    assert (response.status_code, response.json()["error"]) == (413, "too_large")


@pytest.mark.parametrize("dataset", ["gaj.hukou", "scjgj.enterprise"])
def test_a_not_open_or_unconditionally_open_dataset_cannot_be_requested(client, published, dataset):
    response = _apply(client, {**APPLICATION, "dataset": dataset})

    assert (response.status_code, response.json()["error"]) == (400, "open_request_refused")


def test_the_open_page_lists_not_open_data_with_its_basis_and_links_the_form(client, published):
    page = client.get("/open")
    listed = client.get("/api/v1/open/datasets").json()["datasets"]

    assert f'href="/open/apply?dataset={LICENCES}"' in page.text
    assert 'data-dataset="gaj.hukou"' in page.text and "不予开放" in page.text
    assert "000 §18: 涉及个人隐私" in page.text
    assert {d["dataset"]: d["is_requestable"] for d in listed}["gaj.hukou"] is False


def test_another_department_cannot_answer_but_the_bureau_can(client, published):
    receipt = _apply(client).json()["receipt"]

    refused = _grant(client, receipt, "rsj_approver")
    officer = _grant(client, receipt, "rsj_officer")
    granted = _grant(client, receipt, "steward")

    assert (refused.status_code, officer.status_code) == (403, 403)
    assert granted.json()["state"] == "granted"


def test_the_provider_refuses_with_its_reason_through_its_page(client, published):
    receipt = _apply(client).json()
    sign_in(client, "scjgj_approver")
    inbox = client.get("/api/v1/inbox").json()["items"]
    page = client.get("/open-requests")
    token = form_token(page.text)

    forged = client.post(
        f"/open-requests/{receipt['receipt']}/decision", data={"decision": "refuse", "why": "x"}
    )
    sent = client.post(
        f"/open-requests/{receipt['receipt']}/decision",
        data={"decision": "refuse", "why": "涉及商业秘密", "csrf_token": token},
        follow_redirects=False,
    )

    assert [(i["id"], i["type"]) for i in inbox] == [(receipt["receipt"], "open_request")]
    assert f'data-request="{receipt["receipt"]}"' in page.text and "柳如是" in page.text
    assert forged.status_code == 403 and sent.status_code == 303
    shown = open_requests.status(
        client.app.state.service.settings, receipt["receipt"], receipt["secret"]
    )
    assert (shown["state"], shown["reason"]) == ("refused", "涉及商业秘密")


def test_the_approver_s_page_and_api_show_the_applicant_s_id_number_masked(client, published):
    _apply(client)
    headers = as_person(client, "scjgj_approver")
    listed = client.get("/api/v1/open/requests", headers=headers).json()["requests"]
    page = client.get("/open-requests")

    assert [r["applicant"]["id_number"] for r in listed] == ["1101**********002X"]
    assert "1101**********002X" in page.text and "柳如是" in page.text
    assert "11010119900307002X" not in page.text + str(listed)


def test_the_bureau_applies_on_a_citizen_s_behalf_and_a_department_officer_may_not(
    client, published
):
    officer = as_person(client, "rsj_officer")
    denied = client.post("/api/v1/open/requests/on-behalf", json=APPLICATION, headers=officer)
    headers = as_person(client, "steward")
    filed = client.post("/api/v1/open/requests/on-behalf", json=APPLICATION, headers=headers)
    token = form_token(client.get("/open-requests").text)
    by_page = client.post("/open-requests", data={**FORM, "csrf_token": token})

    assert denied.status_code == 403
    assert filed.status_code == 201 and filed.json()["secret"]
    assert by_page.status_code == 201 and 'id="receipt-secret"' in by_page.text
    listed = open_requests.to_answer(client.app.state.service.settings, _steward())
    assert [r["requested_by"] for r in listed] == ["steward", "steward"]


def test_contact_details_are_neither_logged_nor_audited(client, published, caplog):
    with caplog.at_level(logging.DEBUG):
        receipt = _apply(client).json()
        _grant(client, receipt["receipt"])
        asked = {"receipt": receipt["receipt"], "secret": receipt["secret"]}
        status = client.post("/api/v1/open/requests/status", json=asked, headers=_token(client))
        client.get(status.json()["download_url"])

    audit = str(read_entries(client.app.state.service.settings))
    assert "open_request_downloaded" in audit
    for detail in (*CONTACT, receipt["secret"]):
        assert detail not in caplog.text
        assert detail not in audit
