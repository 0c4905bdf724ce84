from __future__ import annotations

import datetime as dt

import pytest

from jobs.integrate.population import with_id_facts, with_marital_status
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
    out = with_marital_status(persons, marriage, dt.date(2025, 1, 29))
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
