from __future__ import annotations

import datetime as dt

import pytest

from jobs.govern import tickets
from jobs.govern.ticket_answers import apply_ask_extension, apply_decide_extension
from jobs.govern.ticket_policy import TicketPolicy
from jobs.govern.ticket_rules import TicketError, apply_close, plan_sync
from jobs.govern.tickets import plan_deadlines
from jobs.policy.workdays import WorkdayCalendar
from jobs.settings import pinned_clock
from tests.actors import (
    MZJ_OFFICER,
    REVIEWER,
    RSJ_OFFICER,
    STEWARD,
    create_accounts,
    password_file,
)

NOW = dt.datetime(2025, 9, 26, 8, 0, tzinfo=dt.UTC)
FRIDAY = dt.date(2025, 9, 26)  # 10 working days later: 2025-10-16 (National Day in between)
DUE = dt.date(2025, 10, 16)


def policy(max_extensions: int = 1, escalate_after: int = 0) -> TicketPolicy:
    return TicketPolicy(
        profile="hebi",
        verification_workdays=10,
        max_extensions=max_extensions,
        extension_max_workdays=10,
        escalate_to="data_authority",
        escalate_after_overdue_workdays=escalate_after,
        calendar=WorkdayCalendar(),
        extension_note="" if max_extensions else "profile 'taizhou' allows no extension",
    )


def issue(issue_id: str = "t1", values_hash: str = "h1", **extra) -> dict:
    return {
        "issue_id": issue_id,
        "issue_type": "conflict",
        "rule": None,
        "element": "person_name",
        "key_kind": "citizen_id",
        "key": "11010519491231002X",
        "base": "population",
        "base_keys": ["11010519491231002X"],
        "departments": ["rsj"],
        "resources": ["rsj.insured"],
        "surviving_value": "张三",
        "detail": "person_name: 张三 (gaj.hukou) vs 张山 (rsj.insured)",
        "values_hash": values_hash,
        **extra,
    }


def opened(issue_id: str = "t1") -> dict:
    changed, _ = plan_sync({}, [issue(issue_id)], policy(), today=FRIDAY, now=NOW, build_id="b1")
    return changed[0]


def test_opens_ticket_assigned_to_dissenting_department_with_workday_deadline():
    changed, events = plan_sync({}, [issue()], policy(), today=FRIDAY, now=NOW, build_id="b1")
    assert len(changed) == 1
    ticket = changed[0]
    assert ticket["state"] == tickets.OPEN
    assert ticket["assigned_departments"] == ["rsj"]
    assert ticket["deadline"] == dt.date(2025, 10, 16)
    assert ticket["deadline_provisional"] is False
    assert [e["event"] for e in events] == ["opened"]
    assert events[0]["by"] == tickets.SYSTEM


def test_deadline_over_a_year_without_official_calendar_is_provisional():
    late_december = dt.date(2026, 12, 24)
    changed, _ = plan_sync({}, [issue()], policy(), today=late_december, now=NOW, build_id="b1")
    assert changed[0]["deadline"].year == 2027
    assert changed[0]["deadline_provisional"] is True


def test_same_issue_in_next_build_keeps_ticket_and_deadline():
    ticket = opened()
    later = dt.date(2025, 10, 9)
    changed, events = plan_sync(
        {"t1": ticket}, [issue()], policy(), today=later, now=NOW, build_id="b2"
    )
    assert changed[0]["deadline"] == ticket["deadline"]
    assert changed[0]["last_detected_build"] == "b2"
    assert events == []


def test_ticket_closes_itself_when_a_later_build_no_longer_finds_the_issue():
    changed, events = plan_sync(
        {"t1": opened()}, [], policy(), today=dt.date(2025, 10, 9), now=NOW, build_id="b2"
    )
    assert changed[0]["state"] == tickets.RESOLVED
    assert changed[0]["closed_by"] == tickets.SYSTEM
    assert [e["event"] for e in events] == ["auto_resolved"]


def test_confirmed_ticket_stays_closed_for_same_values_and_reopens_for_new_ones():
    confirmed, _ = apply_close(
        opened(),
        tickets.CONFIRMED,
        by="rsj 王科长",
        why="checked the paper file",
        today=FRIDAY,
        now=NOW,
    )
    day = dt.date(2025, 10, 20)
    same, events = plan_sync(
        {"t1": confirmed}, [issue()], policy(), today=day, now=NOW, build_id="b2"
    )
    assert same[0]["state"] == tickets.CONFIRMED and events == []
    other, events = plan_sync(
        {"t1": confirmed}, [issue(values_hash="h2")], policy(), today=day, now=NOW, build_id="b3"
    )
    assert other[0]["state"] == tickets.OPEN
    assert other[0]["cycle"] == 2
    assert other[0]["opened_on"] == day
    assert [e["event"] for e in events] == ["reopened"]


