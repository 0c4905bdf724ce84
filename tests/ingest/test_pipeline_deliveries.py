from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from stdnum.cn import ric

from jobs.ingest import pipeline
from jobs.lake import ledger, tables
from jobs.lake.paths import table_uri
from jobs.settings import PROJECT_ROOT, pinned_clock

HEADER = "公民身份号码,姓名,性别,出生日期,户号,户籍地址,户口状态\n"
NOW = dt.datetime(2025, 1, 8, 2, 0, tzinfo=dt.UTC)
QUIET = 120


def _id(n: int) -> str:
    first_17 = f"33021119850615{n:03d}"
    return first_17 + ric.calc_check_digit(first_17 + "?")


def _row(person_id: str, name: str = "张三") -> str:
    return f"{person_id},{name},男,1985-06-15,H1,浙江省宁波市镇海区招宝山街道1号,正常\n"


@pytest.fixture
def settings(lake_settings):
    """The quiet period on, at a pinned clock: files are given explicit mtimes."""
    return dataclasses.replace(lake_settings, landing_quiet_seconds=QUIET).with_clock(
        pinned_clock(NOW)
    )


def _deliver(
    settings, batch: str, name: str, content: str, seconds_old: float = 3600, resource="hukou"
) -> Path:
    department = "mzj" if resource == "marriage" else "gaj"
    folder = Path(settings.landing_root) / department / resource / batch
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode("gbk"))
    _age(path, seconds_old)
    return path


def _age(path: Path, seconds_old: float) -> None:
    stamp = (NOW - dt.timedelta(seconds=seconds_old)).timestamp()
    os.utime(path, (stamp, stamp))


def _run_all(spark, settings):
    return (
        pipeline.land_to_bronze("gaj.hukou", settings, spark=spark),
        pipeline.bronze_to_pool("gaj.hukou", settings, spark=spark),
        pipeline.check_row_accounting("gaj.hukou", settings, spark=spark),
    )


def _waiting(landed) -> list[tuple[str, str]]:
    return [(w["batch_id"], w["reason"]) for w in landed["waiting"]]


def _file_log(settings) -> list[tuple]:
    rows = ledger.read_rows(table_uri(settings, "governance", "ingest_files"))
    return sorted((r["batch_id"], r["source_file"], r["status"], r["reason"]) for r in rows)


def _people(spark, settings, layer: str) -> list[str]:
    rows = tables.read_table(spark, table_uri(settings, layer, "gaj", "hukou")).collect()
    if layer == "bronze":
        return sorted(dict(r.raw)["公民身份号码"] for r in rows)
    return sorted(r.person_id for r in rows)


def _versions(settings) -> dict[str, int]:
    names = {
        "bronze": ("bronze", "gaj", "hukou"),
        "pool": ("pool", "gaj", "hukou"),
        "files": ("governance", "ingest_files"),
        "outcomes": ("governance", "pool_batches"),
    }
    return {k: len(tables.history(table_uri(settings, *parts))) for k, parts in names.items()}


def test_half_copied_file_waits_then_is_read_whole_once_quiet(spark, settings):
    full = HEADER + "".join(_row(_id(n)) for n in range(1, 5))
    path = _deliver(settings, "b1", "hukou.csv", full[:70], seconds_old=5)

    landed = pipeline.land_to_bronze("gaj.hukou", settings)

    assert landed["batches"] == [] and _waiting(landed) == [("b1", "not_quiet")]
    assert "b1/hukou.csv was modified 5 s before this run" in landed["waiting"][0]["message"]
    assert not tables.table_exists(table_uri(settings, "bronze", "gaj", "hukou"))

    # the copy finishes; a later run finds the file unchanged for longer than the quiet period
    path.write_bytes(full.encode("gbk"))
    _age(path, QUIET + 1)
    landed, promoted, accounted = _run_all(spark, settings)

    assert [(b["batch_id"], b["ingested"]) for b in landed["batches"]] == [("b1", ["hukou.csv"])]
    assert landed["waiting"] == [] and promoted["pool_rows"] == 4
    assert accounted["balanced"] and accounted["file_rows"] == 4


