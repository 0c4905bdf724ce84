"""``govlake demo``: the main job on embedded defaults, end to end, with a closing summary.

1. A synthetic county (``govlake synth``) lands in the landing root, unless one is there already.
2. Every department resource's ingestion DAG runs through Airflow's own runner (``dag.test``) on
   the embedded SQLite metadata database: landing → bronze → pool, with quarantine, row
   accounting and the quality gate (a batch held by a critical expectation is reported, not
   hidden: that is the gate working on the county's injected defects).
3. ``bases__build``: the four base databases, conflicts and verification tickets.
4. A department asks for the population base (shared unconditionally, so granted at once);
   ``share__refresh`` writes its masked table and the open data.
5. The reports (quality scorecards, verification deadlines, yearly evaluation) and
   ``audit__verify`` over the hash-chained audit log.
6. A summary: rows per layer, quarantined, quality pass rates, conflicts, open tickets, shares,
   and where every output is; then the demo accounts of the department service (three
   departments and the bureau, fresh passwords printed on the terminal only).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from jobs.audit.log import read_entries, verify
from jobs.catalog.loader import load_catalog
from jobs.govern.tickets import OPEN_STATES, read_tickets
from jobs.lake import ledger
from jobs.lake.registry import (
    BASE_BUILDS,
    CONFLICTS,
    INGEST_FILES,
    OPEN_LIST,
    QUALITY_BATCHES,
    ROW_ACCOUNTING,
)
from jobs.orchestrate import airflow_env
from jobs.orchestrate.names import ingest_dag_id
from jobs.orchestrate.runner import DagRunFailed, run_dag
from jobs.quality.gates import latest_decisions
from jobs.settings import QUICK_LOCAL_JAVA_OPTIONS, Settings
from jobs.share import grants
from jobs.store.demo_accounts import DemoLogin, ensure_demo_accounts
from jobs.store.roles import BUREAU, BUREAU_STEWARD, Actor

DEFAULT_PERSONS = 20_000
#: The demo's county is small: its JVM runs with the options for short local runs (four paired
#: whole demos at load 3-11: 6-20 CPU-s less in each, wall -29 / -7 / +2 / +16 s, so within the
#: load's noise); unless GOVLAKE_DRIVER_JAVA_OPTIONS says otherwise.
DEMO_DRIVER_JAVA_OPTIONS = QUICK_LOCAL_JAVA_OPTIONS

#: The county's build runs its independent queries on two worker lanes (Settings.integrate_lanes):
#: it is mostly the driver planning queries on one core, and the second lane keeps the other
#: core busy meanwhile; unless GOVLAKE_INTEGRATE_LANES says otherwise.
DEMO_INTEGRATE_LANES = 2

#: The department that consumes a base database in the demo (every shareable field).
DEMO_CONSUMER = "mzj"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the main job end to end on embedded defaults")
    parser.add_argument(
        "--persons", type=int, default=DEFAULT_PERSONS, help="synthetic county size"
    )
    parser.add_argument("--seed", type=int, default=7, help="synthetic city seed")
    parser.add_argument(
        "--resources", help="comma-separated resource ids (default: every resource in the catalog)"
    )
    parser.add_argument("--ingest-only", action="store_true", help="stop after the ingestion DAGs")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=_demo)


#: Where progress lines go: the terminal the demo started on, even while the stages' own
#: output (Airflow's task logs, Spark, GX) is sent to the log file by :func:`_logs_to_file`.
_terminal = sys.stderr


def _say(text: str) -> None:
    print(text, file=_terminal, flush=True)


@contextlib.contextmanager
def _logs_to_file(path: Path) -> Iterator[None]:
    """Sends everything written to stdout and stderr (by Python, the JVM and child processes)
    to ``path`` while the block runs: a page of task logs per DAG would bury the progress."""
    global _terminal
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    _terminal = os.fdopen(os.dup(2), "w", buffering=1)
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log_fd):
            os.close(fd)
        _terminal.close()
        _terminal = sys.stderr


class _Stages:
    """Numbered progress lines and the seconds each stage took."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.seconds = total, 0, {}

    def start(self, name: str) -> float:
        self.done += 1
        _say(f"\n== [{self.done}/{self.total}] {name}")
        return time.perf_counter()

    def finish(self, name: str, started: float) -> None:
        self.seconds[name] = round(time.perf_counter() - started, 1)