def _ask(ticket, pol=None, **kwargs):
    kwargs = {"by": "rsj", "why": "archive in storage", "today": FRIDAY, "now": NOW, **kwargs}
    return apply_ask_extension(ticket, pol or policy(), **kwargs)


def test_one_extension_asked_then_approved_moves_the_deadline_by_the_days_asked():
    asked, event = _ask(opened(), workdays=7)
    assert (asked["state"], asked["deadline"], event["event"]) == (
        tickets.OPEN,
        DUE,
        "extension_asked",
    )
    ticket, event = apply_decide_extension(
        asked, policy(), grant=True, by="steward", why="同意", today=FRIDAY, now=NOW
    )
    assert ticket["state"] == tickets.EXTENDED
    assert ticket["extensions"] == 1
    assert ticket["deadline"] == dt.date(2025, 10, 27)  # 7 more working days
    assert event["by"] == "steward" and "archive" in event["why"] and "rsj" in event["why"]
    with pytest.raises(TicketError, match="allows 1"):
        _ask(ticket, why="again")


def test_a_refused_extension_leaves_the_deadline_and_counts_as_the_one_asked():
    refused, event = apply_decide_extension(
        _ask(opened())[0], policy(), grant=False, by="steward", why="不予", today=FRIDAY, now=NOW
    )
    assert (refused["state"], refused["deadline"], event["event"]) == (
        tickets.OPEN,
        DUE,
        "extension_refused",
    )
    with pytest.raises(TicketError, match="allows 1"):
        _ask(refused, why="again")
    with pytest.raises(TicketError, match="no extension"):
        apply_decide_extension(
            refused, policy(), grant=True, by="s", why="x", today=FRIDAY, now=NOW
        )


def test_a_second_request_waits_for_the_first():
    with pytest.raises(TicketError, match="waiting for the bureau"):
        _ask(_ask(opened())[0], policy(max_extensions=2))


def test_extension_longer_than_the_profile_allows_is_refused():
    with pytest.raises(TicketError, match="1 to 10 working days"):
        _ask(opened(), workdays=15)


def test_extension_refused_where_the_profile_allows_none():
    with pytest.raises(TicketError, match="taizhou"):
        _ask(opened(), policy(max_extensions=0))


def test_extension_refused_after_the_deadline():
    with pytest.raises(TicketError, match="has passed"):
        _ask(opened(), today=dt.date(2025, 10, 17))


def test_actions_need_who_and_why():
    with pytest.raises(TicketError, match="--by"):
        apply_close(opened(), tickets.RESOLVED, by=" ", why="fixed", today=FRIDAY, now=NOW)
    with pytest.raises(TicketError, match="--why"):
        apply_close(opened(), tickets.RESOLVED, by="gaj", why="", today=FRIDAY, now=NOW)


def test_overdue_ticket_is_escalated():
    ticket = opened()
    changed, events = plan_deadlines([ticket], policy(), today=dt.date(2025, 10, 17), now=NOW)
    assert changed[0]["state"] == tickets.ESCALATED
    assert changed[0]["escalated_to"] == "data_authority"
    assert [e["event"] for e in events] == ["overdue", "escalated"]


def test_overdue_waits_before_escalation_when_configured():
    ticket = opened()
    changed, events = plan_deadlines(
        [ticket], policy(escalate_after=2), today=dt.date(2025, 10, 17), now=NOW
    )
    assert changed[0]["state"] == tickets.OVERDUE
    assert [e["event"] for e in events] == ["overdue"]
    again, events = plan_deadlines(
        changed, policy(escalate_after=2), today=dt.date(2025, 10, 20), now=NOW
    )
    assert again[0]["state"] == tickets.ESCALATED


def test_ticket_before_its_deadline_is_left_alone():
    changed, events = plan_deadlines([opened()], policy(), today=dt.date(2025, 10, 16), now=NOW)
    assert changed == [] and events == []


def test_deadlines_are_checked_on_the_bureaus_date_not_the_utc_date(lake_settings):
    tickets.sync_tickets(
        [issue()], lake_settings, build_id="b1", today=FRIDAY, now=NOW, policy=policy()
    )
    # The deadline is 2025-10-16. At 15:30 UTC it is 23:30 in Shanghai: still the deadline day.
    late_evening = lake_settings.with_clock(
        pinned_clock(dt.datetime(2025, 10, 16, 15, 30, tzinfo=dt.UTC))
    )
    assert tickets.check_deadlines(late_evening)["overdue"] == 0

    # An hour later the UTC date is still the 16th, but the bureau's is the 17th: overdue.
    after_midnight = dt.datetime(2025, 10, 16, 16, 30, tzinfo=dt.UTC)
    summary = tickets.check_deadlines(lake_settings.with_clock(pinned_clock(after_midnight)))

    assert (summary["today"], summary["overdue"]) == ("2025-10-17", 1)
    (ticket,) = tickets.read_tickets(lake_settings)
    assert (ticket["state"], ticket["escalated_on"]) == (tickets.ESCALATED, dt.date(2025, 10, 17))
    overdue = [e for e in tickets.read_events(lake_settings, "t1") if e["event"] == "overdue"]
    assert [(e["on"], e["at"]) for e in overdue] == [(dt.date(2025, 10, 17), after_midnight)]


