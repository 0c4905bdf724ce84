"""``govlake tickets …``: verification tickets (校核) for data stewards and departments.

    govlake tickets list [--state S] [--dept D] [--base B] [--json]   tickets, newest deadline last
    govlake tickets show ID [--json]                                  one ticket and its events
    govlake tickets extend ID --as LOGIN --why TEXT [--workdays N]    the one extension (延期)
    govlake tickets confirm ID --as LOGIN --why TEXT                  the value is verified (确认)
    govlake tickets resolve ID --as LOGIN --why TEXT                  corrected / settled (办结)
    govlake tickets comment ID --as LOGIN --why TEXT                  a comment, any state (意见)
    govlake tickets check-deadlines [--today YYYY-MM-DD]              overdue → escalated (daily)

Every action is signed by an account (``--as LOGIN`` with its password, asked or read with
``--password-file``; jobs.store.identity): a data officer of an assigned department, or a quality
reviewer or the steward of the bureau. It is recorded in the workflow store with who and why
(``--why``), audited, and copied to the lake's ``governance/ticket_events``.
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
        if args.action == "extend":
            ticket = tickets.extend_ticket(
                settings, args.ticket_id, by=actor, why=args.why, workdays=args.workdays
            )
        elif args.action == "comment":
            ticket = tickets.comment_ticket(settings, args.ticket_id, by=actor, why=args.why)
        else:
            state = tickets.CONFIRMED if args.action == "confirm" else tickets.RESOLVED
            ticket = tickets.close_ticket(settings, args.ticket_id, state, by=actor, why=args.why)
    except (tickets.TicketError, AuthError, Forbidden) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    print(f"{ticket['ticket_id']}: {ticket['state']}, deadline {ticket['deadline']}")
    return 0


def _check(args: argparse.Namespace) -> int:
    today = dt.date.fromisoformat(args.today) if args.today else None
    _print_json(tickets.check_deadlines(Settings.from_env(), today=today))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake tickets``."""
    parser = subparsers.add_parser(
        "tickets",
        help="verification tickets (校核): list, show, extend, confirm, resolve, comment",
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
        ("extend", "extend the deadline once (延期)"),
        ("confirm", "the department verified the value (确认)"),
        ("resolve", "corrected or settled (办结)"),
        ("comment", "a comment on the ticket, in any state (意见)"),
    ):
        verb = verbs.add_parser(action, help=text)
        verb.add_argument("ticket_id")
        add_identity_arguments(verb)
        verb.add_argument("--why", required=True, help="the reason, recorded with the event")
        if action == "extend":
            verb.add_argument("--workdays", type=int, help="working days (default: the maximum)")
        verb.set_defaults(func=_act, action=action)

    check = verbs.add_parser("check-deadlines", help="mark overdue tickets and escalate them")
    check.add_argument("--today", help="YYYY-MM-DD (default: today)")
    check.set_defaults(func=_check)
