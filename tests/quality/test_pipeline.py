from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from pathlib import Path

import pytest

from jobs.lake import tables
from jobs.lake.paths import table_uri
from jobs.quality import gates
from jobs.quality.docs import external_loads
from jobs.quality.gates import QualityGateError
from jobs.quality.pipeline import validate_pool_batch
from jobs.settings import Settings, pinned_clock

from ..browser import dump_dom, needs_chromium
from .conftest import ALICE, BOB, citizen_id, hukou_row, make_pool_df

pytestmark = [pytest.mark.spark, pytest.mark.slow]

B1_AT = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)  # Friday before National Day
B2_AT = dt.datetime(2025, 9, 29, 2, 0, tzinfo=dt.UTC)  # Monday (Sunday 09-28 was a workday)
OTHERS = [citizen_id(f"44030619900101{n:03d}") for n in range(120, 124)]


def ingested(row: dict, when: dt.datetime) -> dict:
    return {**row, "ingested_at": when, "promoted_at": when}


def at(settings: Settings, when: dt.datetime) -> Settings:
    return settings.with_clock(pinned_clock(when))


def batch_one() -> list[dict]:
    rows = [
        hukou_row("b1", 1, ALICE),
        hukou_row("b1", 2, ALICE, household_id="H0002"),  # the same resident twice
        hukou_row("b1", 3, BOB, gender="2"),  # gender disagrees with the ID
    ]
    rows += [hukou_row("b1", 4 + i, pid) for i, pid in enumerate(OTHERS[:3])]
    return [ingested(r, B1_AT) for r in rows]


def batch_two() -> list[dict]:
    rows = [hukou_row("b2", 1, ALICE), hukou_row("b2", 2, BOB)]
    rows += [hukou_row("b2", 3 + i, pid) for i, pid in enumerate(OTHERS)]
    return [ingested(r, B2_AT) for r in rows]


def append_pool(spark, settings, rows):
    uri = table_uri(settings, "pool", "gaj", "hukou")
    tables.write_table(make_pool_df(spark, "gaj.hukou", rows), uri, mode="append")


def read(spark, settings, name):
    return [
        r.asDict(recursive=True)
        for r in tables.read_table(spark, table_uri(settings, "governance", name)).collect()
    ]


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    settings = Settings(
        lake_root=str(root / "lake"),
        landing_root=str(root / "landing"),
        reports_root=str(root / "reports"),
        spark_master="local[2]",
        shuffle_partitions=2,
        policy_profile="hebi",
    )
    append_pool(spark, settings, batch_one())
    with pytest.raises(QualityGateError) as held:
        validate_pool_batch("gaj.hukou", at(settings, B1_AT), spark=spark)
    after_b1 = {
        "batches": read(spark, settings, "quality_batches"),
        "failing": read(spark, settings, "quality_failing_rows"),
        "results": read(spark, settings, "quality_results"),
        "scorecards": read(spark, settings, "quality_scorecards"),
        "tasks": read(spark, settings, "rectification_tasks"),
    }
    with pytest.raises(QualityGateError) as retried:
        validate_pool_batch("gaj.hukou", at(settings, B1_AT), spark=spark)
    rerun = (str(retried.value), read(spark, settings, "quality_batches"))
    append_pool(spark, settings, batch_two())
    second = validate_pool_batch("gaj.hukou", at(settings, B2_AT), spark=spark)
    return settings, str(held.value), after_b1, rerun, second


def test_critical_failure_beyond_threshold_holds_the_batch_and_fails_the_task(runs):
    _, message, after_b1, _, _ = runs
    assert "gaj.hukou batch b1 held" in message
    assert "person_id.unique_in_batch 2/6 rows = 33.33% > threshold 1.00%" in message
    (decision,) = after_b1["batches"]
    assert (decision["status"], decision["failed_critical"], decision["failing_rows"]) == (
        "held",
        ["person_id.unique_in_batch"],
        3,
    )
    assert decision["failed_warning"] == ["gender.matches_id"]


def test_held_batch_rows_stay_in_the_pool(spark, runs):
    settings = runs[0]
    pool = tables.read_table(spark, table_uri(settings, "pool", "gaj", "hukou"))
    assert pool.where("batch_id = 'b1'").count() == 6


def test_failing_rows_table_has_every_failing_row_with_key_and_names(runs):
    _, _, after_b1, _, _ = runs
    got = sorted(
        (r["row_number"], r["record_key"], sorted(r["failed_expectations"]))
        for r in after_b1["failing"]
    )
    assert got == [
        (1, ALICE, ["person_id.unique_in_batch"]),
        (2, ALICE, ["person_id.unique_in_batch"]),
        (3, BOB, ["gender.matches_id"]),
    ]
    assert {r["source_file"] for r in after_b1["failing"]} == {"b1.csv"}


