"""``govlake accounts …`` and ``govlake db …``: who may act, and the store's schema.

    govlake accounts create LOGIN --department D --name NAME --role R [--role R] [--password-file F]
                            [--email ADDRESS]
    govlake accounts password LOGIN [--password-file F]        a new password; sessions end
    govlake accounts email LOGIN [ADDRESS]                     where notifications are mailed
    govlake accounts disable LOGIN                             sessions end, tokens revoked
    govlake accounts list [--json]
    govlake accounts token issue LOGIN [--days N]              a system client's token, shown once
    govlake accounts token rotate LOGIN [--days N]             revoke its tokens, issue a new one
    govlake accounts token revoke PREFIX                       by the prefix `token list` shows
    govlake accounts token list [LOGIN] [--json]
    govlake db upgrade [--revision R] [--create]               migrate the workflow store
    govlake db downgrade REVISION                              ('base': drop every table)
    govlake db current                                         the store's and the newest revision

Roles: bureau_steward, data_officer, approver, quality_reviewer, auditor, system_client. These
commands are for the bureau's operator on the service's host (they need the store's URL, not an
account); every change is an entry of the audit log. Passwords are read from a file, standard
input (``-``) or a prompt, never from the command line. Exit codes: 0 done, 1 refused (the
message says why), 2 a bad argument.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from typing import Any

from jobs.settings import Settings

EXIT_REFUSED = 1
EXIT_USAGE = 2


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in a bare container
        return "cli:unknown"


def _record(settings: Settings, action: str, login: str, **detail: Any) -> None:
    from jobs.audit import record

    record(settings, action, actor=_operator(), target=f"accounts/{login}", detail=detail)


def _new_password(args: argparse.Namespace) -> str:
    from jobs.store.accounts import AccountError
    from jobs.store.identity import read_secret

    password = read_secret(args.password_file, f"new password for {args.login}: ")
    if not args.password_file and password != getpass.getpass("again: "):
        raise AccountError("the two passwords differ")
    return password


def _refusing(action):
    """Runs a verb; an account or settings refusal is one line on stderr and exit 1."""

    def run(args: argparse.Namespace) -> int:
        from jobs.settings import SettingsError
        from jobs.store.accounts import AccountError

        try:
            return action(Settings.from_env(), args)
        except (AccountError, SettingsError) as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_REFUSED

    return run


def _create(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import accounts
    from jobs.store.db import transaction
    from jobs.store.roles import SYSTEM_CLIENT

    roles = sorted({r.strip() for text in args.role for r in text.split(",") if r.strip()})
    password = None if roles == [SYSTEM_CLIENT] else _new_password(args)
    with transaction(settings) as session:
        accounts.sync_departments(session, accounts.catalog_departments(settings.schemas_root))
        account = accounts.create_account(
            session,
            login=args.login,
            department=args.department,
            display_name=args.name,
            roles=roles,
            password=password,
            now=settings.now(),
            email=args.email,
        )
    _record(settings, "account_created", args.login, department=args.department, roles=roles)
    print(f"{account.login}: {account.department_code} {', '.join(roles)}")
    return 0


def _password(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import accounts
    from jobs.store.db import transaction

    password = _new_password(args)
    with transaction(settings) as session:
        accounts.set_password(session, args.login, password)
    _record(settings, "account_password_set", args.login)
    print(f"{args.login}: password set; its sessions ended")
    return 0


def _email(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import accounts
    from jobs.store.db import transaction

    with transaction(settings) as session:
        account = accounts.set_email(session, args.login, args.address)
    _record(settings, "account_email_set", args.login)
    print(f"{args.login}: notifications mailed to {account.email or 'no one (inbox only)'}")
    return 0


def _disable(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import accounts
    from jobs.store.db import transaction

    with transaction(settings) as session:
        accounts.disable_account(session, args.login, settings.now())
    _record(settings, "account_disabled", args.login)
    print(f"{args.login}: disabled; its sessions ended and its tokens are revoked")
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import accounts
    from jobs.store.db import transaction

    with transaction(settings) as session:
        rows = [
            {
                "login": a.login,
                "department": a.department_code,
                "name": a.display_name,
                "roles": sorted(a.role_names),
                "disabled": a.disabled,
                "email": a.email,
                "created_at": a.created_at,
            }
            for a in accounts.list_accounts(session)
        ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return 0
    for r in rows:
        state = "disabled" if r["disabled"] else "active"
        print(
            f"{r['login']:<20} {r['department']:<8} {state:<8} {','.join(r['roles']):<28} {r['name']}"
        )
    print(f"{len(rows)} account(s)")
    return 0


def _issue(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import accounts
    from jobs.store.db import transaction

    lifetime = dt.timedelta(days=args.days)
    with transaction(settings) as session:
        issue = accounts.rotate_token if args.verb == "rotate" else accounts.issue_token
        token, row = issue(session, args.login, now=settings.now(), lifetime=lifetime)
    _record(
        settings, f"token_{args.verb}d", args.login, prefix=row.prefix, expires_at=row.expires_at
    )
    print(f"token for {args.login}, expires {row.expires_at:%Y-%m-%d}; shown only now:")
    print(token)
    return 0


def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import accounts
    from jobs.store.db import transaction
    from jobs.store.models import Account

    with transaction(settings) as session:
        row = accounts.revoke_token(session, args.prefix, settings.now())
        owner = session.get(Account, row.account_id).login
    _record(settings, "token_revoked", owner, prefix=args.prefix)
    print(f"{args.prefix}: revoked")
    return 0


def _tokens(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import accounts
    from jobs.store.db import transaction

    now = settings.now()
    with transaction(settings) as session:
        rows = [
            {
                "login": login,
                "prefix": t.prefix,
                "state": "revoked"
                if t.revoked_at
                else "expired"
                if t.expires_at <= now
                else "active",
                "created_at": t.created_at,
                "expires_at": t.expires_at,
            }
            for login, t in accounts.list_tokens(session, args.login)
        ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return 0
    for r in rows:
        print(
            f"{r['prefix']}…  {r['login']:<20} {r['state']:<8} expires {r['expires_at']:%Y-%m-%d}"
        )
    print(f"{len(rows)} token(s)")
    return 0


def _upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import accounts, db

    if args.create and db.create_database(settings):
        print("created the workflow store's database")
    db.upgrade(settings, args.revision)
    with db.transaction(settings) as session:
        accounts.sync_departments(session, accounts.catalog_departments(settings.schemas_root))
    print(f"workflow store at {db.current_revision(settings)}")
    return 0


def _downgrade(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import db

    db.downgrade(settings, args.revision)
    print(f"workflow store at {db.current_revision(settings) or 'base (no tables)'}")
    return 0


def _current(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.store import db

    print(f"store {db.current_revision(settings) or 'base'}, newest {db.head_revision()}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake accounts`` and ``govlake db``."""
    parser = subparsers.add_parser(
        "accounts", help="accounts, roles and API tokens of the department service"
    )
    parser.set_defaults(func=lambda _args: (parser.print_help(), EXIT_USAGE)[1])
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")

    create = verbs.add_parser("create", help="a new account")
    create.add_argument("login")
    create.add_argument("--department", required=True, help="department code (bureau, mzj …)")
    create.add_argument("--name", required=True, help="the person's or application's name")
    create.add_argument("--role", action="append", required=True, help="a role (repeatable)")
    create.add_argument("--password-file", help="read the password from FILE ('-': stdin)")
    create.add_argument("--email", help="where the account's notifications are mailed")
    create.set_defaults(func=_refusing(_create))

    password = verbs.add_parser("password", help="set a new password")
    password.add_argument("login")
    password.add_argument("--password-file", help="read the password from FILE ('-': stdin)")
    password.set_defaults(func=_refusing(_password))

    email = verbs.add_parser("email", help="where the account's notifications are mailed")
    email.add_argument("login")
    email.add_argument("address", nargs="?", help="an e-mail address (none: clear it)")
    email.set_defaults(func=_refusing(_email))

    disable = verbs.add_parser("disable", help="disable an account")
    disable.add_argument("login")
    disable.set_defaults(func=_refusing(_disable))

    listing = verbs.add_parser("list", help="every account")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_refusing(_list))

    token = verbs.add_parser("token", help="API tokens of system clients")
    token.set_defaults(func=lambda _args: (token.print_help(), EXIT_USAGE)[1])
    token_verbs = token.add_subparsers(dest="verb", metavar="VERB")
    for verb, text in (("issue", "a new token"), ("rotate", "revoke the tokens, issue a new one")):
        issue = token_verbs.add_parser(verb, help=text)
        issue.add_argument("login")
        issue.add_argument("--days", type=int, default=90, help="days until it expires (90)")
        issue.set_defaults(func=_refusing(_issue))
    revoke = token_verbs.add_parser("revoke", help="revoke one token")
    revoke.add_argument("prefix", help="the prefix `govlake accounts token list` shows")
    revoke.set_defaults(func=_refusing(_revoke))
    tokens = token_verbs.add_parser("list", help="tokens and their state")
    tokens.add_argument("login", nargs="?")
    tokens.add_argument("--json", action="store_true")
    tokens.set_defaults(func=_refusing(_tokens))

    db = subparsers.add_parser("db", help="the workflow store's schema (migrations)")
    db.set_defaults(func=lambda _args: (db.print_help(), EXIT_USAGE)[1])
    db_verbs = db.add_subparsers(dest="verb", metavar="VERB")
    upgrade = db_verbs.add_parser("upgrade", help="migrate to the newest schema")
    upgrade.add_argument("--revision", default="head")
    upgrade.add_argument(
        "--create", action="store_true", help="create the PostgreSQL database first if missing"
    )
    upgrade.set_defaults(func=_refusing(_upgrade))
    downgrade = db_verbs.add_parser("downgrade", help="migrate down to REVISION")
    downgrade.add_argument("revision")
    downgrade.set_defaults(func=_refusing(_downgrade))
    current = db_verbs.add_parser("current", help="the store's revision")
    current.set_defaults(func=_refusing(_current))
