from __future__ import annotations

import datetime as dt

import pytest

from jobs.settings import pinned_clock
from jobs.share import grants
from jobs.store.roles import APPROVER, DATA_OFFICER
from tests.actors import MZJ_OFFICER
from tests.service.forms import as_person, form_token, sign_in

#: Friday before National Day 2025, 10:00 in the bureau's time zone.
FRIDAY = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)
FLAG = {
    "dataset": "gaj.hukou",
    "record_key": "110101199003070017",
    "field": "full_name",
    "problem": "姓名错字",
    "suggested_value": "张三",
}


@pytest.fixture
def lake_settings(lake_settings):
    return lake_settings.with_clock(pinned_clock(FRIDAY))


@pytest.fixture
def granted(identity, lake_settings):
    """mzj holds a grant of gaj.hukou's names; gaj has an officer and an approver."""
    identity.add("gaj_officer", "gaj", DATA_OFFICER)
    identity.add("gaj_approver", "gaj", APPROVER)
    grants.request_share(
        lake_settings,
        consumer="mzj",
        dataset_id="gaj.hukou",
        fields=["person_id", "full_name"],
        purpose="低保核验",
        by=MZJ_OFFICER,
    )


def _file(client, login: str) -> tuple[int, dict]:
    response = client.post("/api/v1/feedback", json=FLAG, headers=as_person(client, login))
    return response.status_code, response.json()


def test_feedback_filed_by_the_consumer_is_answered_by_the_provider_only(
    client, granted, lake_settings
):
    from jobs.audit.log import read_entries

    status, filed = _file(client, "mzj_officer")
    refused_filer, refusal = _file(client, "rsj_officer")
    outsider = client.post(
        f"/api/v1/feedback/{filed['id']}/answer",
        json={"answer": "fixed", "why": "代改"},
        headers=as_person(client, "rsj_officer"),
    )
    provider = as_person(client, "gaj_officer")
    no_reason = client.post(
        f"/api/v1/feedback/{filed['id']}/answer",
        json={"answer": "not_an_error", "why": " "},
        headers=provider,
    )
    answered = client.post(
        f"/api/v1/feedback/{filed['id']}/answer",
        json={"answer": "fixed", "why": "已按户籍档案更正"},
        headers=provider,
    )
    twice = client.post(
        f"/api/v1/feedback/{filed['id']}/answer",
        json={"answer": "not_an_error", "why": "再答"},
        headers=provider,
    )

    assert (status, filed["departments"], filed["due_on"]) == (201, ["gaj"], "2025-10-16")
    assert refused_filer == 409 and "rsj holds no active grant" in refusal["message"]
    assert outsider.status_code == 403
    assert no_reason.status_code == 400
    assert (answered.status_code, answered.json()["state"]) == (200, "fixed")
    assert twice.status_code == 409
    audited = [(e["action"], e["actor"]) for e in read_entries(lake_settings)]
    assert [a for a in audited if a[0].startswith("feedback_")] == [
        ("feedback_filed", "mzj_officer"),
        ("feedback_fixed", "gaj_officer"),
    ]


def test_the_provider_finds_the_feedback_in_its_inbox_and_answers_it_on_the_page(client, granted):
    _file(client, "mzj_officer")
    sign_in(client, "gaj_officer")

    inbox = client.get("/api/v1/inbox").json()["items"]
    inbox_page = client.get("/inbox")
    page = client.get("/feedback")
    request_id = inbox[0]["id"]
    forged = client.post(
        f"/feedback/{request_id}/answer", data={"answer": "not_an_error", "why": "档案即此名"}
    )
    sent = client.post(
        f"/feedback/{request_id}/answer",
        data={"answer": "not_an_error", "why": "档案即此名", "csrf_token": form_token(page.text)},
        follow_redirects=False,
    )

    assert [(i["type"], i["topic"]) for i in inbox] == [
        ("feedback", "gaj.hukou · full_name · 110101199003070017")
    ]
    assert f'href="/feedback#r-{request_id}"' in inbox_page.text
    assert f'id="r-{request_id}"' in page.text and 'id="nav-feedback"' in page.text
    assert forged.status_code == 403
    assert sent.status_code == 303
    assert client.get("/api/v1/inbox").json()["items"] == []
    received = client.get("/api/v1/feedback").json()["received"]
    assert [(r["state"], r["close_reason"]) for r in received] == [("not_an_error", "档案即此名")]


