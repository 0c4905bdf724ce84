from __future__ import annotations

import datetime as dt

from jobs.policy.workdays import get_calendar
from jobs.reports import charts
from jobs.reports.evaluation import build_evaluation_report, count_shares_served
from jobs.reports.labels import DepartmentName, Directory, ResourceInfo
from jobs.reports.quality import build_quality_report
from jobs.reports.verification import build_verification_report
from jobs.settings import Settings

from .sample import (
    CONFLICTS,
    INGEST_FILES,
    POOL_BATCHES,
    SCORECARDS,
    TASKS,
    TICKETS,
    TODAY,
)

DIRECTORY = Directory(
    departments={
        "gaj": DepartmentName("gaj", "公安局", "Public Security Bureau"),
        "scjgj": DepartmentName("scjgj", "市场监督管理局", "Market Regulation Administration"),
        "jyj": DepartmentName("jyj", "教育局", "Education Bureau"),
    },
    resources={
        "gaj.hukou": ResourceInfo("gaj.hukou", "gaj", "户籍人口信息", "Hukou", "daily"),
        "gaj.driving_licence": ResourceInfo(
            "gaj.driving_licence", "gaj", "机动车驾驶证", "Driving licence", "weekly"
        ),
        "scjgj.enterprise": ResourceInfo(
            "scjgj.enterprise", "scjgj", "企业登记", "Enterprise", "daily"
        ),
        "jyj.student": ResourceInfo("jyj.student", "jyj", "学籍", "Student", "quarterly"),
    },
)


def by_code(departments):
    return {d.department.code: d for d in departments}


def evaluation(**overrides):
    inputs = dict(
        ingest_files=INGEST_FILES,
        pool_batches=POOL_BATCHES,
        scorecards=SCORECARDS,
        rectification_tasks=TASKS,
        tickets=TICKETS,
        share_tables={},
        directory=DIRECTORY,
        year=2025,
        as_of=TODAY,
    )
    return build_evaluation_report(**{**inputs, **overrides})


def test_quality_report_flags_the_department_whose_latest_batch_is_held():
    report = build_quality_report(SCORECARDS, TASKS, DIRECTORY, TODAY)
    depts = by_code(report.departments)
    assert depts["scjgj"].needs_rectification and depts["scjgj"].held_latest == ["scjgj.enterprise"]
    assert not depts["gaj"].needs_rectification
    assert depts["scjgj"].mean_scores["validity"] == 0.60
    # hukou's latest batch b3 is the one shown, with three batches behind its trend
    hukou = next(r for r in depts["gaj"].resources if r.resource_id == "gaj.hukou")
    assert (hukou.latest_batch_id, hukou.batches, hukou.scores["accuracy"]) == ("b3", 3, None)
    assert report.resources_scored == 3 and report.batches_scored == 6


def test_open_task_past_its_deadline_counts_as_overdue():
    report = build_quality_report(SCORECARDS, TASKS, DIRECTORY, TODAY)
    scjgj = by_code(report.departments)["scjgj"]
    assert (scjgj.tasks_open, scjgj.tasks_overdue, scjgj.tasks_closed) == (0, 1, 1)
    assert [t.status for t in scjgj.unresolved_tasks] == ["overdue"]
    assert report.tasks_by_status == {"closed": 1, "overdue": 1}


def test_empty_lake_gives_every_department_an_empty_state():
    quality = build_quality_report([], [], DIRECTORY, TODAY)
    assert [d.has_scores for d in quality.departments] == [False, False, False]
    assert all(d.mean_scores["overall"] is None for d in quality.departments)
    tickets = build_verification_report([], [], DIRECTORY, TODAY, get_calendar(Settings()))
    assert tickets.tickets_total == 0 and tickets.overdue == [] and tickets.disputed == []
    assert str(tickets.timeline_chart) == "" and str(tickets.state_chart) == ""
    empty = evaluation(
        ingest_files=[], pool_batches=[], scorecards=[], rectification_tasks=[], tickets=[]
    )
    assert not any(d.has_activity for d in empty.departments)
    assert all(d.quality_mean is None and d.shares_served is None for d in empty.departments)


