from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from stdnum.cn import ric

from jobs.backup.backup import destroy
from jobs.catalog.loader import load_catalog
from jobs.ingest import pipeline, promote
from jobs.ingest.accounting import RowAccountingError
from jobs.ingest.pool import pool_schema
from jobs.lake import ledger, tables
from jobs.lake.paths import table_uri
from jobs.settings import Settings, pinned_clock

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
    expected = pool_schema(load_catalog(Settings().schemas_root).resource("gaj.hukou"))
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


def _outside(tmp_path, *parts: str) -> Path:
    """A delivery-shaped folder outside the landing root, holding one good row."""
    folder = tmp_path.joinpath("elsewhere", *parts)
    folder.mkdir(parents=True)
    (folder / "x.csv").write_text(HEADER + _row(_id("33021119850615009")), encoding="utf-8")
    return folder


def _rejected(landed) -> list[tuple[str, str, str]]:
    return [(r["batch_id"], r["file"], r["reason"]) for r in landed["rejected"]]


def _file_log(settings) -> list[tuple[str, str, str]]:
    rows = ledger.read_rows(table_uri(settings, "governance", "ingest_files"))
    return sorted((r["batch_id"], r["source_file"], r["status"]) for r in rows)


def test_batch_linked_outside_or_unsafely_named_is_rejected_unread(lake_settings, tmp_path):
    resource_dir = Path(lake_settings.landing_root) / "gaj" / "hukou"
    resource_dir.mkdir(parents=True)
    (resource_dir / "escape").symlink_to(_outside(tmp_path, "b"))
    (resource_dir / "-b2").mkdir()
    _deliver(lake_settings, "b3", "hukou.csv", HEADER + _row(_id("33021119850615001")))
    landed = pipeline.land_to_bronze("gaj.hukou", at_now(lake_settings))
    assert _rejected(landed) == [("-b2", "", "unsafe_name"), ("escape", "", "outside_landing")]
    assert [b["batch_id"] for b in landed["batches"]] == ["b3"]


@pytest.mark.parametrize("linked", ["department", "resource"])
def test_folder_linked_outside_the_landing_root_is_rejected_unread(lake_settings, tmp_path, linked):
    landing = Path(lake_settings.landing_root)
    landing.mkdir()
    if linked == "department":
        (landing / "gaj").symlink_to(_outside(tmp_path, "gaj", "hukou", "b1").parents[1])
    else:
        (landing / "gaj").mkdir()
        (landing / "gaj" / "hukou").symlink_to(_outside(tmp_path, "hukou", "b1").parent)
    landed = pipeline.land_to_bronze("gaj.hukou", at_now(lake_settings))
    assert _rejected(landed) == [("", "", "outside_landing")]
    assert landed["batches"] == []
    assert not tables.table_exists(table_uri(lake_settings, "bronze", "gaj", "hukou"))
    assert _file_log(lake_settings) == [("", "", "rejected")]
    pipeline.land_to_bronze("gaj.hukou", at_now(lake_settings))
    assert _file_log(lake_settings) == [("", "", "rejected")]  # logged once


def test_file_linked_outside_is_rejected_and_the_rest_goes_on(spark, lake_settings, tmp_path):
    _deliver(lake_settings, "b1", "a.csv", HEADER + _row(_id("33021119850615001")))
    batch = Path(lake_settings.landing_root) / "gaj" / "hukou" / "b1"
    (batch / "b.csv").symlink_to(_outside(tmp_path, "files") / "x.csv")
    _deliver(lake_settings, "b2", "c.csv", HEADER + _row(_id("33021119850615002")))

    landed, promoted, accounted = _run_all(spark, lake_settings)

    assert _rejected(landed) == [("b1", "b.csv", "outside_landing")]
    assert [(b["batch_id"], b["ingested"]) for b in landed["batches"]] == [
        ("b1", ["a.csv"]),
        ("b2", ["c.csv"]),
    ]
    assert promoted["pool_rows"] == 2 and accounted["balanced"]
    # The department replaces the link with the real file: it is read on the next run.
    (batch / "b.csv").unlink()
    (batch / "b.csv").write_text(HEADER + _row(_id("33021119850615003")), encoding="gbk")
    landed = pipeline.land_to_bronze("gaj.hukou", at_now(lake_settings), spark=spark)
    assert [(b["batch_id"], b["ingested"]) for b in landed["batches"]] == [("b1", ["b.csv"])]
    assert landed["rejected"] == []


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


