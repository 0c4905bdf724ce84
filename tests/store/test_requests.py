from __future__ import annotations

import datetime as dt

import pytest

from jobs.store import requests
from jobs.store.db import transaction
from jobs.store.requests import STAY, Machine, RequestConflict, RequestError

NOW = dt.datetime(2025, 3, 3, 2, 0, tzinfo=dt.UTC)
MONDAY = dt.date(2025, 3, 3)

#: A small procedure of its own: a demand (需求) answered or withdrawn.
DEMAND = Machine(
    type="demand",
    transitions={
        "filed": ((), "open"),
        "commented": (("open",), STAY),
        "answered": (("open",), "answered"),
    },
    open_states=("open",),
    closed_states=("answered",),
)


def _record(request_id: str = "d1", **changes) -> dict:
    return {
        "id": request_id,
        "type": "demand",
        "state": "open",
        "version": None,
        "requested_by": "mzj.li",
        "requester_department": "mzj",
        "subject": {"dataset": "rsj.insured"},
        "facts": {},
        "cycle": 1,
        "opened_on": MONDAY,
        "due_on": dt.date(2025, 3, 10),
        "due_provisional": False,
        "extensions": 0,
        "closed_on": None,
        "closed_by": None,
        "close_reason": None,
        "escalated_to": None,
        "escalated_on": None,
        "updated_at": NOW,
        "departments": ["rsj"],
        **changes,
    }


def _event(action: str, from_state: str | None, to_state: str, n: int = 1) -> dict:
    return {
        "event_id": f"{action}-{n}",
        "request_id": "d1",
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "by": "rsj.zhao",
        "by_department": "rsj",
        "reason": "",
        "at": NOW,
        "on": MONDAY,
        "due_on": None,
        "source": None,
    }


def _filed(settings) -> dict:
    with transaction(settings) as session:
        requests.upsert(session, DEMAND, {}, [_record()], [_event("filed", None, "open")])
        return requests.find(session, "demand", "d1")


def test_a_transition_the_machine_does_not_know_is_refused(store_settings):
    before = _filed(store_settings)
    answered = _record(state="answered", closed_on=MONDAY)
    with (
        pytest.raises(RequestError, match="cannot go answered → answered"),
        transaction(store_settings) as session,
    ):
        requests.move(
            session,
            DEMAND,
            {**answered, "version": 2},
            answered,
            _event("answered", "answered", "answered"),
        )
    with (
        pytest.raises(RequestError, match="knows no action 'reopened'"),
        transaction(store_settings) as session,
    ):
        requests.move(session, DEMAND, before, before, _event("reopened", "open", "open"))
    with transaction(store_settings) as session:
        assert [e["action"] for e in requests.events(session, "d1")] == ["filed"]


def test_a_decision_over_a_request_moved_meanwhile_is_refused(store_settings):
    before = _filed(store_settings)
    with transaction(store_settings) as session:
        requests.move(
            session, DEMAND, before, _record(version=1), _event("commented", "open", "open")
        )
    answered = _record(state="answered", closed_on=MONDAY, closed_by="rsj.zhao")
    with (
        pytest.raises(RequestConflict, match="someone else meanwhile"),
        transaction(store_settings) as session,
    ):
        requests.move(session, DEMAND, before, answered, _event("answered", "open", "answered", 2))
    with transaction(store_settings) as session:
        stored = requests.find(session, "demand", "d")
        actions = [e["action"] for e in requests.events(session, "d1")]
    assert (stored["state"], stored["version"], actions) == ("open", 2, ["filed", "commented"])


def test_acting_departments_change_and_keep_their_order(store_settings):
    _filed(store_settings)
    with transaction(store_settings) as session:
        held = {r["id"]: r for r in requests.lock(session, "demand")}
        requests.upsert(session, DEMAND, held, [_record(departments=["mzj", "rsj"])], [])
    with transaction(store_settings) as session:
        stored = requests.find(session, "demand", "d1")
        board = requests.dashboard(session, today=dt.date(2025, 3, 11))
    assert (stored["departments"], stored["version"]) == (["mzj", "rsj"], 2)
    assert [(d["department"], d["open"], d["overdue"]) for d in board] == [
        ("mzj", 1, 1),
        ("rsj", 1, 1),
    ]


def test_a_due_date_is_counted_from_the_day_it_was_set_and_an_extension_from_before_it(
    store_settings,
):
    first, second, third = dt.date(2025, 3, 10), dt.date(2025, 3, 14), dt.date(2025, 3, 21)
    histories = {  # request → (days after MONDAY, action, due date the event left)
        "extended": [(0, "filed", first), (1, "commented", first), (2, "extended", second)],
        "recounted": [(0, "filed", first), (4, "due_recounted", second)],
        "reopened": [(0, "filed", first), (1, "answered", None), (3, "reopened", third)],
        "due-cleared": [(0, "filed", first), (1, "answered", None)],
    }
    records, events_ = [], []
    for request_id, history in histories.items():
        for n, (days, action, due_on) in enumerate(history):
            on = MONDAY + dt.timedelta(days=days)
            event = {**_event(action, "open", "open", n), "request_id": request_id}
            events_.append({**event, "event_id": f"{request_id}-{n}", "on": on, "due_on": due_on})
        records.append(_record(request_id, due_on=history[-1][2]))
    with transaction(store_settings) as session:
        requests.insert_as_found(session, records, events_)
        counted = requests.due_counted_from(session, records)

    three_days_later = MONDAY + dt.timedelta(days=3)
    assert counted == {"extended": MONDAY, "recounted": MONDAY, "reopened": three_days_later}
