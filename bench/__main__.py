"""Entry of ``make bench``: runs the benchmarks, prints their figures, writes ``bench.json``.

Usage: ``python -m bench [--quick] [--only NAME ...] [--out FILE]``.

To add a benchmark, write ``bench/bench_<name>.py`` with ``run(args, settings) -> list[dict]``
(``args`` is this module's parsed arguments, honour ``args.quick``; ``settings`` are the
effective settings, built once here) and add it to :data:`BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from jobs.settings import Settings

#: name → module. Benchmarks run in this order.
BENCHMARKS: dict[str, str] = {
    "bridge": "bench.bench_bridge",
    "synth": "bench.bench_synth",
    "ingest": "bench.bench_ingest",
    "standardize": "bench.bench_standardize",
    "quality": "bench.bench_quality",
    "integrate": "bench.bench_integrate",
    "e2e": "bench.bench_e2e",
    "service": "bench.bench_service",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--persons",
        type=int,
        action="append",
        help="sizes for the benchmarks that take one (integrate, e2e, service), instead of their "
        "defaults",
    )
    parser.add_argument("--out", help="where to write the JSON (default <reports_root>/bench.json)")
    return parser.parse_args(argv)


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain text table: one column per key (in first-seen order), numbers right-aligned."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    out = Path(args.out) if args.out else Path(settings.reports_root) / "bench.json"
    report: dict[str, Any] = {
        "started_at": settings.now().isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # Figures from a shared machine mean little without its load next to them.
            "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
        },
        "benchmarks": {},
    }
    failed = False
    for name in args.only or list(BENCHMARKS):
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            rows = importlib.import_module(BENCHMARKS[name]).run(args, settings)
        except Exception as exc:  # report the others anyway; exit non-zero at the end
            failed = True
            print(f"   failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            report["benchmarks"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        print(format_table(rows) if rows else "(no figures)")
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
        report["benchmarks"][name] = {"results": rows}
    report["machine"]["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    print(f"load average (1, 5, 15 min): {report['machine']['load_average_at_end']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"written {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
