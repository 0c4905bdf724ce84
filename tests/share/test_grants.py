from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import pyarrow as pa
import pytest

from jobs.audit import log as audit
from jobs.lake.registry import SHARE_GRANTS
from jobs.share import grants
from jobs.share.grants import GrantError
from tests.actors import MZJ_APPROVER, MZJ_OFFICER, RSJ_APPROVER, STEWARD, WJW_APPROVER
from tests.threads import in_threads, lock_per_thread, meeting_after

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


def test_every_step_is_a_row_of_the_store_and_the_lake_keeps_a_snapshot(store_settings):
    from sqlalchemy import select

    from jobs.lake import ledger
    from jobs.store.db import transaction
    from jobs.store.models import GrantDecision, ShareGrant

    grant = _request(store_settings, "rsj.insured", ["person_id"])
    grants.decide_request(
        store_settings,
        grant["request_id"],
        True,
        by=RSJ_APPROVER,
        why="依法履职",
        expires_on=dt.date(2025, 12, 31),
        today=MONDAY,
    )
    grants.revoke_grant(store_settings, grant["request_id"], by=STEWARD, why="停用", today=MONDAY)
    with transaction(store_settings) as session:
        row = session.get(ShareGrant, grant["request_id"])
        steps = session.execute(
            select(GrantDecision.action, GrantDecision.by, GrantDecision.reason).order_by(
                GrantDecision.id
            )
        ).all()
    assert (row.state, row.provider, row.revoked_by) == ("revoked", "rsj", "steward")
    assert steps == [
        ("requested", "mzj.li", "低保资格核验"),
        ("granted", "rsj.zhao", "依法履职"),
        ("revoked", "steward", "停用"),
    ]
    (snapshot,) = ledger.read_rows(SHARE_GRANTS.uri(store_settings))
    assert snapshot == grants.find_grant(store_settings, grant["request_id"])


