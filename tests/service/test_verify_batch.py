from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute as pc

from jobs.audit import log as audit
from jobs.lake import ledger
from jobs.lake.registry import POPULATION
from jobs.service.reads import Consumer
from jobs.service.verify import verify_batch
from jobs.settings import pinned_clock
from jobs.share import grants
from jobs.standardize.arrow import normalized_citizen_id
from tests.actors import MZJ_OFFICER

TODAY = dt.date(2025, 3, 3)
FIRST_DAY = dt.date(1950, 1, 1)


def _persons(count: int) -> pa.Table:
    """``count`` people with valid IDs (15-digit IDs upgraded), a name and a birth date."""
    days = [FIRST_DAY + dt.timedelta(days=i // 500) for i in range(count)]
    short = [f"110101{d:%y%m%d}{i % 500:03d}" for i, d in enumerate(days)]
    return pa.table(
        {
            "person_id": normalized_citizen_id(pa.array(short)),
            "person_name": [f"居民{i}" for i in range(count)],
            "birth_date": pa.array(days, pa.date32()),
        }
    )


def test_a_batch_of_ten_thousand_ids_is_answered_in_one_call(lake_settings, tmp_path):
    settings = dataclasses.replace(lake_settings, reid_root=str(tmp_path / "reid")).with_clock(
        pinned_clock(dt.datetime(2025, 3, 3, 4, tzinfo=dt.UTC))
    )
    people = _persons(20_000)
    stored = people.filter(pc.equal(pc.bit_wise_and(pa.array(range(20_000)), 1), 0))
    ledger.append_arrow(POPULATION.uri(settings), stored, "test-population")
    grants.request_share(
        settings,
        consumer="mzj",
        dataset_id="population",
        fields=["person_name", "birth_date"],
        purpose="低保核验",
        by=MZJ_OFFICER,
        kind=grants.VERIFY,
    )
    rows = people.slice(0, 10_000).to_pylist()
    items = [
        {
            "id": r["person_id"],
            "claims": {
                "person_name": r["person_name"] if i % 3 else "某人",
                "birth_date": f"{r['birth_date']:%Y年%-m月%-d日}",
            },
        }
        for i, r in enumerate(rows)
    ]
    results = verify_batch(settings, Consumer("mzj", "mzj.app"), "population", items)

    assert [r["id"] for r in results] == [r["person_id"] for r in rows]
    found = [i % 2 == 0 for i in range(10_000)]
    assert [r["found"] for r in results] == found
    assert [r["fields"]["birth_date"] for r in results] == [
        "match" if f else "not_found" for f in found
    ]
    assert [r["fields"]["person_name"] for r in results] == [
        ("match" if i % 3 else "no_match") if f else "not_found" for i, f in enumerate(found)
    ]
    (entry,) = [e for e in audit.read_entries(settings) if e["action"] == "verify"]
    detail = json.loads(entry["detail"])
    assert (detail["ids"]["count"], detail["found"]) == (10_000, 5_000)


def test_a_rebuilt_base_is_read_afresh(lake_settings):
    from deltalake import write_deltalake

    settings = lake_settings.with_clock(pinned_clock(dt.datetime(2025, 3, 3, 4, tzinfo=dt.UTC)))
    people = _persons(3)
    uri = POPULATION.uri(settings)
    ledger.append_arrow(uri, people, "test-population")
    grants.request_share(
        settings,
        consumer="mzj",
        dataset_id="population",
        fields=["person_name"],
        purpose="低保核验",
        by=MZJ_OFFICER,
    )
    items = [{"id": people["person_id"][0].as_py(), "claims": {"person_name": "新名字"}}]
    consumer = Consumer("mzj", "mzj.app")
    assert verify_batch(settings, consumer, "population", items)[0]["fields"] == {
        "person_name": "no_match"
    }
    renamed = people.set_column(1, "person_name", pa.array(["新名字", "居民1", "居民2"]))
    write_deltalake(uri, renamed, mode="overwrite")

    assert verify_batch(settings, consumer, "population", items)[0]["fields"] == {
        "person_name": "match"
    }


def test_a_claimed_field_under_verification_is_answered_and_said_disputed(lake_settings):
    from jobs.govern import tickets
    from tests.actors import RSJ_OFFICER
    from tests.govern.test_tickets import issue, policy

    settings = lake_settings.with_clock(pinned_clock(dt.datetime(2025, 3, 3, 4, tzinfo=dt.UTC)))
    people = _persons(2)
    ledger.append_arrow(POPULATION.uri(settings), people, "test-population")
    grants.request_share(
        settings,
        consumer="mzj",
        dataset_id="population",
        fields=["person_name", "birth_date"],
        purpose="低保核验",
        by=MZJ_OFFICER,
        kind=grants.VERIFY,
    )
    first, second = people.column("person_id").to_pylist()
    disputed = issue("t1", key=first, base_keys=[first])
    now = settings.now()
    tickets.sync_tickets([disputed], settings, build_id="b1", today=TODAY, now=now, policy=policy())
    claims = {"person_name": "某人", "birth_date": "1950-01-01"}
    items = [{"id": first, "claims": claims}, {"id": second, "claims": claims}]

    while_open = verify_batch(settings, Consumer("mzj", "mzj.app"), "population", items)
    tickets.close_ticket(settings, "t1", tickets.CONFIRMED, by=RSJ_OFFICER, why="值已核实")
    after = verify_batch(settings, Consumer("mzj", "mzj.app"), "population", items)

    assert [r.get("disputed") for r in while_open] == [["person_name"], None]
    assert [r["fields"] for r in while_open] == [r["fields"] for r in after]
    assert [r.get("disputed") for r in after] == [None, None]
