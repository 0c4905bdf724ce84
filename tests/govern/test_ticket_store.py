from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time

import pyarrow as pa
import pytest
from sqlalchemy import func, select

from jobs.audit import log as audit
from jobs.govern import ticket_snapshot, tickets
from jobs.govern.inbox import dashboard_of, inbox_of
from jobs.govern.tickets import TicketError
from jobs.lake import ledger
from jobs.lake.registry import TICKET_EVENTS, VERIFICATION_TICKETS
from jobs.settings import pinned_clock
from jobs.store.db import transaction
from jobs.store.models import Request, RequestEvent
from jobs.store.roles import BUREAU, Forbidden
from tests.actors import MZJ_OFFICER, RSJ_OFFICER, STEWARD
from tests.govern.test_tickets import FRIDAY, NOW, issue, policy
from tests.threads import in_threads, lock_per_thread, meeting_after

#: Ten working days after Friday 26 Sep 2025, National Day (1–8 Oct) in between and the make-up
#: working days Sun 28 Sep and Sat 11 Oct counted: Thursday 16 Oct.
DUE = dt.date(2025, 10, 16)


@pytest.fixture
def settings(store_settings):
    return store_settings.with_clock(pinned_clock(NOW))


def _sync(settings, *issues, build_id="b1", today=FRIDAY):
    return tickets.sync_tickets(
        list(issues), settings, build_id=build_id, today=today, now=NOW, policy=policy()
    )


def _extend(settings, ticket_id):
    """The department asks for the extension, the bureau's steward grants it."""
    tickets.ask_extension(settings, ticket_id, by=RSJ_OFFICER, why="档案在库房")
    return tickets.decide_extension(settings, ticket_id, grant=True, by=STEWARD, why="同意")


def _store_events(settings, ticket_id=None):
    return [(e["event"], e["by"]) for e in tickets.read_events(settings, ticket_id)]


def test_ticket_lifecycle_runs_through_the_store(settings):
    _sync(settings, issue("t1"), issue("t2"), issue("t3"))
    _extend(settings, "t1")
    tickets.close_ticket(settings, "t2", tickets.CONFIRMED, by=RSJ_OFFICER, why="值已核实")
    later = _sync(settings, issue("t1"), issue("t2"), build_id="b2", today=dt.date(2025, 10, 9))

    assert later["states"] == {"t1": "extended", "t2": "confirmed", "t3": "resolved"}
    assert later["open_ticket_ids"] == ["t1"]
    with transaction(settings) as session:
        rows = {r.id: r for r in session.scalars(select(Request))}
    assert {i: (r.type, r.state, r.version) for i, r in rows.items()} == {
        "t1": ("verification", "extended", 4),  # opened, asked, extended, seen again by b2
        "t2": ("verification", "confirmed", 3),
        "t3": ("verification", "resolved", 2),
    }
    assert [d.department for d in rows["t1"].departments] == ["rsj"]
    assert rows["t1"].subject["key"] == "11010519491231002X"
    assert rows["t1"].facts["last_detected_build"] == "b2"
    assert _store_events(settings, "t1") == [
        ("opened", "system"),
        ("extension_asked", "rsj.li"),
        ("extended", "steward"),
    ]
    assert _store_events(settings, "t3") == [("opened", "system"), ("auto_resolved", "system")]


def test_deadline_counts_working_days_from_the_day_after_receipt_across_national_day(settings):
    _sync(settings, issue("t1"))
    (ticket,) = tickets.read_tickets(settings)
    assert (ticket["opened_on"], ticket["deadline"]) == (FRIDAY, DUE)

    # Tue 30 Sep: 9, 10, 11 (make-up Saturday), 13, 14, 15, 16 October are left.
    (line,) = inbox_of(settings, "rsj", today=dt.date(2025, 9, 30))
    assert (line["due_on"], line["workdays_left"], line["is_overdue"]) == (DUE, 7, False)
    # The extension counts on from the deadline, over the weekend: 10 more working days.
    extended = _extend(settings, "t1")
    assert extended["deadline"] == dt.date(2025, 10, 30)


