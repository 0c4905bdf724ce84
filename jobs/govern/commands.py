"""``govlake tickets …``: verification tickets (校核) for data stewards and departments.

    govlake tickets list [--state S] [--dept D] [--base B] [--json]   tickets, newest deadline last
    govlake tickets show ID [--json]                                  one ticket and its events
    govlake tickets extend ID --as LOGIN --why TEXT [--workdays N]    ask for the extension (延期)
    govlake tickets approve-extension ID --as LOGIN --why TEXT        the bureau grants it
    govlake tickets refuse-extension ID --as LOGIN --why TEXT         the bureau refuses it
    govlake tickets confirm ID --as LOGIN --why TEXT                  the value is verified (确认)
    govlake tickets correct ID --as LOGIN --value V --why TEXT        our value is V (更正)
    govlake tickets dispute ID --as LOGIN --why TEXT                  the finding is wrong (异议)
    govlake tickets resolve ID --as LOGIN --why TEXT                  settled (办结)
    govlake tickets comment ID --as LOGIN --why TEXT                  a comment, any state (意见)
    govlake tickets file --base B --key K --element E --as LOGIN --why TEXT [--for NAME]
                                                                      a verification request
    govlake tickets check-deadlines [--today YYYY-MM-DD]              overdue → escalated (daily)

Every action is signed by an account (``--as LOGIN`` with its password, asked or read with
``--password-file``; jobs.store.identity): a data officer of an assigned department answers and
asks for the extension; the bureau's steward approves or refuses it; a quality reviewer or the
steward of the bureau may confirm or resolve any ticket. A request is filed by a using
department's data officer, or by the bureau for a citizen or legal person (``--for``), and goes
to the element's authoritative department. Every action is recorded in the workflow store with
who and why (``--why``), audited, and copied to the lake's ``governance/ticket_events``.
An ID may be given by a unique prefix. Exit codes: 0 done, 1 the action is not allowed (the
message says why), 2 a bad argument.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from jobs.govern import tickets
from jobs.settings import Settings
from jobs.store.identity import add_arguments as add_identity_arguments

EXIT_REFUSED = 1
EXIT_USAGE = 2


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _list(args: argparse.Namespace) -> int:
    filters = []
    if args.state:
        filters.append(("state", "=", args.state))
    if args.base:
        filters.append(("base", "=", args.base))
    rows = tickets.read_tickets(Settings.from_env(), filters or None)
    if args.dept:
        rows = [r for r in rows if args.dept in (r["assigned_departments"] or [])]
    rows.sort(key=lambda r: (r["deadline"], r["ticket_id"]))
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no tickets")
        return 0
    for r in rows:
        topic = r["rule"] or r["element"]
        departments = ",".join(r["assigned_departments"] or [])
        provisional = "*" if r["deadline_provisional"] else " "
        print(
            f"{r['ticket_id'][:12]}  {r['state']:<9}  {r['deadline']}{provisional} "
            f"{departments:<10} {r['issue_type']:<8} {topic:<38} {r['key']}"
        )
    print(f"{len(rows)} ticket(s); * = deadline over a year without an official calendar")
    return 0


def _show(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        ticket = tickets.find_ticket(settings, args.ticket_id)
    except tickets.TicketError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    events = tickets.read_events(settings, ticket["ticket_id"])
    if args.json:
        _print_json({"ticket": ticket, "events": events})
        return 0
    for name, value in ticket.items():
        print(f"{name:<22} {value}")
    print("events:")
    for e in events:
        print(f"  {e['at']:%Y-%m-%d %H:%M}  {e['event']:<13} {e['by']:<12} {e['why']}")
    return 0


def _act(args: argparse.Namespace) -> int:
    from jobs.store.accounts import AuthError
    from jobs.store.identity import signed_in
    from jobs.store.roles import Forbidden

    settings = Settings.from_env()
    try:
        actor = signed_in(settings, args)
        ticket_id, why = args.ticket_id, args.why
        if args.action == "extend":
            ticket = tickets.ask_extension(
                settings, ticket_id, by=actor, why=why, workdays=args.workdays
            )
        elif args.action in ("approve-extension", "refuse-extension"):
            grant = args.action == "approve-extension"
            ticket = tickets.decide_extension(settings, ticket_id, grant=grant, by=actor, why=why)
        elif args.action == "correct":
            ticket = tickets.correct_ticket(
                settings, ticket_id, by=actor, value=args.value, why=why
            )
        elif args.action == "dispute":
            ticket = tickets.dispute_ticket(settings, ticket_id, by=actor, why=why)
        elif args.action == "comment":
            ticket = tickets.comment_ticket(settings, ticket_id, by=actor, why=why)
        else:
            state = tickets.CONFIRMED if args.action == "confirm" else tickets.RESOLVED
            ticket = tickets.close_ticket(settings, ticket_id, state, by=actor, why=why)
    except (tickets.TicketError, AuthError, Forbidden) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    print(f"{ticket['ticket_id']}: {ticket['state']}, deadline {ticket['deadline']}")
    return 0


def _file(args: argparse.Namespace) -> int:
    from jobs.integrate.config import load_integration_config
    from jobs.store.accounts import AuthError
    from jobs.store.identity import signed_in
    from jobs.store.roles import Forbidden

    settings = Settings.from_env()
    try:
        key_kind, resources = load_integration_config(settings).verification_subject(
            args.base, args.element
        )
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return EXIT_USAGE
    subject = {"base": args.base, "key_kind": key_kind, "key": args.key, "element": args.element}
    try:
        ticket = tickets.file_ticket(
            settings,
            subject,
            resources=resources,
            by=signed_in(settings, args),
            problem=args.why,
            on_behalf_of=getattr(args, "for"),
        )
    except (tickets.TicketError, AuthError, Forbidden) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    departments = ",".join(ticket["assigned_departments"])
    print(f"{ticket['ticket_id']}: {ticket['state']} for {departments}, due {ticket['deadline']}")
    return 0


def _check(args: argparse.Namespace) -> int:
    today = dt.date.fromisoformat(args.today) if args.today else None
    _print_json(tickets.check_deadlines(Settings.from_env(), today=today))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake tickets``."""
    parser = subparsers.add_parser(
        "tickets",
        help="verification tickets (校核): list, show, answer, extend, file",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parser.set_defaults(func=lambda _args: (parser.print_help(), EXIT_USAGE)[1])

    listing = verbs.add_parser("list", help="list tickets")
    listing.add_argument("--state", help="open, extended, overdue, escalated, resolved, confirmed")
    listing.add_argument("--dept", help="assigned department code (gaj, mzj …)")
    listing.add_argument("--base", help="base table (population, legal_entity …)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)

    show = verbs.add_parser("show", help="one ticket and its events")
    show.add_argument("ticket_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)

    for action, text in (
        ("extend", "ask for the one extension (延期申请); the bureau decides"),
        ("approve-extension", "the bureau grants the extension asked"),
        ("refuse-extension", "the bureau refuses the extension asked"),
        ("confirm", "the department verified the value (确认)"),
        ("correct", "the department corrects its value (更正): its observation in the next build"),
        ("dispute", "the department disputes the finding (异议); the bureau coordinates"),
        ("resolve", "settled (办结)"),
        ("comment", "a comment on the ticket, in any state (意见)"),
    ):
        verb = verbs.add_parser(action, help=text)
        verb.add_argument("ticket_id")
        add_identity_arguments(verb)
        verb.add_argument("--why", required=True, help="the reason, recorded with the event")
        if action == "extend":
            verb.add_argument("--workdays", type=int, help="working days (default: the maximum)")
        if action == "correct":
            verb.add_argument("--value", required=True, help="the corrected value")
        verb.set_defaults(func=_act, action=action)

    filing = verbs.add_parser("file", help="file a verification request about a record (校核申请)")
    filing.add_argument("--base", required=True, help="base table (population, legal_entity …)")
    filing.add_argument("--key", required=True, help="the record's key (citizen ID, USCC …)")
    filing.add_argument("--element", required=True, help="the data element in question")
    add_identity_arguments(filing)
    filing.add_argument("--why", required=True, help="the problem claimed")
    filing.add_argument("--for", help="the citizen or legal person the bureau files for")
    filing.set_defaults(func=_file)

    check = verbs.add_parser(
        "check-deadlines",
        help="the daily check of every request (tickets among them): govlake requests check-deadlines",
    )
    check.add_argument("--today", help="YYYY-MM-DD (default: today)")
    check.set_defaults(func=_check)