def test_waiting_batch_holds_back_later_batches_of_its_resource_only(settings):
    _deliver(settings, "b1", "hukou.csv", HEADER + _row(_id(1)), seconds_old=5)
    _deliver(settings, "b2", "hukou.csv", HEADER + _row(_id(2)))
    _deliver(settings, "b1", "marriage.csv", "登记号\nM1\n", resource="marriage")

    hukou = pipeline.land_to_bronze("gaj.hukou", settings)
    marriage = pipeline.land_to_bronze("mzj.marriage", settings)

    assert hukou["batches"] == []
    assert _waiting(hukou) == [("b1", "not_quiet"), ("b2", "behind")]
    assert "waits for the earlier batch 'b1'" in hukou["waiting"][1]["message"]
    assert [(b["batch_id"], b["ingested"]) for b in marriage["batches"]] == [
        ("b1", ["marriage.csv"])
    ]


def _with_manifest_declared(settings, tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(PROJECT_ROOT / "schemas", schemas)
    entry = schemas / "resources" / "gaj" / "hukou.yaml"
    entry.write_text(
        entry.read_text(encoding="utf-8").replace(
            "  encoding: gbk ", "  manifest: MANIFEST.json\n  encoding: gbk "
        ),
        encoding="utf-8",
    )
    return dataclasses.replace(settings, schemas_root=str(schemas))


def _write_manifest(path: Path, **changes) -> None:
    data = path.read_bytes()
    entry = {"name": path.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (path.parent / "MANIFEST.json").write_text(json.dumps({"files": [{**entry, **changes}]}))


def test_manifest_mismatch_waits_until_the_delivery_matches_it(settings, tmp_path):
    settings = _with_manifest_declared(settings, tmp_path)
    path = _deliver(settings, "b1", "hukou.csv", HEADER + _row(_id(1)), seconds_old=0)
    _write_manifest(path, sha256="0" * 64)

    landed = pipeline.land_to_bronze("gaj.hukou", settings)

    assert landed["batches"] == [] and _waiting(landed) == [("b1", "manifest_mismatch")]
    assert "does not match its SHA-256" in landed["waiting"][0]["message"]

    # the manifest's check is the completeness signal: a fresh file is read at once
    _write_manifest(path)
    landed = pipeline.land_to_bronze("gaj.hukou", settings)
    assert [(b["batch_id"], b["ingested"]) for b in landed["batches"]] == [("b1", ["hukou.csv"])]
    assert _file_log(settings) == [("b1", "hukou.csv", "ingested", None)]


def _accounting_rows(settings) -> list[tuple]:
    rows = ledger.read_rows(table_uri(settings, "governance", "row_accounting"))
    return sorted(
        (
            r["status"],
            r["bronze_rows"],
            r["pool_rows"],
            r["quarantined_rows"],
            r["duplicate_rows"],
            r["superseded_rows"],
            r["is_balanced"],
        )
        for r in rows
    )


def test_corrected_redelivery_supersedes_the_earlier_rows_in_the_pool(spark, settings):
    first = HEADER + _row(_id(1)) + _row(_id(2)) + _row(_id(2)) + _row(_id(3)[:-1] + "0")
    path = _deliver(settings, "b1", "hukou.csv", first)
    _deliver(settings, "b2", "hukou.csv", HEADER + _row(_id(9)) + _row(_id(2)))
    _run_all(spark, settings)

    # the department corrects b1: person 2 renamed, the bad ID fixed, person 4 added
    corrected = HEADER + _row(_id(1)) + _row(_id(2), "李四") + _row(_id(3)) + _row(_id(4))
    path.write_bytes(corrected.encode("gbk"))
    _age(path, 600)
    landed, promoted, accounted = _run_all(spark, settings)

    assert [(b["batch_id"], b["ingested"]) for b in landed["batches"]] == [("b1", ["hukou.csv"])]
    assert (promoted["pool_rows"], promoted["superseded_rows"]) == (4, 3)
    # b2 repeated person 2 as first delivered: counted a duplicate then, named for review now
    [review] = promoted["duplicates_to_review"]
    assert review["corrected"] == "b1/hukou.csv" and "b2/hukou.csv (1)" in review["message"]
    assert _people(spark, settings, "pool") == sorted([_id(n) for n in (1, 2, 3, 4, 9)])
    pool_df = tables.read_table(spark, table_uri(settings, "pool", "gaj", "hukou"))
    assert {r.full_name for r in pool_df.collect() if r.person_id == _id(2)} == {"李四"}
    bronze_people = _people(spark, settings, "bronze")
    assert len(bronze_people) == 4 + 2 + 4  # both versions of b1, and b2
    assert accounted["balanced"]
    assert (accounted["bronze_rows"], accounted["pool_rows"]) == (10, 5)
    assert (accounted["quarantined_rows"], accounted["superseded_rows"]) == (1, 3)
    assert _accounting_rows(settings) == [
        ("ingested", 2, 1, 0, 1, 0, True),  # b2
        ("ingested", 4, 4, 0, 0, 0, True),  # b1, the correction
        ("superseded", 4, 0, 1, 0, 3, True),  # b1 as first delivered: its bad row stays
    ]

    before = _versions(settings)
    landed, promoted, accounted = _run_all(spark, settings)
    assert landed["batches"] == [] and promoted["promoted"] == [] and accounted["balanced"]
    assert _versions(settings) == before

    # the first version delivered again is not silently taken for the current one
    path.write_bytes(first.encode("gbk"))
    _age(path, 300)
    landed = pipeline.land_to_bronze("gaj.hukou", settings)
    assert [(r["batch_id"], r["reason"]) for r in landed["rejected"]] == []
    assert ("b1", "hukou.csv", "rejected", "reverts_correction") in _file_log(settings)
    assert pipeline.check_row_accounting("gaj.hukou", settings)["balanced"]
    assert _people(spark, settings, "pool") == sorted([_id(n) for n in (1, 2, 3, 4, 9)])


def test_identical_redelivery_is_skipped_and_logged(spark, settings):
    path = _deliver(settings, "b1", "hukou.csv", HEADER + _row(_id(1)) + _row(_id(2)))
    _run_all(spark, settings)
    _age(path, 600)  # copied again: same bytes, new mtime

    landed, promoted, accounted = _run_all(spark, settings)

    assert landed["batches"] == [
        {
            "batch_id": "b1",
            "ingested": [],
            "quarantined": [],
            "skipped_duplicate": ["hukou.csv"],
            "bronze_rows": 0,
        }
    ]
    assert promoted["promoted"] == [] and accounted["balanced"]
    assert (accounted["files"], accounted["bronze_rows"], accounted["pool_rows"]) == (1, 2, 2)
    assert _file_log(settings) == [
        ("b1", "hukou.csv", "ingested", None),
        ("b1", "hukou.csv", "skipped_duplicate", "same_content"),
    ]
    before = _versions(settings)
    assert pipeline.land_to_bronze("gaj.hukou", settings)["batches"] == []
    assert _versions(settings) == before


def test_full_file_replacing_a_truncated_one_is_read(spark, lake_settings):
    settings = lake_settings.with_clock(pinned_clock(NOW))  # no quiet period: read half-copied
    full = HEADER + _row(_id(1)) + _row(_id(2))
    path = _deliver(settings, "b1", "hukou.csv", full[:-20])
    landed = pipeline.land_to_bronze("gaj.hukou", settings)
    assert landed["batches"][0]["quarantined"] == [{"file": "hukou.csv", "reason": "truncated"}]

    path.write_bytes(full.encode("gbk"))
    landed, promoted, accounted = _run_all(spark, settings)

    assert landed["batches"][0]["ingested"] == ["hukou.csv"]
    assert promoted["pool_rows"] == 2 and accounted["balanced"]
    assert [r[2] for r in _file_log(settings)] == ["ingested", "quarantined"]


def test_file_changed_while_read_waits_with_nothing_written(settings, monkeypatch):
    path = _deliver(settings, "b1", "hukou.csv", HEADER + _row(_id(1)))
    read_file = pipeline.read_file

    def read_while_the_copy_goes_on(*args, **kwargs):
        raw = read_file(*args, **kwargs)
        with path.open("ab") as still_copying:
            still_copying.write(_row(_id(2)).encode("gbk"))
        return raw

    monkeypatch.setattr(pipeline, "read_file", read_while_the_copy_goes_on)
    landed = pipeline.land_to_bronze("gaj.hukou", settings)

    assert _waiting(landed) == [("b1", "changed_while_read")]
    assert not tables.table_exists(table_uri(settings, "governance", "ingest_files"))