def test_results_record_gx_agreeing_with_govlake(runs):
    _, _, after_b1, _, _ = runs
    results = {r["expectation"]: r for r in after_b1["results"]}
    unique = results["person_id.unique_in_batch"]
    assert (unique["unexpected"], unique["gx_unexpected"], unique["gx_agrees"]) == (2, 2, True)
    ran_in_gx = [r for r in after_b1["results"] if r["gx_agrees"] is not None]
    assert ran_in_gx and all(r["gx_agrees"] for r in ran_in_gx)
    assert results["batch.row_count_change"]["status"] == "skipped"


def test_scorecard_of_the_held_batch(runs):
    _, _, after_b1, _, _ = runs
    (card,) = after_b1["scorecards"]
    assert card["uniqueness"] == pytest.approx(4 / 6)
    assert card["status"] == "held"
    assert card["timeliness"] is None  # first batch: freshness skipped


def test_tasks_opened_to_the_department_with_working_day_deadlines(runs):
    _, _, after_b1, _, _ = runs
    tasks = {t["expectation"]: t for t in after_b1["tasks"]}
    unique = tasks["person_id.unique_in_batch"]
    assert (unique["department"], unique["status"], unique["deadline"], unique["workdays"]) == (
        "gaj",
        "open",
        dt.date(2025, 10, 16),  # 鹤壁: 10 wd from Friday 09-26 across the National Day holiday
        10,
    )


def test_retried_task_validates_nothing_twice_and_still_fails_while_held(runs):
    _, message, after_b1, (retry_message, batches_after_retry), _ = runs
    assert retry_message == message
    assert batches_after_retry == after_b1["batches"]


def test_a_later_passing_batch_no_longer_fails_the_task(runs):
    _, _, _, _, second = runs
    assert second["held"] == 0


def test_warnings_pass_and_a_later_clean_batch_closes_the_tasks(spark, runs):
    settings, _, _, _, second = runs
    (b2,) = second["batches"]
    assert b2["status"] == "passed"
    assert "batch.freshness" not in b2["skipped"]
    tasks = {t["expectation"]: t for t in read(spark, settings, "rectification_tasks")}
    assert {(t["status"], t["closed_batch_id"]) for t in tasks.values()} == {("closed", "b2")}
    assert len(read(spark, settings, "quality_scorecards")) == 2


def test_held_batch_can_be_marked_promotable_after_rectification(spark, runs):
    settings = runs[0]
    assert gates.held_batches(settings) == {"gaj.hukou": ["b1"]}
    row = gates.mark_promotable(
        settings,
        "gaj.hukou",
        "b1",
        decided_by="质量科 王五",
        note="duplicates confirmed as one person",
    )
    assert row["status"] == "promotable"
    assert gates.held_batches(settings) == {}
    with pytest.raises(ValueError, match="not held"):
        gates.mark_promotable(settings, "gaj.hukou", "b2", decided_by="x", note="y")


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.local: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.local.append(attrs["src"])
        if tag == "link" and "stylesheet" in (attrs.get("rel") or ""):
            self.local.append(attrs["href"])


def test_data_docs_site_is_static_and_self_contained(runs):
    settings = runs[0]
    site = Path(settings.reports_root) / "data_docs"
    index = site / "index.html"
    pages = list(site.rglob("*.html"))
    assert index.exists() and len(pages) >= 3  # index, the suite, the validation result
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert external_loads(html) == [], page
        parser = _Assets()
        parser.feed(html)
        for ref in parser.local:
            assert (page.parent / ref).resolve().exists(), (page, ref)
    results = list((site / "validations").rglob("*.html"))
    assert results and "b1" in str(results[0])
    index_html = index.read_text(encoding="utf-8")
    assert "gaj.hukou" in index_html and "validations/" in index_html


@needs_chromium
def test_data_docs_index_renders_offline_in_a_headless_browser(runs):
    settings = runs[0]
    index = Path(settings.reports_root) / "data_docs" / "index.html"
    dom = dump_dom(index)
    # The result list is drawn by bootstrap-table from inline data: rows exist only if the
    # vendored scripts loaded and ran.
    assert "<td" in dom and "gaj.hukou" in dom


def test_a_batch_is_cached_in_partitions_of_about_the_configured_rows(spark, monkeypatch):
    from jobs.quality import pipeline

    rows = [hukou_row("b1", n, pid) for n, pid in enumerate(OTHERS, start=1)]
    rows += [hukou_row("b2", 1, ALICE)]
    pool_df = make_pool_df(spark, "gaj.hukou", rows).repartition(4)
    monkeypatch.setattr(pipeline, "ROWS_PER_CACHED_PARTITION", 3)
    cached = pipeline._cached_batch(pool_df, 4, "b1")
    try:
        assert cached.rdd.getNumPartitions() == 2
        assert sorted(r["row_number"] for r in cached.collect()) == [1, 2, 3, 4]
    finally:
        cached.unpersist()
    alone = pipeline._cached_batch(pool_df, 1, "b2")
    try:
        assert alone.rdd.getNumPartitions() == 1
        assert [r["person_id"] for r in alone.collect()] == [ALICE]
    finally:
        alone.unpersist()
