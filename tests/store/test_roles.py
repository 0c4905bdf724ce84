from __future__ import annotations

import pytest

from jobs.store.roles import (
    APPROVER,
    AUDITOR,
    BUREAU,
    BUREAU_STEWARD,
    DATA_OFFICER,
    PERMISSIONS,
    QUALITY_REVIEWER,
    ROLES,
    SYSTEM_CLIENT,
    Actor,
    Forbidden,
    can,
    require,
)


def actor(department, *roles):
    return Actor(f"{department}.someone", department, frozenset(roles))


def test_approver_decides_only_for_its_own_departments_resources():
    assert can(actor("rsj", APPROVER), "share.decide", "rsj")
    assert not can(actor("mzj", APPROVER), "share.decide", "rsj")
    with pytest.raises(Forbidden, match=r"mzj.someone \(mzj: approver\) may not share.decide"):
        require(actor("mzj", APPROVER), "share.decide", "rsj")


def test_the_bureau_cannot_approve_a_departments_share_but_can_withdraw_it():
    assert not can(actor(BUREAU, BUREAU_STEWARD), "share.decide", "rsj")
    assert can(actor(BUREAU, BUREAU_STEWARD), "share.revoke", "rsj")


def test_auditor_reads_the_audit_log_and_nothing_else():
    auditor = actor(BUREAU, AUDITOR)
    assert [a for a in PERMISSIONS if can(auditor, a, BUREAU)] == ["audit.read"]


def test_ticket_actions_need_an_assigned_department_or_a_quality_reviewer():
    assert can(actor("gaj", DATA_OFFICER), "ticket.close", ["rsj", "gaj"])
    assert not can(actor("mzj", DATA_OFFICER), "ticket.close", ["rsj", "gaj"])
    assert can(actor(BUREAU, QUALITY_REVIEWER), "ticket.close", ["rsj"])
    assert not can(actor(BUREAU, QUALITY_REVIEWER), "ticket.extend", ["rsj"])
    assert can(actor(BUREAU, BUREAU_STEWARD), "ticket.decide_extension", ["rsj"])
    assert not can(actor("rsj", DATA_OFFICER), "ticket.decide_extension", ["rsj"])


def test_no_role_may_do_nothing_and_every_role_is_known():
    assert not any(can(actor("mzj"), a, "mzj") for a in PERMISSIONS)
    assert {r for rules in PERMISSIONS.values() for r in rules} <= set(ROLES)
    assert can(actor("mzj", SYSTEM_CLIENT), "share.request", "mzj")


def test_unknown_action_is_an_error_not_a_refusal():
    with pytest.raises(KeyError, match="unknown action"):
        can(actor("mzj", APPROVER), "share.approve", "mzj")


def test_operations_on_the_whole_lake_are_a_bureau_stewards_and_releases_a_reviewers():
    steward, reviewer = actor(BUREAU, BUREAU_STEWARD), actor(BUREAU, QUALITY_REVIEWER)
    for action in ("lake.backup", "lake.restore", "lake.destroy", "audit.purge", "share.refresh"):
        assert can(steward, action) and not can(reviewer, action)
    assert can(reviewer, "quality.release") and not can(steward, "quality.release")
    assert can(actor("mzj", DATA_OFFICER), "share.export", "mzj")
    assert not can(actor("mzj", DATA_OFFICER), "share.export", "rsj")
