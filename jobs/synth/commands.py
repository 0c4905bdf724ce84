"""``govlake synth``: write a synthetic city's department deliveries and its manifest.

Example::

    govlake synth --persons 20000 --seed 7 --out data/landing --start 2025-01-01 --batches 5

writes ``data/landing/<dept>/<resource>/<batch>/…`` for every catalog resource and
``data/landing/_manifest/`` (defects, delivered files, truth snapshot). ``--config FILE`` reads
any :class:`jobs.synth.config.SynthConfig` field from YAML; options given on the command line win.
"""

from __future__ import annotations

import argparse
import json
import sys

from jobs.synth.config import load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``govlake synth``."""
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic city: department exports with defects and a ground-truth manifest",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--persons", type=int, help="residents (default 20000)")
    parser.add_argument("--seed", type=int, help="random seed; the same seed gives the same bytes")
    parser.add_argument(
        "--out", help="landing root to write into (default: the landing root setting)"
    )
    parser.add_argument("--start", help="day of the first, full delivery (YYYY-MM-DD)")
    parser.add_argument("--batches", type=int, help="deliveries including the full one (default 5)")
    parser.add_argument("--interval-days", type=int, help="days between deliveries (default 7)")
    parser.add_argument("--defect-rate", type=float, help="base rate of each row-level defect")
    parser.add_argument("--jurisdiction", help="current 6-digit county code (default 410622, 淇县)")
    parser.add_argument("--config", help="YAML file with any generation setting")
    parser.add_argument("--schemas", help="catalog folder (default: the schemas root setting)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=_synth)


def _synth(args: argparse.Namespace) -> int:
    from jobs.settings import Settings
    from jobs.synth.generate import generate

    try:
        config = load_config(
            args.config,
            persons=args.persons,
            seed=args.seed,
            start=args.start,
            batches=args.batches,
            interval_days=args.interval_days,
            defect_rate=args.defect_rate,
            jurisdiction=args.jurisdiction,
            schemas_root=args.schemas or Settings.from_env().schemas_root,
        )
    except (ValueError, OSError) as exc:
        print(f"govlake synth: {exc}", file=sys.stderr)
        return 2
    out = args.out or Settings.from_env().landing_root
    progress = None if args.json else (lambda line: print(line, file=sys.stderr))
    summary = generate(config, out, progress=progress)
    if args.json:
        print(json.dumps(summary.__dict__, ensure_ascii=False, indent=2))
        return 0
    print(
        f"wrote {summary.files} files, {summary.rows} rows and {summary.defects} defects "
        f"for {summary.persons} persons in {summary.seconds}s to {summary.out}"
    )
    print(f"batches: {', '.join(summary.batches)}")
    print(f"manifest: {summary.out}/_manifest (defects.jsonl, files.jsonl, truth/)")
    for note in summary.notes:
        print(f"note: {note}")
    return 0