def test_ticket_states_add_up_per_department_and_a_shared_ticket_counts_for_both():
    report = build_verification_report(
        TICKETS, CONFLICTS, DIRECTORY, TODAY, get_calendar(Settings())
    )
    depts = by_code(report.departments)
    for dept in report.departments:
        assert sum(dept.by_state.values()) == dept.total
    assert depts["gaj"].total == 3  # overdue, open (shared with mzj), confirmed late
    assert depts["mzj"].total == 1  # not in this directory: shown by its code
    assert report.multi_department_tickets == 1
    assert sum(report.tickets_by_state.values()) == report.tickets_total == len(TICKETS)
    assert (depts["gaj"].closed_on_time, depts["gaj"].closed_late) == (0, 1)
    assert depts["swj"].closed_on_time == 1


def test_deadlines_in_working_days_on_the_official_calendar():
    report = build_verification_report(
        TICKETS, CONFLICTS, DIRECTORY, TODAY, get_calendar(Settings())
    )
    assert [(t.ticket_id, t.workdays_left) for t in report.overdue] == [("T-OVERDUE", -10)]
    assert [(t.ticket_id, t.workdays_left) for t in report.upcoming] == [
        ("T-EXTENDED", 6),
        ("T-OPEN", 7),
    ]


def test_disputed_attributes_come_from_the_latest_build():
    report = build_verification_report(
        TICKETS, CONFLICTS, DIRECTORY, TODAY, get_calendar(Settings())
    )
    lines = {(d.base, d.topic): (d.issues, d.with_open_ticket) for d in report.disputed}
    assert lines == {
        ("population", "gender"): (1, 1),
        ("population", "marital_status"): (1, 1),
        ("legal_entity", "entity_name"): (1, 1),
        ("population", "birth_date"): (1, 0),  # confirmed: no longer disputed
    }
    assert report.issues_total == len(CONFLICTS)


def test_evaluation_rows_delivered_equal_rows_accounted():
    depts = by_code(evaluation().departments)
    gaj, scjgj = depts["gaj"], depts["scjgj"]
    assert (gaj.rows_delivered, gaj.rows_to_pool, gaj.rows_quarantined, gaj.rows_duplicate) == (
        120,
        110,
        8,
        2,
    )
    assert gaj.rows_accounted == gaj.rows_delivered
    assert (scjgj.rows_delivered, scjgj.rows_held, scjgj.rows_accounted) == (50, 40, 50)
    assert (scjgj.files_delivered, scjgj.files_quarantined) == (2, 1)
    assert (gaj.resources_provided, gaj.resources_in_catalog) == (2, 2)


def test_evaluation_freshness_follows_the_catalog_update_cycle():
    gaj = by_code(evaluation().departments)["gaj"]
    fresh = {r.resource_id: (r.days_since, r.is_fresh) for r in gaj.freshness}
    # hukou is daily, delivered yesterday; the weekly driving licence is 10 days old
    assert fresh == {"gaj.hukou": (1, True), "gaj.driving_licence": (10, False)}
    jyj = by_code(evaluation().departments)["jyj"]
    assert [(r.last_delivered_on, r.is_fresh) for r in jyj.freshness] == [("—", False)]
    assert not jyj.has_activity


def test_evaluation_counts_verification_on_time_and_past_deadline():
    depts = by_code(evaluation().departments)
    assert (depts["gaj"].tickets_opened, depts["gaj"].tickets_closed) == (3, 1)
    assert (depts["gaj"].tickets_closed_on_time, depts["gaj"].tickets_past_deadline) == (0, 1)
    assert depts["swj"].on_time_rate == 1.0


def test_a_later_year_counts_nothing_from_this_one():
    later = evaluation(year=2026, as_of=dt.date(2026, 3, 1))
    gaj = by_code(later.departments)["gaj"]
    assert (gaj.files_delivered, gaj.batches_scored, gaj.tickets_opened) == (0, 0, 0)


def test_shares_served_without_share_tables_say_so():
    shares = count_shares_served({}, 2025, TODAY)
    assert shares.by_department is None and "no share data yet" in shares.source


def test_shares_served_counts_granted_rows_per_providing_department():
    grants = [
        {"provider_department": "gaj", "status": "granted", "decided_at": None},
        {"provider_department": "gaj", "status": "denied", "decided_at": None},
        {"provider_department": "scjgj", "status": "approved", "decided_at": None},
    ]
    shares = count_shares_served({"share_requests": [], "share_grants": grants}, 2025, TODAY)
    assert shares.by_department == {"gaj": 1, "scjgj": 1}
    assert "share_grants" in shares.source
    report = evaluation(share_tables={"share_grants": grants})
    assert by_code(report.departments)["jyj"].shares_served == 0


