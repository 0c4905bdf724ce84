"""``govlake tables``: every lake table from the registry, with its grain, writer and keys.

    govlake tables [--layer LAYER] [--json]

One line per table (or family of tables: ``pool/<dept>/<resource>``), in lake order.
"""

from __future__ import annotations

import argparse
import json
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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake tables``."""
    tables = subparsers.add_parser(
        "tables", help="lake tables: layer, grain, writer, keys", description=__doc__
    )
    tables.add_argument("--layer", help="only this layer (base, governance, pool …)")
    tables.add_argument("--json", action="store_true", help="print as JSON")
    tables.set_defaults(func=_tables)
