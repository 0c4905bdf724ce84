"""``govlake demo``: the main job on embedded defaults, end to end, with a closing summary.

1. A synthetic county (``govlake synth``) lands in the landing root, unless one is there already.
2. Every department resource's ingestion DAG runs through Airflow's own runner (``dag.test``) on
   the embedded SQLite metadata database: landing → bronze → pool, with quarantine and row
   accounting.
3. A summary: rows per layer, quarantined rows and files, and where every output is.

Later stages (quality, base databases, sharing) join here as their DAGs land.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from jobs.settings import Settings

DEFAULT_PERSONS = 20_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the main job end to end on embedded defaults")
    parser.add_argument(
        "--persons", type=int, default=DEFAULT_PERSONS, help="synthetic county size"
    )
    parser.add_argument("--seed", type=int, default=7, help="synthetic city seed")
    parser.add_argument(
        "--resources", help="comma-separated resource ids (default: every resource in the catalog)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=_demo)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    started = time.perf_counter()
    _ensure_landing(settings, args.persons, args.seed)

    from jobs.catalog.loader import load_catalog
    from jobs.orchestrate.dag_factory import ingest_dag_id
    from jobs.orchestrate.runner import DagRunFailed, run_dag

    catalog = load_catalog(settings.schemas_root)
    resource_ids = args.resources.split(",") if args.resources else list(catalog.resources)
    failures = []
    for n, resource_id in enumerate(resource_ids, 1):
        dag_id = ingest_dag_id(resource_id)
        _say(f"[{n}/{len(resource_ids)}] {dag_id} …")
        try:
            result = run_dag(dag_id)
            _say(f"    {result.state} in {result.seconds:.1f}s")
        except DagRunFailed as error:
            _say(f"    FAILED: {error}")
            failures.append(resource_id)

    summary = ingestion_summary(settings, resource_ids)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["failed_dags"] = failures
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    else:
        print(format_summary(summary))
    return 1 if failures else 0


def _ensure_landing(settings: Settings, persons: int, seed: int) -> None:
    manifest = Path(settings.landing_root) / "_manifest" / "config.json"
    if manifest.exists():
        _say(f"landing: using the synthetic county already in {settings.landing_root}")
        return
    from jobs.synth.config import load_config
    from jobs.synth.generate import generate

    _say(
        f"landing: generating a synthetic county of {persons:,} persons into {settings.landing_root} …"
    )
    summary = generate(load_config(None, persons=persons, seed=seed), settings.landing_root)
    _say(f"    {summary.files} files, {summary.rows:,} rows, {summary.defects:,} injected defects")


def ingestion_summary(settings: Settings, resource_ids: list[str]) -> dict:
    """Rows per layer and resource, from the row-accounting and file-log tables."""
    from jobs.lake import ledger
    from jobs.lake.paths import table_uri
    from jobs.orchestrate import airflow_env

    accounting = ledger.read_rows(table_uri(settings, "governance", "row_accounting"))
    files = ledger.read_rows(table_uri(settings, "governance", "ingest_files"))
    wanted = {tuple(r.split(".")) for r in resource_ids}
    per_resource: dict[str, dict] = {}
    for row in accounting:
        if (row["department"], row["resource"]) not in wanted:
            continue
        entry = per_resource.setdefault(
            f"{row['department']}.{row['resource']}",
            {
                "files": 0,
                "file_rows": 0,
                "bronze": 0,
                "pool": 0,
                "quarantined": 0,
                "duplicates": 0,
                "held": 0,
                "balanced": True,
            },
        )
        entry["files"] += 1
        entry["file_rows"] += row["file_rows"] or 0
        entry["bronze"] += row["bronze_rows"] or 0
        entry["pool"] += row["pool_rows"]
        entry["quarantined"] += row["quarantined_rows"]
        entry["duplicates"] += row["duplicate_rows"]
        entry["held"] += row["held_rows"]
        entry["balanced"] &= bool(row["is_balanced"])
    file_outcomes = {"quarantined": 0, "skipped_duplicate": 0, "rejected": 0}
    for row in files:
        if (row["department"], row["resource"]) in wanted and row["status"] in file_outcomes:
            file_outcomes[row["status"]] += 1
    return {
        "resources": per_resource,
        "files": file_outcomes,
        "outputs": {
            "landing": settings.landing_root,
            "lake": settings.lake_root,
            "reports": settings.reports_root,
            "airflow": str(airflow_env.resolve().home),
        },
    }


def format_summary(summary: dict) -> str:
    lines = ["", "govlake demo — ingestion summary", ""]
    header = f"{'resource':<24}{'files':>6}{'file rows':>11}{'bronze':>9}{'pool':>9}{'quarant.':>9}{'dupl.':>7}{'held':>7}  balanced"
    lines.append(header)
    lines.append("-" * len(header))
    totals = dict.fromkeys(
        ("files", "file_rows", "bronze", "pool", "quarantined", "duplicates", "held"), 0
    )
    for resource_id, e in sorted(summary["resources"].items()):
        lines.append(
            f"{resource_id:<24}{e['files']:>6}{e['file_rows']:>11,}{e['bronze']:>9,}{e['pool']:>9,}"
            f"{e['quarantined']:>9,}{e['duplicates']:>7,}{e['held']:>7,}  {'yes' if e['balanced'] else 'NO'}"
        )
        for key in totals:
            totals[key] += e[key]
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<24}{totals['files']:>6}{totals['file_rows']:>11,}{totals['bronze']:>9,}{totals['pool']:>9,}"
        f"{totals['quarantined']:>9,}{totals['duplicates']:>7,}{totals['held']:>7,}"
    )
    files = summary["files"]
    lines += [
        "",
        f"files quarantined whole: {files['quarantined']}, repeat deliveries skipped: {files['skipped_duplicate']}, "
        f"batches rejected: {files['rejected']}",
        "",
        "outputs:",
        *[f"  {name:<8} {path}" for name, path in summary["outputs"].items()],
        f"\nfinished in {summary['seconds']}s"
        + (f"; FAILED: {', '.join(summary['failed_dags'])}" if summary["failed_dags"] else ""),
    ]
    return "\n".join(lines)
