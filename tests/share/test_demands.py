from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from jobs.govern import procedure
from jobs.govern.procedure import ProcedureError
from jobs.settings import pinned_clock
from jobs.share import demands, grants
from jobs.share.demands import Demand
from jobs.store.roles import APPROVER, Actor, Forbidden
from tests.actors import GAJ_OFFICER, MZJ_OFFICER, RSJ_APPROVER, STEWARD

GAJ_APPROVER = Actor("gaj.zhao", "gaj", frozenset({APPROVER}))
#: Friday 2025-01-24, before Spring Festival (01-28 to 02-04 off; Sunday 01-26 and Saturday
#: 02-08 worked).
BEFORE_SPRING_FESTIVAL = dt.datetime(2025, 1, 24, 2, 0, tzinfo=dt.UTC)
#: Tuesday 2025-09-30, the day before National Day (10-01 to 10-08 off, Saturday 10-11 worked).
BEFORE_NATIONAL_DAY = dt.datetime(2025, 9, 30, 2, 0, tzinfo=dt.UTC)
DRIVERS = Demand(
    description="驾驶证状态",
    purpose="低保资格复核",
    legal_basis="社会救助暂行办法 第十一条",
    fields=("person_id", "driving_class"),
    holder="gaj",
)


def at(settings, instant: dt.datetime):
    return settings.with_clock(pinned_clock(instant))


@pytest.fixture
def taizhou(store_settings):
    """泰州: answer a demand within 5 wd, deliver within 5 wd of the answer (001 §11)."""
    return at(dataclasses.replace(store_settings, policy_profile="taizhou"), BEFORE_SPRING_FESTIVAL)


def test_a_demand_is_due_for_an_answer_after_spring_festival(taizhou):
    record = demands.file_demand(taizhou, DRIVERS, by=MZJ_OFFICER)

    assert (record["state"], record["departments"]) == ("submitted", ["gaj"])
    assert (record["due_on"], record["due_provisional"]) == (dt.date(2025, 2, 7), False)


def test_the_delivery_deadline_is_counted_from_the_answer(taizhou):
    record = demands.file_demand(taizhou, DRIVERS, by=MZJ_OFFICER)
    answer_day = at(taizhou, BEFORE_NATIONAL_DAY)

    accepted = demands.answer_demand(
        answer_day, record["id"], True, by=GAJ_APPROVER, why="同意提供"
    )

    # five working days after 09-30, not after 01-24: 10-09, 10-10, 10-11 (Sat), 10-13, 10-14
    assert (accepted["state"], accepted["due_on"]) == ("accepted", dt.date(2025, 10, 14))
    assert accepted["closed_on"] is None


def test_a_demand_is_delivered_as_a_grant_of_the_asking_department(taizhou):
    record = demands.file_demand(taizhou, DRIVERS, by=MZJ_OFFICER)
    demands.answer_demand(taizhou, record["id"], True, by=GAJ_APPROVER, why="同意")
    grant = grants.request_share(
        taizhou,
        consumer="mzj",
        dataset_id="gaj.hukou",
        fields=["person_id"],
        purpose="低保资格复核",
        by=MZJ_OFFICER,
    )

    with pytest.raises(ProcedureError, match=r"no catalog resource 'gaj\.cars'"):
        demands.deliver_demand(
            taizhou, record["id"], by=GAJ_OFFICER, kind="resource", target="gaj.cars", why="已编目"
        )
    delivered = demands.deliver_demand(
        taizhou,
        record["id"],
        by=GAJ_OFFICER,
        kind="grant",
        target=grant["request_id"],
        why="已共享",
    )

    assert delivered["state"] == "delivered"
    assert delivered["facts"]["delivered_as"] == {"kind": "grant", "id": grant["request_id"]}
    history = procedure.history(taizhou, demands.DEMAND, record["id"])
    assert [(e["action"], e["by"]) for e in history] == [
        ("filed", "mzj.li"),
        ("accepted", "gaj.zhao"),
        ("delivered", "gaj.li"),
    ]


