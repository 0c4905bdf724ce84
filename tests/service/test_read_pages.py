from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa

from jobs.lake import ledger
from jobs.lake.registry import SHARE
from jobs.service.ports import ReadRequest
from jobs.service.reads import Consumer, read_page
from jobs.settings import pinned_clock
from jobs.share import grants
from tests.actors import MZJ_OFFICER

ROWS = 40_000  # three row groups of the ledger's 16,384 rows, in one file


def _share(lake_settings):
    settings = dataclasses.replace(lake_settings, service_max_rows=7_000).with_clock(
        pinned_clock(dt.datetime(2025, 3, 3, 4, tzinfo=dt.UTC))
    )
    table = pa.table(
        {
            "person_id": [f"{i:064x}" for i in range(ROWS)],
            "gender": [str(1 + i % 2) for i in range(ROWS)],
        }
    )
    ledger.append_arrow(SHARE.uri(settings, "mzj", "population"), table, "test-share")
    grants.request_share(
        settings,
        consumer="mzj",
        dataset_id="population",
        fields=["person_id", "gender"],
        purpose="低保核验",
        by=MZJ_OFFICER,
    )
    return settings


def _all_pages(settings, **kw):
    ids, cursor, pages = [], None, 0
    while True:
        request = ReadRequest("population", limit=7_000, cursor=cursor, **kw)
        page = read_page(settings, Consumer("mzj", "mzj.app"), request)
        ids += page.table.column("person_id").to_pylist()
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return ids, pages


def test_pages_cross_row_groups_without_gaps_or_repeats(lake_settings):
    settings = _share(lake_settings)
    ids, pages = _all_pages(settings)
    assert (pages, ids) == (6, [f"{i:064x}" for i in range(ROWS)])
    women, _ = _all_pages(settings, filters={"gender": "2"})
    assert women == [f"{i:064x}" for i in range(1, ROWS, 2)]


def test_an_offset_starts_inside_a_later_row_group(lake_settings):
    settings = _share(lake_settings)
    request = ReadRequest("population", fields=("person_id",), limit=3)
    page = read_page(settings, Consumer("mzj", "mzj.app"), request, offset=20_000)
    assert page.table.column("person_id").to_pylist() == [
        f"{i:064x}" for i in range(20_000, 20_003)
    ]
    women = ReadRequest("population", fields=("person_id",), limit=2, filters={"gender": "2"})
    page = read_page(settings, Consumer("mzj", "mzj.app"), women, offset=10_000)
    assert page.table.column("person_id").to_pylist() == [f"{20_001:064x}", f"{20_003:064x}"]
    wanted = (f"{5:064x}", f"{33_000:064x}", "0" * 63 + "z")
    by_id = read_page(settings, Consumer("mzj", "mzj.app"), ReadRequest("population", ids=wanted))
    assert by_id.table.column("person_id").to_pylist() == list(wanted[:2])