def test_share_table_without_a_department_column_is_not_counted():
    shares = count_shares_served({"share_log": [{"who": "x"}]}, 2025, TODAY)
    assert shares.by_department is None and "share_log" in shares.source


def test_chart_labels_are_escaped_and_missing_values_draw_no_bar():
    svg = str(charts.bar_chart(["<script>x</script>", "ok"], [None, 0.5], title="t"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="bar') == 1 and "—" in svg


def test_shares_served_from_grants_keyed_by_dataset_and_state():
    # the share area's layout: dataset is a resource id or a base name, state, decided_on
    grants = [
        {"dataset": "gaj.hukou", "state": "granted", "decided_on": dt.date(2025, 3, 1)},
        {"dataset": "gaj.hukou", "state": "granted", "decided_on": dt.date(2024, 3, 1)},
        {"dataset": "scjgj.enterprise", "state": "pending", "decided_on": None},
        {"dataset": "population", "state": "granted", "decided_on": dt.date(2025, 4, 1)},
    ]
    shares = count_shares_served({"share_grants": grants}, 2025, TODAY)
    assert shares.by_department == {"gaj": 1}
    assert "1 share(s) of base databases" in shares.source


def request(request_id, type_, state, department, opened, due, closed=None, **subject):
    """A request of the workflow store (jobs.store.requests) as the reports read it."""
    return {
        "id": request_id,
        "type": type_,
        "state": state,
        "requester_department": "mzj",
        "departments": [department],
        "subject": {"dataset": "gaj.hukou", "field": "full_name", "description": "驾驶证状态"}
        | subject,
        "facts": {"problem": "姓名错字", "purpose": "低保复核", "legal_basis": "社会救助暂行办法"},
        "opened_on": opened,
        "due_on": due,
        "due_provisional": False,
        "closed_on": closed,
        "close_reason": "已更正" if closed else None,
    }


FEEDBACK = [
    request(
        "f1",
        "feedback",
        "fixed",
        "gaj",
        dt.date(2025, 6, 2),
        dt.date(2025, 6, 9),
        dt.date(2025, 6, 5),
    ),
    request("f2", "feedback", "open", "gaj", dt.date(2025, 6, 16), dt.date(2025, 6, 23)),
    request(
        "f3",
        "feedback",
        "not_an_error",
        "gaj",
        dt.date(2024, 12, 2),
        dt.date(2024, 12, 9),
        dt.date(2024, 12, 3),
    ),
]
DEMANDS = [
    request(
        "d1",
        "demand",
        "delivered",
        "jyj",
        dt.date(2025, 3, 3),
        dt.date(2025, 3, 17),
        dt.date(2025, 3, 14),
    ),
    request("d2", "demand", "submitted", "jyj", dt.date(2025, 6, 2), dt.date(2025, 6, 9)),
]


def test_evaluation_counts_feedback_received_and_fixed_and_demands_met():
    report = evaluation(feedback=FEEDBACK, demands=DEMANDS)
    depts = by_code(report.departments)

    assert (depts["gaj"].feedback.received, depts["gaj"].feedback.fixed) == (2, 1)
    assert (depts["jyj"].demands.received, depts["jyj"].demands.delivered) == (2, 1)
    assert depts["scjgj"].feedback.received == 0


def test_feedback_is_a_rectification_task_of_the_provider_in_the_quality_report():
    from jobs.share.feedback import as_rectification_tasks

    report = build_quality_report(
        SCORECARDS, [*TASKS, *as_rectification_tasks(FEEDBACK)], DIRECTORY, TODAY
    )
    gaj = by_code(report.departments)["gaj"]

    assert [(t.resource_id, t.expectation, t.status) for t in gaj.unresolved_tasks][-1] == (
        "gaj.hukou",
        "数据纠错 feedback: full_name",
        "overdue",
    )
    assert gaj.tasks_closed == 2


def test_demand_report_lists_the_demands_newest_first_and_flags_the_past_due():
    from jobs.reports.demands import build_demand_report

    report = build_demand_report(DEMANDS, DIRECTORY, TODAY)

    assert [(d.request_id, d.state, d.is_overdue) for d in report.lines] == [
        ("d2", "submitted", True),
        ("d1", "delivered", False),
    ]
    assert (report.total, report.overdue, report.by_state["delivered"]) == (2, 1, 1)
    assert [(d.code, c.received, c.delivered_on_time) for d, c in report.per_holder] == [
        ("jyj", 2, 1)
    ]
