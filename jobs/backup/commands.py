"""``govlake backup``, ``govlake restore``, ``govlake destroy``: backups and destruction.

    govlake backup --as LOGIN [--table base/population ...]    a new backup set
    govlake backup list                                          the sets, oldest first
    govlake backup prune --as LOGIN                              keep the newest GOVLAKE_BACKUP_KEEP
    govlake backup restore SET --as LOGIN --into ROOT [--overwrite] [--table PATH ...]
                                            [--store-url URL]
    govlake backup drill --as LOGIN [--set SET] [--into EMPTY_FOLDER]
    govlake restore SET --as LOGIN [--into ROOT] [--overwrite] [--table PATH ...]
    govlake destroy DATASET --as LOGIN --why TEXT [--force]

Each is signed by a bureau steward's account (``--as LOGIN``, its password asked or read with
``--password-file``, or a token in GOVLAKE_ACCOUNT_TOKEN; jobs.store.identity) and audited; the
scheduled backup signs as its Airflow task.

SET: a backup id under the backup root, or a set folder. DATASET: a table path
(``pool/gaj/hukou``), a resource id (``gaj.hukou``: its bronze, pool, quarantine, open and share
tables and its landing files) or a base name (needs ``--force``); its copies in every backup
set go too. The audit log is never destroyed. Exit codes: 0 done, 1 refused (the message says
why) or a drill that found a difference, 2 a bad argument, 3 destroyed except copies listed for
destruction by hand.
"""

from __future__ import annotations

import argparse
import json
import sys

from jobs.settings import Settings
from jobs.store.identity import add_arguments as add_identity_arguments

EXIT_REFUSED = 1
EXIT_BY_HAND = 3


def _print(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _refused(message: object) -> int:
    print(str(message), file=sys.stderr)
    return EXIT_REFUSED


def _steward(settings: Settings, args: argparse.Namespace, action: str) -> str:
    """The login of the signed-in account allowed ``action`` (``lake.backup`` …).

    Raises:
        BackupError: not signed in, or not allowed (the message says why and who may).
    """
    from jobs.backup.backup import BackupError
    from jobs.store.accounts import AuthError
    from jobs.store.identity import authorised
    from jobs.store.roles import Forbidden

    try:
        return authorised(settings, args, action).login
    except (AuthError, Forbidden) as exc:
        raise BackupError(str(exc)) from exc


def _set_dir(settings: Settings, value: str) -> str:
    from jobs.backup import store

    if value in store.list_sets(settings.backup_root):
        return store.set_uri(settings.backup_root, value)
    return value


def _backup(args: argparse.Namespace) -> int:
    from jobs.backup.backup import BackupError, backup

    settings = Settings.from_env()
    try:
        _print(backup(settings, by=_steward(settings, args, "lake.backup"), tables=args.table))
    except BackupError as exc:
        return _refused(exc)
    return 0


def _list(args: argparse.Namespace) -> int:
    from jobs.backup.backup import list_backups

    _print(list_backups(Settings.from_env()))
    return 0


def _prune(args: argparse.Namespace) -> int:
    from jobs.backup.backup import BackupError, prune

    settings = Settings.from_env()
    try:
        _print(prune(settings, by=_steward(settings, args, "lake.backup")))
    except BackupError as exc:
        return _refused(exc)
    return 0


def _restore(args: argparse.Namespace) -> int:
    from jobs.backup.backup import BackupError, restore

    settings = Settings.from_env()
    try:
        result = restore(
            settings,
            _set_dir(settings, args.backup_dir),
            by=_steward(settings, args, "lake.restore"),
            target_root=args.into,
            overwrite=args.overwrite,
            tables=args.table,
            store_url=args.store_url,
        )
    except BackupError as exc:
        return _refused(exc)
    _print(result)
    return 0


def _drill(args: argparse.Namespace) -> int:
    from jobs.backup.drill import BackupError, drill

    settings = Settings.from_env()
    try:
        by = _steward(settings, args, "lake.backup")
        result = drill(settings, by=by, backup_id=args.set, into=args.into)
    except BackupError as exc:
        return _refused(exc)
    _print(result)
    return 0 if result["ok"] else EXIT_REFUSED


def _destroy(args: argparse.Namespace) -> int:
    from jobs.backup.backup import BackupError, destroy

    settings = Settings.from_env()
    try:
        by = _steward(settings, args, "lake.destroy")
        result = destroy(settings, args.dataset, by=by, why=args.why, force=args.force)
    except BackupError as exc:
        return _refused(exc)
    _print(result)
    if result["by_hand"]:
        print("destroy these copies by hand:\n  " + "\n  ".join(result["by_hand"]), file=sys.stderr)
        return EXIT_BY_HAND
    return 0


def _add_restore_arguments(parser: argparse.ArgumentParser, *, into_required: bool) -> None:
    parser.add_argument("backup_dir", metavar="SET", help="a backup id or a set folder")
    add_identity_arguments(parser)
    parser.add_argument(
        "--into",
        required=into_required,
        help="lake root to restore into" + ("" if into_required else " (default: the lake root)"),
    )
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--table", action="append")
    parser.add_argument(
        "--store-url",
        help="the database the set's workflow store goes to (default: the live store for the "
        "live lake, a SQLite file next to another lake root)",
    )
    parser.set_defaults(func=_restore)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake backup`` (and its verbs), ``govlake restore`` and ``govlake destroy``."""
    backup = subparsers.add_parser("backup", help="backup sets: take, list, prune, restore, drill")
    add_identity_arguments(backup)
    backup.add_argument("--table", action="append", help="lake-relative table path (repeatable)")
    backup.set_defaults(func=_backup)
    verbs = backup.add_subparsers(dest="backup_command", metavar="VERB")
    verbs.add_parser("list", help="the backup sets, oldest first").set_defaults(func=_list)
    prune = verbs.add_parser("prune", help="keep the newest GOVLAKE_BACKUP_KEEP sets")
    add_identity_arguments(prune)
    prune.set_defaults(func=_prune)
    _add_restore_arguments(
        verbs.add_parser("restore", help="restore a set into a lake root"), into_required=True
    )
    drill = verbs.add_parser("drill", help="restore a set into an empty folder, prove it equal")
    add_identity_arguments(drill)
    drill.add_argument("--set", help="backup id (default: the newest)")
    drill.add_argument("--into", help="an empty folder to keep (default: a temporary one)")
    drill.set_defaults(func=_drill)

    _add_restore_arguments(
        subparsers.add_parser("restore", help="restore a backup's tables"), into_required=False
    )

    destroy = subparsers.add_parser("destroy", help="destruction procedure (销毁) of a dataset")
    destroy.add_argument("dataset")
    add_identity_arguments(destroy)
    destroy.add_argument("--why", required=True)
    destroy.add_argument("--force", action="store_true", help="allow base databases")
    destroy.set_defaults(func=_destroy)
