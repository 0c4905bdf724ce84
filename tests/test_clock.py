from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from jobs.settings import pinned_clock
from tests.actors import MZJ_OFFICER

# 17:00 UTC on 1 March is already 01:00 on 2 March in Shanghai: the UTC date and the machine's
# date (wherever it runs) are not the bureau's.
LATE_EVENING_UTC = dt.datetime(2025, 3, 1, 17, 0, tzinfo=dt.UTC)
BUREAU_DATE = dt.date(2025, 3, 2)


@pytest.fixture
def bureau(lake_settings, tmp_path):
    settings = dataclasses.replace(
        lake_settings,
        timezone="Asia/Shanghai",
        reid_root=str(tmp_path / "reid"),
        backup_root=str(tmp_path / "backups"),
    )
    return settings.with_clock(pinned_clock(LATE_EVENING_UTC))


def test_grant_expiry_is_judged_on_the_bureaus_date(bureau):
    from jobs.share import grants

    a_month_before = bureau.with_clock(pinned_clock(LATE_EVENING_UTC - dt.timedelta(days=30)))
    request = dict(
        consumer="mzj", dataset_id="population", fields=[], purpose="核验", by=MZJ_OFFICER
    )
    granted = grants.request_share(a_month_before, **request, expires_on=dt.date(2025, 3, 1))
    assert granted["requested_on"] == dt.date(2025, 1, 31)

    (listed,) = grants.list_grants(bureau)
    assert listed["status"] == "expired"  # 1 March has ended in the bureau, not yet in UTC
    with pytest.raises(grants.GrantError, match="expiry 2025-03-01 is in the past"):
        grants.request_share(bureau, **request, expires_on=dt.date(2025, 3, 1))
    assert grants.request_share(bureau, **request)["requested_on"] == BUREAU_DATE


def test_a_report_is_dated_on_the_bureaus_date(bureau):
    from jobs.reports.build import build_reports

    index = next(p for p in build_reports(bureau) if p.name == "index.html")
    page = index.read_text(encoding="utf-8")
    assert "Generated 2025-03-02 01:00" in page
    assert "As of 2025-03-02" in page


def test_an_audit_entry_counts_from_the_bureaus_date_it_was_written(bureau):
    from jobs.audit import log

    # Written at 01:00 on 2 March 2022 in the bureau: kept 3 years (hebi), until 2 March 2025.
    three_years_before = bureau.with_clock(pinned_clock(LATE_EVENING_UTC.replace(year=2022)))
    entry = log.record(three_years_before, "steward", actor="li")
    assert entry["at"] == LATE_EVENING_UTC.replace(year=2022)
    log.record(bureau, "steward", actor="li")

    a_day_before = bureau.with_clock(pinned_clock(LATE_EVENING_UTC - dt.timedelta(days=1)))
    assert log.purge_expired(a_day_before, by="li", why="年度清理")["removed"] == 0
    assert log.purge_expired(bureau, by="li", why="年度清理")["removed"] == 1
