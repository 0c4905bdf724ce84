from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from jobs.integrate.pipeline import integrate
from tests.integrate.conftest import INCR, pid, uscc

pytestmark = pytest.mark.spark

AS_OF = dt.date(2025, 1, 29)
P1 = pid("1980-01-01", 11)  # man
P2 = pid("1985-03-03", 24)  # woman, hukou says man: gender_id_mismatch
P3 = pid("1950-07-07", 31)  # died 2024-06-01
P4 = pid("1975-02-02", 41, region="130427")  # outsider: holds a licence, not in population
P5 = pid("1970-09-09", 51, region="152322")  # outsider: a legal representative
E1 = uscc("10000001")  # deregistered at market regulation, normal at tax
E2 = uscc("10000002")  # active, representative not in population
E3 = uscc("10000003")  # business licence only
PARCEL_OK, PARCEL_BOWTIE, PARCEL_OUT = (f"410622001001JC{n:05d}" for n in (1, 2, 3))


def square(x: float, y: float, twisted: bool = False) -> str:
    s = 0.0005
    ring = [[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]
    if twisted:
        ring[1], ring[2] = ring[2], ring[1]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


@pytest.fixture
def county(pool):
    return {
        "gaj.hukou": pool(
            "gaj.hukou",
            [
                {"person_id": P1, "full_name": "张三", "gender": "1", "birth_date": "1980-01-01"},
                {"person_id": P2, "full_name": "李梅", "gender": "1", "birth_date": "1985-03-03"},
                {"person_id": P3, "full_name": "王老", "gender": "1", "birth_date": "1950-07-07"},
            ],
        ),
        "wjw.death_cert": pool(
            "wjw.death_cert",
            [
                {
                    "certificate_number": "D1",
                    "person_id": P3,
                    "full_name": "王老",
                    "death_date": "2024-06-01",
                }
            ],
        ),
        "rsj.insured": pool(
            "rsj.insured",
            [
                {
                    "person_id": P1,
                    "insurance_type": "pension",
                    "full_name": "张山",
                    "insurance_status": "active",
                    "employer_uscc": E2,
                },
                {
                    "person_id": P3,
                    "insurance_type": "pension",
                    "full_name": "王老",
                    "insurance_status": "active",
                },
            ],
        ),
        "gaj.driving_licence": pool(
            "gaj.driving_licence",
            [
                {
                    "person_id": P1,
                    "full_name": "张三",
                    "file_number": "L1",
                    "valid_to": "2024-01-01",
                    "licence_status": "valid",
                },
                {
                    "person_id": P3,
                    "full_name": "王老",
                    "file_number": "L3",
                    "valid_to": "2030-01-01",
                    "licence_status": "valid",
                },
                {
                    "person_id": P4,
                    "full_name": "赵外",
                    "file_number": "L4",
                    "valid_to": "2030-01-01",
                    "licence_status": "valid",
                },
            ],
        ),
        "scjgj.enterprise": pool(
            "scjgj.enterprise",
            [
                {
                    "uscc": E1,
                    "entity_name": "甲公司",
                    "legal_representative_id": P1,
                    "entity_status": "deregistered",
                },
                {
                    "uscc": E2,
                    "entity_name": "乙公司",
                    "legal_representative_id": P5,
                    "entity_status": "active",
                },
            ],
        ),
        "swj.taxpayer": pool(
            "swj.taxpayer", [{"uscc": E1, "entity_name": "甲公司", "tax_status": "normal"}]
        ),
        "scjgj.business_licence": pool(
            "scjgj.business_licence",
            [{"uscc": E3, "entity_name": "丙商行", "licence_status": "valid"}],
        ),
        "zrzyj.parcel": pool(
            "zrzyj.parcel",
            [
                {
                    "parcel_code": PARCEL_OK,
                    "land_area": Decimal("2510"),
                    "geometry": square(114.2, 35.6),
                },
                {"parcel_code": PARCEL_BOWTIE, "geometry": square(114.21, 35.6, twisted=True)},
                {"parcel_code": PARCEL_OUT, "geometry": square(114.6, 35.6)},
            ],
        ),
    }


def test_integration_finds_the_conflicts_and_anomalies_of_a_tiny_county(
    spark, config, county, tmp_path
):
    bases = integrate(county, config, AS_OF, spark, scratch=str(tmp_path))
    found = {
        (i["issue_type"], i["rule"] or i["element"], i["key"], tuple(i["departments"]))
        for i in bases.issues.collect()
    }
    assert found == {
        ("conflict", "person_name", P1, ("rsj",)),
        ("anomaly", "gender_id_mismatch", P2, ("gaj",)),
        ("anomaly", "deceased_still_insured", P3, ("rsj",)),
        ("anomaly", "deceased_holds_valid_licence", P3, ("gaj",)),
        ("anomaly", "licence_expired", P1, ("gaj",)),
        ("anomaly", "licence_holder_not_in_population", P4, ("gaj",)),
        ("anomaly", "legal_representative_not_in_population", E2, ("scjgj",)),
        ("anomaly", "deregistered_but_active_at_tax", E1, ("swj",)),
        ("anomaly", "licence_holder_not_in_legal_entity", E3, ("scjgj",)),
        ("anomaly", "parcel_invalid_geometry", PARCEL_BOWTIE, ("zrzyj",)),
        ("anomaly", "parcel_outside_jurisdiction", PARCEL_OUT, ("zrzyj",)),
    }
    people = {r["person_id"]: r for r in bases.population.collect()}
    assert set(people) == {P1, P2, P3}  # P4, P5 are known only from a licence and a register
    assert people[P1]["person_name"] == "张三"
    assert people[P1]["person_name_provenance"]["survived_by"] == "authority"
    assert people[P1]["employer_uscc"] == E2
    assert people[P3]["is_deceased"] and not people[P1]["is_deceased"]
    statuses = {r["licence_id"]: r["status"] for r in bases.e_licence.collect()}
    assert statuses == {
        "driving_licence:L1": "expired",
        "driving_licence:L3": "holder_deceased",
        "driving_licence:L4": "valid",
        f"business_licence:{E3}": "valid",
    }
    entities = {r["uscc"]: r for r in bases.legal_entity.collect()}
    assert entities[E2]["employee_count"] == 1
    assert entities[E2]["legal_representative_in_population"] is False
    links = {
        (r["relation"], r["from_key"], r["to_key"], r["is_resolved"]) for r in bases.links.collect()
    }
    assert ("employer", P1, E2, True) in links
    assert ("legal_representative", E2, P5, False) in links


def _table_rows(spark, settings, name: str) -> list[str]:
    from jobs.lake import tables
    from jobs.lake.paths import table_uri

    df = tables.read_table(spark, table_uri(settings, "base", name))
    return sorted(
        json.dumps(r.asDict(recursive=True), default=str, sort_keys=True) for r in df.collect()
    )


def _write_pools(spark, settings, pools: dict) -> None:
    from jobs.lake import tables
    from jobs.lake.paths import table_uri

    for resource_id, df in pools.items():
        department, resource = resource_id.split(".")
        tables.write_table(df, table_uri(settings, "pool", department, resource), mode="append")


def test_a_build_from_scratch_equals_a_build_batch_by_batch(spark, pool, tmp_path):
    from jobs.govern.tickets import CONFIRMED, close_ticket, read_tickets
    from jobs.integrate.build import build_bases
    from jobs.lake.registry import BASE_KEYS
    from jobs.settings import Settings, pinned_clock
    from tests.actors import RSJ_OFFICER

    first = {
        "gaj.hukou": pool(
            "gaj.hukou",
            [{"person_id": P1, "full_name": "张三"}, {"person_id": P2, "full_name": "李梅"}],
        ),
        "rsj.insured": pool(
            "rsj.insured",
            [
                {
                    "person_id": P1,
                    "insurance_type": "pension",
                    "full_name": "张山",
                    "insurance_status": "active",
                }
            ],
        ),
    }
    second = {
        "gaj.hukou": pool("gaj.hukou", [{"person_id": P3, "full_name": "王老"}], batch=INCR),
        "rsj.insured": pool(
            "rsj.insured",
            [
                {
                    "person_id": P1,
                    "insurance_type": "pension",
                    "full_name": "张三",
                    "insurance_status": "active",
                }
            ],
            batch=INCR,
        ),
    }
    # 2025-01-09 04:00 in the bureau's time zone, still the 8th in UTC.
    clock = pinned_clock(dt.datetime(2025, 1, 8, 20, 0, tzinfo=dt.UTC))
    scratch, stepwise = (
        # each lake with a workflow store of its own: the tickets live there
        Settings(
            lake_root=str(tmp_path / name),
            db_url=f"sqlite:///{tmp_path / name}.db",
            spark_master="local[2]",
        ).with_clock(clock)
        for name in ("scratch", "stepwise")
    )

    _write_pools(spark, scratch, first)
    _write_pools(spark, scratch, second)
    build_bases(scratch, spark, as_of=AS_OF)

    _write_pools(spark, stepwise, first)
    summary = build_bases(stepwise, spark, as_of=AS_OF)
    assert summary["issues"] == {"conflict:person_name": 1}
    disputed = {
        r["person_id"]: r["disputed_elements"] for r in _rows(spark, stepwise, "population")
    }
    assert disputed == {P1: ["person_name"], P2: []}
    _write_pools(spark, stepwise, second)
    build_bases(stepwise, spark, as_of=AS_OF)
    assert build_bases(stepwise, spark, as_of=AS_OF)["skipped"] is True

    for name in ("attribute_values", *BASE_KEYS):
        assert _table_rows(spark, scratch, name) == _table_rows(spark, stepwise, name), name
    # The conflict of the first batch was corrected by the second: its ticket closed itself.
    (ticket,) = read_tickets(stepwise)
    assert (ticket["state"], ticket["closed_by"]) == ("resolved", "system")
    assert (ticket["opened_on"], ticket["closed_on"]) == (dt.date(2025, 1, 9), dt.date(2025, 1, 9))
    assert read_tickets(scratch) == []

    # A confirmed ticket lifts the disputed mark at the next build (same pools, other tickets).
    _write_pools(
        spark,
        scratch,
        {
            "rsj.insured": pool(
                "rsj.insured",
                [{"person_id": P2, "insurance_type": "pension", "full_name": "李玫"}],
                batch="20250115T000000_incr",
            )
        },
    )
    build_bases(scratch, spark, as_of=AS_OF)
    disputed = {r["person_id"]: r["disputed_elements"] for r in _rows(spark, scratch, "population")}
    assert disputed[P2] == ["person_name"]
    (ticket,) = read_tickets(scratch)
    close_ticket(scratch, ticket["ticket_id"], CONFIRMED, by=RSJ_OFFICER, why="两名均有效")
    assert build_bases(scratch, spark, as_of=AS_OF)["skipped"] is False
    disputed = {r["person_id"]: r["disputed_elements"] for r in _rows(spark, scratch, "population")}
    assert disputed[P2] == []
    # The steward's decision is an audit entry of its own, with who and why.
    from jobs.audit.log import read_entries

    (confirmed,) = [e for e in read_entries(scratch) if e["action"] == "ticket_confirmed"]
    assert confirmed["actor"] == RSJ_OFFICER.login
    assert "两名均有效" in confirmed["detail"]


def _decide(settings, resource_id: str, batch_id: str, status: str, minute: int) -> None:
    from jobs.lake import ledger
    from jobs.lake.registry import QUALITY_BATCHES
    from jobs.quality.gates import QUALITY_BATCHES_SCHEMA

    department, resource = resource_id.split(".")
    ledger.append_rows(
        QUALITY_BATCHES.uri(settings),
        [
            {
                "department": department,
                "resource": resource,
                "batch_id": batch_id,
                "status": status,
                "row_count": 1,
                "failing_rows": 1,
                "failed_critical": ["expect_column_values_to_not_be_null"] * (status == "held"),
                "failed_warning": [],
                "message": status,
                "suite_version": "1",
                "decided_by": "pipeline" if status == "held" else "质量科 王",
                "decided_at": dt.datetime(2025, 1, 9, 8, minute, tzinfo=dt.UTC),
            }
        ],
        QUALITY_BATCHES_SCHEMA,
        write_id=f"test/{batch_id}/{status}",
    )


def test_a_held_batch_stays_out_of_the_bases_until_it_is_marked_promotable(spark, pool, tmp_path):
    from jobs.integrate.build import build_bases
    from jobs.settings import Settings

    settings = Settings(lake_root=str(tmp_path / "lake"), spark_master="local[2]")
    _write_pools(
        spark, settings, {"gaj.hukou": pool("gaj.hukou", [{"person_id": P1, "full_name": "张三"}])}
    )
    _write_pools(
        spark,
        settings,
        {"gaj.hukou": pool("gaj.hukou", [{"person_id": P3, "full_name": "王老"}], batch=INCR)},
    )
    _decide(settings, "gaj.hukou", INCR, "held", minute=0)

    build_bases(settings, spark, as_of=AS_OF)
    assert {r["person_id"] for r in _rows(spark, settings, "population")} == {P1}

    # Rectified and released by a quality officer: the next build takes it, nothing else changed.
    _decide(settings, "gaj.hukou", INCR, "promotable", minute=5)
    assert build_bases(settings, spark, as_of=AS_OF)["skipped"] is False
    assert {r["person_id"] for r in _rows(spark, settings, "population")} == {P1, P3}


def _rows(spark, settings, name: str):
    from jobs.lake import tables
    from jobs.lake.paths import table_uri

    return tables.read_table(spark, table_uri(settings, "base", name)).collect()


@pytest.mark.parametrize("lanes", [0, -1])
def test_integration_refuses_fewer_than_one_lane(spark, config, lanes, tmp_path):
    with pytest.raises(ValueError, match="lanes must be at least 1"):
        integrate({}, config, AS_OF, spark, scratch=str(tmp_path), lanes=lanes)