def _demo(args: argparse.Namespace) -> int:
    # The DAGs' tasks read their settings from the environment, in this process.
    os.environ.setdefault("GOVLAKE_DRIVER_JAVA_OPTIONS", DEMO_DRIVER_JAVA_OPTIONS)
    os.environ.setdefault("GOVLAKE_INTEGRATE_LANES", str(DEMO_INTEGRATE_LANES))
    settings = Settings.from_env()
    log_path = Path(settings.reports_root) / "demo.log"
    _say(f"govlake demo — the stages' own logs go to {log_path}")
    with _logs_to_file(log_path):
        summary, logins = _run_stages(args, settings)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    else:
        print(format_summary(summary))
    if logins:
        # The terminal only: never the log file, the JSON summary or the lake.
        _say(format_demo_logins(logins))
    return 1 if summary["failed_dags"] else 0


def format_demo_logins(logins: list[DemoLogin]) -> str:
    lines = [
        "",
        "department service: `make serve` (or `govlake serve`), then open http://127.0.0.1:8800",
        "demo accounts (new passwords at every demo run; shown here only):",
    ]
    lines += [
        f"  {d.login:<16} {d.password:<18} {d.department:<8} {', '.join(d.roles)}" for d in logins
    ]
    return "\n".join(lines)


def _run_stages(args: argparse.Namespace, settings: Settings) -> tuple[dict, list[DemoLogin]]:
    started = time.perf_counter()
    logins: list[DemoLogin] = []
    stages = _Stages(3 if args.ingest_only else 6)

    t = stages.start("landing: the synthetic county's deliveries")
    _ensure_landing(settings, args.persons, args.seed)
    stages.finish("landing", t)

    catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)
    resource_ids = args.resources.split(",") if args.resources else list(catalog.resources)
    if not args.ingest_only:
        # The county's ingestion runs without Spark: the base build's Spark session starts
        # meanwhile (its JVM), instead of at the start of the build. PySpark is imported here,
        # not in the thread, so that its imports do not run alongside the ingestion's.
        from jobs.spark import get_spark

        # A failure to start is logged, and shows again where the build asks for the session.
        spark_started = threading.Thread(target=get_spark, args=(settings,), daemon=True)
        spark_started.start()
    t = stages.start(f"ingestion + quality gate: {len(resource_ids)} DAGs (Airflow dag.test)")
    failures, held = _run_ingestion(settings, resource_ids)
    stages.finish("ingestion", t)

    if not args.ingest_only:
        spark_started.join()
        t = stages.start("base databases: bases__build, measured against the ground truth")
        failures += _run("bases__build")
        evaluation = _evaluate(settings)
        stages.finish("bases", t)

        t = stages.start("sharing and open data: a grant, then share__refresh")
        _grant_demo_share(settings)
        failures += _run("share__refresh")
        logins = ensure_demo_accounts(settings)
        stages.finish("share", t)

        t = stages.start("reports and audit: govlake reports build, audit__verify")
        # Jinja and the charts: imported when the demo runs, not by every `govlake` command.
        from jobs.reports.build import build_reports

        for page in build_reports(settings):
            _say(f"    {page}")
        failures += _run("audit__verify")
        stages.finish("reports", t)

    t = stages.start("summary")
    summary = ingestion_summary(settings, resource_ids)
    if not args.ingest_only:
        summary.update(governance_summary(settings))
        summary["evaluation"] = evaluation
    summary["held_dags"] = held
    summary["failed_dags"] = failures
    summary["stage_seconds"] = stages.seconds
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["outputs"]["log"] = str(Path(settings.reports_root) / "demo.log")
    summary["service_logins"] = [d.login for d in logins]
    return summary, logins


def _run(dag_id: str) -> list[str]:
    """Runs one DAG; returns ``[dag_id]`` when it failed (after saying why), else ``[]``."""
    _say(f"    {dag_id} …")
    try:
        result = run_dag(dag_id)
    except DagRunFailed as error:
        _say(f"    FAILED: {error}")
        return [dag_id]
    _say(f"    {result.state} in {result.seconds:.1f}s")
    return []


