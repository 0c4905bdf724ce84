from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from sqlalchemy import delete

from jobs.audit import log as audit
from jobs.govern.inbox import inbox_of
from jobs.settings import pinned_clock
from jobs.share import grants, share_requests
from jobs.share.grants import GrantError
from jobs.store import requests
from jobs.store.db import reading, transaction
from jobs.store.models import Request, RequestDepartment, RequestEvent, ShareGrant
from jobs.store.roles import APPROVER, BUREAU, Actor, Forbidden
from tests.actors import GAJ_OFFICER, MZJ_APPROVER, MZJ_OFFICER, RSJ_APPROVER, STEWARD

#: Friday 26 Sep 2025, before National Day (1–8 Oct); Sun 28 Sep is a make-up working day.
NOW = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)
FRIDAY = dt.date(2025, 9, 26)
#: 鹤壁's 5 working days (000 §15) from the day after: Sun 28, Mon 29, Tue 30 Sep, Thu 9 and
#: Fri 10 Oct.
DUE = dt.date(2025, 10, 10)
BUREAU_APPROVER = Actor("bureau.zhou", BUREAU, frozenset({APPROVER}))


@pytest.fixture
def settings(store_settings):
    return store_settings.with_clock(pinned_clock(NOW))


def _ask(
    settings,
    dataset="rsj.insured",
    fields=("person_id",),
    by=MZJ_OFFICER,
    expires_on=dt.date(2026, 9, 30),
):
    return grants.request_share(
        settings,
        consumer=by.department,
        dataset_id=dataset,
        fields=list(fields),
        purpose="低保资格核验",
        legal_basis="社会救助暂行办法 第十一条",
        by=by,
        expires_on=expires_on,
    )


def _request(settings, request_id):
    with reading(settings) as session:
        return share_requests.held(session, request_id)


def _steps(settings, request_id):
    with reading(settings) as session:
        return [
            (e["action"], e["to_state"], e["by"], e["reason"], e["due_on"])
            for e in requests.events(session, request_id)
        ]


def test_a_conditional_request_waits_in_the_providers_inbox_due_after_the_holiday(settings):
    grant = _ask(settings)

    (item,) = inbox_of(settings, "rsj")

    assert (grant["state"], grant["deadline"]) == ("pending", DUE)
    assert (item["id"], item["type"], item["state"]) == (grant["request_id"], "share", "pending")
    assert (item["due_on"], item["workdays_left"], item["is_overdue"]) == (DUE, 5, False)
    assert item["topic"] == "rsj.insured · mzj · 低保资格核验"
    assert inbox_of(settings, "mzj") == []
    assert _request(settings, grant["request_id"])["subject"]["legal_basis"] == (
        "社会救助暂行办法 第十一条"
    )


def test_an_approver_of_another_department_cannot_decide(settings):
    grant = _ask(settings)

    with pytest.raises(Forbidden, match=r"share\.decide for rsj"):
        grants.decide_request(
            settings, grant["request_id"], True, by=MZJ_APPROVER, why="自批", expires_on=DUE
        )

    assert _request(settings, grant["request_id"])["state"] == "pending"


def test_a_refusal_without_its_reason_is_refused(settings):
    grant = _ask(settings)

    with pytest.raises(GrantError, match="why"):
        grants.decide_request(settings, grant["request_id"], False, by=RSJ_APPROVER, why="  ")

    assert _request(settings, grant["request_id"])["state"] == "pending"


def test_refusal_then_coordination_then_the_bureaus_grant(settings):
    grant = _ask(settings)
    request_id = grant["request_id"]

    grants.decide_request(settings, request_id, False, by=RSJ_APPROVER, why="超出履职范围")
    refused_inbox = inbox_of(settings, "rsj")
    grants.ask_coordination(settings, request_id, by=MZJ_OFFICER, why="低保审核必需")
    (coordinating,) = inbox_of(settings, BUREAU)
    granted = grants.coordinate(
        settings, request_id, True, by=STEWARD, why="依法履职所需", expires_on=dt.date(2026, 6, 30)
    )

    assert refused_inbox == []
    assert (coordinating["id"], coordinating["state"]) == (request_id, "coordinating")
    assert (granted["state"], granted["decided_by"], granted["expires_on"]) == (
        "granted",
        "steward",
        dt.date(2026, 6, 30),
    )
    assert grants.is_active(granted, FRIDAY)
    assert inbox_of(settings, BUREAU) == []
    assert _steps(settings, request_id) == [
        ("requested", "pending", "mzj.li", "低保资格核验 (依据 社会救助暂行办法 第十一条)", DUE),
        ("denied", "denied", "rsj.zhao", "超出履职范围", None),
        ("coordination_asked", "coordinating", "mzj.li", "低保审核必需", None),
        ("coordination_granted", "granted", "steward", "依法履职所需", None),
    ]
    entries = [e for e in audit.read_entries(settings) if request_id in e["detail"]]
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("grant_requested", "mzj.li"),
        ("grant_denied", "rsj.zhao"),
        ("share_coordination_asked", "mzj.li"),
        ("grant_granted", "steward"),
    ]
    assert json.loads(entries[0]["detail"])["due_on"] == DUE.isoformat()


def test_a_consumer_cannot_ask_coordination_of_another_departments_request(settings):
    grant = _ask(settings)
    grants.decide_request(settings, grant["request_id"], False, by=RSJ_APPROVER, why="超出范围")

    with pytest.raises(Forbidden, match=r"share\.ask_coordination for mzj"):
        grants.ask_coordination(settings, grant["request_id"], by=GAJ_OFFICER, why="代为申请")
    grants.ask_coordination(settings, grant["request_id"], by=MZJ_OFFICER, why="需要")
    with pytest.raises(Forbidden, match=r"share\.coordinate"):
        grants.coordinate(settings, grant["request_id"], True, by=RSJ_APPROVER, why="自批")

    assert _request(settings, grant["request_id"])["state"] == "coordinating"


