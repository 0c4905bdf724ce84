from __future__ import annotations

import datetime as dt

import pytest

from jobs.audit import log as audit
from jobs.govern import tickets
from jobs.govern.inbox import inbox_of
from jobs.govern.ticket_snapshot import disputed_elements, lake_corrections
from jobs.govern.tickets import TicketError
from jobs.integrate.config import load_integration_config
from jobs.settings import pinned_clock
from jobs.store.roles import BUREAU, Forbidden
from tests.actors import BUREAU_AUDITOR, MZJ_OFFICER, REVIEWER, RSJ_OFFICER, STEWARD
from tests.govern.test_tickets import FRIDAY, NOW, issue, policy

KEY = "11010519491231002X"
DUE = dt.date(2025, 10, 16)  # ten working days after Friday 26 Sep 2025, National Day between


@pytest.fixture
def settings(store_settings):
    return store_settings.with_clock(pinned_clock(NOW))


def _sync(settings, *issues, build_id="b1", now=NOW):
    return tickets.sync_tickets(
        list(issues), settings, build_id=build_id, today=now.date(), now=now, policy=policy()
    )


def _events(settings, ticket_id):
    return [(e["event"], e["by"], e["to_state"]) for e in tickets.read_events(settings, ticket_id)]


def _marks(settings):
    return disputed_elements(settings, "population", [KEY])


def test_another_department_can_neither_answer_nor_ask_for_an_extension(settings):
    _sync(settings, issue("t1"))
    answers = [
        lambda by: tickets.correct_ticket(settings, "t1", by=by, value="张三", why="已更正"),
        lambda by: tickets.dispute_ticket(settings, "t1", by=by, why="不是我们的数据"),
        lambda by: tickets.ask_extension(settings, "t1", by=by, why="档案在库房"),
        lambda by: tickets.close_ticket(settings, "t1", tickets.CONFIRMED, by=by, why="核实"),
    ]
    for answer in answers:
        with pytest.raises(Forbidden, match=r"mzj\.li"):
            answer(MZJ_OFFICER)
    # The bureau settles, but corrects no department's value and asks for no extension.
    with pytest.raises(Forbidden, match=r"may not ticket\.correct"):
        answers[0](STEWARD)
    with pytest.raises(Forbidden, match=r"may not ticket\.extend"):
        answers[2](REVIEWER)

    assert _events(settings, "t1") == [("opened", "system", "open")]


def test_only_the_bureaus_steward_decides_an_extension_and_only_one_is_asked(settings):
    _sync(settings, issue("t1"))
    with pytest.raises(TicketError, match="1 to 10 working days"):
        tickets.ask_extension(settings, "t1", by=RSJ_OFFICER, why="档案在库房", workdays=11)
    tickets.ask_extension(settings, "t1", by=RSJ_OFFICER, why="档案在库房", workdays=5)
    (waiting,) = inbox_of(settings, BUREAU, today=FRIDAY)  # referred to the data authority
    assert (waiting["id"], waiting["extension_asked"]) == ("t1", True)
    for not_the_steward in (RSJ_OFFICER, REVIEWER):
        with pytest.raises(Forbidden, match=r"may not ticket\.decide_extension"):
            tickets.decide_extension(settings, "t1", grant=True, by=not_the_steward, why="同意")
    assert tickets.find_ticket(settings, "t1")["deadline"] == DUE

    extended = tickets.decide_extension(settings, "t1", grant=True, by=STEWARD, why="同意")
    with pytest.raises(TicketError, match="allows 1"):
        tickets.ask_extension(settings, "t1", by=RSJ_OFFICER, why="再延期")

    assert (extended["state"], extended["deadline"]) == (tickets.EXTENDED, dt.date(2025, 10, 23))
    assert (extended["escalated_to"], inbox_of(settings, BUREAU, today=FRIDAY)) == (None, [])
    assert _events(settings, "t1")[1:] == [
        ("extension_asked", "rsj.li", "open"),
        ("extended", "steward", "extended"),
    ]
    extended_entry = [e for e in audit.read_entries(settings) if e["action"] == "ticket_extended"]
    assert [e["actor"] for e in extended_entry] == ["steward"]