def _run_ingestion(settings: Settings, resource_ids: list[str]) -> tuple[list[str], list[str]]:
    """Every ingestion DAG; returns (failed dag ids, dag ids whose quality gate held a batch)."""
    failures, held = [], []
    for n, resource_id in enumerate(resource_ids, 1):
        dag_id = ingest_dag_id(resource_id)
        _say(f"  [{n}/{len(resource_ids)}] {dag_id} …")
        try:
            result = run_dag(dag_id)
            _say(f"    {result.state} in {result.seconds:.1f}s")
        except DagRunFailed as error:
            states = error.result.task_states
            if (
                states.get("validate_quality") == "failed"
                and all(
                    state == "success" for t, state in states.items() if t != "validate_quality"
                )
                and _newest_batch_held(settings, resource_id)
            ):
                # Rows are in the pool, visible, not promoted: the gate did its job.
                _say(
                    "    HELD by the quality gate (see the quality report and `govlake quality tasks`)"
                )
                held.append(dag_id)
            else:
                _say(f"    FAILED: {error}")
                failures.append(dag_id)
    return failures, held


def _newest_batch_held(settings: Settings, resource_id: str) -> bool:
    """Whether the quality gate holds the resource's newest validated batch (a failed quality
    task for any other reason is a failure, not a hold)."""
    department, resource = resource_id.split(".")
    rows = ledger.read_rows(
        QUALITY_BATCHES.uri(settings),
        filters=[("department", "=", department), ("resource", "=", resource)],
    )
    return bool(rows) and max(rows, key=lambda r: r["decided_at"])["status"] == "held"


def _evaluate(settings: Settings) -> dict | None:
    """Precision and recall of the build's conflicts and anomalies, and false merges, against
    the synthetic county's manifest (None when the landing has no manifest)."""
    manifest = Path(settings.landing_root) / "_manifest"
    if not (manifest / "defects.parquet").exists():
        return None
    # pandas: imported when the demo runs, not by every `govlake` command.
    from jobs.integrate.evaluate import evaluate_lake

    report = evaluate_lake(settings, manifest)
    scores = {
        kind: {k: report["issues"][kind][k] for k in ("expected", "found", "precision", "recall")}
        for kind in ("conflict", "anomaly")
    }
    return {
        **scores,
        "false_merges": report["population"]["false_merges"]
        + report["legal_entity"]["false_merges"],
    }


def _grant_demo_share(settings: Settings) -> None:
    """A department asks for the population base: base databases are shared unconditionally
    (000 §14), so the request is granted at once. A second demo run finds the grant and asks
    nothing again."""
    active = [
        g
        for g in grants.read_grants(settings)
        if g["consumer"] == DEMO_CONSUMER
        and g["dataset"] == "population"
        and g["state"] == "granted"
    ]
    if active:
        _say(f"    {DEMO_CONSUMER} already holds a grant on population")
        return
    grant = grants.request_share(
        settings,
        consumer=DEMO_CONSUMER,
        dataset_id="population",
        fields=[],
        purpose="低保对象身份核验 (demo)",
        # the bureau asks on the consumer's behalf: the demo signs in no one
        by=Actor("demo", BUREAU, frozenset({BUREAU_STEWARD})),
    )
    _say(f"    {DEMO_CONSUMER} → population: {grant['state']}")


def _ensure_landing(settings: Settings, persons: int, seed: int) -> None:
    manifest = Path(settings.landing_root) / "_manifest" / "config.json"
    if manifest.exists():
        _say(f"    using the synthetic county already in {settings.landing_root}")
        return
    # Faker: imported when a county is generated, not by every `govlake` command.
    from jobs.synth.config import load_config
    from jobs.synth.generate import generate

    _say(f"    generating a synthetic county of {persons:,} persons into {settings.landing_root} …")
    config = load_config(None, persons=persons, seed=seed, schemas_root=settings.schemas_root)
    summary = generate(config, settings.landing_root)
    _say(f"    {summary.files} files, {summary.rows:,} rows, {summary.defects:,} injected defects")


def ingestion_summary(settings: Settings, resource_ids: list[str]) -> dict:
    """Rows per layer and resource, from the row-accounting and file-log tables."""
    accounting = ledger.read_rows(ROW_ACCOUNTING.uri(settings))
    files = ledger.read_rows(INGEST_FILES.uri(settings))
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