def test_a_refusal_needs_its_reason_and_legal_basis(taizhou):
    record = demands.file_demand(taizhou, DRIVERS, by=MZJ_OFFICER)

    with pytest.raises(ProcedureError, match="legal basis of the refusal"):
        demands.answer_demand(taizhou, record["id"], False, by=GAJ_APPROVER, why="涉密")
    refused = demands.answer_demand(
        taizhou,
        record["id"],
        False,
        by=GAJ_APPROVER,
        why="涉及个人隐私",
        legal_basis="个人信息保护法 第十三条",
    )

    assert (refused["state"], refused["closed_by"]) == ("refused", "gaj.zhao")
    assert refused["facts"]["refusal_legal_basis"] == "个人信息保护法 第十三条"
    with pytest.raises(ProcedureError, match="only an accepted one is delivered"):
        demands.deliver_demand(
            taizhou, record["id"], by=GAJ_OFFICER, kind="resource", target="gaj.hukou", why="x"
        )


def test_only_the_holder_or_the_bureau_answers(taizhou):
    record = demands.file_demand(taizhou, DRIVERS, by=MZJ_OFFICER)

    with pytest.raises(Forbidden):
        demands.answer_demand(taizhou, record["id"], True, by=RSJ_APPROVER, why="同意")
    answered = demands.answer_demand(
        taizhou, record["id"], True, by=STEWARD, why="由大数据局协调提供"
    )

    assert answered["state"] == "accepted"


def test_a_profile_without_demand_numbers_sets_no_due_date(taizhou):
    hebi = dataclasses.replace(taizhou, policy_profile="hebi")

    record = demands.file_demand(
        hebi, dataclasses.replace(DRIVERS, holder="bureau"), by=MZJ_OFFICER
    )

    assert (record["due_on"], record["departments"]) == (None, ["bureau"])


def test_a_demand_names_a_known_holder(taizhou):
    with pytest.raises(ProcedureError, match="no department 'cars'"):
        demands.file_demand(taizhou, dataclasses.replace(DRIVERS, holder="cars"), by=MZJ_OFFICER)


def test_demand_counts_per_holder():
    def record(state, due_on, closed_on=None, opened_on=dt.date(2025, 3, 3)):
        return {
            "state": state,
            "departments": ["gaj"],
            "opened_on": opened_on,
            "due_on": due_on,
            "closed_on": closed_on,
        }

    rows = [
        record("delivered", dt.date(2025, 3, 20), dt.date(2025, 3, 19)),
        record("delivered", dt.date(2025, 3, 20), dt.date(2025, 3, 21)),
        record("refused", dt.date(2025, 3, 10), dt.date(2025, 3, 4)),
        record("submitted", dt.date(2025, 3, 10)),
        record("submitted", dt.date(2024, 3, 10), opened_on=dt.date(2024, 3, 3)),
    ]

    assert demands.demand_counts(rows, 2025, dt.date(2025, 12, 31)) == {
        "gaj": demands.DemandCounts(
            received=4, accepted=2, refused=1, delivered=2, delivered_on_time=1
        )
    }


def test_a_demand_due_in_a_year_without_an_official_calendar_is_provisional(taizhou):
    new_years_eve = at(taizhou, dt.datetime(2026, 12, 30, 2, 0, tzinfo=dt.UTC))

    record = demands.file_demand(new_years_eve, DRIVERS, by=MZJ_OFFICER)

    assert (record["due_on"], record["due_provisional"]) == (dt.date(2027, 1, 6), True)


def test_the_bureau_forwards_a_demand_to_the_holder_which_receives_it_that_day(taizhou):
    record = demands.file_demand(
        taizhou, dataclasses.replace(DRIVERS, holder="bureau"), by=MZJ_OFFICER
    )
    forward_day = at(taizhou, BEFORE_NATIONAL_DAY)

    with pytest.raises(Forbidden):
        demands.forward_demand(forward_day, record["id"], "gaj", by=GAJ_OFFICER, why="我局持有")
    with pytest.raises(ProcedureError, match="cannot be forwarded to mzj"):
        demands.forward_demand(forward_day, record["id"], "mzj", by=STEWARD, why="退回")
    forwarded = demands.forward_demand(
        forward_day, record["id"], "gaj", by=STEWARD, why="驾驶证由公安局持有"
    )

    assert (forwarded["state"], forwarded["departments"]) == ("submitted", ["gaj"])
    assert forwarded["due_on"] == dt.date(2025, 10, 14)  # 5 wd from 09-30, over National Day
    assert [r["id"] for r in demands.demands_of(taizhou, "gaj")] == [record["id"]]
    with pytest.raises(Forbidden):
        demands.answer_demand(forward_day, record["id"], True, by=RSJ_APPROVER, why="同意")
    accepted = demands.answer_demand(forward_day, record["id"], True, by=GAJ_APPROVER, why="同意")
    assert accepted["state"] == "accepted"
