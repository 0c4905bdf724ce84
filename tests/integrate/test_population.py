from __future__ import annotations

import datetime as dt

import pytest

from jobs.integrate.population import (
    explode_marriage_parties,
    with_id_facts,
    with_marital_status,
)
from tests.integrate.conftest import FULL, INCR, pid

pytestmark = pytest.mark.spark

HUSBAND = pid("1960-01-01", 11)
WIFE = pid("1962-02-02", 22)  # died 2020
DIVORCED_MAN = pid("1970-03-03", 31)
DIVORCED_WOMAN = pid("1972-04-04", 42)
CHILD = pid("2015-05-05", 51)
SINGLE_ADULT = pid("1990-06-06", 62)


def test_marital_status_from_the_latest_registration_widowed_and_no_registration(spark, pool):
    marriage = pool(
        "mzj.marriage",
        [
            {
                "registration_number": "J1",
                "registration_type": "marriage",
                "registered_on": "1985-01-01",
                "male_id": HUSBAND,
                "female_id": WIFE,
            },
            {
                "registration_number": "J2",
                "registration_type": "marriage",
                "registered_on": "1995-01-01",
                "male_id": DIVORCED_MAN,
                "female_id": DIVORCED_WOMAN,
            },
        ],
        batch=FULL,
    ).unionByName(
        pool(
            "mzj.marriage",
            [
                {
                    "registration_number": "L1",
                    "registration_type": "divorce",
                    "registered_on": "2010-01-01",
                    "male_id": DIVORCED_MAN,
                    "female_id": DIVORCED_WOMAN,
                }
            ],
            batch=INCR,
        )
    )
    persons = spark.createDataFrame(
        [
            (HUSBAND, None),
            (WIFE, dt.date(2020, 1, 1)),
            (DIVORCED_MAN, None),
            (CHILD, None),
            (SINGLE_ADULT, None),
        ],
        "person_id string, death_date date",
    ).transform(with_id_facts)
    out = with_marital_status(persons, explode_marriage_parties(marriage), dt.date(2025, 1, 29))
    got = {r["person_id"]: (r["marital_status"], r["spouse_id"]) for r in out.collect()}
    assert got == {
        HUSBAND: ("30", WIFE),  # widowed: the spouse of his standing marriage died
        WIFE: ("20", HUSBAND),
        DIVORCED_MAN: ("40", None),
        CHILD: ("10", None),  # below the legal marriage age
        SINGLE_ADULT: ("90", None),  # no registration here: not stated
    }
    provenance = {r["person_id"]: r["marital_status_provenance"] for r in out.collect()}
    assert provenance[DIVORCED_MAN]["registration_number"] == "L1"
    assert provenance[CHILD] is None


HUSBAND_SAYS_SINGLE = pid("1960-01-01", 13)
HIS_WIFE = pid("1962-02-02", 24)
WIDOWER = pid("1950-01-01", 33)
LATE_WIFE = pid("1952-02-02", 44)  # died 2020
DIVORCEE_STALE = pid("1970-03-03", 53)  # hukou spoke before the divorce: late, not in conflict
DIVORCEE_MARRIED = pid("1972-04-04", 64)  # hukou spoke after the divorce: conflict
FIRST_MARRIAGE = pid("1980-05-05", 73)
HIS_BRIDE = pid("1982-06-06", 84)
MARRIED_ELSEWHERE = pid("1975-07-07", 93)  # no registration here: the hukou's word stands
SAID_SINGLE_THEN_DIVORCED = pid("1966-10-10", 35)  # married when hukou said "unmarried"
SPOUSE_OF_SAID_SINGLE = pid("1968-11-11", 46)
DECEASED = pid("1940-08-08", 15)  # died 2019, "married" 2021: the deceased_married anomaly's
PARTNER = pid("1990-09-09", 26)