def test_two_approvers_deciding_at_once_leave_exactly_one_decision(store_settings, monkeypatch):
    import threading
    import time

    from sqlalchemy import func, select

    from jobs.store.db import transaction
    from jobs.store.models import GrantDecision

    pending = _request(store_settings, "rsj.insured", ["person_id"])
    pure_decide = grants.decide

    def slow_decide(*args, **kwargs):  # both have read the pending row before either writes
        time.sleep(0.3)
        return pure_decide(*args, **kwargs)

    monkeypatch.setattr(grants, "decide", slow_decide)
    other_approver = dataclasses.replace(RSJ_APPROVER, login="rsj.sun")
    start, outcomes = threading.Barrier(2), {}

    def decide_as(approver, approve):
        start.wait()
        try:
            outcomes[approver.login] = grants.decide_request(
                store_settings,
                pending["request_id"],
                approve,
                by=approver,
                why="同时审批",
                expires_on=dt.date(2025, 12, 31),
                today=MONDAY,
            )["state"]
        except GrantError as refused:
            outcomes[approver.login] = refused

    threads = [
        threading.Thread(target=decide_as, args=(RSJ_APPROVER, True)),
        threading.Thread(target=decide_as, args=(other_approver, False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    decided = [o for o in outcomes.values() if isinstance(o, str)]
    refused = [o for o in outcomes.values() if isinstance(o, GrantError)]
    assert len(decided) == 1 and len(refused) == 1
    assert re.search("decided by someone else|not pending", str(refused[0]))
    stored = grants.find_grant(store_settings, pending["request_id"])
    assert stored["state"] == decided[0]
    with transaction(store_settings) as session:
        decisions = session.scalar(
            select(func.count())
            .select_from(GrantDecision)
            .where(GrantDecision.action.in_(["granted", "denied"]))
        )
    assert decisions == 1
    actions = [e["action"] for e in audit.read_entries(store_settings)]
    assert actions.count("grant_granted") + actions.count("grant_denied") == 1


def test_two_decisions_at_the_same_instant_in_two_processes_both_succeed_and_reach_the_lake(
    store_settings, monkeypatch
):
    from jobs.lake import ledger

    first = _request(store_settings, "rsj.insured", ["person_id"])
    second = _request(store_settings, "rsj.insured", ["insurance_status"])
    monkeypatch.setattr(ledger, "_snapshot_locks", lock_per_thread(), raising=False)
    # both snapshots read the store before either merges
    monkeypatch.setattr(grants, "read_grants", meeting_after(grants.read_grants))
    decide = dict(why="同时审批", expires_on=dt.date(2025, 12, 31), today=MONDAY)
    other_approver = dataclasses.replace(RSJ_APPROVER, login="rsj.sun")
    outcomes = in_threads(
        first=lambda: grants.decide_request(
            store_settings, first["request_id"], True, by=RSJ_APPROVER, **decide
        ),
        second=lambda: grants.decide_request(
            store_settings, second["request_id"], False, by=other_approver, **decide
        ),
    )
    monkeypatch.undo()

    assert {k: v["state"] for k, v in outcomes.items()} == {"first": "granted", "second": "denied"}
    lake = sorted(ledger.read_rows(SHARE_GRANTS.uri(store_settings)), key=lambda g: g["request_id"])
    assert lake == sorted(grants.read_grants(store_settings), key=lambda g: g["request_id"])


def test_a_decision_whose_snapshot_failed_succeeds_and_the_next_snapshot_writes_it(
    store_settings, monkeypatch
):
    from jobs.lake import ledger

    pending = _request(store_settings, "rsj.insured", ["person_id"])
    monkeypatch.setattr(
        grants, "_write_snapshot", lambda *_: (_ for _ in ()).throw(OSError("down"))
    )
    decided = grants.decide_request(
        store_settings,
        pending["request_id"],
        True,
        by=RSJ_APPROVER,
        why="依法履职",
        expires_on=dt.date(2025, 12, 31),
        today=MONDAY,
    )
    monkeypatch.undo()

    assert decided["state"] == "granted"
    assert audit.read_entries(store_settings)[-1]["action"] == "grant_granted"
    (lake,) = ledger.read_rows(SHARE_GRANTS.uri(store_settings))
    assert lake["state"] == "pending"
    grants.write_snapshot(store_settings)  # what the daily share refresh runs first
    (lake,) = ledger.read_rows(SHARE_GRANTS.uri(store_settings))
    assert lake == grants.find_grant(store_settings, pending["request_id"])


def test_approver_of_another_department_cannot_decide_or_revoke(lake_settings):
    from jobs.store.roles import Forbidden

    grant = _request(lake_settings, "rsj.insured", ["person_id"])
    with pytest.raises(Forbidden, match=r"may not share\.decide for rsj"):
        grants.decide_request(lake_settings, grant["request_id"], True, by=MZJ_APPROVER, why="自批")
    with pytest.raises(Forbidden, match=r"may not share\.request for rsj"):
        _request(lake_settings, "population", consumer="rsj")
    assert grants.find_grant(lake_settings, grant["request_id"])["state"] == "pending"


def test_grants_recorded_in_the_lake_before_the_store_are_imported_once(lake_settings):
    from jobs.lake import ledger

    grant = _request(lake_settings, "rsj.insured", ["person_id"])
    older = {**grant, "request_id": "0123456789abcdef", "purpose": "旧申请"}
    ledger.append_rows(SHARE_GRANTS.uri(lake_settings), [older], grants.GRANT_SCHEMA, "old")

    assert grants.import_lake_grants(lake_settings) == 1
    assert grants.import_lake_grants(lake_settings) == 0
    imported = grants.find_grant(lake_settings, "0123")
    assert (imported["purpose"], imported["state"]) == ("旧申请", "pending")
    assert [g["request_id"] for g in grants.read_grants(lake_settings)] == sorted(
        [grant["request_id"], "0123456789abcdef"]
    )


def test_request_ids_are_matched_as_hex_prefixes_only(lake_settings):
    _request(lake_settings, "population")
    for probe in ("%", "_", "' OR 1=1 --", ""):
        with pytest.raises(GrantError, match="no request"):
            grants.find_grant(lake_settings, probe)


def test_a_grant_may_be_for_verification_only(lake_settings):
    grant = _request(lake_settings, "population", ["person_name"], kind=grants.VERIFY)
    (stored,) = grants.read_grants(lake_settings)
    assert grant["kind"] == stored["kind"] == "verify"
    with pytest.raises(GrantError, match="kind 'export'"):
        _request(lake_settings, "population", kind="export")


def test_a_grants_snapshot_from_before_kinds_gets_the_column(lake_settings):
    from deltalake import write_deltalake

    from jobs.lake import ledger

    old = _request(lake_settings, "population")
    uri = SHARE_GRANTS.uri(lake_settings)
    rows = pa.Table.from_pylist([old], schema=grants.GRANT_SCHEMA).drop_columns(["kind"])
    write_deltalake(uri, rows, mode="overwrite", schema_mode="overwrite")
    new = _request(lake_settings, "population", ["gender"], kind=grants.VERIFY)
    kinds = {g["request_id"]: g["kind"] for g in ledger.read_rows(uri)}
    assert kinds == {old["request_id"]: "read", new["request_id"]: "verify"}