def test_the_bureaus_upheld_refusal_stands(settings):
    grant = _ask(settings)
    request_id = grant["request_id"]
    grants.decide_request(settings, request_id, False, by=RSJ_APPROVER, why="涉及个人隐私")
    grants.ask_coordination(settings, request_id, by=MZJ_OFFICER, why="履职必需")

    upheld = grants.coordinate(settings, request_id, False, by=STEWARD, why="可改用核验接口")

    assert (upheld["state"], upheld["decided_by"]) == ("denied", "steward")
    assert grants.list_grants(settings)[0]["status"] == "upheld"
    with pytest.raises(GrantError, match="upheld"):
        grants.ask_coordination(settings, request_id, by=MZJ_OFFICER, why="再次申请")
    with pytest.raises(GrantError, match="not pending"):
        grants.decide_request(
            settings, request_id, True, by=RSJ_APPROVER, why="改批", expires_on=DUE
        )


def test_a_refusal_by_the_catalog_is_not_coordinated(settings):
    grant = _ask(settings, "wjw.death_cert", ["full_name"])

    with pytest.raises(GrantError, match="catalog change"):
        grants.ask_coordination(settings, grant["request_id"], by=MZJ_OFFICER, why="需要")


def test_zhenhai_asks_an_application_for_unconditional_data_and_the_bureau_answers(settings):
    zhenhai = dataclasses.replace(settings, policy_profile="zhenhai")

    application = _ask(zhenhai, "population", ())
    (item,) = inbox_of(zhenhai, BUREAU)
    granted = grants.decide_request(
        zhenhai,
        application["request_id"],
        True,
        by=BUREAU_APPROVER,
        why="符合使用申请",
        expires_on=dt.date(2026, 9, 30),
    )
    at_once = _ask(settings, "population", ())

    assert (application["state"], application["deadline"]) == ("pending", None)
    assert (item["id"], item["due_on"], item["workdays_left"]) == (
        application["request_id"],
        None,
        None,
    )
    assert (granted["state"], granted["decided_by"]) == ("granted", "bureau.zhou")
    assert (at_once["state"], at_once["decided_by"]) == ("granted", "system")
    assert _request(settings, at_once["request_id"])["closed_by"] == "system"


def test_a_grant_made_before_share_requests_gets_its_request_when_decided(settings):
    grant = _ask(settings)
    with transaction(settings) as session:
        for model in (RequestEvent, RequestDepartment, Request):
            session.execute(delete(model))
        assert session.get(ShareGrant, grant["request_id"]) is not None

    grants.decide_request(settings, grant["request_id"], False, by=RSJ_APPROVER, why="超出范围")

    assert [s[:2] for s in _steps(settings, grant["request_id"])] == [
        ("requested", "pending"),
        ("denied", "denied"),
    ]


def test_the_share_machine_allows_no_shortcut():
    with pytest.raises(requests.RequestError, match="upheld goes coordinating"):
        share_requests.SHARE.check("upheld", "pending", "upheld")
    with pytest.raises(requests.RequestError, match="coordination_asked goes denied"):
        share_requests.SHARE.check("coordination_asked", "granted", "coordinating")


def test_the_daily_deadline_check_escalates_an_unanswered_request_to_the_bureau(settings):
    from jobs.govern.deadlines import check_deadlines

    grant = _ask(settings)
    late = DUE + dt.timedelta(days=1)  # Saturday 11 Oct 2025, a make-up working day

    check_deadlines(settings, today=late)
    (item,) = inbox_of(settings, BUREAU, late)

    assert (item["id"], item["is_overdue"], item["workdays_left"]) == (
        grant["request_id"],
        True,
        -1,
    )
    assert _request(settings, grant["request_id"])["state"] == "pending"
    assert [s[0] for s in _steps(settings, grant["request_id"])] == [
        "requested",
        "overdue",
        "escalated",
    ]


def test_a_provisional_deadline_counted_again_is_the_one_the_grant_is_judged_by(settings, tmp_path):
    from jobs.govern.deadlines import check_deadlines
    from tests.store.workflow import announce_2027, with_own_schemas

    own = with_own_schemas(settings, tmp_path / "schemas").with_clock(
        pinned_clock(dt.datetime(2026, 12, 28, 2, tzinfo=dt.UTC))
    )
    asked = _ask(own, expires_on=dt.date(2027, 12, 31))
    # 5 wd, 2027 counted Monday to Friday: 12-29, 12-30, 12-31, 01-01, 01-04
    assert (asked["deadline"], asked["deadline_provisional"]) == (dt.date(2027, 1, 4), True)
    announce_2027(own)
    tuesday = dt.date(2027, 1, 5)

    check_deadlines(own, today=tuesday)
    (listed,) = grants.list_grants(own, today=tuesday)
    decided = grants.decide_request(
        own,
        asked["request_id"],
        True,
        by=RSJ_APPROVER,
        why="同意",
        expires_on=dt.date(2027, 6, 30),
        today=tuesday,
    )

    # New Year's holiday 01-01…01-04 off: 12-29, 12-30, 12-31, 01-05, 01-06
    assert (listed["status"], listed["deadline"], listed["deadline_provisional"]) == (
        "pending",
        dt.date(2027, 1, 6),
        False,
    )
    assert (decided["answered_late"], decided["deadline"]) == (False, dt.date(2027, 1, 6))
    assert grants.find_grant(own, asked["request_id"])["deadline_provisional"] is False
