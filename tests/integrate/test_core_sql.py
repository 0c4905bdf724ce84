"""The integration core as DuckDB SQL over statement rows (``jobs.integrate.core_sql``).

Inline statement rows, no Spark: each test states what departments said about a few persons or
entities and reads the four core tables. The same rules as the Spark core's (tests of
``survivorship``); ``test_core_reference`` compares the two on a generated county.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from jobs.integrate.core_sql import (
    CORE_TABLES,
    MEMBER_PREFIX,
    STATEMENT_ROWS_SCHEMA,
    core_on_statements,
    statement_queries,
)
from tests.integrate.conftest import FULL, INCR, pid, uscc

P1, P2, P3 = pid("1990-03-07", 11), pid("1985-11-20", 12), pid("2001-01-30", 13)
E1 = uscc("MA123456")
TIMEZONE = "Asia/Shanghai"

_DELIVERED = {
    FULL: dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    INCR: dt.datetime(2025, 1, 8, tzinfo=dt.UTC),
}


def said(
    resource: str,
    key: str,
    batch: str = FULL,
    row: int = 1,
    record_key: str | None = None,
    key_kind: str = "citizen_id",
    **values: str | None,
) -> dict:
    """One pool row's statements about ``key`` (element = value; None: the field is empty)."""
    return {
        "key_kind": key_kind,
        "key": key,
        "statements": [
            {"element": element, "value": value, "field": element}
            for element, value in values.items()
        ],
        "department": resource.split(".")[0],
        "resource": resource,
        "record_key": record_key or key,
        "batch_id": batch,
        "observed_at": _DELIVERED[batch],
        "source_file": f"{resource.split('.')[1]}_{batch}.csv",
        "row_number": row,
    }


def member(base: str, key: str, key_kind: str = "citizen_id") -> dict:
    """A row saying only that ``key`` is a member of ``base``."""
    return {"key_kind": key_kind, "key": key, "statements": [], "resource": MEMBER_PREFIX + base}


@pytest.fixture(scope="module")
def queries(config):
    return statement_queries(config)


def core(queries, rows: list[dict]) -> dict[str, list[dict]]:
    tables = core_on_statements(
        pa.Table.from_pylist(rows, STATEMENT_ROWS_SCHEMA), queries, TIMEZONE
    )
    return {name: table.to_pylist() for name, table in tables.items()}


def survivor(out: dict, key: str, element: str) -> dict:
    (value,) = [v for v in out["attribute_values"] if v["key"] == key and v["element"] == element]
    return value


def test_every_table_is_made_and_empty_for_no_statements(queries):
    out = core(queries, [])

    assert sorted(out) == sorted(CORE_TABLES)
    assert all(rows == [] for rows in out.values())


def test_authority_wins_over_a_more_recent_and_more_frequent_value(queries):
    out = core(
        queries,
        [
            said("gaj.hukou", P1, FULL, person_name="张三"),
            said("rsj.insured", P1, INCR, record_key=f"{P1}|pension", person_name="张山"),
            said("jyj.student", P1, INCR, person_name="张山"),
        ],
    )

    name = survivor(out, P1, "person_name")
    assert (name["value"], name["resource"], name["survived_by"], name["n_values"]) == (
        "张三",
        "gaj.hukou",
        "authority",
        2,
    )
    assert [(v["value"], v["resources"]) for v in name["losing_values"]] == [
        ("张山", ["jyj.student", "rsj.insured"])
    ]
    assert name["dissenting_departments"] == ["jyj", "rsj"]


def test_most_recent_wins_without_authority_then_most_frequent_then_smallest(queries):
    out = core(
        queries,
        [
            # P1: the phone is not the hukou's authority; the later delivery wins.
            said("rsj.insured", P1, FULL, phone_number="13800000001"),
            said("gaj.hukou", P1, INCR, phone_number="13800000002"),
            # P2: equally recent, two sources against one.
            said("gaj.driving_licence", P2, FULL, person_name="王五"),
            said("rsj.insured", P2, FULL, person_name="王伍"),
            said("jyj.student", P2, FULL, person_name="王伍"),
            # P3: one source each, equally recent: the smallest value.
            said("rsj.insured", P3, FULL, phone_number="13900000002"),
            said("jyj.student", P3, FULL, phone_number="13900000001"),
        ],
    )

    assert [
        (survivor(out, key, element)["value"], survivor(out, key, element)["survived_by"])
        for key, element in ((P1, "phone_number"), (P2, "person_name"), (P3, "phone_number"))
    ] == [("13800000002", "recency"), ("王伍", "frequency"), ("13900000001", "tie_break")]


