"""Benchmark of the synthetic city: seconds, rows per second and peak memory per city size.

Each size runs in a fresh Python process so that its peak resident memory (ru_maxrss) is its
own. ``--quick`` measures a 20,000-person city only; the full run measures 100,000 and
1,000,000 persons (the issue's goals: about a minute and under ten minutes on 2 cores, under
4 GB). The output is written to a temporary folder and removed afterwards.

Run: ``python -m bench.bench_synth [--quick] [--persons N ...] [--keep DIR]``, or as part of
``python -m bench`` (``make bench``), which calls :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from jobs.settings import Settings
from jobs.synth.config import SynthConfig
from jobs.synth.generate import generate

QUICK_SIZES = (20_000,)
FULL_SIZES = (100_000, 1_000_000)


def measure(persons: int, out: Path, seed: int = 1) -> dict[str, object]:
    """Generates one city in this process and returns its figures."""
    started = time.perf_counter()
    summary = generate(SynthConfig(persons=persons, seed=seed), out)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib = usage.ru_maxrss  # KiB on Linux
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "persons": persons,
        "seconds": round(seconds, 1),
        # CPU time next to wall time: on a shared machine the wall time says more about the
        # neighbours than about the generator
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "files": summary.files,
        "rows": summary.rows,
        "rows_per_second": round(summary.rows / seconds),
        "defects": summary.defects,
        "peak_rss_mb": round(peak_kib / 1024),
        "output_mb": round(size / 2**20),
    }


def run(args: argparse.Namespace, settings: Settings) -> list[dict[str, object]]:
    """Entry for ``python -m bench``: 20,000 persons with ``--quick``, else 100,000 and 1M."""
    return list(measure_sizes(QUICK_SIZES if getattr(args, "quick", False) else FULL_SIZES))


def measure_sizes(sizes: tuple[int, ...], keep: str | None = None) -> Iterator[dict[str, object]]:
    """Measures each size in its own process; yields one record per size as it finishes."""
    for persons in sizes:
        with tempfile.TemporaryDirectory(prefix=f"synth{persons}_") as scratch:
            out = Path(keep) / str(persons) if keep else Path(scratch) / "city"
            command = [sys.executable, "-m", "bench.bench_synth", "--child", str(persons), str(out)]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            yield json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only a 20,000-person city")
    parser.add_argument("--persons", type=int, nargs="*", help="sizes to measure instead")
    parser.add_argument("--keep", help="write the cities under this folder and keep them")
    parser.add_argument("--child", nargs=2, metavar=("PERSONS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(int(args.child[0]), Path(args.child[1]))))
        return 0
    sizes = tuple(args.persons) if args.persons else QUICK_SIZES if args.quick else FULL_SIZES
    print(f"{'persons':>10} {'seconds':>8} {'cpu s':>7} {'files':>6} {'rows':>10} {'rows/s':>8} "
          f"{'defects':>8} {'peak MB':>8} {'out MB':>7}", flush=True)  # fmt: skip
    for r in measure_sizes(sizes, args.keep):
        print(
            f"{r['persons']:>10,} {r['seconds']:>8} {r['cpu_seconds']:>7} {r['files']:>6} {r['rows']:>10,} "
            f"{r['rows_per_second']:>8,} {r['defects']:>8,} {r['peak_rss_mb']:>8} {r['output_mb']:>7}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
