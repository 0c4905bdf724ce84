"""The ``govlake`` command.

Each area of the package contributes its own subcommands through a ``commands`` module with a
``register(subparsers)`` function; this file only lists those modules and dispatches.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import sys

from jobs.audit import write_audit
from jobs.secrets import SecretError, keep_files_private
from jobs.settings import Settings, SettingsError

#: Modules that add subcommands. Each has ``register(subparsers) -> None`` and sets
#: ``func=`` on its parsers (a callable taking the parsed args, returning an exit code).
COMMAND_MODULES: list[str] = [
    "jobs.catalog.commands",
    "jobs.govern.commands",
    "jobs.govern.request_commands",
    "jobs.policy.commands",
    "jobs.orchestrate.commands",
    "jobs.quality.commands",
    "jobs.synth.commands",
    "jobs.standardize.commands",
    "jobs.ingest.evaluate",
    "jobs.reports.commands",
    "jobs.demo",
    "jobs.share.commands",
    "jobs.audit.commands",
    "jobs.backup.commands",
    "jobs.lake.commands",
    "jobs.store.commands",
    "jobs.service.commands",
]


def _config(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    names = Settings.variable_names()
    if args.json:
        print(json.dumps(settings.as_dict(), indent=2, ensure_ascii=False))
        return 0
    width = max(len(name) for name in names)
    for name, value in settings.as_dict().items():
        print(f"{name:<{width}}  {value!s:<50}  ({names[name]})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="govlake", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    config = subparsers.add_parser("config", help="print the effective settings")
    config.add_argument("--json", action="store_true", help="print as JSON")
    config.set_defaults(func=_config)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        # A mistyped variable is the operator's to fix: one line naming it, not a traceback.
        print(f"govlake: {error}", file=sys.stderr)
        return 2
    keep_files_private()
    # Every lake write a command makes is an audit entry naming the person who ran it.
    try:
        with write_audit(settings, actor=f"cli:{_user()}"):
            return int(args.func(args) or 0)
    except SecretError as error:
        # A missing or public key in production: one line naming the variable to set.
        print(f"govlake: {error}", file=sys.stderr)
        return 2


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
