"""``govlake share …`` and ``govlake open …``: grants, curated shares, exports, open data.

    govlake share request CONSUMER DATASET --purpose TEXT --as LOGIN [--fields a,b] [--expires D]
                          [--legal-basis TEXT]
    govlake share approve ID --as LOGIN --why TEXT --expires YYYY-MM-DD
    govlake share deny ID --as LOGIN --why TEXT
    govlake share ask-coordination ID --as LOGIN --why TEXT       consumer: the bureau coordinates
    govlake share coordinate ID --grant|--uphold --as LOGIN --why TEXT [--expires D]  (steward)
    govlake share revoke ID --as LOGIN --why TEXT
    govlake share list [--consumer C] [--status S] [--json]      overdue requests flagged
    govlake share snapshot                                        the store's grants → the lake
    govlake share import-grants                                   grants the lake held → the store
    govlake share refresh --as LOGIN                              rebuild share/<consumer>/<dataset>
    govlake share export CONSUMER DATASET --out FILE --as LOGIN [--format csv|xlsx]
    govlake share reidentify CONSUMER DATASET TOKEN… --purpose TEXT --as LOGIN   (bureau steward)
    govlake open publish --as LOGIN                               open resources, aggregates, list
    govlake open list [--json]                                    the open list (开放清单)

DATASET is a base database (``population``) or a resource id (``rsj.insured``). Requests and
decisions are signed by an account (``--as LOGIN``, its password asked or read with
``--password-file``; or a token in GOVLAKE_ACCOUNT_TOKEN; jobs.store.identity) whose role allows
them: a data officer requests for its department, an approver decides for its own department's
datasets only, the consumer's data officer asks the bureau to coordinate a refusal (协调) and the
bureau's steward decides it, a bureau steward refreshes, publishes and exports (a department's
data officer exports its own department's shares). Every action is in the audit log with who and why; the
scheduled refresh and publish sign as their Airflow task. Exit codes: 0 done, 1 refused
(the message says why), 2 a bad argument.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from jobs.settings import Settings
from jobs.store.identity import add_arguments as add_identity_arguments

EXIT_REFUSED = 1
EXIT_USAGE = 2


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _grant_line(g: dict[str, Any]) -> str:
    deadline = (
        f"{g['deadline']}{'*' if g['deadline_provisional'] else ''}" if g["deadline"] else "-"
    )
    return (
        f"{g['request_id'][:12]}  {g['status']:<8} {g['consumer']:<8} {g['dataset']:<16} "
        f"due {deadline:<11} expires {g['expires_on'] or '-'}  {g['purpose']}"
    )


def _request(args: argparse.Namespace) -> int:
    from jobs.share import grants
    from jobs.share.policy import SharePolicyError
    from jobs.store.accounts import AuthError
    from jobs.store.identity import signed_in
    from jobs.store.roles import Forbidden

    settings = Settings.from_env()
    fields = [f.strip() for f in (args.fields or "").split(",") if f.strip()]
    try:
        grant = grants.request_share(
            settings,
            consumer=args.consumer,
            dataset_id=args.dataset,
            fields=fields,
            purpose=args.purpose,
            by=signed_in(settings, args),
            expires_on=_date(args.expires),
            legal_basis=args.legal_basis or "",
        )
    except (grants.GrantError, SharePolicyError, AuthError, Forbidden) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    print(_grant_line({**grant, "status": grant["state"]}))
    return 0 if grant["state"] != grants.DENIED else EXIT_REFUSED


def _decide(args: argparse.Namespace) -> int:
    from jobs.share import grants
    from jobs.store.accounts import AuthError
    from jobs.store.identity import signed_in
    from jobs.store.roles import Forbidden

    settings = Settings.from_env()
    try:
        actor = signed_in(settings, args)
        if args.action == "revoke":
            grant = grants.revoke_grant(settings, args.request_id, by=actor, why=args.why)
        elif args.action == "ask-coordination":
            grant = grants.ask_coordination(settings, args.request_id, by=actor, why=args.why)
        elif args.action == "coordinate":
            grant = grants.coordinate(
                settings,
                args.request_id,
                args.grant,
                by=actor,
                why=args.why,
                expires_on=_date(args.expires),
            )
        else:
            grant = grants.decide_request(
                settings,
                args.request_id,
                args.action == "approve",
                by=actor,
                why=args.why,
                expires_on=_date(getattr(args, "expires", None)),
            )
    except (grants.GrantError, AuthError, Forbidden) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    late = " (answered after the deadline)" if grant.get("answered_late") else ""
    # a coordination's steps leave the grant refused; the request's state says where it stands
    if args.action == "ask-coordination":
        state = "coordinating"
    elif args.action == "coordinate" and not args.grant:
        state = "upheld"
    else:
        state = grant["state"]
    print(f"{grant['request_id']}: {state}{late}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from jobs.share.grants import list_grants

    rows = list_grants(Settings.from_env())
    if args.consumer:
        rows = [r for r in rows if r["consumer"] == args.consumer]
    if args.status:
        rows = [r for r in rows if r["status"] == args.status]
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        print(_grant_line(r))
    overdue = sum(1 for r in rows if r["status"] == "overdue")
    print(f"{len(rows)} request(s), {overdue} overdue; * = provisional deadline")
    return 0


def _snapshot(_args: argparse.Namespace) -> int:
    from jobs.share.grants import write_snapshot

    print(f"{write_snapshot(Settings.from_env())} request(s) in governance/share_grants")
    return 0


def _import(_args: argparse.Namespace) -> int:
    from jobs.share.grants import import_lake_grants, write_snapshot

    settings = Settings.from_env()
    copied = import_lake_grants(settings)
    write_snapshot(settings)
    print(f"{copied} request(s) copied from the lake into the workflow store")
    return 0


def _signed_run(args: argparse.Namespace, action: str, run) -> int:
    """Runs a task callable (refresh, publish) as the account that may take ``action``."""
    from jobs.store.accounts import AuthError
    from jobs.store.identity import authorised
    from jobs.store.roles import Forbidden

    try:
        actor = authorised(Settings.from_env(), args, action)
    except (AuthError, Forbidden) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    _print_json(run(actor=actor.login))
    return 0


def _refresh(args: argparse.Namespace) -> int:
    from jobs.share.keys import load_share_key
    from jobs.share.reident import load_reident_key
    from jobs.share.tasks import run_refresh_shares

    # Production without its own keys stops before anyone is asked for a password.
    settings = Settings.from_env()
    load_share_key(settings)
    load_reident_key(settings)
    return _signed_run(args, "share.refresh", run_refresh_shares)


def _reidentify(args: argparse.Namespace) -> int:
    from jobs.share.reident import ReidentError, reidentify
    from jobs.store.accounts import AuthError
    from jobs.store.identity import authorised
    from jobs.store.roles import Forbidden

    settings = Settings.from_env()
    try:
        actor = authorised(settings, args, "share.reidentify")
        found = reidentify(
            settings,
            args.consumer,
            args.dataset,
            args.tokens,
            actor=actor.login,
            purpose=args.purpose,
        )
    except (AuthError, Forbidden, ReidentError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    _print_json(found)
    missing = sorted(set(args.tokens) - set(found))
    if missing:
        print(f"{len(missing)} token(s) not in {args.consumer}/{args.dataset}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from jobs.share.export import ExportError, export_share
    from jobs.store.accounts import AuthError
    from jobs.store.identity import authorised
    from jobs.store.roles import Forbidden

    settings = Settings.from_env()
    try:
        actor = authorised(settings, args, "share.export", args.consumer)
        result = export_share(
            settings,
            args.consumer,
            args.dataset,
            Path(args.out),
            fmt=args.format,
            by=actor.login,
            today=settings.today(),
        )
    except (ExportError, AuthError, Forbidden) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    _print_json(result)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from jobs.share.tasks import run_publish_open_data

    return _signed_run(args, "open.publish", run_publish_open_data)


def _open_list(args: argparse.Namespace) -> int:
    from jobs.lake import ledger
    from jobs.lake.registry import OPEN_LIST

    rows = ledger.read_rows(OPEN_LIST.uri(Settings.from_env()))
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        print(f"{r['dataset']:<34} {r['domain']:<8} {r['update_frequency']:<8} {r['title']}")
    print(f"{len(rows)} open dataset(s)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake share`` and ``govlake open``."""
    parser = subparsers.add_parser(
        "share", help="share grants (共享), curated tables, exports", description=__doc__
    )
    parser.set_defaults(func=lambda _args: (parser.print_help(), EXIT_USAGE)[1])
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")

    request = verbs.add_parser("request", help="ask for a dataset for a consumer department")
    request.add_argument("consumer", help="consumer department code (mzj, rsj …)")
    request.add_argument("dataset", help="base name (population) or resource id (rsj.insured)")
    request.add_argument("--purpose", required=True)
    add_identity_arguments(request)
    request.add_argument("--fields", help="comma-separated fields (default: all shareable)")
    request.add_argument("--expires", help="YYYY-MM-DD")
    request.add_argument("--legal-basis", help="the consumer's legal basis (履职依据)")
    request.set_defaults(func=_request)

    for action, text in (
        ("approve", "grant a pending request"),
        ("deny", "refuse a pending request"),
        ("ask-coordination", "ask the bureau to coordinate (协调) a refusal (its consumer)"),
        ("coordinate", "grant a coordinated request or uphold its refusal (bureau steward)"),
        ("revoke", "withdraw a grant"),
    ):
        verb = verbs.add_parser(action, help=text)
        verb.add_argument("request_id")
        add_identity_arguments(verb)
        verb.add_argument("--why", required=True)
        if action == "approve":
            verb.add_argument("--expires", required=True, help="YYYY-MM-DD")
        if action == "coordinate":
            outcome = verb.add_mutually_exclusive_group(required=True)
            outcome.add_argument("--grant", action="store_true", help="grant the share")
            outcome.add_argument("--uphold", action="store_true", help="uphold the refusal")
            verb.add_argument("--expires", help="YYYY-MM-DD (a grant needs one)")
        verb.set_defaults(func=_decide, action=action)

    listing = verbs.add_parser("list", help="requests and grants; overdue ones flagged")
    listing.add_argument("--consumer")
    listing.add_argument(
        "--status",
        help="pending, overdue, granted, expired, denied, coordinating, upheld, revoked",
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)

    snapshot = verbs.add_parser("snapshot", help="write the store's grants to the lake again")
    snapshot.set_defaults(func=_snapshot)
    imported = verbs.add_parser(
        "import-grants", help="copy grants the lake held before the workflow store into it"
    )
    imported.set_defaults(func=_import)

    refresh = verbs.add_parser("refresh", help="rebuild every granted share table")
    add_identity_arguments(refresh)
    refresh.set_defaults(func=_refresh)

    export = verbs.add_parser("export", help="a granted share as CSV or XLSX")
    export.add_argument("consumer")
    export.add_argument("dataset")
    export.add_argument("--out", required=True)
    add_identity_arguments(export)
    export.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    export.set_defaults(func=_export)

    reid = verbs.add_parser(
        "reidentify", help="the IDs behind tokens of a share (bureau steward; audited)"
    )
    reid.add_argument("consumer")
    reid.add_argument("dataset")
    reid.add_argument("tokens", nargs="+", metavar="TOKEN")
    reid.add_argument("--purpose", required=True, help="why (recorded in the audit log)")
    add_identity_arguments(reid)
    reid.set_defaults(func=_reidentify)

    open_parser = subparsers.add_parser("open", help="open data (开放数据) and the open list")
    open_parser.set_defaults(func=lambda _args: (open_parser.print_help(), EXIT_USAGE)[1])
    open_verbs = open_parser.add_subparsers(dest="verb", metavar="VERB")
    publish = open_verbs.add_parser("publish", help="publish open resources and aggregates")
    add_identity_arguments(publish)
    publish.set_defaults(func=_publish)
    open_list = open_verbs.add_parser("list", help="the open list (开放清单)")
    open_list.add_argument("--json", action="store_true")
    open_list.set_defaults(func=_open_list)
