"""``govlake backup``, ``govlake restore``, ``govlake destroy``: backups and destruction.

    govlake backup --by NAME [--table base/population ...]
    govlake restore BACKUP_DIR --by NAME [--into ROOT] [--overwrite] [--table PATH ...]
    govlake destroy DATASET --by NAME --why TEXT [--force]

DATASET: a table path (``pool/gaj/hukou``), a resource id (``gaj.hukou``: its bronze, pool,
quarantine, open and share tables) or a base name (needs ``--force``). The audit log is never
destroyed. Exit codes: 0 done, 1 refused (the message says why), 2 a bad argument.
"""

from __future__ import annotations

import argparse
import json
import sys

from jobs.settings import Settings

EXIT_REFUSED = 1


def _print(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _backup(args: argparse.Namespace) -> int:
    from jobs.backup.backup import backup

    _print(backup(Settings.from_env(), by=args.by, tables=args.table))
    return 0


def _restore(args: argparse.Namespace) -> int:
    from jobs.audit import write_audit
    from jobs.backup.backup import BackupError, restore

    settings = Settings.from_env()
    try:
        with write_audit(settings, actor=args.by):
            result = restore(
                settings,
                args.backup_dir,
                by=args.by,
                target_root=args.into,
                overwrite=args.overwrite,
                tables=args.table,
            )
    except BackupError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    _print(result)
    return 0


def _destroy(args: argparse.Namespace) -> int:
    from jobs.backup.backup import BackupError, destroy

    try:
        result = destroy(
            Settings.from_env(), args.dataset, by=args.by, why=args.why, force=args.force
        )
    except BackupError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    _print(result)
    if result["still_in_backups"]:
        print("copies remain in backups: " + ", ".join(result["still_in_backups"]), file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake backup``, ``govlake restore`` and ``govlake destroy``."""
    backup = subparsers.add_parser("backup", help="back up every table at its current version")
    backup.add_argument("--by", required=True)
    backup.add_argument("--table", action="append", help="lake-relative table path (repeatable)")
    backup.set_defaults(func=_backup)

    restore = subparsers.add_parser("restore", help="restore a backup's tables")
    restore.add_argument("backup_dir")
    restore.add_argument("--by", required=True)
    restore.add_argument("--into", help="lake root to restore into (default: the lake root)")
    restore.add_argument("--overwrite", action="store_true")
    restore.add_argument("--table", action="append")
    restore.set_defaults(func=_restore)

    destroy = subparsers.add_parser("destroy", help="destruction procedure (销毁) of a dataset")
    destroy.add_argument("dataset")
    destroy.add_argument("--by", required=True)
    destroy.add_argument("--why", required=True)
    destroy.add_argument("--force", action="store_true", help="allow base databases")
    destroy.set_defaults(func=_destroy)
