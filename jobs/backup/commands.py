"""``govlake backup``, ``govlake restore``, ``govlake destroy``: backups and destruction.

    govlake backup --by NAME [--table base/population ...]     a new backup set
    govlake backup list                                          the sets, oldest first
    govlake backup prune --by NAME                               keep the newest GOVLAKE_BACKUP_KEEP
    govlake backup restore SET --by NAME --into ROOT [--overwrite] [--table PATH ...]
    govlake backup drill --by NAME [--set SET] [--into EMPTY_FOLDER]
    govlake restore SET --by NAME [--into ROOT] [--overwrite] [--table PATH ...]
    govlake destroy DATASET --by NAME --why TEXT [--force]

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

EXIT_REFUSED = 1
EXIT_BY_HAND = 3


def _print(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _refused(message: object) -> int:
    print(str(message), file=sys.stderr)
    return EXIT_REFUSED


def _set_dir(settings: Settings, value: str) -> str:
    from jobs.backup import store

    if value in store.list_sets(settings.backup_root):
        return store.set_uri(settings.backup_root, value)
    return value


def _backup(args: argparse.Namespace) -> int:
    from jobs.backup.backup import BackupError, backup

    if not args.by:
        return _refused("say who takes the backup (--by)")
    try:
        _print(backup(Settings.from_env(), by=args.by, tables=args.table))
    except BackupError as exc:
        return _refused(exc)
    return 0


def _list(args: argparse.Namespace) -> int:
    from jobs.backup.backup import list_backups

    _print(list_backups(Settings.from_env()))
    return 0


def _prune(args: argparse.Namespace) -> int:
    from jobs.backup.backup import prune

    _print(prune(Settings.from_env(), by=args.by))
    return 0


def _restore(args: argparse.Namespace) -> int:
    from jobs.backup.backup import BackupError, restore

    settings = Settings.from_env()
    try:
        result = restore(
            settings,
            _set_dir(settings, args.backup_dir),
            by=args.by,
            target_root=args.into,
            overwrite=args.overwrite,
            tables=args.table,
        )
    except BackupError as exc:
        return _refused(exc)
    _print(result)
    return 0


def _drill(args: argparse.Namespace) -> int:
    from jobs.backup.drill import BackupError, drill

    try:
        result = drill(Settings.from_env(), by=args.by, backup_id=args.set, into=args.into)
    except BackupError as exc:
        return _refused(exc)
    _print(result)
    return 0 if result["ok"] else EXIT_REFUSED


def _destroy(args: argparse.Namespace) -> int:
    from jobs.backup.backup import BackupError, destroy

    try:
        result = destroy(
            Settings.from_env(), args.dataset, by=args.by, why=args.why, force=args.force
        )
    except BackupError as exc:
        return _refused(exc)
    _print(result)
    if result["by_hand"]:
        print("destroy these copies by hand:\n  " + "\n  ".join(result["by_hand"]), file=sys.stderr)
        return EXIT_BY_HAND
    return 0


def _add_restore_arguments(parser: argparse.ArgumentParser, *, into_required: bool) -> None:
    parser.add_argument("backup_dir", metavar="SET", help="a backup id or a set folder")
    parser.add_argument("--by", required=True)
    parser.add_argument(
        "--into",
        required=into_required,
        help="lake root to restore into" + ("" if into_required else " (default: the lake root)"),
    )
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--table", action="append")
    parser.set_defaults(func=_restore)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake backup`` (and its verbs), ``govlake restore`` and ``govlake destroy``."""
    backup = subparsers.add_parser("backup", help="backup sets: take, list, prune, restore, drill")
    backup.add_argument("--by", help="who takes the backup")
    backup.add_argument("--table", action="append", help="lake-relative table path (repeatable)")
    backup.set_defaults(func=_backup)
    verbs = backup.add_subparsers(dest="backup_command", metavar="VERB")
    verbs.add_parser("list", help="the backup sets, oldest first").set_defaults(func=_list)
    prune = verbs.add_parser("prune", help="keep the newest GOVLAKE_BACKUP_KEEP sets")
    prune.add_argument("--by", required=True)
    prune.set_defaults(func=_prune)
    _add_restore_arguments(
        verbs.add_parser("restore", help="restore a set into a lake root"), into_required=True
    )
    drill = verbs.add_parser("drill", help="restore a set into an empty folder, prove it equal")
    drill.add_argument("--by", required=True)
    drill.add_argument("--set", help="backup id (default: the newest)")
    drill.add_argument("--into", help="an empty folder to keep (default: a temporary one)")
    drill.set_defaults(func=_drill)

    _add_restore_arguments(
        subparsers.add_parser("restore", help="restore a backup's tables"), into_required=False
    )

    destroy = subparsers.add_parser("destroy", help="destruction procedure (销毁) of a dataset")
    destroy.add_argument("dataset")
    destroy.add_argument("--by", required=True)
    destroy.add_argument("--why", required=True)
    destroy.add_argument("--force", action="store_true", help="allow base databases")
    destroy.set_defaults(func=_destroy)