def test_a_row_of_the_wrong_width_costs_that_row_not_the_file(spark, lake_settings):
    ids = [_id(f"33021119850615{n:03d}") for n in range(1, 28)]
    rows = [_row(person_id) for person_id in ids]
    rows[4] = f"{ids[4]},张三,男,1985-06-15\n"  # 4 of 7 columns
    _deliver(lake_settings, "b1", "hukou.csv", HEADER + "".join(rows))

    landed, promoted, accounted = _run_all(spark, lake_settings)

    assert landed["batches"][0]["ingested"] == ["hukou.csv"]
    assert (promoted["pool_rows"], promoted["quarantined_rows"]) == (26, 1)
    assert accounted["balanced"] and accounted["file_rows"] == 27
    (bad,) = tables.read_table(
        spark, table_uri(lake_settings, "quarantine", "gaj", "hukou")
    ).collect()
    assert (bad.row_number, bad.reasons[0]) == (5, "record:wrong_column_count")
    assert dict(bad.raw)["_raw_line"] == rows[4].rstrip("\n")


class _Killed(Exception):
    """Stands for the process dying at this point of a run."""


def _killed(*_args, **_kwargs):
    raise _Killed


#: The two runners of a promotion: in process (the default for a small batch) and on Spark.
RUNNERS = {"in process": {}, "spark": {"arrow_max_rows": 0}}


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("killed_after", ["pool commit", "quarantine commit"])
def test_run_killed_after_the_pool_commit_is_named_then_repaired_exactly_once(
    spark, lake_settings, monkeypatch, killed_after, runner
):
    lake_settings = dataclasses.replace(lake_settings, **RUNNERS[runner])
    ids = [_id(f"33021119850615{n:03d}") for n in range(1, 5)]
    rows = [_row(i) for i in ids] + [_row(ids[0]), _row(ids[1][:-1] + "0")]
    _deliver(lake_settings, "b1", "hukou.csv", HEADER + "".join(rows))
    pipeline.land_to_bronze("gaj.hukou", at_now(lake_settings), spark=spark)
    write_table, append_arrow = tables.write_table, ledger.append_arrow

    def dies_at_the_quarantine(write):
        def write_or_die(rows, uri, *args, **kwargs):
            if "quarantine" in uri and killed_after == "pool commit":
                raise _Killed
            return write(rows, uri, *args, **kwargs)

        return write_or_die

    with monkeypatch.context() as patched:
        patched.setattr(tables, "write_table", dies_at_the_quarantine(write_table))
        patched.setattr(ledger, "append_arrow", dies_at_the_quarantine(append_arrow))
        patched.setattr(promote, "_append_outcomes", _killed)
        with pytest.raises(_Killed):
            pipeline.bronze_to_pool("gaj.hukou", at_now(lake_settings), spark=spark)

    # 4 rows are in the pool with no outcome recorded: named, never "pool 0, duplicates 6"
    with pytest.raises(RowAccountingError, match=r"b1/hukou.csv: the tables hold pool 4 \+"):
        pipeline.check_row_accounting("gaj.hukou", at_now(lake_settings), spark=spark)

    promoted = pipeline.bronze_to_pool("gaj.hukou", at_now(lake_settings), spark=spark)
    accounted = pipeline.check_row_accounting("gaj.hukou", at_now(lake_settings), spark=spark)

    assert (promoted["pool_rows"], promoted["quarantined_rows"], promoted["duplicate_rows"]) == (
        4,
        1,
        1,
    )
    assert accounted["balanced"]
    assert (accounted["pool_rows"], accounted["quarantined_rows"]) == (4, 1)
    pool_df = tables.read_table(spark, table_uri(lake_settings, "pool", "gaj", "hukou"))
    assert sorted(r.person_id for r in pool_df.collect()) == sorted(ids)
    quarantine = tables.read_table(spark, table_uri(lake_settings, "quarantine", "gaj", "hukou"))
    assert [tuple(r.reasons) for r in quarantine.collect()] == [("person_id:bad_check_character",)]


