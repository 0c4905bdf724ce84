from __future__ import annotations

import datetime as dt
import itertools

import pytest

from jobs.reports.procedures import ProcedureCounts, corrections_made, procedure_counts
from jobs.settings import pinned_clock
from tests.store.workflow import add_staff, decide, file

AS_OF = dt.date(2025, 4, 1)
_ids = itertools.count(1)


def _request(request_id, type_, departments, opened_on, due_on, **more):
    return {
        "id": request_id,
        "type": type_,
        "departments": list(departments),
        "opened_on": opened_on,
        "due_on": due_on,
        "closed_on": None,
        "escalated_to": None,
        **more,
    }


def _event(request_id, action, from_state, to_state, by, department, on, due_on):
    return {
        "id": next(_ids),
        "request_id": request_id,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "by": by,
        "by_department": department,
        "at": dt.datetime(on.year, on.month, on.day, 2, tzinfo=dt.UTC),
        "on": on,
        "due_on": due_on,
    }


def _d(month, day, year=2025):
    return dt.date(year, month, day)


#: Mixed procedures: two tickets rsj answered (one after an extension the bureau approved), one
#: the bureau resolved itself, a share request gaj refused late, feedback rsj left unanswered
#: (escalated), and a demand of last year.
REQUESTS = [
    _request("t-corrected", "verification", ["rsj"], _d(3, 3), _d(3, 17)),
    _request("t-extended", "verification", ["rsj"], _d(3, 3), _d(3, 31)),
    _request("t-bureau", "verification", ["rsj"], _d(3, 3), _d(3, 17), closed_on=_d(3, 5)),
    _request("s-late", "share", ["gaj"], _d(3, 3), _d(3, 10), closed_on=_d(3, 20)),
    _request("f-unanswered", "feedback", ["rsj"], _d(3, 5), _d(3, 12), escalated_to="bureau"),
    _request("old-demand", "demand", ["rsj"], _d(12, 1, 2024), _d(12, 8, 2024)),
]
EVENTS = [
    _event("t-corrected", "opened", None, "open", "system", None, _d(3, 3), _d(3, 17)),
    _event("t-corrected", "corrected", "open", "corrected", "rsj.sun", "rsj", _d(3, 10), _d(3, 17)),
    _event("t-extended", "opened", None, "open", "system", None, _d(3, 3), _d(3, 17)),
    _event("t-extended", "extended", "open", "extended", "steward", "bureau", _d(3, 14), _d(3, 31)),
    _event(
        "t-extended", "confirmed", "extended", "confirmed", "rsj.sun", "rsj", _d(3, 25), _d(3, 31)
    ),
    _event("t-bureau", "opened", None, "open", "system", None, _d(3, 3), _d(3, 17)),
    _event("t-bureau", "resolved", "open", "resolved", "reviewer", "bureau", _d(3, 5), _d(3, 17)),
    _event("s-late", "filed", None, "pending", "mzj.li", "mzj", _d(3, 3), _d(3, 10)),
    _event("s-late", "commented", "pending", "pending", "gaj.he", "gaj", _d(3, 4), _d(3, 10)),
    _event("s-late", "refused", "pending", "refused", "gaj.he", "gaj", _d(3, 20), _d(3, 10)),
    _event("f-unanswered", "filed", None, "open", "mzj.li", "mzj", _d(3, 5), _d(3, 12)),
    _event("f-unanswered", "overdue", "open", "open", "system", None, _d(3, 13), _d(3, 12)),
    _event("f-unanswered", "escalated", "open", "open", "system", None, _d(3, 13), _d(3, 12)),
]


def test_answers_on_time_are_counted_per_department_and_procedure():
    counts = procedure_counts(REQUESTS, EVENTS, 2025, AS_OF)

    assert counts == {
        "gaj": [ProcedureCounts("share", 1, 1, 0, 1, 0, 0)],
        "rsj": [
            ProcedureCounts("feedback", 1, 0, 0, 0, 1, 1),
            ProcedureCounts("verification", 3, 2, 2, 2, 0, 0),
        ],
    }
    assert counts["rsj"][1].on_time_rate == 1.0


def test_nothing_after_the_report_date_is_counted():
    counts = procedure_counts(REQUESTS, EVENTS, 2025, _d(3, 12))

    (share,) = counts["gaj"]
    assert (share.received, share.answered, share.open_past_due) == (1, 0, 1)


def test_corrections_are_the_departments_own_in_the_year():
    assert corrections_made(EVENTS, 2025, AS_OF) == {"rsj": 1}
    assert corrections_made(EVENTS, 2024, dt.date(2024, 12, 31)) == {}


@pytest.fixture
def staffed(store_settings):
    settings = store_settings.with_clock(pinned_clock(dt.datetime(2025, 3, 3, 2, tzinfo=dt.UTC)))
    add_staff(settings)
    return settings


def test_a_procedure_no_module_knows_is_counted_from_the_store(staffed):
    from jobs.reports.sources import read_requests

    file(staffed, "q-on-time", opened_on=_d(3, 3), workdays=5)
    file(staffed, "q-late", opened_on=_d(3, 3), workdays=5)
    file(staffed, "q-open", opened_on=_d(3, 3), workdays=5)
    decide(staffed, "q-on-time", "answered", by="rsj.sun", on=_d(3, 10))
    decide(staffed, "q-late", "refused", by="rsj.zhao", on=_d(3, 11))

    read = read_requests(staffed)
    counts = procedure_counts(read["requests"], read["request_events"], 2025, AS_OF)

    assert counts == {"rsj": [ProcedureCounts("inquiry", 3, 2, 1, 2, 1, 0)]}


def test_the_evaluation_page_shows_each_departments_procedures_and_corrections():
    from jobs.reports.render import render_page
    from tests.reports.test_views import by_code, evaluation

    report = evaluation(requests=REQUESTS, request_events=EVENTS, as_of=AS_OF)
    meta = {"generated_at": "2025-04-01 09:00 CST", "as_of": "2025-04-01", "profile": "hebi"}
    html = render_page("evaluation.html.j2", meta={**meta, "lake_root": "lake"}, report=report)

    rsj = by_code(report.departments)["rsj"]
    assert ([p.type for p in rsj.procedures], rsj.corrections) == (["feedback", "verification"], 1)
    assert 'data-department="gaj" data-procedure="share"' in html
    assert html.count("data-procedure=") == 3
