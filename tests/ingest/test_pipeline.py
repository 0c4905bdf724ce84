from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from stdnum.cn import ric

from jobs.catalog.loader import load_catalog
from jobs.ingest import pipeline
from jobs.ingest.accounting import RowAccountingError
from jobs.ingest.pool import pool_schema
from jobs.lake import tables
from jobs.lake.paths import table_uri
from jobs.settings import pinned_clock

pytestmark = [pytest.mark.spark, pytest.mark.slow]

HEADER = "公民身份号码,姓名,性别,出生日期,户号,户籍地址,户口状态\n"
NOW = dt.datetime(2025, 1, 8, 2, 0, tzinfo=dt.UTC)


def _id(first_17: str) -> str:
    return first_17 + ric.calc_check_digit(first_17 + "?")


def _row(person_id: str, name: str = "张三", gender: str = "男") -> str:
    return f"{person_id},{name},{gender},1985-06-15,H1,浙江省宁波市镇海区招宝山街道1号,正常\n"


def _deliver(settings, batch: str, name: str, content: str | bytes, encoding: str = "gbk") -> None:
    folder = Path(settings.landing_root) / "gaj" / "hukou" / batch
    folder.mkdir(parents=True, exist_ok=True)
    data = content if isinstance(content, bytes) else content.encode(encoding)
    (folder / name).write_bytes(data)


def _versions(settings) -> dict[str, int]:
    names = {
        "bronze": ("bronze", "gaj", "hukou"),
        "pool": ("pool", "gaj", "hukou"),
        "quarantine": ("quarantine", "gaj", "hukou"),
        "files": ("governance", "ingest_files"),
        "outcomes": ("governance", "pool_batches"),
    }
    return {k: len(tables.history(table_uri(settings, *parts))) for k, parts in names.items()}


def at_now(settings):
    return settings.with_clock(pinned_clock(NOW))


def _run_all(spark, settings):
    return (
        pipeline.land_to_bronze("gaj.hukou", at_now(settings), spark=spark),
        pipeline.bronze_to_pool("gaj.hukou", at_now(settings), spark=spark),
        pipeline.check_row_accounting("gaj.hukou", at_now(settings), spark=spark),
    )


def test_two_batches_land_standardise_and_balance(spark, lake_settings):
    ids = [_id(f"33021119850615{n:03d}") for n in range(1, 5)]
    first = (
        HEADER + _row(ids[0]) + _row(ids[1], "李四", "女") + _row(ids[0]) + _row(ids[2][:-1] + "0")
    )
    _deliver(lake_settings, "20250101T000000_full", "hukou.csv", first)
    _deliver(lake_settings, "20250101T000000_full", "empty.csv", b"")
    _deliver(
        lake_settings,
        "20250102T000000_incr",
        "hukou.csv",
        HEADER + _row(ids[1], "李四", "女") + _row(ids[3]),
    )
    _deliver(lake_settings, "20250102T000000_incr", "cut.csv", (HEADER + _row(ids[3]))[:-20])
    # the same first batch delivered again under a new batch folder
    _deliver(lake_settings, "20250103T000000_full", "hukou.csv", first)

    landed, promoted, accounted = _run_all(spark, lake_settings)

    assert [b["batch_id"] for b in landed["batches"]] == [
        "20250101T000000_full",
        "20250102T000000_incr",
        "20250103T000000_full",
    ]
    assert landed["batches"][0]["quarantined"] == [{"file": "empty.csv", "reason": "empty_file"}]
    assert landed["batches"][1]["quarantined"] == [{"file": "cut.csv", "reason": "truncated"}]
    assert landed["batches"][2]["skipped_duplicate"] == ["hukou.csv"]
    # batch 1: 2 accepted, 1 exact duplicate, 1 bad check character; batch 2: 1 repeat of batch 1, 1 new
    assert (promoted["pool_rows"], promoted["quarantined_rows"], promoted["duplicate_rows"]) == (
        3,
        1,
        2,
    )
    assert accounted["balanced"]
    assert (accounted["bronze_rows"], accounted["pool_rows"]) == (6, 3)

    pool_df = tables.read_table(spark, table_uri(lake_settings, "pool", "gaj", "hukou"))
    assert sorted(r.person_id for r in pool_df.collect()) == sorted([ids[0], ids[1], ids[3]])
    promoted = {r[0] for r in pool_df.select(pool_df.promoted_at.cast("long")).collect()}
    assert promoted == {int(NOW.timestamp())}  # the settings' clock, not the machine's
    expected = pool_schema(load_catalog().resource("gaj.hukou"))
    assert [(f.name, f.dataType) for f in pool_df.schema] == [
        (f.name, f.dataType) for f in expected
    ]
    quarantine = tables.read_table(
        spark, table_uri(lake_settings, "quarantine", "gaj", "hukou")
    ).collect()
    assert sorted(tuple(r.reasons) for r in quarantine) == [
        ("file:empty_file",),
        ("file:truncated",),
        ("person_id:bad_check_character",),
    ]


