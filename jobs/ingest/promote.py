"""Bronze → pool: promotes every ingested file version not yet promoted, on one of two runners.

The standardisation is one vectorised function over Arrow data
(:func:`jobs.ingest.standardize_arrow.standardized_batch`); what runs it is decided per
promotion (:func:`runs_on_spark`):

* **in process** (:mod:`jobs.ingest.promote_arrow`): bronze read with delta-rs, standardised,
  duplicates found and pool and quarantine appended with delta-rs, all in the task's process on
  Arrow data. No Spark session is started: a department's delivery is single-process work, and
  a Spark job's fixed cost (seconds) was most of a small batch's time;
* **on Spark** (:mod:`jobs.ingest.promote_spark`): above ``arrow_max_rows`` pending
  bronze rows, or whenever Spark is a cluster, the same function runs inside ``mapInArrow``.

Both decide exactly alike (dispositions, duplicates in (batch, file, row) order, counts) and
write with the same write ids, so a promotion stopped on one runner is completed by the other.
After the runner: superseded versions leave the pool, and the outcome rows (the commit point)
are appended.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa

from jobs.ingest import accounting, pool, promote_arrow
from jobs.ingest.context import Context, write_id
from jobs.lake import ledger
from jobs.lake.registry import INGEST_FILES, POOL, POOL_BATCHES, QUARANTINE
from jobs.settings import Settings

log = logging.getLogger(__name__)

POOL_BATCHES_SCHEMA = pa.schema(
    [
        *accounting.FILE_KEY_FIELDS,
        ("outcome", pa.string()),  # promoted | held | superseded
        ("pool_rows", pa.int64()),
        ("quarantined_rows", pa.int64()),
        ("duplicate_rows", pa.int64()),
        ("held_rows", pa.int64()),
        ("warning_rows", pa.int64()),
        ("extra_columns", pa.list_(pa.string())),
        ("message", pa.string()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("file_hash", pa.string()),  # the version of the file the outcome is about
        ("superseded_rows", pa.int64()),
    ]
)


def promote_pending(ctx: Context) -> dict:
    """Promotes (or holds) every ingested file version of ``ctx``'s resource that has no
    outcome yet (see :func:`jobs.ingest.pipeline.bronze_to_pool`); returns the summary."""
    ingested = ctx.resource_rows(INGEST_FILES, status="ingested")
    latest = accounting.latest_outcomes(ctx.resource_rows(POOL_BATCHES))
    replaced = {
        (r["batch_id"], r["source_file"], r["replaces"]) for r in ingested if r.get("replaces")
    }
    pending: dict[str, list[dict]] = defaultdict(list)
    #: per (batch, file): the versions a correction replaced whose rows are not yet superseded
    superseding: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in ingested:
        outcome = accounting.outcome_of(latest, row)
        decided = outcome["outcome"] if outcome else None
        if accounting.version_of(row) in replaced:
            if decided != "superseded":
                superseding[(row["batch_id"], row["source_file"])].append(row)
        elif decided != "promoted":
            pending[row["batch_id"]].append(row)

    summary: dict = {"resource": ctx.resource.id, "promoted": [], "held": []}
    summary["duplicates_to_review"] = []
    ready: dict[str, list[dict]] = {}
    for batch_id in sorted(pending):
        file_rows = pending[batch_id]
        delivered = {c for r in file_rows for c in (r["columns"] or [])}
        report = pool.column_report(ctx.resource, delivered)
        # A batch whose files name their columns is held when a required one is missing, even
        # with no rows: the export itself must be fixed. A file that names none (a GeoJSON
        # collection without features) has nothing to check and nothing to promote.
        if report.must_hold and delivered:
            summary["held"].append(_hold_batch(ctx, batch_id, file_rows, report))
        else:
            ready[batch_id] = file_rows
    if ready:
        summary["promoted"] = _promote_batches(ctx, ready, superseding)
        corrected = {(r["batch_id"], r["source_file"]) for rows in ready.values() for r in rows}
        summary["duplicates_to_review"] = _duplicates_to_review(
            ctx, corrected & set(superseding), latest
        )
    for count in ("pool_rows", "quarantined_rows", "duplicate_rows", "superseded_rows"):
        summary[count] = sum(b[count] for b in summary["promoted"])
    for held in summary["held"]:
        log.error(held["message"])
    return summary


def _duplicates_to_review(
    ctx: Context, corrected: set[tuple[str, str]], latest: dict[tuple, dict]
) -> list[dict]:
    """Later files whose rows were counted duplicates when the corrected files' earlier
    versions were in the pool. A row counted a duplicate of a row the correction removed is in
    bronze only now, and re-examining it would re-promote those files: not done here, but
    named (a warning and the summary), never silent."""
    review = []
    for corrected_file in sorted(corrected):
        later = sorted(
            (o["batch_id"], o["source_file"], int(o["duplicate_rows"]))
            for o in latest.values()
            if o["outcome"] == "promoted"
            and o["duplicate_rows"]
            and (o["batch_id"], o["source_file"]) > corrected_file
        )
        if later:
            message = (
                f"{ctx.resource.id}: {'/'.join(corrected_file)} was corrected; "
                f"{sum(n for *_, n in later)} row(s) of later files were counted duplicates "
                "when its earlier version was in the pool and are not re-examined: "
                + ", ".join(f"{b}/{f} ({n})" for b, f, n in later)
            )
            log.warning(message)
            review.append({"corrected": "/".join(corrected_file), "message": message})
    return review


def files_key(file_rows: list[dict]) -> str:
    """A short digest of a set of files: part of every write id, so that a file added to a batch
    later gets a write of its own instead of being taken for a retry."""
    names = sorted(f"{r['batch_id']}/{r['source_file']}/{r['file_hash']}" for r in file_rows)
    return hashlib.sha256("|".join(names).encode()).hexdigest()[:16]


def _hold_batch(
    ctx: Context, batch_id: str, file_rows: list[dict], report: pool.ColumnReport
) -> dict:
    """Keeps a batch in bronze, unpromoted, with a message naming the missing column(s); it is
    retried on every run, so a catalog synonym or a redelivery releases it."""
    message = report.hold_message(ctx.resource.id)
    outcome_rows = [
        _outcome_row(ctx, r, "held", {"held_rows": r["bronze_rows"]}, report, message)
        for r in file_rows
    ]
    held_id = write_id(
        "pool_batches", ctx.resource.id, files_key(file_rows), "held", ctx.now.isoformat()
    )
    _append_outcomes(ctx, outcome_rows, held_id)
    return {
        "batch_id": batch_id,
        "outcome": "held",
        "message": message,
        "held_rows": sum(r["bronze_rows"] for r in file_rows),
    }


@dataclass(frozen=True)
class Promotion:
    """One promotion: the file versions it standardises (their file-log rows) and the earlier
    versions a correction among them supersedes."""

    ctx: Context
    files: list[dict]
    replaced: list[dict]

    @property
    def batch_ids(self) -> list[str]:
        return sorted({r["batch_id"] for r in self.files})

    @property
    def file_hashes(self) -> list[str]:
        return sorted({r["file_hash"] for r in self.files})

    @property
    def bronze_rows(self) -> int:
        return sum(int(r["bronze_rows"] or 0) for r in self.files)

    def append_id(self, table: str) -> str:
        """The id of this promotion's append to ``table`` (``pool`` or ``quarantine``): the
        same on both runners, so a re-run on either is a no-op for a write that landed."""
        return table + "/" + write_id(self.ctx.resource.id, files_key(self.files))


def runs_on_spark(settings: Settings, bronze_rows: int) -> bool:
    """Whether a promotion of ``bronze_rows`` pending bronze rows runs on Spark: when it is
    over ``arrow_max_rows``, or when Spark is a cluster (there it is distributed)."""
    return not settings.runs_on_arrow(bronze_rows)


def _promote_batches(
    ctx: Context, batches: dict[str, list[dict]], superseding: dict[tuple[str, str], list[dict]]
) -> list[dict]:
    """Standardises every ready batch in ONE pass: a pass has a fixed cost, and an incremental
    run usually finds one small batch per resource anyway.

    Exact duplicates are found in batch order (batch id, file, row), so a repeat within the
    pending batches and a repeat of a row already in the pool are both counted, never kept.

    A corrected file's earlier versions (``superseding``, by batch and file) leave the pool in
    this promotion: their rows are not earlier rows for the duplicate check (the correction
    repeats most of them), and after the pool append they are deleted by their lineage (batch,
    file, file hash). Deleting, not marking, keeps every reader of the pool unchanged; the
    rows stay in bronze and the accounting counts them ``superseded``. The append and the
    delete are two commits, each idempotent, and the outcome record after both is the commit
    point: a run stopped between them is named by the accounting and completed by the re-run.
    """
    all_files = [r for rows in batches.values() for r in rows]
    replaced = [
        v for r in all_files for v in superseding.get((r["batch_id"], r["source_file"]), [])
    ]
    promotion = Promotion(ctx, all_files, replaced)
    if runs_on_spark(ctx.settings, promotion.bronze_rows):
        from jobs.ingest import promote_spark  # pyspark and its JVM: only for this runner

        counts = promote_spark.promote(promotion)
    else:
        counts = promote_arrow.promote(promotion)
    if replaced:
        ledger.delete_where(ctx.uri(POOL), versions_predicate(replaced))

    superseded = _superseded_outcomes(ctx, replaced)
    results, outcome_rows = [], []
    for batch_id, file_rows in batches.items():
        report = pool.column_report(
            ctx.resource, {c for r in file_rows for c in (r["columns"] or [])}
        )
        message = (
            f"extra columns kept in bronze: {', '.join(report.extra_columns)}"
            if report.extra_columns
            else None
        )
        batch_outcomes = [
            _outcome_row(
                ctx,
                r,
                "promoted",
                counts.get((batch_id, r["source_file"]), {}),
                report,
                message,
            )
            for r in file_rows
        ]
        outcome_rows.extend(batch_outcomes)
        outcome_rows.extend(o for o in superseded if o["batch_id"] == batch_id)
        totals = {
            k: sum(o[k] for o in batch_outcomes)
            for k in ("pool_rows", "quarantined_rows", "duplicate_rows", "warning_rows")
        }
        totals["superseded_rows"] = sum(
            o["superseded_rows"] for o in superseded if o["batch_id"] == batch_id
        )
        results.append(
            {
                "batch_id": batch_id,
                "outcome": "promoted",
                "extra_columns": list(report.extra_columns),
                **totals,
            }
        )
    _append_outcomes(
        ctx,
        outcome_rows,
        write_id("pool_batches", ctx.resource.id, files_key(all_files), "promoted"),
    )
    return results


def versions_predicate(versions: list[dict]) -> str:
    """A SQL predicate (Spark and delta-rs) matching the rows of these file versions; batch and
    file names are confined to a safe alphabet and hashes are hex, so they quote plainly."""
    terms = [
        f"(batch_id = '{v['batch_id']}' AND source_file = '{v['source_file']}'"
        f" AND file_hash = '{v['file_hash']}')"
        for v in versions
    ]
    return " OR ".join(terms) or "FALSE"


def _superseded_outcomes(ctx: Context, replaced: list[dict]) -> list[dict]:
    """A ``superseded`` outcome per replaced version: its rows left the pool; those it had in
    quarantine stay there (what was wrong with that delivery), the rest count as superseded."""
    if not replaced:
        return []
    quarantined = ledger.count_rows_by(
        ctx.uri(QUARANTINE),
        ("batch_id", "source_file", "file_hash"),
        [("batch_id", "in", sorted({v["batch_id"] for v in replaced})), ("stage", "!=", "file")],
    )
    rows = []
    for v in replaced:
        in_quarantine = quarantined.get(accounting.version_of(v), 0)
        counts = {
            "quarantined_rows": in_quarantine,
            "superseded_rows": v["bronze_rows"] - in_quarantine,
        }
        message = "superseded by a corrected delivery of the same batch and file"
        rows.append(_outcome_row(ctx, v, "superseded", counts, None, message))
    return rows


def _outcome_row(
    ctx: Context,
    file_row: dict,
    outcome: str,
    counts: dict,
    report: pool.ColumnReport | None,
    message: str | None,
) -> dict:
    """The outcome of one file version (``file_row``: its file-log row)."""
    department, resource_name = ctx.dept_res
    return {
        "department": department,
        "resource": resource_name,
        "batch_id": file_row["batch_id"],
        "source_file": file_row["source_file"],
        "outcome": outcome,
        **{
            k: int(counts.get(k) or 0)
            for k in (
                "pool_rows",
                "quarantined_rows",
                "duplicate_rows",
                "held_rows",
                "warning_rows",
            )
        },
        "extra_columns": list(report.extra_columns) if report else [],
        "message": message,
        "decided_at": ctx.now,
        "file_hash": file_row["file_hash"],
        "superseded_rows": int(counts.get("superseded_rows") or 0),
    }


def _append_outcomes(ctx: Context, rows: list[dict], key: str) -> None:
    # add_columns: outcome tables written before file versions had no file_hash column
    ledger.append_rows(ctx.uri(POOL_BATCHES), rows, POOL_BATCHES_SCHEMA, key, add_columns=True)
