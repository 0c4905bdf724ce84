"""``govlake reports build``: the static HTML reports (quality, verification, yearly evaluation)."""

from __future__ import annotations

import argparse
import datetime as dt

from jobs.settings import Settings


def _build(args: argparse.Namespace) -> int:
    from jobs.reports.build import build_reports

    settings = Settings.from_env()
    today = dt.date.fromisoformat(args.as_of) if args.as_of else None
    paths = build_reports(settings, today=today, year=args.year)
    for path in paths:
        print(path)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    reports = subparsers.add_parser("reports", help="static HTML reports for quality teams")
    verbs = reports.add_subparsers(dest="reports_command", metavar="VERB", required=True)
    build = verbs.add_parser(
        "build",
        help="write quality, verification and yearly evaluation pages under the reports root",
    )
    build.add_argument(
        "--as-of", help="judge deadlines and freshness on this day (YYYY-MM-DD; default today)"
    )
    build.add_argument("--year", type=int, help="evaluation year (default: the --as-of year)")
    build.set_defaults(func=_build)
