"""The quality gate everywhere: a held batch reaches no share, no open data and no export."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from jobs.lake import tables
from jobs.quality import gates
from jobs.share import grants
from jobs.share.export import export_share
from jobs.share.keys import ShareKey
from jobs.share.open_data import publish_open_data
from jobs.share.refresh import refresh_shares
from tests.actors import GAJ_OFFICER

pytestmark = pytest.mark.spark

TODAY = dt.date(2025, 3, 3)
PASSED, HELD = "20250101T000000_full", "20250108T000000_incr"
#: mzj.social_org is shared and opened unconditionally: only the gate can keep a row back.
ORGS = [
    ("51110000MJ0000001A", "清泉助学会", PASSED),
    ("51110000MJ0000002B", "清泉助学会", HELD),  # uniqueness failed: the gate holds the batch
    (None, None, HELD),
]
KEPT = {("51110000MJ0000001A", "清泉助学会")}


def _decide(settings, batch_id: str, status: str, failed: tuple[str, ...] = ()) -> None:
    decision = gates.GateDecision(status, failed, (), f"{batch_id} {status}")
    decided_at = dt.datetime(2025, 3, 3, 1, 0, tzinfo=dt.UTC)
    row = gates.decision_row(
        "mzj", "social_org", batch_id, decision, 2, len(failed), "1", decided_at
    )
    gates.append_decisions(settings, [row], f"test/{batch_id}/{status}")


def _shared(spark, settings) -> set[tuple]:
    uri = tables.table_uri(settings, "share", "gaj", "mzj.social_org")
    return {
        tuple(r) for r in tables.read_table(spark, uri, columns=["uscc", "entity_name"]).collect()
    }


@pytest.fixture
def held_lake(spark, lake_settings):
    pool = spark.createDataFrame(ORGS, "uscc string, entity_name string, batch_id string")
    tables.write_table(pool, tables.table_uri(lake_settings, "pool", "mzj", "social_org"))
    _decide(lake_settings, PASSED, "passed")
    _decide(lake_settings, HELD, "held", ("expect_column_values_to_be_unique",))
    grants.request_share(
        lake_settings,
        consumer="gaj",
        dataset_id="mzj.social_org",
        fields=["uscc", "entity_name"],
        purpose="社会组织核验",
        by=GAJ_OFFICER,
        today=TODAY,
    )
    return lake_settings


def test_a_held_batch_reaches_no_share_no_open_data_and_no_export(spark, held_lake, tmp_path):
    refresh_shares(spark, held_lake, today=TODAY, key=ShareKey(b"k", "test"))
    publish_open_data(spark, held_lake, as_of=TODAY)
    export_share(
        held_lake, "gaj", "mzj.social_org", tmp_path / "o.csv", fmt="csv", by="gaj.li", today=TODAY
    )

    opened = tables.read_table(spark, tables.table_uri(held_lake, "open", "mzj.social_org"))
    with (tmp_path / "o.csv").open(encoding="utf-8-sig", newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert _shared(spark, held_lake) == KEPT
    assert {(r["uscc"], r["entity_name"]) for r in opened.collect()} == KEPT
    assert {(r["uscc"], r["entity_name"]) for r in exported} == KEPT


def test_a_released_batch_is_shared_at_the_next_refresh(spark, held_lake):
    refresh_shares(spark, held_lake, today=TODAY, key=ShareKey(b"k", "test"))
    gates.mark_promotable(
        held_lake,
        "mzj.social_org",
        HELD,
        decided_by="质量科 王",
        note="two registrations, one name",
    )
    refresh_shares(spark, held_lake, today=TODAY, key=ShareKey(b"k", "test"))

    assert _shared(spark, held_lake) == {(uscc, name) for uscc, name, _ in ORGS}