def test_a_demand_is_filed_answered_and_delivered_across_departments(client, granted):
    demand = {
        "description": "户籍人口的婚姻状况",
        "purpose": "低保资格复核",
        "legal_basis": "社会救助暂行办法 第十一条",
        "fields": ["person_id", "marital_status"],
        "holder": "gaj",
    }
    filed = client.post("/api/v1/demands", json=demand, headers=as_person(client, "mzj_officer"))
    demand_id = filed.json()["id"]
    other_approver = client.post(
        f"/api/v1/demands/{demand_id}/answer",
        json={"decision": "accept", "why": "同意"},
        headers=as_person(client, "mzj_approver"),
    )
    holder = as_person(client, "gaj_approver")
    refused_without_basis = client.post(
        f"/api/v1/demands/{demand_id}/answer",
        json={"decision": "refuse", "why": "涉及隐私"},
        headers=holder,
    )
    accepted = client.post(
        f"/api/v1/demands/{demand_id}/answer",
        json={"decision": "accept", "why": "同意提供"},
        headers=holder,
    )
    delivered = client.post(
        f"/api/v1/demands/{demand_id}/delivery",
        json={"kind": "resource", "target": "gaj.hukou", "why": "已编入目录"},
        headers=as_person(client, "gaj_officer"),
    )
    as_person(client, "mzj_officer")
    listed = client.get("/api/v1/demands").json()["demands"]

    assert (filed.status_code, filed.json()["due_on"]) == (201, None)  # hebi sets no number
    assert other_approver.status_code == 403
    assert refused_without_basis.status_code == 409
    assert "legal basis" in refused_without_basis.json()["message"]
    assert (accepted.status_code, accepted.json()["state"]) == (200, "accepted")
    assert (delivered.status_code, delivered.json()["state"]) == (200, "delivered")
    assert [(d["id"], d["facts"]["delivered_as"]) for d in listed] == [
        (demand_id, {"kind": "resource", "id": "gaj.hukou"})
    ]


def test_the_feedback_form_offers_the_datasets_and_fields_the_department_holds(client, identity):
    sign_in(client, "mzj_officer")

    page = client.get("/feedback").text

    assert '<option value="population">人口基础库</option>' in page
    assert '<option value="birth_date">' in page and "rsj.insured" not in page


def test_the_bureau_forwards_a_demand_to_the_holder_through_the_api(client, granted, identity):
    demand = {"description": "驾驶证状态", "purpose": "低保复核", "legal_basis": "社会救助暂行办法"}
    filed = client.post("/api/v1/demands", json=demand, headers=as_person(client, "mzj_officer"))
    demand_id = filed.json()["id"]
    by_officer = client.post(
        f"/api/v1/demands/{demand_id}/forward",
        json={"holder": "gaj", "why": "公安局持有"},
        headers=as_person(client, "mzj_officer"),
    )
    forwarded = client.post(
        f"/api/v1/demands/{demand_id}/forward",
        json={"holder": "gaj", "why": "公安局持有"},
        headers=as_person(client, "steward"),
    )
    sign_in(client, "gaj_approver")

    assert filed.json()["departments"] == ["bureau"]
    assert by_officer.status_code == 403
    assert (forwarded.status_code, forwarded.json()["departments"]) == (200, ["gaj"])
    assert [i["id"] for i in client.get("/api/v1/inbox").json()["items"]] == [demand_id]


def test_the_demand_list_page_files_a_demand_with_its_form(client, identity):
    sign_in(client, "mzj_officer")
    page = client.get("/demands")
    form = {
        "description": "参保人员名单",
        "purpose": "就业补贴审核",
        "legal_basis": "就业促进法",
        "fields": "person_id, insurance_type",
        "holder": "rsj",
    }

    forged = client.post("/demands", data=form)
    sent = client.post(
        "/demands", data={**form, "csrf_token": form_token(page.text)}, follow_redirects=False
    )
    listed = client.get("/demands")

    assert 'id="nav-demands"' in page.text
    assert forged.status_code == 403
    assert sent.status_code == 303
    assert "参保人员名单" in listed.text and "insurance_type" in listed.text
