from __future__ import annotations

import re

import pyarrow as pa
import pytest

from jobs.lake import ledger
from jobs.lake.paths import table_uri
from jobs.quality.docs import external_loads
from jobs.reports.build import build_reports
from jobs.reports.sources import find_share_tables, read_inputs
from jobs.settings import Settings
from tests.browser import dump_dom, needs_chromium, read_page, screenshot

from .sample import TODAY, write_sample_lake


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    settings = Settings(lake_root=str(root / "lake"), reports_root=str(root / "out"))
    write_sample_lake(settings)
    written = build_reports(settings, today=TODAY)  # departments from the real catalog
    return {p.name: p for p in written}


@pytest.fixture(scope="module")
def seen(pages):
    """What Chromium made of each page (the DOM after loading), parsed for text and charts."""
    return {name: read_page(dump_dom(path)) for name, path in pages.items()}


def test_pages_are_written_offline_and_self_contained(pages):
    assert sorted(pages) == [
        "demands.html",
        "evaluation.html",
        "index.html",
        "quality.html",
        "verification.html",
    ]
    for path in pages.values():
        html = path.read_text(encoding="utf-8")
        assert external_loads(html) == [], path
        assert "<script" not in html  # charts are inline SVG: nothing to run or fetch


def test_reports_command_writes_the_pages(tmp_path, monkeypatch, capsys):
    from jobs.cli import main

    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("GOVLAKE_REPORTS_ROOT", str(tmp_path / "out"))
    assert main(["reports", "build", "--as-of", "2025-06-30"]) == 0
    printed = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[-1] for p in printed] == [
        "index.html",
        "quality.html",
        "verification.html",
        "evaluation.html",
        "demands.html",
    ]
    empty = (tmp_path / "out" / "reports" / "verification.html").read_text(encoding="utf-8")
    assert "No verification tickets yet" in empty
    no_demands = (tmp_path / "out" / "reports" / "demands.html").read_text(encoding="utf-8")
    assert "No data demands yet" in no_demands


def test_share_tables_are_found_when_the_share_area_writes_them(tmp_path):
    settings = Settings(lake_root=str(tmp_path / "lake"))
    assert find_share_tables(settings) == {}
    schema = pa.schema([("provider_department", pa.string()), ("status", pa.string())])
    rows = [{"provider_department": "gaj", "status": "granted"}]
    ledger.append_rows(table_uri(settings, "governance", "share_grants"), rows, schema, "g1")
    ledger.append_rows(table_uri(settings, "governance", "conflicts"), rows, schema, "c1")
    assert list(find_share_tables(settings)) == ["share_grants"]
    assert read_inputs(settings).share_tables == {"share_grants": rows}


@needs_chromium
def test_index_links_every_report(seen):
    index = seen["index.html"]
    assert {"quality.html", "verification.html", "evaluation.html"} <= set(index.links)
    assert "质量评分卡 Quality scorecards" in index.text
    assert "5 tickets, 1 overdue, 2 due" in index.text
    assert "1 department(s) need rectification" in index.text


@needs_chromium
def test_quality_page_shows_scores_failing_and_empty_departments(seen):
    page = seen["quality.html"]
    text = page.text
    assert "市场监督管理局 Market Regulation Administration (scjgj)" in text
    assert "需整改 Needs rectification" in text and "拦截 held" in text
    assert "60.0%" in text  # scjgj's validity in its latest batch
    assert "教育局 Education Bureau (jyj)" in text and "Departments without scores" in text
    overview = page.chart("Overall quality score per department")
    # eight catalog departments, two with scores: two bars, and scjgj's is below the mark
    assert page.count(overview, "rect", "track") == 8
    assert page.count(overview, "rect", "bar") == 2 and page.count(overview, "rect", "low") == 1
    hukou = page.chart(
        "户籍人口信息 Household registration (hukou) residents (gaj.hukou): scores per"
    )
    assert page.count(hukou, "rect", "bar") == 5  # accuracy was not measured: no bar, "—"
    trend = page.chart(
        "户籍人口信息 Household registration (hukou) residents (gaj.hukou): scores over"
    )
    assert page.count(trend, "polyline", "overall") == 1
    assert page.count(trend, "circle", "overall") == 3  # one point per batch
    assert "uscc_valid_t1" in text and "逾期 overdue" in text


@needs_chromium
def test_verification_page_shows_overdue_upcoming_and_disputed(seen):
    page = seen["verification.html"]
    text = page.text
    assert re.search(r"Tickets: 5 = 待核 open 1 \+ 已延期 extended 1 \+ 逾期 overdue 1", text)
    assert "Overdue (1)" in text and "T-OVERDUE" in text
    assert "Upcoming deadlines (2)" in text and "T-EXTENDED" in text and "T-OPEN" in text
    timeline = page.chart("Verification deadlines")
    assert page.count(timeline, "rect", "span") == 3
    assert (
        page.count(timeline, "rect", "overdue") == 1 and page.count(timeline, "line", "today") == 1
    )
    states = page.chart("Verification tickets per department by state")
    # gaj: overdue + open + confirmed; mzj: open; scjgj: extended; swj: resolved
    assert page.count(states, "rect", "segment") == 6
    disputed = page.chart("Disputed attributes")
    assert page.count(disputed, "rect", "bar") == 4
    assert "marital_status" in text and "entity_name" in text


@needs_chromium
def test_evaluation_page_shows_measures_per_department_and_no_share_data(seen):
    page = seen["evaluation.html"]
    text = page.text
    assert "2025 年度政务数据评估 Yearly evaluation 2025" in text
    assert "no share data yet" in text and "not counted, not zero" in text
    assert "本年无数据 no activity" in text  # e.g. 教育局
    assert "过期 stale" in text and "按时 on time" in text and "从未交付 never delivered" in text
    for title in ("2025: share of catalog resources", "2025: mean overall quality"):
        chart = page.chart(title)
        assert page.count(chart, "rect", "track") == 8
    assert page.count(page.chart("2025: verification tickets answered on time"), "rect", "bar") == 2


@needs_chromium
def test_pages_render_to_a_screenshot(pages, tmp_path):
    png = screenshot(pages["quality.html"], tmp_path / "quality.png", height=1200)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # drawn, not blank