def governance_summary(settings: Settings) -> dict:
    """Quality pass rates, base tables, conflicts, tickets, shares, open data and the audit log
    (delta-rs reads of small governance tables; no Spark)."""
    latest = latest_decisions(settings)
    quality: dict[str, int] = {}
    for row in latest.values():
        quality[row["status"]] = quality.get(row["status"], 0) + 1
    builds = sorted(ledger.read_rows(BASE_BUILDS.uri(settings)), key=lambda r: r["finished_at"])
    conflicts: dict[str, int] = {}
    for row in ledger.read_rows(CONFLICTS.uri(settings)):
        topic = row.get("rule") or f"conflict:{row.get('element')}"
        conflicts[topic] = conflicts.get(topic, 0) + 1
    tickets: dict[str, int] = {}
    for ticket in read_tickets(settings):
        tickets[ticket["state"]] = tickets.get(ticket["state"], 0) + 1
    problems, head = verify(settings)
    open_list = ledger.read_rows(OPEN_LIST.uri(settings))
    return {
        "quality_batches": quality,
        "quality_pass_rate": (
            round((quality.get("passed", 0) + quality.get("warned", 0)) / len(latest), 3)
            if latest
            else None
        ),
        "base_rows": json.loads(builds[-1]["counts"]) if builds else {},
        "conflicts": dict(sorted(conflicts.items())),
        "tickets": tickets,
        "open_tickets": sum(n for state, n in tickets.items() if state in OPEN_STATES),
        "grants": [
            f"{g['consumer']} ← {g['dataset']}: {g['state']}" for g in grants.read_grants(settings)
        ],
        "open_datasets": sorted(r.get("dataset_id") or r.get("dataset") or "?" for r in open_list),
        "audit": {
            "entries": len(read_entries(settings)),
            "chain": "intact" if not problems else f"{len(problems)} problem(s)",
            "head_seq": head[0] if head else None,
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
    held_at_promotion = [rid for rid, e in sorted(summary["resources"].items()) if e["held"]]
    if held_at_promotion:
        # Two different holds: these rows never reached the pool (a required column is missing
        # from the delivery); the quality gate's holds are batches in the pool, counted below.
        lines.append(
            "held: rows of batches kept in bronze because a required column is missing "
            f"({', '.join(held_at_promotion)}); the quality gate's decisions follow"
        )
    files = summary["files"]
    if "quality_batches" in summary:
        lines += ["", *_governance_lines(summary)]
    lines += [
        "",
        f"files quarantined whole: {files['quarantined']}, repeat deliveries skipped: {files['skipped_duplicate']}, "
        f"batches rejected: {files['rejected']}",
        "",
        "outputs:",
        *[f"  {name:<8} {path}" for name, path in summary["outputs"].items()],
        "",
        "seconds per stage: "
        + ", ".join(f"{name} {seconds}" for name, seconds in summary["stage_seconds"].items()),
        f"finished in {summary['seconds']}s"
        + (
            f"; held by the quality gate: {', '.join(summary['held_dags'])}"
            if summary["held_dags"]
            else ""
        )
        + (f"; FAILED: {', '.join(summary['failed_dags'])}" if summary["failed_dags"] else ""),
    ]
    return "\n".join(lines)


def _governance_lines(summary: dict) -> list[str]:
    quality = summary["quality_batches"]
    rate = summary["quality_pass_rate"]
    base = summary["base_rows"]
    return [
        "quality gate (latest decision per batch): "
        + (", ".join(f"{status} {n}" for status, n in sorted(quality.items())) or "none")
        + (f"; pass rate {rate:.1%}" if rate is not None else ""),
        "base databases: "
        + (", ".join(f"{name} {n:,}" for name, n in sorted(base.items())) or "not built"),
        f"conflicts and anomalies: {sum(summary['conflicts'].values()):,} ("
        + ", ".join(f"{topic} {n}" for topic, n in summary["conflicts"].items())
        + ")",
        f"verification tickets: {summary['open_tickets']:,} open ("
        + ", ".join(f"{state} {n}" for state, n in sorted(summary["tickets"].items()))
        + ")",
        "shares: " + ("; ".join(summary["grants"]) or "none"),
        "open data: " + (", ".join(summary["open_datasets"]) or "none"),
        f"audit log: {summary['audit']['entries']:,} entries, chain {summary['audit']['chain']}",
        *_evaluation_lines(summary.get("evaluation")),
    ]


def _evaluation_lines(evaluation: dict | None) -> list[str]:
    if not evaluation:
        return []
    parts = [
        f"{label} precision {evaluation[kind]['precision']:.3f} "
        f"recall {evaluation[kind]['recall']:.3f} "
        f"({evaluation[kind]['found']:,} found, {evaluation[kind]['expected']:,} injected)"
        for kind, label in (("conflict", "conflicts"), ("anomaly", "anomalies"))
    ]
    return [
        "against the ground truth: "
        + "; ".join(parts)
        + f"; false merges {evaluation['false_merges']}"
    ]