def test_second_run_changes_nothing(spark, lake_settings):
    _deliver(lake_settings, "b1", "hukou.csv", HEADER + _row(_id("33021119850615001")))
    _run_all(spark, lake_settings)
    before = _versions(lake_settings)
    landed, promoted, _ = _run_all(spark, lake_settings)
    assert landed["batches"] == [] and promoted["promoted"] == []
    assert _versions(lake_settings) == before


def test_missing_required_column_holds_the_batch_and_names_it(spark, lake_settings):
    header = "公民身份号码,姓名,性别,出生日期,户号,户籍地址\n"
    _deliver(
        lake_settings, "b1", "hukou.csv", header + "330211198506150011,张三,男,1985-06-15,H1,某地\n"
    )
    _, promoted, accounted = _run_all(spark, lake_settings)
    (held,) = promoted["held"]
    assert "status (户口状态)" in held["message"]
    assert held["held_rows"] == 1
    assert accounted["held_rows"] == 1 and accounted["balanced"]


def test_unsafe_batch_name_is_rejected_unread(spark, lake_settings, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.csv").write_text(HEADER, encoding="utf-8")
    resource_dir = Path(lake_settings.landing_root) / "gaj" / "hukou"
    resource_dir.mkdir(parents=True)
    (resource_dir / "escape").symlink_to(outside)
    landed = pipeline.land_to_bronze("gaj.hukou", at_now(lake_settings), spark=spark)
    assert [b["batch_id"] for b in landed["rejected_batches"]] == ["escape"]
    assert landed["batches"] == []


def test_accounting_fails_loudly_when_rows_go_missing(spark, lake_settings):
    _deliver(lake_settings, "b1", "hukou.csv", HEADER + _row(_id("33021119850615001")))
    pipeline.land_to_bronze("gaj.hukou", at_now(lake_settings), spark=spark)
    with pytest.raises(RowAccountingError, match="not yet promoted"):
        pipeline.check_row_accounting("gaj.hukou", at_now(lake_settings), spark=spark)


def test_unstorable_dates_cost_one_row_each_never_the_resource(spark, lake_settings):
    header = HEADER.rstrip("\n") + ",登记日期,更新时间\n"
    ids = [_id(f"33021119850615{n:03d}") for n in range(1, 8)]

    def row(n: int, birth: str, registered: str, updated: str) -> str:
        return f"{ids[n]},张三,男,{birth},H{n},浙江省宁波市镇海区招宝山街道1号,正常,{registered},{updated}\n"

    content = header + "".join(
        [
            row(0, "1985-06-15", "2020-01-02", "2024-05-06 08:00:00"),
            row(1, "0000-01-01", "2020-01-02", "2024-05-06 08:00:00"),
            row(2, "00000101", "2020-01-02", "2024-05-06 08:00:00"),
            row(3, "1985-06-15", "0000-12-31", "2024-05-06 08:00:00"),
            row(4, "1985-06-15", "2020-01-02", "0000-01-01 00:00:00"),
            # midnight of year 1 in Beijing is still year 0 in UTC
            row(5, "1985-06-15", "2020-01-02", "00010101000000"),
            row(6, "1985-06-15", "2020-01-02", "2024-05-06 08:00:00"),
        ]
    )
    _deliver(lake_settings, "b1", "hukou.csv", content)

    _, promoted, accounted = _run_all(spark, lake_settings)

    assert (promoted["pool_rows"], promoted["quarantined_rows"]) == (2, 5)
    assert accounted["balanced"] and accounted["bronze_rows"] == 7
    pool_df = tables.read_table(spark, table_uri(lake_settings, "pool", "gaj", "hukou"))
    assert sorted(r.person_id for r in pool_df.collect()) == sorted([ids[0], ids[6]])
    quarantine = tables.read_table(spark, table_uri(lake_settings, "quarantine", "gaj", "hukou"))
    assert sorted((r.row_number, tuple(r.reasons)) for r in quarantine.collect()) == [
        (2, ("birth_date:out_of_range",)),
        (3, ("birth_date:out_of_range",)),
        (4, ("registered_on:out_of_range",)),
        (5, ("updated_at:out_of_range",)),
        (6, ("updated_at:out_of_range",)),
    ]
