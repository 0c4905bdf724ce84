"""``govlake audit …``: the audit log (日志记录).

    govlake audit verify                 exit 1 and the entries, if one was changed or removed
    govlake audit list [--limit N] [--action A] [--json]
    govlake audit purge --as LOGIN --why TEXT [--today YYYY-MM-DD]
                                          remove entries older than the profile's retention
                                          (default today: the bureau's date; a bureau steward)

``verify`` checks the keyed hash chain, every commit of the table's Delta history (append-only)
and the head anchored outside the lake on every append, then prints the head (seq and hash)
and where it is anchored. Exit codes: 0 fine, 1 the log is broken or the purge refused, 2 a bad
argument.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from jobs.settings import Settings
from jobs.store.identity import add_arguments as add_identity_arguments

EXIT_BROKEN = 1
EXIT_REFUSED = 1
EXIT_USAGE = 2


def _verify(args: argparse.Namespace) -> int:
    from jobs.audit.log import anchor_uri, verify

    settings = Settings.from_env()
    problems, head = verify(settings)
    for problem in problems:
        print(str(problem), file=sys.stderr)
    if head:
        print(f"head seq={head[0]} hash={head[1]} anchored in {anchor_uri(settings)}")
    if problems:
        print(f"audit log broken: {len(problems)} problem(s)", file=sys.stderr)
        return EXIT_BROKEN
    print("audit log intact" if head else "audit log empty")
    return 0


def _list(args: argparse.Namespace) -> int:
    from jobs.audit.log import read_entries

    settings = Settings.from_env()
    rows = read_entries(settings)
    if args.action:
        rows = [r for r in rows if r["action"] == args.action]
    rows = rows[-args.limit :] if args.limit else rows
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return 0
    for r in rows:
        at = settings.local_time(r["at"])  # as the bureau's wall clock showed it
        print(
            f"{r['seq']:>7} {at:%Y-%m-%d %H:%M:%S} {r['action']:<16} {r['actor']:<12} {r['target']}"
        )
    return 0


def _purge(args: argparse.Namespace) -> int:
    from jobs.audit.log import purge_expired
    from jobs.store.accounts import AuthError
    from jobs.store.identity import authorised
    from jobs.store.roles import Forbidden

    settings = Settings.from_env()
    today = dt.date.fromisoformat(args.today) if args.today else None
    try:
        actor = authorised(settings, args, "audit.purge")
    except (AuthError, Forbidden) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    print(json.dumps(purge_expired(settings, by=actor.login, why=args.why, today=today)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake audit``."""
    parser = subparsers.add_parser(
        "audit", help="audit log: verify, list, purge", description=__doc__
    )
    parser.set_defaults(func=lambda _args: (parser.print_help(), EXIT_USAGE)[1])
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.add_parser("verify", help="check the chain, the history and the anchor").set_defaults(
        func=_verify
    )
    listing = verbs.add_parser("list", help="entries, oldest first")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--action")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)
    purge = verbs.add_parser("purge", help="remove entries past the profile's retention")
    add_identity_arguments(purge)
    purge.add_argument("--why", required=True)
    purge.add_argument("--today")
    purge.set_defaults(func=_purge)
