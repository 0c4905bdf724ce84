from __future__ import annotations

import datetime as dt
import json

import pytest

from jobs.audit import log as audit
from jobs.lake.registry import SHARE_GRANTS
from jobs.share import grants
from jobs.share.grants import GrantError
from tests.actors import MZJ_OFFICER, RSJ_APPROVER, STEWARD, WJW_APPROVER

MONDAY = dt.date(2025, 3, 3)


def _request(settings, dataset, fields=(), **kw):
    return grants.request_share(
        settings,
        consumer=kw.pop("consumer", "mzj"),
        dataset_id=dataset,
        fields=list(fields),
        purpose=kw.pop("purpose", "低保资格核验"),
        by=kw.pop("by", MZJ_OFFICER),
        today=kw.pop("today", MONDAY),
        **kw,
    )


def test_base_database_is_granted_on_request_by_system(lake_settings):
    grant = _request(lake_settings, "population")
    assert (grant["state"], grant["decided_by"], grant["deadline"]) == ("granted", "system", None)
    assert "person_id" in grant["fields"] and "person_name_provenance" not in grant["fields"]
    actions = [e["action"] for e in audit.read_entries(lake_settings)]
    assert actions[-2:] == ["grant_requested", "grant_granted"]


def test_grants_table_keeps_the_log_retention(lake_settings):
    from jobs.lake import tables

    _request(lake_settings, "population")
    assert tables.retention_of(SHARE_GRANTS.uri(lake_settings)).days >= 3 * 365


def test_not_shared_resource_is_refused_at_once(lake_settings):
    grant = _request(lake_settings, "wjw.death_cert", ["full_name"])
    assert grant["state"] == "denied" and "never leaves its pool" in grant["decision_reason"]
    with pytest.raises(GrantError, match="not pending"):
        grants.decide_request(lake_settings, grant["request_id"], True, by=WJW_APPROVER, why="y")


def test_conditional_request_waits_for_an_answer_within_the_profile_workdays(lake_settings):
    grant = _request(lake_settings, "rsj.insured", ["person_id", "insurance_status"])
    # hebi: 5 working days from the day after the request (Mon 3 Mar 2025 → Mon 10 Mar)
    assert (grant["state"], grant["deadline"]) == ("pending", dt.date(2025, 3, 10))
    (listed,) = grants.list_grants(lake_settings, today=dt.date(2025, 3, 11))
    assert listed["status"] == "overdue"
    answered = grants.decide_request(
        lake_settings,
        grant["request_id"][:6],
        True,
        by=RSJ_APPROVER,
        why="依法履职",
        expires_on=dt.date(2025, 12, 31),
        today=dt.date(2025, 3, 11),
    )
    assert (answered["state"], answered["answered_late"]) == ("granted", True)
    assert grants.list_grants(lake_settings, today=dt.date(2026, 1, 1))[0]["status"] == "expired"
    entry = audit.read_entries(lake_settings)[-1]
    assert (entry["action"], entry["actor"]) == ("grant_granted", "rsj.zhao")
    assert json.loads(entry["detail"])["why"] == "依法履职"


def test_conditional_request_needs_fields_and_a_grant_needs_an_expiry(lake_settings):
    with pytest.raises(GrantError, match="names the fields"):
        _request(lake_settings, "rsj.insured")
    with pytest.raises(GrantError, match="does not share"):
        _request(lake_settings, "rsj.insured", ["person_id", "no_such_field"])
    grant = _request(lake_settings, "rsj.insured", ["person_id"])
    with pytest.raises(GrantError, match="expiry"):
        grants.decide_request(lake_settings, grant["request_id"], True, by=RSJ_APPROVER, why="b")
    with pytest.raises(GrantError, match="why"):
        grants.decide_request(lake_settings, grant["request_id"], False, by=RSJ_APPROVER, why=" ")
    denied = grants.decide_request(
        lake_settings, grant["request_id"], False, by=RSJ_APPROVER, why="超出职责"
    )
    assert denied["state"] == "denied"


def test_revoke_only_a_granted_share(lake_settings):
    grant = _request(lake_settings, "legal_entity")
    revoked = grants.revoke_grant(lake_settings, grant["request_id"], by=STEWARD, why="停用")
    assert (revoked["state"], revoked["revoked_by"]) == ("revoked", "steward")
    with pytest.raises(GrantError, match="not granted"):
        grants.revoke_grant(lake_settings, grant["request_id"], by=STEWARD, why="again")


def test_unknown_dataset_is_refused(lake_settings):
    from jobs.share.policy import SharePolicyError

    with pytest.raises(SharePolicyError, match="unknown dataset"):
        _request(lake_settings, "gaj.nothing")


def test_profile_without_a_deadline_shows_none(lake_settings):
    import dataclasses

    zhenhai = dataclasses.replace(lake_settings, policy_profile="zhenhai")
    grant = _request(zhenhai, "rsj.insured", ["person_id"])
    assert (grant["state"], grant["deadline"]) == ("pending", None)
    assert grants.list_grants(zhenhai, today=dt.date(2030, 1, 1))[0]["status"] == "pending"
