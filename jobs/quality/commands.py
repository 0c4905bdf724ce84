"""``govlake quality …``: suites, validation, rectification tasks, Data Docs, releasing batches.

    govlake quality suites [--check]              regenerate expectations/*.json from the catalog
    govlake quality show RESOURCE [--json]        every check gaj.hukou … gets, and from where
    govlake quality validate RESOURCE [--batch B] validate new pool batches of gaj.hukou …
    govlake quality tasks [--status S] [--dept D] rectification tasks (整改) with deadlines
    govlake quality docs                          rebuild the Data Docs site (offline)
    govlake quality promote RESOURCE BATCH --as LOGIN --note TEXT
                                                  mark a held batch promotable after 整改
                                                  (a quality reviewer's account; audited)

Exit codes: 0 done, 1 a quality gate held a batch / suites are stale / the release was refused,
2 a bad argument.
"""

from __future__ import annotations

import argparse
import json
import sys

from jobs.settings import Settings
from jobs.store.identity import add_arguments as add_identity_arguments

EXIT_FAILED = 1
EXIT_USAGE = 2


def _help(parser: argparse.ArgumentParser):
    def show(_args: argparse.Namespace) -> int:
        parser.print_help()
        return EXIT_USAGE

    return show


def _suites(args: argparse.Namespace) -> int:
    from jobs.catalog.loader import load_catalog
    from jobs.quality import suites

    settings = Settings.from_env()
    # The committed suites follow `schemas/` (git); approved revisions get theirs generated
    # when a batch is validated (suites.suite_for).
    catalog = load_catalog(settings.schemas_root)
    if args.check:
        stale = suites.stale_suites(catalog)
        for rid in stale:
            print(f"stale: expectations/{rid}.json (run `govlake quality suites`)")
        return EXIT_FAILED if stale else 0
    written = suites.write_suites(catalog)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("suites are up to date")
    return 0


