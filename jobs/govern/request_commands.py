"""``govlake requests …``: what every procedure's requests share (deadlines, notifications).

    govlake requests check-deadlines [--today YYYY-MM-DD]   overdue → escalated, mail retried
    govlake requests send-mail                              mail the notifications not mailed yet

``check-deadlines`` is the daily check the governance DAG runs (jobs.govern.deadlines);
``send-mail`` tries the notification mail again at once (jobs.store.mail), where
``GOVLAKE_SMTP_HOST`` is set. Both print a JSON summary. Exit codes: 0 done, 1 mail failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from jobs.settings import Settings

EXIT_FAILED = 1


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _check(args: argparse.Namespace) -> int:
    from jobs.govern.deadlines import check_deadlines

    today = dt.date.fromisoformat(args.today) if args.today else None
    _print_json(check_deadlines(Settings.from_env(), today=today))
    return 0


def _send_mail(_args: argparse.Namespace) -> int:
    from jobs.store.mail import deliver_pending

    summary = deliver_pending(Settings.from_env())
    _print_json(summary)
    return EXIT_FAILED if summary["failed"] else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake requests``."""
    parser = subparsers.add_parser(
        "requests",
        help="every procedure's requests: the daily deadline check, notification mail",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])
    check = verbs.add_parser(
        "check-deadlines", help="mark overdue requests and escalate them (daily)"
    )
    check.add_argument("--today", help="YYYY-MM-DD (default: today)")
    check.set_defaults(func=_check)
    send = verbs.add_parser("send-mail", help="mail the notifications not mailed yet")
    send.set_defaults(func=_send_mail)