def test_a_later_delivery_of_a_record_replaces_its_value_empty_values_state_nothing(queries):
    out = core(
        queries,
        [
            said("rsj.insured", P1, FULL, record_key="r1", phone_number="13800000001"),
            said("rsj.insured", P1, INCR, record_key="r1", phone_number="13800000009"),
            # An empty field is no statement: it neither wins nor disputes.
            said("jyj.student", P1, INCR, phone_number=None),
        ],
    )

    phone = survivor(out, P1, "phone_number")
    assert (phone["value"], phone["survived_by"], phone["n_values"]) == (
        "13800000009",
        "agreement",
        1,
    )
    assert phone["batch_id"] == INCR


def test_base_rows_one_per_member_typed_non_members_left_out_and_conflicts_found(queries):
    out = core(
        queries,
        [
            said("gaj.hukou", P1, person_name="张三", birth_date="1990-03-07"),
            said("rsj.insured", P1, person_name="张山"),
            member("population", P1),
            member("population", P1),  # a member twice (hukou and insurance) is one row
            member("population", P2),  # a member no source describes: NULL attributes
            said("jyj.student", P3, person_name="李四"),  # not a member: no row
            said("scjgj.enterprise", E1, key_kind="uscc", entity_name="某某有限公司"),
            member("legal_entity", E1, key_kind="uscc"),
        ],
    )

    people = {row["person_id"]: row for row in out["population"]}
    assert sorted(people) == sorted([P1, P2])
    assert people[P1]["person_name"] == "张三"
    assert people[P1]["birth_date"] == dt.date(1990, 3, 7)
    assert people[P1]["person_name_provenance"]["survived_by"] == "authority"
    assert people[P2]["person_name"] is None
    assert [row["entity_name"] for row in out["legal_entity"]] == ["某某有限公司"]
    (conflict,) = out["conflicts"]
    assert (conflict["element"], conflict["key"], conflict["surviving_value"]) == (
        "person_name",
        P1,
        "张三",
    )
    assert conflict["departments"] == ["rsj"]


def test_times_come_out_as_the_same_instants_in_utc_as_delta_stores_them(queries):
    rows = [said("gaj.hukou", P1, INCR, person_name="张三"), member("population", P1)]

    tables = core_on_statements(
        pa.Table.from_pylist(rows, STATEMENT_ROWS_SCHEMA), queries, TIMEZONE
    )

    observed_at = tables["attribute_values"].column("observed_at")
    assert observed_at.type == pa.timestamp("us", tz="UTC")
    assert observed_at.to_pylist() == [_DELIVERED[INCR]]
    provenance = tables["population"].column("person_name_provenance").type
    assert provenance.field("observed_at").type == pa.timestamp("us", tz="UTC")


def corrected(resource: str, key: str, element: str, value: str, at: dt.datetime) -> dict:
    """A correction its department made answering ticket t1 (``governance/verification_corrections``
    as a statement row)."""
    return {
        "key_kind": "citizen_id",
        "key": key,
        "statements": [{"element": element, "value": value, "field": None}],
        "department": resource.split(".")[0],
        "resource": resource,
        "record_key": None,
        "batch_id": "verification/t1",
        "observed_at": at,
        "source_file": "verification",
        "row_number": 0,
    }


def test_a_correction_replaces_the_departments_value_in_every_record_and_clears_the_conflict(
    queries,
):
    delivered = [
        said("gaj.hukou", P1, FULL, person_name="张三"),
        said("rsj.insured", P1, INCR, record_key=f"{P1}|pension", person_name="张山"),
        said("rsj.insured", P1, INCR, record_key=f"{P1}|medical", person_name="张山"),
        member("population", P1),
    ]
    answered = dt.datetime(2025, 9, 27, 2, 0, tzinfo=dt.UTC)

    before = core(queries, delivered)
    after = core(
        queries, [*delivered, corrected("rsj.insured", P1, "person_name", "张三", answered)]
    )

    assert survivor(before, P1, "person_name")["n_values"] == 2
    assert len(before["conflicts"]) == 1
    name = survivor(after, P1, "person_name")
    # Both insurance records now state the corrected value: one value, no conflict.
    assert (name["value"], name["n_values"], name["survived_by"], name["n_sources"]) == (
        "张三",
        1,
        "agreement",
        2,
    )
    assert after["conflicts"] == []


def test_a_correction_no_record_states_is_observed_under_its_own_resource(queries):
    answered = dt.datetime(2025, 9, 27, 2, 0, tzinfo=dt.UTC)

    out = core(
        queries,
        [
            said("rsj.insured", P1, INCR, phone_number="13800000001"),
            corrected("jyj.student", P1, "phone_number", "13800000002", answered),
        ],
    )

    phone = survivor(out, P1, "phone_number")
    assert (phone["value"], phone["resource"], phone["field"], phone["survived_by"]) == (
        "13800000002",
        "jyj.student",
        "phone_number",
        "recency",
    )
    assert (phone["batch_id"], phone["source_file"]) == ("verification/t1", "verification")
