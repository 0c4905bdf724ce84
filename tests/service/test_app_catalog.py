from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from jobs.catalog.loader import load_catalog
from jobs.settings import pinned_clock
from tests.catalog.test_revisions import marriage_entry
from tests.service.forms import as_person, form_token, sign_in

#: A Tuesday before National Day 2026: five working days later is after the holiday week.
TUESDAY = dt.datetime(2026, 9, 29, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def lake_settings(lake_settings):
    return lake_settings.with_clock(pinned_clock(TUESDAY))


def weekly() -> dict:
    entry = marriage_entry()
    entry["update_frequency"] = "weekly"
    return entry


def _propose(client, login: str, entry: dict, resource: str = "mzj.marriage"):
    return client.post(
        "/api/v1/catalog/changes",
        json={"resource": resource, "entry": entry, "reason": "登记按周汇总"},
        headers=as_person(client, login),
    )


def test_a_proposal_approved_by_the_steward_is_the_revision_the_catalog_reads(
    client, lake_settings
):
    proposed = _propose(client, "mzj_officer", weekly())
    change = proposed.json()
    approved = client.post(
        f"/api/v1/catalog/changes/{change['id']}/decision",
        json={"decision": "approve", "why": "符合条例"},
        headers=as_person(client, "steward"),
    )
    listed = client.get("/api/v1/catalog/revisions", headers=as_person(client, "mzj_officer"))

    assert (proposed.status_code, change["state"], change["due_on"]) == (
        201,
        "proposed",
        "2026-10-12",
    )
    assert approved.status_code == 200
    assert (approved.json()["state"], approved.json()["revision"]) == ("approved", 1)
    (revision,) = listed.json()["revisions"]
    assert (revision["revision"], revision["proposed_by"], revision["approved_by"]) == (
        1,
        "mzj_officer",
        "steward",
    )
    assert revision["changes"] == [
        {"path": "update_frequency", "before": "daily", "after": "weekly"}
    ]
    catalog = load_catalog(lake_settings.schemas_root, lake_settings.catalog_revisions_root)
    assert catalog.resource("mzj.marriage").update_frequency == "weekly"


def test_an_officer_cannot_propose_for_another_departments_resource(client, identity):
    response = _propose(client, "rsj_officer", weekly())

    assert response.status_code == 403
    assert "may not catalog.propose for mzj" in response.json()["message"]


def test_an_invalid_proposal_is_refused_with_the_loaders_message(client, identity):
    entry = weekly()
    entry["fields"][0]["element"] = "no_such_element"

    response = _propose(client, "mzj_officer", entry)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_proposal"
    assert (
        "proposal: fields[registration_number].element: unknown data element 'no_such_element'"
        in response.json()["message"]
    )
    listed = client.get("/api/v1/catalog/changes", headers=as_person(client, "mzj_officer"))
    assert listed.json()["changes"] == []


def test_only_the_bureau_decides_a_change(client, identity):
    change = _propose(client, "mzj_officer", weekly()).json()

    refused = [
        client.post(
            f"/api/v1/catalog/changes/{change['id']}/decision",
            json={"decision": "approve", "why": "自批"},
            headers=as_person(client, login),
        ).status_code
        for login in ("mzj_officer", "mzj_approver")
    ]

    assert refused == [403, 403]
    shown = client.get(
        f"/api/v1/catalog/changes/{change['id']}", headers=as_person(client, "steward")
    )
    assert shown.json()["state"] == "proposed"
    assert [e["action"] for e in shown.json()["events"]] == ["proposed"]


def test_the_proposal_form_shows_the_diff_then_the_loaders_problems_then_proposes(client, identity):
    sign_in(client, "mzj_officer")
    form = client.get("/catalog/propose?resource=mzj.marriage")
    token = form_token(form.text)
    text = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", form.text, re.S).group(1))
    text = text.replace("update_frequency: daily", "update_frequency: weekly")
    fields = {"csrf_token": token, "resource": "mzj.marriage", "entry": text, "reason": "按周"}

    preview = client.post("/catalog/propose", data={**fields, "action": "preview"})
    wrong = client.post(
        "/catalog/propose",
        data={**fields, "entry": text.replace("type: conditional", "type: sometimes")},
    )
    sent = client.post(
        "/catalog/propose", data={**fields, "action": "submit"}, follow_redirects=False
    )
    page = client.get("/catalog")

    assert form.status_code == 200 and "update_frequency: daily" in form.text
    assert preview.status_code == 200, preview.text[preview.text.find("<main>") :][:1500]
    assert "<code>update_frequency</code></td><td>daily</td><td>weekly</td>" in preview.text
    assert wrong.status_code == 400
    assert "share.type: &#39;sometimes&#39; is not one of" in wrong.text
    assert (sent.status_code, sent.headers["location"]) == (303, "/catalog")
    assert 'class="state">proposed</td>' in page.text and 'id="nav-catalog"' in page.text


def test_a_proposal_form_without_its_csrf_token_is_refused(client, identity):
    sign_in(client, "mzj_officer")

    response = client.post(
        "/catalog/propose",
        data={"resource": "mzj.marriage", "entry": "x: 1", "reason": "r", "action": "submit"},
    )

    assert response.status_code == 403
    assert "security token" in response.text


def test_a_reminder_puts_the_change_in_the_departments_inbox_with_the_profiles_days(
    client, identity
):
    reminded = client.post(
        "/api/v1/catalog/reminders",
        json={"resource": "mzj.marriage", "changed_on": "2026-09-28", "why": "条例修订"},
        headers=as_person(client, "steward"),
    )
    refused = client.post(
        "/api/v1/catalog/reminders",
        json={"resource": "mzj.marriage", "changed_on": "2026-09-28", "why": "再提醒"},
        headers=as_person(client, "mzj_officer"),
    )
    sign_in(client, "mzj_officer")
    inbox = client.get("/inbox")
    form = client.get("/catalog/propose?resource=mzj.marriage")

    assert (reminded.status_code, reminded.json()["due_on"]) == (201, "2026-10-16")
    assert refused.status_code == 403
    assert '<a href="/catalog/propose?resource=mzj.marriage">' in inbox.text
    assert "条例修订" in form.text and "2026-10-16" in form.text
    assert 'name="duty_changed_on" type="date" value="2026-09-28"' in form.text