def _show(args: argparse.Namespace) -> int:
    from jobs.catalog.loader import load_catalog
    from jobs.quality import rules, suites

    settings = Settings.from_env()
    catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)
    try:
        resource = catalog.resource(args.resource)
    except KeyError as unknown:
        print(str(unknown).strip("'\""), file=sys.stderr)
        return EXIT_USAGE
    quality_rules = rules.load_rules(settings.schemas_root)
    checks = suites.suite_checks(resource, catalog, suites.load_cross_field(), quality_rules)
    accuracy = suites.accuracy_checks(resource, catalog, quality_rules)
    _level, accuracy_source = rules.accuracy_level(resource, quality_rules)
    rows = [
        {
            "check": c.name,
            "severity": c.severity,
            "threshold": c.threshold,
            "dimension": c.dimension,
            "type": c.type,
            "kwargs": c.kwargs,
            "notes": c.notes,
            "source": c.source,
        }
        for c in checks
    ]
    rows += [
        {
            "check": a.name,
            "severity": a.severity,
            "threshold": a.threshold,
            "dimension": a.dimension,
            "type": "accuracy (govlake)",
            "kwargs": {"column": a.column, "authority": a.authority, "key": list(a.key)},
            "notes": f"{a.column} agrees with {a.authority}.{a.authority_column} by key.",
            "source": accuracy_source,
        }
        for a in accuracy
    ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return 0
    print(
        f"{resource.id} {resource.title}: {len(rows)} checks "
        f"(update cycle {resource.update_frequency})"
    )
    header = ("check", "severity", "threshold", "dimension", "from", "what")
    lines = [header] + [
        (r["check"], r["severity"], f"{r['threshold']:g}", r["dimension"], r["source"], r["notes"])
        for r in rows
    ]
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    for row in lines:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _validate(args: argparse.Namespace) -> int:
    from jobs.quality.gates import QualityGateError
    from jobs.quality.pipeline import validate_pool_batch

    try:
        summary = validate_pool_batch(args.resource, Settings.from_env(), batch_id=args.batch)
    except QualityGateError as held:
        print(str(held), file=sys.stderr)
        return EXIT_FAILED
    except (KeyError, ValueError) as bad:
        print(str(bad).strip("'\""), file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from jobs.policy.workdays import get_calendar
    from jobs.quality.rectification import read_tasks, recount_provisional, refresh_overdue

    settings = Settings.from_env()
    # Deadline and overdue as of today, not only as of the last batch validated.
    tasks = recount_provisional(read_tasks(settings, department=args.dept), get_calendar(settings))
    tasks = refresh_overdue(tasks, settings.today())
    if args.status != "all":
        tasks = [t for t in tasks if t["status"] == args.status]
    tasks.sort(key=lambda t: (t["deadline"], t["department"], t["resource"], t["expectation"]))
    if args.json:
        print(json.dumps(tasks, indent=2, ensure_ascii=False, default=str))
        return 0
    if not tasks:
        print("no rectification tasks" + ("" if args.status == "all" else f" ({args.status})"))
        return 0
    header = ("status", "deadline", "dept", "resource", "expectation", "severity", "batch", "n")
    lines = [header]
    for t in tasks:
        deadline = t["deadline"].isoformat() + ("*" if t["deadline_provisional"] else "")
        lines.append(
            (
                t["status"],
                deadline,
                t["department"],
                t["resource"],
                t["expectation"],
                t["severity"],
                t["last_failed_batch_id"],
                str(t["unexpected"] if t["unexpected"] is not None else "-"),
            )
        )
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    for row in lines:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if any(t["deadline_provisional"] for t in tasks):
        print("* provisional: counted over a year without an official holiday schedule")
    return 0


def _docs(_args: argparse.Namespace) -> int:
    from jobs.quality.docs import build_data_docs

    print(build_data_docs(Settings.from_env()))
    return 0


def _promote(args: argparse.Namespace) -> int:
    from jobs.quality.gates import mark_promotable
    from jobs.store.accounts import AuthError
    from jobs.store.identity import authorised
    from jobs.store.roles import Forbidden

    settings = Settings.from_env()
    try:
        actor = authorised(settings, args, "quality.release")
    except (AuthError, Forbidden) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    try:
        row = mark_promotable(
            settings,
            args.resource,
            args.batch,
            decided_by=actor.login,
            note=args.note,
        )
    except ValueError as bad:
        print(str(bad), file=sys.stderr)
        return EXIT_USAGE
    print(f"{args.resource} batch {args.batch}: {row['status']} ({row['message']})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``quality`` to the ``govlake`` command."""
    quality = subparsers.add_parser(
        "quality", help="data quality (数据质量): suites, validation, tasks (整改), Data Docs"
    )
    quality.set_defaults(func=_help(quality))
    cmds = quality.add_subparsers(dest="quality_command", metavar="SUBCOMMAND")

    suites = cmds.add_parser("suites", help="regenerate expectations/*.json from the catalog")
    suites.add_argument(
        "--check", action="store_true", help="only report suites that differ (exit 1)"
    )
    suites.set_defaults(func=_suites)

    show = cmds.add_parser("show", help="every check a resource gets, and where it comes from")
    show.add_argument("resource", metavar="RESOURCE", help="<dept>.<resource>, e.g. gaj.hukou")
    show.add_argument("--json", action="store_true", help="print as JSON (with kwargs and notes)")
    show.set_defaults(func=_show)

    validate = cmds.add_parser("validate", help="validate the new pool batches of a resource")
    validate.add_argument("resource", metavar="RESOURCE", help="<dept>.<resource>, e.g. gaj.hukou")
    validate.add_argument("--batch", help="validate only this batch (again)")
    validate.set_defaults(func=_validate)

    tasks = cmds.add_parser("tasks", help="rectification tasks (整改) with status and deadline")
    tasks.add_argument(
        "--status",
        choices=("open", "overdue", "closed", "all"),
        default="all",
        help="only tasks in this status (default all)",
    )
    tasks.add_argument("--dept", help="only this department's tasks, e.g. gaj")
    tasks.add_argument("--json", action="store_true", help="print as JSON")
    tasks.set_defaults(func=_tasks)

    docs = cmds.add_parser("docs", help="rebuild the Data Docs site under the reports root")
    docs.set_defaults(func=_docs)

    promote = cmds.add_parser("promote", help="mark a held batch promotable after rectification")
    promote.add_argument("resource", metavar="RESOURCE")
    promote.add_argument("batch", metavar="BATCH")
    add_identity_arguments(promote)
    promote.add_argument("--note", required=True, help="why (what was rectified)")
    promote.set_defaults(func=_promote)