def test_a_request_goes_to_the_elements_authoritative_department_and_marks_the_record(settings):
    key_kind, resources = load_integration_config(settings).verification_subject(
        "population", "birth_date"
    )
    subject = {"base": "population", "key_kind": key_kind, "key": KEY, "element": "birth_date"}
    with pytest.raises(Forbidden, match=r"may not ticket\.file"):
        tickets.file_ticket(settings, subject, resources=resources, by=BUREAU_AUDITOR, problem="?")

    filed = tickets.file_ticket(
        settings,
        subject,
        resources=resources,
        by=STEWARD,
        problem="申请人称出生日期登记有误",
        on_behalf_of="张三 (申请人)",
    )

    assert (filed["assigned_departments"], filed["resources"]) == (["gaj"], ["gaj.hukou"])
    assert (filed["state"], filed["opened_on"], filed["deadline"]) == (tickets.OPEN, FRIDAY, DUE)
    assert [line["id"] for line in inbox_of(settings, "gaj", today=FRIDAY)] == [filed["ticket_id"]]
    assert inbox_of(settings, "rsj", today=FRIDAY) == []
    assert _marks(settings) == {KEY: ["birth_date"]}
    assert _events(settings, filed["ticket_id"]) == [("filed", "steward", "open")]
    # A using department files for itself.
    mine = tickets.file_ticket(settings, subject, resources=resources, by=RSJ_OFFICER, problem="?")
    assert tickets.find_ticket(settings, mine["ticket_id"])["workflow"]["filed"]["department"] == (
        "rsj"
    )


def test_the_mark_follows_the_ticket_when_it_is_answered_not_only_at_the_next_build(settings):
    _sync(settings, issue("t1"), issue("t2", element="gender"))
    assert _marks(settings) == {KEY: ["gender", "person_name"]}

    tickets.close_ticket(settings, "t2", tickets.CONFIRMED, by=RSJ_OFFICER, why="值已核实")
    assert _marks(settings) == {KEY: ["person_name"]}
    # Disputed, the record stays marked while the bureau coordinates (协调核实).
    disputed = tickets.dispute_ticket(settings, "t1", by=RSJ_OFFICER, why="我局登记的是张山")
    assert (disputed["state"], disputed["escalated_to"]) == (tickets.DISPUTED, "data_authority")
    assert [line["id"] for line in inbox_of(settings, BUREAU, today=FRIDAY)] == ["t1"]
    assert _marks(settings) == {KEY: ["person_name"]}
    tickets.close_ticket(settings, "t1", tickets.RESOLVED, by=STEWARD, why="协调后以公安为准")
    assert _marks(settings) == {}


def test_a_correction_is_the_departments_observation_and_the_next_build_closes_the_ticket(
    settings,
):
    _sync(settings, issue("t1"), issue("t2", element="gender"))
    corrected = tickets.correct_ticket(
        settings, "t1", by=RSJ_OFFICER, value="张三", why="按户籍更正"
    )
    with pytest.raises(TicketError, match="no 性别 code; one of: 0 未知的性别, 1 男, 2 女"):
        tickets.correct_ticket(settings, "t2", by=RSJ_OFFICER, value="女士", why="按户籍更正")
    tickets.correct_ticket(settings, "t2", by=RSJ_OFFICER, value="女", why="按户籍更正")
    with pytest.raises(TicketError, match="only an unanswered ticket"):
        tickets.dispute_ticket(settings, "t1", by=RSJ_OFFICER, why="改主意了")

    assert corrected["state"] == tickets.CORRECTED
    rows = sorted(tickets.read_corrections(settings).to_pylist(), key=lambda r: r["ticket_id"])
    assert sorted(lake_corrections(settings).to_pylist(), key=lambda r: r["ticket_id"]) == rows
    assert [
        (r["ticket_id"], r["key"], r["element"], r["value"], r["department"]) for r in rows
    ] == [
        ("t1", KEY, "person_name", "张三", "rsj"),
        ("t2", KEY, "gender", "2", "rsj"),
    ]
    assert rows[0]["resource"] == "rsj.insured"
    assert _marks(settings) == {KEY: ["gender", "person_name"]}  # until the build takes it in

    # The next build: t1's conflict is gone, t2's is not (the build started after both).
    later = NOW + dt.timedelta(days=1)
    _sync(settings, issue("t2", element="gender"), build_id="b2", now=later)
    assert _events(settings, "t1")[-1] == ("auto_resolved", "system", "resolved")
    assert _events(settings, "t2")[-1] == ("rechecked", "system", "open")
    assert _marks(settings) == {KEY: ["gender"]}
