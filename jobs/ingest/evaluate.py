"""Ingestion measured against the synthetic city's ground truth (``_manifest/defects.parquet``).

Every key and format defect the generator injected says where it should end: quarantined with a
reason, the file quarantined whole, the batch held, or accepted after normalisation. This module
compares those expectations with what the lake holds and reports precision and recall:

- a *quarantine* is correct when the same (resource, batch, file, row) is in quarantine with a
  reason code ``<field>:<reason>`` for the expected field and reason;
- every other quarantined row is a false positive — a valid row that was rejected;
- every expected quarantine not found is a false negative.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from jobs.lake import ledger
from jobs.lake.registry import POOL_BATCHES, QUARANTINE
from jobs.settings import Settings

# The generator names file defects as it writes them; ingestion names what it found.
_FILE_REASONS = {"truncated_file": "truncated", "empty_file": "empty_file"}


def _manifest_rows(landing_root: str) -> list[dict]:
    import pyarrow.parquet as pq

    path = Path(landing_root) / "_manifest" / "defects.parquet"
    if not path.exists():
        raise FileNotFoundError(
            f"no ground-truth manifest at {path}: generate with `govlake synth`"
        )
    return pq.read_table(path).to_pylist()


def evaluate_ingestion(settings: Settings, resource_ids: list[str] | None = None) -> dict:
    """Precision and recall of row quarantine, plus file-level and batch-level outcomes."""
    defects = _manifest_rows(settings.landing_root)
    if resource_ids:
        defects = [d for d in defects if d["resource"] in resource_ids]
    resources = sorted({d["resource"] for d in defects} | set(resource_ids or []))

    expected_rows: dict[tuple, dict] = {}
    must_accept: set[tuple] = set()
    expected_files: dict[tuple, str] = {}
    expected_held: set[tuple] = set()
    for d in defects:
        file_name = Path(d["file"]).name if d["file"] else None
        where = (d["resource"], d["batch"], file_name)
        if d["outcome"] == "quarantined":
            expected_rows[(*where, int(d["row"]))] = d
        elif d["outcome"] == "accepted_after_normalisation" and d["row"] is not None:
            must_accept.add((*where, int(d["row"])))
        elif d["outcome"] == "file_quarantined":
            expected_files[where] = _FILE_REASONS.get(d["reason"], d["reason"])
        elif d["outcome"] == "batch_held":
            expected_held.add((d["resource"], d["batch"]))

    actual_rows: dict[tuple, list[str]] = {}
    actual_files: dict[tuple, list[str]] = {}
    for resource_id in resources:
        department, resource = resource_id.split(".")
        for q in ledger.read_rows(QUARANTINE.uri(settings, department, resource)):
            where = (resource_id, q["batch_id"], q["source_file"])
            if q["stage"] == "file":
                actual_files[where] = list(q["reasons"])
            else:
                actual_rows[(*where, q["row_number"])] = list(q["reasons"])

    true_positive, wrong_reason = 0, []
    for key, defect in expected_rows.items():
        reasons = actual_rows.get(key)
        if reasons is None:
            continue
        wanted = f"{defect['field']}:{defect['reason']}"
        if wanted in reasons:
            true_positive += 1
        else:
            wrong_reason.append({"where": key, "expected": wanted, "got": reasons})
    false_negative = [k for k in expected_rows if k not in actual_rows]
    false_positive = [k for k in actual_rows if k not in expected_rows]
    normalisable_rejected = [k for k in false_positive if k in must_accept]
    found = true_positive + len(wrong_reason)

    files_ok = sum(
        1 for k, reason in expected_files.items() if f"file:{reason}" in actual_files.get(k, [])
    )
    held_actual = {
        (f"{r['department']}.{r['resource']}", r["batch_id"])
        for r in ledger.read_rows(POOL_BATCHES.uri(settings))
        if r["outcome"] == "held"
    }
    return {
        "resources": resources,
        "row_quarantine": {
            "expected": len(expected_rows),
            "quarantined": len(actual_rows),
            "true_positive": true_positive,
            "wrong_reason": len(wrong_reason),
            "false_positive": len(false_positive),
            "false_negative": len(false_negative),
            "precision": round(true_positive / (found + len(false_positive)), 4)
            if actual_rows
            else None,
            "recall": round(true_positive / len(expected_rows), 4) if expected_rows else None,
            "normalisable_rows_rejected": len(normalisable_rejected),
            "false_positive_reasons": dict(
                Counter(r for k in false_positive for r in actual_rows[k]).most_common(10)
            ),
            "examples": {
                "wrong_reason": wrong_reason[:5],
                "false_positive": [[*k, actual_rows[k]] for k in false_positive[:5]],
                "false_negative": [list(k) for k in false_negative[:5]],
            },
        },
        "file_quarantine": {"expected": len(expected_files), "found": files_ok},
        "held_batches": {
            "expected": len(expected_held),
            "found": len(expected_held & held_actual),
            "unexpected": sorted(map(list, held_actual - expected_held)),
        },
    }


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ingest", help="run or measure ingestion outside Airflow")
    actions = parser.add_subparsers(dest="ingest_command", metavar="ACTION")
    run = actions.add_parser("run", help="landing → bronze → pool → accounting for resources")
    run.add_argument("resources", nargs="*", help="resource ids (default: all)")
    run.set_defaults(func=_run)
    evaluate = actions.add_parser(
        "evaluate", help="precision/recall against the synthetic manifest"
    )
    evaluate.add_argument(
        "resources", nargs="*", help="resource ids (default: all in the manifest)"
    )
    evaluate.set_defaults(func=_evaluate)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)


def _run(args: argparse.Namespace) -> int:
    from jobs.catalog.loader import load_catalog
    from jobs.ingest.pipeline import ingest_resource

    settings = Settings.from_env()
    for resource_id in args.resources or list(
        load_catalog(settings.schemas_root, settings.catalog_revisions_root).resources
    ):
        result = ingest_resource(resource_id, settings)
        print(json.dumps({resource_id: result["row_accounting"]}, ensure_ascii=False, default=str))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    print(
        json.dumps(
            evaluate_ingestion(Settings.from_env(), args.resources or None),
            ensure_ascii=False,
            indent=2,
            default=str,
        )
    )
    return 0
