"""The account a CLI decision is signed by: ``--as LOGIN`` with its password, or an API token.

    govlake share approve ID --as rsj.zhao --why … --expires …      the password is asked
    govlake share approve ID --as rsj.zhao --password-file FILE …   or read from a file ('-': stdin)
    GOVLAKE_ACCOUNT_TOKEN=glk_… govlake share request …             a system client's token

A password is never an argument (argument lists show up in process listings and shell history).
Failed passwords count towards the login's throttle like failed sign-ins to the service.

Every command that decides (share, tickets, exports, refresh and publish, audit purge, backups,
restores, destruction, releasing a held batch) signs with :func:`authorised` or
:func:`signed_in`; scheduled runs sign as their task (``airflow:<dag>.<task>``), never a name
typed on a command line.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

from jobs.settings import Settings
from jobs.store.roles import Actor, require

TOKEN_VARIABLE = "GOVLAKE_ACCOUNT_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--as`` and ``--password-file`` to a command that acts for an account."""
    parser.add_argument(
        "--as",
        dest="login",
        metavar="LOGIN",
        help=f"the account that acts and signs (or set {TOKEN_VARIABLE} to a token)",
    )
    parser.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the account's password from FILE ('-': standard input); default: ask",
    )


def read_secret(path: str | None, prompt: str) -> str:
    """A password from a file (its first line), standard input (``-``) or a prompt."""
    if path == "-":
        return sys.stdin.readline().rstrip("\r\n")
    if path:
        text = Path(path).read_text(encoding="utf-8")
        return text.splitlines()[0] if text else ""
    return getpass.getpass(prompt)


def signed_in(
    settings: Settings, args: argparse.Namespace, environ: Mapping[str, str] = os.environ
) -> Actor:
    """The authenticated actor of a command's ``--as``/``--password-file`` or token.

    Raises:
        AuthError: no account named, a wrong password or token, a disabled account, or a
            throttled login (the message says what to do).
    """
    # The store is imported here, not at the top: every command's parser imports this module.
    from jobs.store.accounts import AuthError, sign_in, token_actor
    from jobs.store.db import transaction

    token = environ.get(TOKEN_VARIABLE, "").strip()
    if token:
        with transaction(settings) as session:
            actor = token_actor(session, token, settings.now())
        if args.login and args.login != actor.login:
            raise AuthError(f"{TOKEN_VARIABLE} belongs to {actor.login}, not {args.login}")
        return actor
    if not args.login:
        raise AuthError(
            f"say who acts: --as LOGIN (the password is asked), or set {TOKEN_VARIABLE}"
        )
    password = read_secret(args.password_file, f"password for {args.login}: ")
    with transaction(settings) as session:
        outcome = sign_in(session, args.login, password, source="cli", now=settings.now())
    if isinstance(outcome, AuthError):
        raise outcome
    return outcome


def authorised(
    settings: Settings,
    args: argparse.Namespace,
    action: str,
    departments: str | Collection[str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Actor:
    """The authenticated actor of a command (:func:`signed_in`), allowed to take ``action``
    (:func:`jobs.store.roles.require`): what every command that decides calls first.

    Raises:
        AuthError: as :func:`signed_in`.
        Forbidden: the account's roles do not allow ``action`` (the message names who may).
    """
    actor = signed_in(settings, args, environ)
    require(actor, action, departments)
    return actor