def test_a_statement_made_after_the_registration_that_contradicts_it_is_a_conflict(
    spark, pool, config, tmp_path
):
    from jobs.integrate.pipeline import integrate

    def registration(number, kind, on, male, female):
        return {
            "registration_number": number,
            "registration_type": kind,
            "registered_on": on,
            "male_id": male,
            "female_id": female,
        }

    marriage = pool(
        "mzj.marriage",
        [
            registration("J1", "marriage", "1985-01-01", HUSBAND_SAYS_SINGLE, HIS_WIFE),
            registration("J2", "marriage", "1975-01-01", WIDOWER, LATE_WIFE),
            registration("J3", "marriage", "1995-01-01", DIVORCEE_STALE, DIVORCEE_MARRIED),
            registration("J4", "marriage", "2005-01-01", FIRST_MARRIAGE, HIS_BRIDE),
            registration("J9", "marriage", "2021-01-01", DECEASED, PARTNER),
            registration(
                "J5", "marriage", "1990-01-01", SAID_SINGLE_THEN_DIVORCED, SPOUSE_OF_SAID_SINGLE
            ),
        ],
    ).unionByName(
        pool(
            "mzj.marriage",
            [
                registration("L1", "divorce", "2025-01-05", DIVORCEE_STALE, DIVORCEE_MARRIED),
                registration(
                    "L2",
                    "divorce",
                    "2025-01-06",
                    SAID_SINGLE_THEN_DIVORCED,
                    SPOUSE_OF_SAID_SINGLE,
                ),
            ],
            batch=INCR,
        )
    )
    deaths = pool(
        "wjw.death_cert",
        [
            {"certificate_number": "D1", "person_id": LATE_WIFE, "death_date": "2020-01-01"},
            {"certificate_number": "D2", "person_id": DECEASED, "death_date": "2019-01-01"},
        ],
    )
    says = {
        HUSBAND_SAYS_SINGLE: "10",
        HIS_WIFE: "20",
        WIDOWER: "30",
        DIVORCEE_STALE: "20",
        FIRST_MARRIAGE: "21",
        HIS_BRIDE: "90",
        MARRIED_ELSEWHERE: "20",
        PARTNER: "10",
        SAID_SINGLE_THEN_DIVORCED: "10",
    }
    hukou = pool(
        "gaj.hukou",
        [{"person_id": p, "marital_status": s} for p, s in says.items()],
    ).unionByName(
        pool("gaj.hukou", [{"person_id": DIVORCEE_MARRIED, "marital_status": "20"}], batch=INCR)
    )
    pools = {"gaj.hukou": hukou, "mzj.marriage": marriage, "wjw.death_cert": deaths}
    bases = integrate(pools, config, dt.date(2025, 1, 29), spark, scratch=str(tmp_path))

    conflicts = {
        i["key"]: i
        for i in bases.issues.where("element = 'marital_status'").collect()
        if i["issue_type"] == "conflict"
    }
    assert set(conflicts) == {HUSBAND_SAYS_SINGLE, DIVORCEE_MARRIED, SAID_SINGLE_THEN_DIVORCED}
    single = conflicts[HUSBAND_SAYS_SINGLE]
    assert single["departments"] == ["gaj"] and single["resources"] == ["gaj.hukou"]
    assert (single["surviving_value"], single["surviving_department"]) == ("20", "mzj")
    assert [(v["value"], v["departments"]) for v in single["observed_values"]] == [
        ("20", ["mzj"]),
        ("10", ["gaj"]),
    ]
    assert conflicts[DIVORCEE_MARRIED]["surviving_value"] == "40"
    # compared with the marriage registered before the statement, shown with today's status
    assert "J5" in conflicts[SAID_SINGLE_THEN_DIVORCED]["detail"]
    assert conflicts[SAID_SINGLE_THEN_DIVORCED]["surviving_value"] == "40"
    anomalies = {
        (i["rule"], i["key"]) for i in bases.issues.where("issue_type = 'anomaly'").collect()
    }
    assert ("deceased_married", DECEASED) in anomalies

    statuses = {r["person_id"]: r["marital_status"] for r in bases.population.collect()}
    assert statuses[HUSBAND_SAYS_SINGLE] == "20"  # the authority wins
    assert statuses[WIDOWER] == "30"
    assert statuses[MARRIED_ELSEWHERE] == "20"  # no registration: the hukou's statement
    registry = {
        (r["key"], r["value"], r["resource"])
        for r in bases.observations.where(
            "element = 'marital_status' and resource = 'mzj.marriage'"
        ).collect()
    }
    assert (DIVORCEE_STALE, "40", "mzj.marriage") in registry
    assert (HUSBAND_SAYS_SINGLE, "20", "mzj.marriage") in registry