def test_tickets_round_trip_through_the_lake_and_the_command(
    lake_settings, monkeypatch, capsys, tmp_path
):
    from jobs.cli import main

    # The command acts today, so the tickets are opened today.
    today = lake_settings.today()
    summary = tickets.sync_tickets(
        [issue("aaaa1"), issue("bbbb2")],
        lake_settings,
        build_id="b1",
        today=today,
        now=NOW,
        policy=policy(),
    )
    assert summary["open_ticket_ids"] == ["aaaa1", "bbbb2"]
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", lake_settings.lake_root)
    monkeypatch.setenv("GOVLAKE_POLICY_PROFILE", "hebi")
    monkeypatch.delenv("GOVLAKE_ACCOUNT_TOKEN", raising=False)
    create_accounts(lake_settings, RSJ_OFFICER, MZJ_OFFICER, REVIEWER, STEWARD)
    path = password_file(tmp_path)
    rsj, mzj, reviewer, steward = (
        ["--as", a.login, "--password-file", path]
        for a in (RSJ_OFFICER, MZJ_OFFICER, REVIEWER, STEWARD)
    )
    assert main(["tickets", "extend", "aaaa", *rsj, "--why", "file in archive"]) == 0
    assert main(["tickets", "extend", "aaaa", *rsj, "--why", "again"]) == 1
    assert main(["tickets", "approve-extension", "aaaa", *rsj, "--why", "ok"]) == 1
    assert main(["tickets", "approve-extension", "aaaa", *steward, "--why", "同意"]) == 0
    assert main(["tickets", "confirm", "bbbb", *mzj, "--why", "not ours"]) == 1
    assert "mzj.li (mzj: data_officer) may not ticket.close for rsj" in capsys.readouterr().err
    assert main(["tickets", "confirm", "bbbb", *reviewer, "--why", "verified"]) == 0
    assert main(["tickets", "comment", "bbbb", *rsj, "--why", "申请人已知悉"]) == 0
    capsys.readouterr()
    assert main(["tickets", "list", "--json"]) == 0
    listed = {t["ticket_id"]: t["state"] for t in __import__("json").loads(capsys.readouterr().out)}
    assert listed == {"aaaa1": tickets.EXTENDED, "bbbb2": tickets.CONFIRMED}
    events = tickets.read_events(lake_settings, "aaaa1")
    assert [(e["event"], e["by"]) for e in events] == [
        ("opened", "system"),
        ("extension_asked", "rsj.li"),
        ("extended", "steward"),
    ]
    filing = ["--base", "population", "--key", "11010519491231002X", "--element", "birth_date"]
    assert main(["tickets", "file", *filing, *mzj, "--why", "出生日期与档案不符"]) == 0
    filed = capsys.readouterr().out.split(":")[0]
    later = tickets.sync_tickets(
        [issue("bbbb2")], lake_settings, build_id="b2", today=today, now=NOW, policy=policy()
    )
    # A build that does not find a filed request leaves it to its department.
    assert later["states"] == {
        "aaaa1": tickets.RESOLVED,
        "bbbb2": tickets.CONFIRMED,
        filed: tickets.OPEN,
    }
    assert tickets.find_ticket(lake_settings, filed)["assigned_departments"] == ["gaj"]


def test_a_build_leaves_a_filed_request_open_and_closes_it_once_corrected_before_it():
    from jobs.govern.ticket_answers import apply_correct, file_request

    subject = {"base": "population", "key_kind": "citizen_id", "key": "k", "element": "gender"}
    filed, _ = file_request(
        subject,
        ["gaj.hukou"],
        policy(),
        problem="性别有误",
        by="mzj.li",
        department="mzj",
        on_behalf_of=None,
        today=FRIDAY,
        now=NOW,
    )
    kept, _ = plan_sync({"f": filed}, [], policy(), today=FRIDAY, now=NOW, build_id="b1")
    corrected, _ = apply_correct(
        filed, value="1", by="gaj.li", department="gaj", why="已更正", today=FRIDAY, now=NOW
    )
    during, _ = plan_sync({"f": corrected}, [], policy(), today=FRIDAY, now=NOW, build_id="b2")
    after, events = plan_sync(
        {"f": corrected}, [], policy(), today=FRIDAY, now=NOW + dt.timedelta(hours=1), build_id="b3"
    )

    assert (filed["assigned_departments"], kept, during) == (["gaj"], [], [])
    assert (after[0]["state"], events[0]["event"]) == (tickets.RESOLVED, "auto_resolved")
    assert after[0]["close_reason"] == "the correction is an observation of build b3"
