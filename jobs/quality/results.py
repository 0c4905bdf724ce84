"""The quality-results table: govlake's and GX's verdict on every expectation of every batch.

``governance/quality_results``: one row per (batch, suite version, expectation or accuracy
check). ``considered``/``unexpected``/``status`` are govlake's outcome, read from GX's result
(:mod:`jobs.quality.metrics`); ``gx_success``/``gx_unexpected`` are GX's own verdict and count,
and ``gx_agrees`` says whether they match (NULL where GX did not run the check: accuracy,
skipped checks, and the type checks on GX's pandas engine, judged from the schema).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pyarrow as pa

from jobs.lake import ledger
from jobs.lake.registry import QUALITY_RESULTS
from jobs.quality.metrics import Outcome
from jobs.quality.suites import Suite
from jobs.quality.validate import GxResult, agreement
from jobs.settings import Settings

QUALITY_RESULTS_SCHEMA = pa.schema(
    [
        ("department", pa.string()),
        ("resource", pa.string()),
        ("batch_id", pa.string()),
        ("suite_version", pa.string()),
        ("expectation", pa.string()),
        ("expectation_type", pa.string()),
        ("columns", pa.list_(pa.string())),
        ("dimension", pa.string()),
        ("severity", pa.string()),
        ("threshold", pa.float64()),
        ("level", pa.string()),  # row | table | accuracy
        ("status", pa.string()),  # passed | failed | skipped
        ("considered", pa.int64()),
        ("unexpected", pa.int64()),
        ("unexpected_fraction", pa.float64()),
        ("observed", pa.string()),
        ("reason", pa.string()),
        ("gx_success", pa.bool_()),
        ("gx_unexpected", pa.int64()),
        ("gx_agrees", pa.bool_()),
        ("validated_at", pa.timestamp("us", tz="UTC")),
    ]
)


def result_rows(
    department: str,
    resource: str,
    batch_id: str,
    suite: Suite,
    outcomes: Mapping[str, Outcome],
    gx_results: Mapping[str, GxResult] | None,
    validated_at: dt.datetime,
) -> list[dict]:
    """One results row per outcome, with GX's verdict next to govlake's."""
    columns_of = {e.name: list(e.columns) for e in suite.expectations}
    columns_of.update({a.name: [a.column] for a in suite.accuracy})
    rows = []
    for name, outcome in outcomes.items():
        gx = (gx_results or {}).get(name)
        rows.append(
            {
                "department": department,
                "resource": resource,
                "batch_id": batch_id,
                "suite_version": suite.version,
                "expectation": name,
                "expectation_type": outcome.type,
                "columns": columns_of.get(name, []),
                "dimension": outcome.dimension,
                "severity": outcome.severity,
                "threshold": outcome.threshold,
                "level": outcome.level,
                "status": outcome.status,
                "considered": outcome.considered,
                "unexpected": outcome.unexpected,
                "unexpected_fraction": outcome.unexpected_fraction,
                "observed": outcome.observed,
                "reason": gx.error if gx and gx.error else outcome.reason,
                "gx_success": None if gx is None else gx.success,
                "gx_unexpected": None if gx is None else gx.unexpected_count,
                "gx_agrees": agreement(outcome, gx) if gx_results is not None else None,
                "validated_at": validated_at,
            }
        )
    return rows


def append_results(settings: Settings, rows: list[dict], write_id: str) -> bool:
    """Appends results rows in one delta-rs commit (a few dozen rows: no Spark job), idempotent
    per ``write_id``; returns False for a retry that was already applied."""
    return ledger.append_rows(QUALITY_RESULTS.uri(settings), rows, QUALITY_RESULTS_SCHEMA, write_id)
