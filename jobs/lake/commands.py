"""``govlake tables`` and ``govlake lake maintenance``: the lake's tables and their upkeep.

    govlake tables [--layer LAYER] [--json]
    govlake lake maintenance [--retention-hours H] [--grace-hours H] [--dry-run]

``tables`` prints one line per table (or family of tables: ``pool/<dept>/<resource>``) from
the registry, in lake order. ``lake maintenance`` removes the orphan files of aborted writes
and vacuums every table, never below its retention floor (the policy profile's log retention
for governance tables: a lower ``--retention-hours`` is refused); the ``lake__maintenance`` DAG
runs it daily (:mod:`jobs.lake.maintenance`). Exit codes: 0 done, 2 refused or a bad argument.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict

from jobs.lake.registry import TABLES, LakeTable

EXIT_USAGE = 2


def describe(table: LakeTable) -> dict[str, object]:
    """The registry entry as plain data (``--json``)."""
    return {"path": table.path, **asdict(table)}


def _tables(args: argparse.Namespace) -> int:
    chosen = [t for t in TABLES if args.layer in (None, t.layer)]
    if not chosen:
        print(f"no tables in layer {args.layer!r}; layers: {sorted({t.layer for t in TABLES})}")
        return EXIT_USAGE
    if args.json:
        print(json.dumps([describe(t) for t in chosen], indent=2, ensure_ascii=False))
        return 0
    width = max(len(t.path) for t in chosen)
    for t in chosen:
        keys = ", ".join(t.keys) or "-"
        print(f"{t.path:<{width}}  {t.layer:<10}  {t.grain}")
        print(f"{'':<{width}}  {'':<10}  written by {t.writer}; keys: {keys}")
    return 0


def _maintenance(args: argparse.Namespace) -> int:
    from jobs.lake.maintenance import maintain_lake
    from jobs.lake.tables import RetentionError
    from jobs.settings import Settings

    grace = {} if args.grace_hours is None else {"grace": dt.timedelta(hours=args.grace_hours)}
    try:
        summary = maintain_lake(
            Settings.from_env(),
            retention_hours=args.retention_hours,
            dry_run=args.dry_run,
            **grace,
        )
    except RetentionError as error:
        print(f"govlake lake maintenance: {error.detail}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake tables`` and ``govlake lake``."""
    tables = subparsers.add_parser(
        "tables", help="lake tables: layer, grain, writer, keys", description=__doc__
    )
    tables.add_argument("--layer", help="only this layer (base, governance, pool …)")
    tables.add_argument("--json", action="store_true", help="print as JSON")
    tables.set_defaults(func=_tables)
    lake = subparsers.add_parser("lake", help="lake upkeep: orphan files, vacuum")
    lake.set_defaults(func=lambda _args: (lake.print_help(), EXIT_USAGE)[1])
    verbs = lake.add_subparsers(dest="verb", metavar="VERB")
    maintenance = verbs.add_parser(
        "maintenance", help="remove orphan files of aborted writes; vacuum within retention"
    )
    maintenance.add_argument(
        "--retention-hours",
        type=float,
        help="vacuum retention (default: each table's floor; below a floor is refused)",
    )
    maintenance.add_argument(
        "--grace-hours",
        type=float,
        help="an unreferenced file younger than this may still be being written (default 6)",
    )
    maintenance.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    maintenance.set_defaults(func=_maintenance)