def test_accounting_fails_naming_the_file_when_bronze_holds_it_twice(spark, lake_settings):
    _deliver(lake_settings, "b1", "hukou.csv", HEADER + _row(_id("33021119850615001")))
    _run_all(spark, lake_settings)
    bronze_uri = table_uri(lake_settings, "bronze", "gaj", "hukou")
    # a second run that committed the same rows under another write id
    ledger.append_arrow(bronze_uri, ledger.read_arrow(bronze_uri), write_id="another run")

    with pytest.raises(RowAccountingError, match=r"b1/hukou.csv: file rows 1, .* bronze table 2"):
        pipeline.check_row_accounting("gaj.hukou", at_now(lake_settings), spark=spark)


def test_run_killed_before_the_file_log_then_a_file_added_keeps_bronze_exactly_once(
    spark, lake_settings, monkeypatch
):
    _deliver(lake_settings, "b1", "a.csv", HEADER + _row(_id("33021119850615001")))
    _deliver(lake_settings, "b1", "empty.csv", b"")
    with monkeypatch.context() as patched:
        patched.setattr(pipeline, "_append_file_log", _killed)
        with pytest.raises(_Killed):
            pipeline.land_to_bronze("gaj.hukou", at_now(lake_settings))
    # the department adds a file to the batch before the retry: the retry's write id differs
    _deliver(lake_settings, "b1", "b.csv", HEADER + _row(_id("33021119850615002")))

    _, _, accounted = _run_all(spark, lake_settings)

    assert accounted["balanced"]
    assert (accounted["file_rows"], accounted["bronze_rows"], accounted["pool_rows"]) == (2, 2, 2)
    quarantine = ledger.read_rows(table_uri(lake_settings, "quarantine", "gaj", "hukou"))
    assert [r["source_file"] for r in quarantine] == ["empty.csv"]


def test_destroyed_resource_balances_and_takes_new_deliveries(spark, lake_settings):
    ids = [_id(f"33021119850615{n:03d}") for n in range(1, 4)]
    first = HEADER + _row(ids[0]) + _row(ids[1], "李四", "女")
    _deliver(lake_settings, "20250101T000000_full", "hukou.csv", first)
    _run_all(spark, lake_settings)

    destroy(at_now(lake_settings), "gaj.hukou", by="steward", why="保存期满")
    landed, _, accounted = _run_all(spark, lake_settings)

    assert landed["batches"] == []  # the landing copy of a destroyed file is not read again
    assert accounted["balanced"]
    assert (accounted["bronze_rows"], accounted["pool_rows"]) == (0, 0)
    files = ledger.read_rows(table_uri(lake_settings, "governance", "ingest_files"))
    assert sorted(f["status"] for f in files) == ["destroyed", "ingested"]

    # the same bytes delivered again are new rows now, not a duplicate of destroyed ones
    _deliver(lake_settings, "20250105T000000_full", "hukou.csv", first)
    _deliver(lake_settings, "20250106T000000_incr", "hukou.csv", HEADER + _row(ids[2]))
    landed, _, accounted = _run_all(spark, lake_settings)

    assert [b["ingested"] for b in landed["batches"]] == [["hukou.csv"], ["hukou.csv"]]
    assert accounted["balanced"]
    assert (accounted["bronze_rows"], accounted["pool_rows"]) == (3, 3)
    pool_df = tables.read_table(spark, table_uri(lake_settings, "pool", "gaj", "hukou"))
    assert sorted(r.person_id for r in pool_df.collect()) == sorted(ids)
