from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from jobs.ingest import pipeline
from jobs.lake import ledger
from jobs.lake.paths import table_uri
from jobs.settings import pinned_clock

HEADER = "公民身份号码,姓名,性别,出生日期,户号,户籍地址,户口状态\n"
ROW = "330211198506150014,张三,男,1985-06-15,H1,浙江省宁波市镇海区招宝山街道1号,正常\n"
NOW = dt.datetime(2025, 1, 8, 2, 0, tzinfo=dt.UTC)


def test_file_over_a_bound_is_quarantined_whole_and_the_batch_goes_on(lake_settings):
    settings = dataclasses.replace(lake_settings, read_max_columns=7).with_clock(pinned_clock(NOW))
    batch = Path(settings.landing_root) / "gaj" / "hukou" / "b1"
    batch.mkdir(parents=True)
    (batch / "a.csv").write_text(HEADER + ROW, encoding="gbk")
    (batch / "wide.csv").write_text(HEADER.replace("\n", ",备注\n") + ROW, encoding="gbk")

    landed = pipeline.land_to_bronze("gaj.hukou", settings)

    [outcome] = landed["batches"]
    assert outcome["ingested"] == ["a.csv"] and outcome["bronze_rows"] == 1
    assert outcome["quarantined"] == [{"file": "wide.csv", "reason": "too_many_columns"}]
    log = ledger.read_rows(table_uri(settings, "governance", "ingest_files"))
    [wide] = [r for r in log if r["source_file"] == "wide.csv"]
    assert wide["status"] == "quarantined"
    assert wide["message"] == ("more than 7 columns (GOVLAKE_READ_MAX_COLUMNS=7): not read further")
    [quarantined] = ledger.read_rows(table_uri(settings, "quarantine", "gaj", "hukou"))
    assert quarantined["reasons"] == ["file:too_many_columns"]