def test_two_accounts_deciding_one_ticket_at_once_leave_exactly_one_decision(settings, monkeypatch):
    _sync(settings, issue("t1"))
    pure_close = tickets.apply_close

    def slow_close(*args, **kwargs):  # both have read the open ticket before either writes
        time.sleep(0.3)
        return pure_close(*args, **kwargs)

    monkeypatch.setattr(tickets, "apply_close", slow_close)
    colleague = dataclasses.replace(RSJ_OFFICER, login="rsj.sun")
    start, outcomes = threading.Barrier(2), {}

    def close_as(actor, state):
        start.wait()
        try:
            outcomes[actor.login] = tickets.close_ticket(
                settings, "t1", state, by=actor, why="同时办理"
            )["state"]
        except TicketError as refused:
            outcomes[actor.login] = refused

    threads = [
        threading.Thread(target=close_as, args=(RSJ_OFFICER, tickets.CONFIRMED)),
        threading.Thread(target=close_as, args=(colleague, tickets.RESOLVED)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    decided = [o for o in outcomes.values() if isinstance(o, str)]
    refused = [o for o in outcomes.values() if isinstance(o, TicketError)]
    assert len(decided) == 1 and len(refused) == 1
    assert "someone else meanwhile" in str(refused[0]) or "already" in str(refused[0])
    assert tickets.find_ticket(settings, "t1")["state"] == decided[0]
    with transaction(settings) as session:
        closing = session.scalar(
            select(func.count())
            .select_from(RequestEvent)
            .where(RequestEvent.action.in_(["confirmed", "resolved"]))
        )
    assert closing == 1
    actions = [e["action"] for e in audit.read_entries(settings)]
    assert actions.count("ticket_confirmed") + actions.count("ticket_resolved") == 1


def test_every_transition_is_an_audit_entry_signed_by_its_account(settings):
    _sync(settings, issue("t1"), issue("t2"))
    _extend(settings, "t1")
    tickets.close_ticket(settings, "t2", tickets.RESOLVED, by=STEWARD, why="已更正")
    tickets.check_deadlines(settings, today=dt.date(2025, 10, 31))

    entries = [e for e in audit.read_entries(settings) if e["action"].startswith("ticket_")]
    store_events = tickets.read_events(settings)
    assert [(e["action"], e["actor"]) for e in entries] == [
        (f"ticket_{e['event']}", e["by"]) for e in store_events
    ]
    assert [e["action"] for e in entries] == [
        "ticket_opened",
        "ticket_opened",
        "ticket_extension_asked",
        "ticket_extended",
        "ticket_resolved",
        "ticket_overdue",
        "ticket_escalated",
    ]
    resolved = json.loads(entries[4]["detail"])
    assert (entries[4]["actor"], resolved["why"], resolved["to"]) == (
        "steward",
        "已更正",
        "resolved",
    )
    assert entries[4]["target"] == f"{VERIFICATION_TICKETS.path}/t2"


def test_a_decision_on_an_unknown_ticket_is_refused_in_ticket_words(settings):
    _sync(settings, issue("t1"))

    with pytest.raises(TicketError, match=r"^no ticket 'nope'$"):
        tickets.close_ticket(settings, "nope", tickets.CONFIRMED, by=RSJ_OFFICER, why="值已核实")
    with pytest.raises(TicketError, match=r"^no ticket 'nope'$"):
        tickets.find_ticket(settings, "nope")
    assert _store_events(settings) == [("opened", "system")]


def test_a_department_cannot_act_on_another_departments_ticket(settings):
    _sync(settings, issue("t1"))
    with pytest.raises(Forbidden, match=r"mzj\.li .* may not ticket\.close for rsj"):
        tickets.close_ticket(settings, "t1", tickets.CONFIRMED, by=MZJ_OFFICER, why="不是我们的")
    with pytest.raises(Forbidden, match=r"may not ticket\.extend"):
        tickets.ask_extension(settings, "t1", by=MZJ_OFFICER, why="延期")

    assert tickets.find_ticket(settings, "t1")["state"] == tickets.OPEN
    assert _store_events(settings) == [("opened", "system")]
    assert inbox_of(settings, "mzj") == []
    # The bureau's steward may settle any department's ticket.
    tickets.close_ticket(settings, "t1", tickets.RESOLVED, by=STEWARD, why="局里裁定")
    assert tickets.find_ticket(settings, "t1")["closed_by"] == "steward"


def _lake_tickets(settings):
    return sorted(
        ledger.read_rows(VERIFICATION_TICKETS.uri(settings)), key=lambda t: t["ticket_id"]
    )


def _lake_events(settings):
    return sorted(ledger.read_rows(TICKET_EVENTS.uri(settings)), key=lambda e: e["event_id"])


def test_the_lake_snapshot_equals_the_store_after_every_change(settings):
    _sync(settings, issue("t1"), issue("t2"))
    _extend(settings, "t1")
    tickets.close_ticket(settings, "t2", tickets.CONFIRMED, by=RSJ_OFFICER, why="值已核实")
    tickets.check_deadlines(settings, today=dt.date(2025, 10, 31))
    _sync(settings, issue("t2", values_hash="h2"), build_id="b2", today=dt.date(2025, 11, 3))

    store = sorted(tickets.read_tickets(settings), key=lambda t: t["ticket_id"])
    assert _lake_tickets(settings) == store
    assert [t["state"] for t in store] == [tickets.RESOLVED, tickets.OPEN]
    assert _lake_events(settings) == sorted(
        tickets.read_events(settings), key=lambda e: e["event_id"]
    )
    assert pa.Table.from_pylist(_lake_events(settings)).num_rows == 9


def test_a_snapshot_missed_is_whole_again_after_the_next_daily_check(settings, monkeypatch, caplog):
    _sync(settings, issue("t1"), issue("t2"))
    tickets.ask_extension(settings, "t1", by=RSJ_OFFICER, why="档案在库房")
    monkeypatch.setattr(
        tickets, "write_snapshot", lambda *_: (_ for _ in ()).throw(OSError("down"))
    )
    # The store committed the decision: the steward is told it succeeded, the failure is logged.
    decided = tickets.decide_extension(settings, "t1", grant=True, by=STEWARD, why="同意")
    assert decided["state"] == tickets.EXTENDED
    assert "the next full one writes it" in caplog.text
    with pytest.raises(OSError):  # a build's full snapshot fails its task, to be run again
        _sync(settings, issue("t1"), issue("t2"), build_id="b2")
    monkeypatch.undo()
    assert tickets.find_ticket(settings, "t1")["state"] == tickets.EXTENDED  # the store holds it
    assert "extended" in [e["action"] for e in audit.read_entries(settings)][-1]

    # The next decision writes its own ticket, and every event the lake misses, once.
    tickets.close_ticket(settings, "t2", tickets.CONFIRMED, by=RSJ_OFFICER, why="值已核实")
    assert [t["state"] for t in _lake_tickets(settings)] == [tickets.OPEN, tickets.CONFIRMED]
    events = _lake_events(settings)
    assert sorted(e["event"] for e in events) == [
        "confirmed",
        "extended",
        "extension_asked",
        "opened",
        "opened",
    ]
    # The daily deadline check writes every ticket, whatever it changed.
    assert tickets.check_deadlines(settings, today=FRIDAY)["overdue"] == 0
    assert [t["state"] for t in _lake_tickets(settings)] == [tickets.EXTENDED, tickets.CONFIRMED]
    assert _lake_tickets(settings) == tickets.read_tickets(settings)


def test_tickets_a_lake_kept_before_the_store_are_copied_in_once(settings):
    changed, events = tickets.plan_sync(
        {}, [issue("t1")], policy(), today=FRIDAY, now=NOW, build_id="b0"
    )
    ledger.append_arrow(
        VERIFICATION_TICKETS.uri(settings),
        pa.Table.from_pylist(changed, schema=tickets.TICKET_SCHEMA),
        write_id="legacy",
    )
    ledger.append_arrow(
        TICKET_EVENTS.uri(settings),
        pa.Table.from_pylist(events, schema=tickets.EVENT_SCHEMA),
        write_id="legacy",
    )

    _sync(settings, issue("t1"), issue("t2"), build_id="b1")
    _sync(settings, issue("t1"), issue("t2"), build_id="b2")

    assert {t["ticket_id"]: t["first_detected_build"] for t in tickets.read_tickets(settings)} == {
        "t1": "b0",
        "t2": "b1",
    }
    assert sorted(e["ticket_id"] for e in _lake_events(settings)) == ["t1", "t2"]
    assert _lake_tickets(settings) == sorted(
        tickets.read_tickets(settings), key=lambda t: t["ticket_id"]
    )


def test_the_inbox_puts_overdue_first_and_escalated_tickets_reach_the_bureau(settings):
    _sync(settings, issue("late"))
    _sync(settings, issue("late"), issue("soon"), build_id="b2", today=dt.date(2025, 10, 10))
    tickets.check_deadlines(settings, today=dt.date(2025, 10, 17))  # "late" is escalated

    rsj = inbox_of(settings, "rsj", today=dt.date(2025, 10, 17))
    assert [(i["id"], i["is_overdue"], i["workdays_left"]) for i in rsj] == [
        ("late", True, -1),
        ("soon", False, 4),
    ]
    assert rsj[0]["topic"] == "population · person_name · citizen_id · 11010519491231002X"
    assert [i["departments"] for i in rsj] == [["rsj"], ["rsj"]]
    bureau = inbox_of(settings, BUREAU, today=dt.date(2025, 10, 17))
    assert [(i["id"], i["state"], i["escalated_to"]) for i in bureau] == [
        ("late", tickets.ESCALATED, "data_authority")
    ]
    board = dashboard_of(settings, BUREAU, today=dt.date(2025, 10, 17))
    assert [(d["department"], d["open"], d["overdue"]) for d in board] == [("rsj", 2, 1)]
    assert dashboard_of(settings, "mzj", today=dt.date(2025, 10, 17)) == []


def test_a_comment_is_recorded_and_audited_in_any_state_and_changes_nothing(settings):
    _sync(settings, issue("t1"))
    tickets.close_ticket(settings, "t1", tickets.CONFIRMED, by=RSJ_OFFICER, why="值已核实")
    before = tickets.find_ticket(settings, "t1")

    tickets.comment_ticket(settings, "t1", by=STEWARD, why="已电话告知申请人")

    assert tickets.find_ticket(settings, "t1") == before
    (comment,) = [e for e in tickets.read_events(settings, "t1") if e["event"] == "commented"]
    assert (comment["from_state"], comment["to_state"], comment["by"]) == (
        tickets.CONFIRMED,
        tickets.CONFIRMED,
        "steward",
    )
    assert audit.read_entries(settings)[-1]["action"] == "ticket_commented"
    assert "commented" in [e["event"] for e in _lake_events(settings)]
    with pytest.raises(Forbidden):
        tickets.comment_ticket(settings, "t1", by=MZJ_OFFICER, why="路过")


def test_two_decisions_at_the_same_instant_in_two_processes_both_succeed_and_reach_the_lake(
    settings, monkeypatch
):
    _sync(settings, issue("t1"), issue("t2"))
    monkeypatch.setattr(ledger, "_snapshot_locks", lock_per_thread(), raising=False)
    # both snapshots read the lake and the store before either writes
    events = meeting_after(ticket_snapshot.requests.events)
    monkeypatch.setattr(ticket_snapshot.requests, "events", events)
    colleague = dataclasses.replace(RSJ_OFFICER, login="rsj.sun")
    outcomes = in_threads(
        t1=lambda: tickets.close_ticket(
            settings, "t1", tickets.CONFIRMED, by=RSJ_OFFICER, why="同时"
        ),
        t2=lambda: tickets.close_ticket(
            settings, "t2", tickets.CONFIRMED, by=colleague, why="同时"
        ),
    )
    monkeypatch.undo()

    assert {k: v["state"] for k, v in outcomes.items()} == {"t1": "confirmed", "t2": "confirmed"}
    assert _lake_tickets(settings) == tickets.read_tickets(settings)
    assert _lake_events(settings) == sorted(
        tickets.read_events(settings), key=lambda e: e["event_id"]
    )


def test_an_extended_provisional_deadline_is_counted_again_from_receipt_once_announced(
    settings, tmp_path
):
    from tests.store.workflow import announce_2027, with_own_schemas

    own = with_own_schemas(settings, tmp_path / "schemas").with_clock(
        pinned_clock(dt.datetime(2027, 1, 4, 1, tzinfo=dt.UTC))
    )
    _sync(own, issue("t1"), today=dt.date(2026, 12, 28))
    extended = _extend(own, "t1")  # 10 + 10 working days, 2027 counted Monday to Friday
    assert (extended["deadline"], extended["deadline_provisional"]) == (dt.date(2027, 1, 25), True)
    announce_2027(own)

    summary = tickets.check_deadlines(own, today=dt.date(2027, 1, 5))

    assert summary["recounted"] == 1
    ticket = tickets.find_ticket(own, "t1")
    # 20 working days after 12-28 with New Year's holiday 01-01…01-04 off: Wednesday 01-27
    assert (ticket["state"], ticket["deadline"], ticket["deadline_provisional"]) == (
        tickets.EXTENDED,
        dt.date(2027, 1, 27),
        False,
    )
    assert _store_events(own, "t1")[-1] == ("due_recounted", "system")
    assert audit.read_entries(own)[-1]["action"] == "ticket_due_recounted"
    (lake_ticket,) = ledger.read_rows(VERIFICATION_TICKETS.uri(own))
    assert (lake_ticket["deadline"], lake_ticket["deadline_provisional"]) == (
        dt.date(2027, 1, 27),
        False,
    )
