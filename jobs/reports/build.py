"""``govlake reports build``: read the governance tables, build the view models, write pages.

Pages go to ``<reports_root>/reports/``: ``index.html`` linking ``quality.html``,
``verification.html``, ``evaluation.html`` and ``demands.html``. Every page is self-contained (inline CSS and SVG,
no script, nothing fetched), so it opens from a file share or an e-mail attachment offline.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from jobs.policy.workdays import WorkdayCalendar, default_override_paths, get_calendar
from jobs.reports.demands import DEMAND_STATE_LABELS, DemandReport, build_demand_report
from jobs.reports.evaluation import EvaluationReport, build_evaluation_report
from jobs.reports.labels import TASK_STATUS_LABELS, Directory, directory_from_catalog
from jobs.reports.quality import LOW_SCORE, QualityReport, build_quality_report
from jobs.reports.render import render_page
from jobs.reports.sources import GOVERNANCE_TABLES, SHARE_TABLES, ReportInputs, read_inputs
from jobs.reports.verification import VerificationReport, build_verification_report
from jobs.settings import Settings
from jobs.share.feedback import as_rectification_tasks

REPORTS_FOLDER = "reports"


@dataclass(frozen=True)
class Reports:
    """The view models of one build."""

    quality: QualityReport
    verification: VerificationReport
    evaluation: EvaluationReport
    demands: DemandReport


def build_view_models(
    inputs: ReportInputs,
    directory: Directory,
    today: dt.date,
    calendar: WorkdayCalendar,
    year: int | None = None,
) -> Reports:
    """Pure: every view model from the rows read."""
    return Reports(
        # error feedback is rectification too (整改, 002 §18): listed with the quality checks' tasks
        quality=build_quality_report(
            inputs.scorecards,
            [*inputs.rectification_tasks, *as_rectification_tasks(inputs.feedback)],
            directory,
            today,
        ),
        verification=build_verification_report(
            inputs.tickets, inputs.conflicts, directory, today, calendar
        ),
        evaluation=build_evaluation_report(
            ingest_files=inputs.ingest_files,
            pool_batches=inputs.pool_batches,
            scorecards=inputs.scorecards,
            rectification_tasks=inputs.rectification_tasks,
            tickets=inputs.tickets,
            share_tables=inputs.share_tables,
            directory=directory,
            year=year or today.year,
            as_of=today,
            feedback=inputs.feedback,
            demands=inputs.demands,
            requests=inputs.requests,
            request_events=inputs.request_events,
        ),
        demands=build_demand_report(inputs.demands, directory, today),
    )


def render_pages(reports: Reports, inputs: ReportInputs, meta: dict[str, str]) -> dict[str, str]:
    """File name → HTML of every page (pure)."""
    q, v, e = reports.quality, reports.verification, reports.evaluation
    needing = sum(1 for d in q.departments if d.has_scores and d.needs_rectification)
    pages = [
        {
            "file": "quality.html",
            "title": "质量评分卡 Quality scorecards",
            "description": "各部门、各资源六个维度的质量得分及趋势，整改任务 "
            "Scores per department and resource on six dimensions over time; rectification tasks",
            "summary": f"{q.resources_scored} resources, {q.batches_scored} batches scored; "
            f"{needing} department(s) need rectification",
        },
        {
            "file": "verification.html",
            "title": "冲突与校核 Conflicts and verification",
            "description": "校核工单状态、逾期与即将到期、异议属性 "
            "Ticket states per department, overdue and upcoming deadlines, disputed attributes",
            "summary": f"{v.tickets_total} tickets, {len(v.overdue)} overdue, "
            f"{len(v.upcoming) + v.upcoming_not_listed} due",
        },
        {
            "file": "evaluation.html",
            "title": f"{e.year} 年度评估 Yearly evaluation {e.year}",
            "description": "资源提供、时效、质量、冲突、按时校核、共享服务 "
            "Resources provided, freshness, quality, conflicts, verification on time, shares served",
            "summary": f"{len(e.departments)} departments, as of {e.as_of}",
        },
        {
            "file": "demands.html",
            "title": "需求清单 Data demands",
            "description": "各部门提出的数据需求、承办部门、答复与交付期限 "
            "Data demands per department, their holder, answer and delivery deadlines",
            "summary": f"{reports.demands.total} demands, {reports.demands.overdue} past due",
        },
    ]
    share_paths = {table.name: table.path for table in SHARE_TABLES}
    table_rows = [
        (table.path, len(getattr(inputs, attr))) for attr, table in GOVERNANCE_TABLES.items()
    ] + [(share_paths[name], len(rows)) for name, rows in inputs.share_tables.items()]
    table_rows += [
        ("store: requests (feedback 数据纠错)", len(inputs.feedback)),
        ("store: requests (demand 需求清单)", len(inputs.demands)),
    ]
    return {
        "index.html": render_page("index.html.j2", meta=meta, pages=pages, tables=table_rows),
        "quality.html": render_page(
            "quality.html.j2",
            meta=meta,
            report=q,
            dims=list(q.dimension_labels),
            low=LOW_SCORE,
            task_labels=TASK_STATUS_LABELS,
        ),
        "verification.html": render_page("verification.html.j2", meta=meta, report=v),
        "evaluation.html": render_page("evaluation.html.j2", meta=meta, report=e),
        "demands.html": render_page(
            "demands.html.j2", meta=meta, report=reports.demands, labels=DEMAND_STATE_LABELS
        ),
    }


def build_reports(
    settings: Settings,
    *,
    today: dt.date | None = None,
    year: int | None = None,
    directory: Directory | None = None,
) -> list[Path]:
    """Reads the lake, writes every page under ``<reports_root>/reports/``; returns the paths.

    Args:
        today: the day deadlines and freshness are judged on (default: the bureau's today,
            :meth:`Settings.today`).
        year: the evaluation year (default: ``today``'s).
        directory: department and resource names (default: the catalog).
    """
    today = today or settings.today()
    if directory is None:
        from jobs.catalog.loader import load_catalog

        directory = directory_from_catalog(
            load_catalog(settings.schemas_root, settings.catalog_revisions_root)
        )
    calendar = get_calendar(default_override_paths(settings))
    inputs = read_inputs(settings)
    reports = build_view_models(inputs, directory, today, calendar, year)
    meta = {
        "generated_at": settings.local_now().strftime("%Y-%m-%d %H:%M %Z"),
        "as_of": today.isoformat(),
        "profile": settings.policy_profile,
        "lake_root": settings.lake_root,
    }
    folder = Path(settings.reports_root) / REPORTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, html in render_pages(reports, inputs, meta).items():
        path = folder / name
        # Write then rename, so a reader never opens a half-written page.
        tmp = path.with_suffix(".html.tmp")
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written
