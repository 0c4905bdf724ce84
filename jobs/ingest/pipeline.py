"""The ingestion entry points the DAGs call: land → bronze → pool → row accounting.

Each is idempotent: a file already logged is not read again, a batch already promoted is not
standardised again, and every lake write carries a write id so a retried commit adds nothing.

Deliveries: a batch is read once complete (:func:`jobs.ingest.landing.check_batch`); until then
it waits, and so do the later batches of the same resource (an incremental batch applied before
the one it follows would be applied out of order); other resources go on. A file is known by its
batch, name and SHA-256: the same name delivered again with other bytes is a correction, read as
a new version whose promotion takes the earlier version's rows out of the pool (bronze keeps
both, the accounting counts them ``superseded``); the same bytes again are skipped and logged.

Tables written (declared in :mod:`jobs.lake.registry`):
  bronze/<dept>/<resource>        one row per delivered data row (raw strings + lineage)
  pool/<dept>/<resource>          one row per accepted record per batch (typed, keyed)
  quarantine/<dept>/<resource>    one row per rejected row, or per file rejected whole
  governance/ingest_files         one row per landed file (or rejected batch): what happened
  governance/pool_batches         one row per (batch, file) promotion outcome
  governance/row_accounting       one row per (resource, batch, file): the counts, checked
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

import pyarrow as pa

from jobs.ingest import accounting, bronze, landing, promote
from jobs.ingest.context import Context, one_writer, open_context, write_id
from jobs.ingest.pool import QUARANTINE_SCHEMA
from jobs.ingest.readers import RawFile, UnreadableFile, encodings_compatible, read_file
from jobs.lake import ledger
from jobs.lake.registry import (
    BRONZE,
    INGEST_FILES,
    POOL,
    POOL_BATCHES,
    QUARANTINE,
    ROW_ACCOUNTING,
    LakeTable,
)
from jobs.settings import Settings

if TYPE_CHECKING:  # Spark is started only by a promotion that runs on it (jobs.ingest.promote)
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

INGEST_FILES_SCHEMA = pa.schema(
    [
        *accounting.FILE_KEY_FIELDS,
        ("file_hash", pa.string()),
        ("file_size", pa.int64()),
        (
            "status",
            pa.string(),
        ),  # ingested | quarantined | skipped_duplicate | rejected | destroyed
        ("reason", pa.string()),
        ("message", pa.string()),
        ("file_rows", pa.int64()),
        ("bronze_rows", pa.int64()),
        ("declared_encoding", pa.string()),
        ("detected_encoding", pa.string()),
        ("encoding_mismatch", pa.bool_()),
        ("columns", pa.list_(pa.string())),
        ("duplicate_of", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
        # the file's mtime when read: with its size, how a later run knows it unchanged
        ("file_modified_at", pa.timestamp("us", tz="UTC")),
        # a correction: the SHA-256 of the version of this batch and file it supersedes
        ("replaces", pa.string()),
    ]
)

# --- landing → bronze --------------------------------------------------------------------------


@one_writer
def land_to_bronze(
    resource_id: str,
    settings: Settings,
    *,
    spark: SparkSession | None = None,
) -> dict:
    """Reads every new or changed file of every complete batch of one resource into bronze.

    A batch that is not complete yet (no manifest or marker where the catalog declares one, a
    manifest that does not match, or a file modified within the landing quiet period) waits,
    logged, with every later batch of the resource. A file whose bytes were already ingested
    (the same batch delivered twice) is skipped and logged; a file re-delivered under its batch
    and name with other bytes is read as a correction; an empty, truncated or unreadable file
    is quarantined whole with its reason; a resource folder, batch or file that resolves outside
    the landing root, or has an unsafe name, is rejected without being read and logged once, and
    the other entries go on (a rejected entry fixed later is read then). Returns a
    JSON-serialisable summary.
    """
    ctx = open_context(resource_id, settings, spark)
    department, resource_name = ctx.dept_res
    known = _KnownFiles(ctx.resource_rows(INGEST_FILES))
    delivery = ctx.resource.delivery

    root = ctx.settings.landing_root
    batches, rejected = landing.list_batches(root, department, resource_name)
    summary: dict = {"resource": resource_id, "batches": [], "waiting": [], "rejected": []}
    waiting_for: str | None = None
    for batch_id in batches:
        batch_files, rejected_files = landing.batch_files(
            root,
            department,
            resource_name,
            batch_id,
            not_data=[n for n in (delivery.manifest, delivery.marker) if n],
        )
        rejected += rejected_files
        files = [f for f in batch_files if known.is_new(f)]
        if not files:
            continue
        if waiting_for is not None:
            message = f"batch {batch_id!r} waits for the earlier batch {waiting_for!r}"
            summary["waiting"].append(_waiting(ctx, landing.Waiting(batch_id, "behind", message)))
            continue
        folder = landing.confined_resource_folder(root, department, resource_name) / batch_id
        check = landing.check_batch(
            folder,
            batch_id,
            files,
            manifest=delivery.manifest,
            marker=delivery.marker,
            now=ctx.now,
            quiet_seconds=settings.landing_quiet_seconds,
        )
        for name in check.unlisted:
            log.warning(
                "%s: %s/%s is not in its batch's manifest: not read", resource_id, batch_id, name
            )
        if check.rejected:
            rejected.append(check.rejected)
            waiting_for = batch_id
            continue
        landed = check.waiting or _land_batch(ctx, batch_id, check.files, known, check.hashes)
        if isinstance(landed, landing.Waiting):
            summary["waiting"].append(_waiting(ctx, landed))
            waiting_for = batch_id
        elif landed["ingested"] or landed["quarantined"] or landed["skipped_duplicate"]:
            summary["batches"].append(landed)
    summary["rejected"] = _log_rejected(ctx, rejected, known.rows)
    summary["skipped_files"] = sum(len(b["skipped_duplicate"]) for b in summary["batches"])
    return summary


def _waiting(ctx: Context, waiting: landing.Waiting) -> dict:
    log.warning(
        "%s: batch %s is not read yet: %s", ctx.resource.id, waiting.batch_id, waiting.message
    )
    return {"batch_id": waiting.batch_id, "reason": waiting.reason, "message": waiting.message}


class _KnownFiles:
    """What the file log knows of a resource's delivered files: every version read, which
    version of each (batch, file) is current, and each (size, mtime) seen, so an unchanged
    file is recognised without reading its bytes again."""

    def __init__(self, logged: list[dict]) -> None:
        self.rows = logged
        self.destroyed = accounting.destroyed_files(logged)
        self.versions: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.seen: set[tuple] = set()
        self.legacy: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for r in logged:
            key = (r["batch_id"], r["source_file"])
            if r["file_hash"] and r["status"] in {"ingested", "quarantined", "skipped_duplicate"}:
                self.versions[key].add(r["file_hash"])
            if r.get("file_modified_at") is not None:
                self.seen.add((*key, r["file_size"], r["file_modified_at"]))
            elif r["status"] != "rejected":
                self.legacy[key].append(r)  # logged before mtimes were: judged by ingested_at
        self.superseded = {
            (r["batch_id"], r["source_file"], r["replaces"]) for r in logged if r.get("replaces")
        }
        self.current: dict[tuple[str, str], str] = {
            (r["batch_id"], r["source_file"]): r["file_hash"]
            for r in logged
            if r["status"] == "ingested"
            and (r["batch_id"], r["source_file"], r["file_hash"]) not in self.superseded
        }
        # bytes seen before are a duplicate delivery, unless their rows were destroyed since
        self.hashes = {
            file_hash: f"{batch_id}/{source_file}"
            for (batch_id, source_file), file_hash in self.current.items()
            if (batch_id, source_file) not in self.destroyed
        }

    def repeat_of(
        self, batch_id: str, file_name: str, file_hash: str
    ) -> tuple[str, str, str, str] | None:
        """(status, reason, message, duplicate_of) when these bytes were read before, so they
        are not read again; None for bytes to read (new, or a correction)."""
        here = f"{batch_id}/{file_name}"
        if (batch_id, file_name, file_hash) in self.superseded:
            # a revert to bytes a correction replaced: no run can put them back by itself
            message = "the bytes of a version a correction replaced: deliver them as a new batch"
            return "rejected", "reverts_correction", message, here
        if file_hash in self.versions.get((batch_id, file_name), ()):
            message = "delivered again with the same bytes: skipped"
            return "skipped_duplicate", "same_content", message, here
        if file_hash in self.hashes and (batch_id, file_name) not in self.versions:
            earlier = self.hashes[file_hash]
            return "skipped_duplicate", "duplicate_file", f"same bytes as {earlier}", earlier
        return None

    def is_new(self, landed: landing.LandedFile) -> bool:
        """Whether ``landed`` was never read, or changed since (a destroyed file never is)."""
        key = (landed.batch_id, landed.name)
        if key in self.destroyed:
            return False
        state = landing.FileState.of(landed.path)
        if (*key, state.size, state.modified_at) in self.seen:
            return False
        return not any(
            r["file_size"] == state.size and state.modified_at <= r["ingested_at"]
            for r in self.legacy[key]
        )


@one_writer
def log_destroyed_files(resource_id: str, settings: Settings, *, why: str) -> dict:
    """Marks each logged file of one resource ``destroyed`` in the file log, after ``govlake
    destroy`` removed its rows: the landing copy is not read again, the row accounting expects
    no rows of it, and the same bytes delivered again later are ingested anew (not skipped as a
    duplicate of rows that no longer exist). Returns how many files were marked."""
    ctx = open_context(resource_id, settings, None)
    logged = ctx.resource_rows(INGEST_FILES)
    already = accounting.destroyed_files(logged)
    marked: dict[tuple[str, str], dict] = {}
    for r in logged:
        key = (r["batch_id"], r["source_file"])
        if r["status"] in {"ingested", "quarantined", "skipped_duplicate"} and key not in already:
            marked[key] = _log_row(
                ctx, *key, r["file_hash"], r["file_size"], "destroyed", "destroyed", why
            )
    if marked:
        names = "|".join(f"{b}/{f}" for b, f in sorted(marked))
        _append_file_log(
            ctx, list(marked.values()), "destroyed", hashlib.sha256(names.encode()).hexdigest()[:16]
        )
    return {"resource": resource_id, "destroyed_files": len(marked)}


def _log_rejected(
    ctx: Context, rejected: list[landing.RejectedEntry], logged: list[dict]
) -> list[dict]:
    """Logs each rejected landing entry once (a warning and a ``rejected`` file-log row)."""
    before = {(r["batch_id"], r["source_file"], r["reason"]) for r in logged}
    new = [e for e in rejected if (e.batch_id, e.file_name, e.reason) not in before]
    for entry in new:
        log.warning("rejected landing entry of %s: %s", ctx.resource.id, entry.message)
    if new:
        rows = [
            _log_row(ctx, e.batch_id, e.file_name, None, 0, "rejected", e.reason, e.message)
            for e in new
        ]
        key = "|".join(sorted(f"{e.batch_id}/{e.file_name}/{e.reason}" for e in new))
        _append_file_log(ctx, rows, "rejected", hashlib.sha256(key.encode()).hexdigest()[:16])
    return [
        {"batch_id": e.batch_id, "file": e.file_name, "reason": e.reason, "message": e.message}
        for e in rejected
    ]


def _land_batch(
    ctx: Context,
    batch_id: str,
    files: list[landing.LandedFile],
    known: _KnownFiles,
    hashes: dict[str, str],
) -> dict | landing.Waiting:
    """Reads the new or changed files of one complete batch into bronze (or quarantine) and
    logs each; returns what happened, or :class:`~jobs.ingest.landing.Waiting` with nothing
    written when a file changed while it was read (it was still being written)."""
    seen = [
        (landed, landing.FileState.of(landed.path), hashes.get(landed.name)) for landed in files
    ]
    seen = [(landed, state, h or landing.file_sha256(landed.path)) for landed, state, h in seen]
    with _Reads(ctx, seen, known, batch_id) as reads:
        return _land_files(ctx, batch_id, seen, known, reads)


class _Reads(concurrent.futures.ThreadPoolExecutor):
    """The batch's files to read, read two at a time ahead of their turn and turned into their
    bronze rows there: Arrow's CSV reader, the hashing and the building of the raw maps
    release the GIL, so one file is read on the second core while the other is. A file whose
    bytes were read before is not read (nor a second file of the batch with the same bytes,
    which its turn finds a duplicate)."""

    def __init__(self, ctx: Context, seen: list[tuple], known: _KnownFiles, batch_id: str) -> None:
        super().__init__(max_workers=2)
        self.futures: dict[str, concurrent.futures.Future] = {}
        first_of_hash: set[str] = set()
        for landed, _state, file_hash in seen:
            if known.repeat_of(batch_id, landed.name, file_hash) is None and (
                file_hash not in first_of_hash
            ):
                first_of_hash.add(file_hash)
                self.futures[landed.name] = self.submit(_read_bronze, ctx, landed, file_hash)

    def __exit__(self, *exc_info: object) -> None:
        # A batch that waits (a file changed while read) does not read the rest.
        self.shutdown(wait=True, cancel_futures=True)

    def read(
        self, ctx: Context, landed: landing.LandedFile, file_hash: str
    ) -> tuple[RawFile, pa.Table]:
        """The file's :class:`~jobs.ingest.readers.RawFile` and bronze rows (raises as
        ``read_file`` does)."""
        future = self.futures.pop(landed.name, None)
        if future is None:
            return _read_bronze(ctx, landed, file_hash)
        return future.result()


def _read_bronze(
    ctx: Context, landed: landing.LandedFile, file_hash: str
) -> tuple[RawFile, pa.Table]:
    raw = read_file(landed.path, ctx.resource.delivery.format, ctx.read_limits)
    return raw, bronze.bronze_table(raw, landed, file_hash, ctx.now)


def _land_files(
    ctx: Context, batch_id: str, seen: list[tuple], known: _KnownFiles, reads: _Reads
) -> dict | landing.Waiting:
    declared = ctx.resource.delivery.encoding
    log_rows, bronze_parts, quarantine_rows = [], [], []
    outcome = {
        "batch_id": batch_id,
        "ingested": [],
        "quarantined": [],
        "skipped_duplicate": [],
        "bronze_rows": 0,
    }
    for landed, state, file_hash in seen:
        size = state.size
        repeat = known.repeat_of(batch_id, landed.name, file_hash)
        if repeat is not None:
            status, reason, message, duplicate_of = repeat
            (log.warning if status == "rejected" else log.info)(
                "%s/%s of %s: %s", batch_id, landed.name, ctx.resource.id, message
            )
            row = _log_row(ctx, batch_id, landed.name, file_hash, size, status, reason, message)
            row.update(duplicate_of=duplicate_of, file_modified_at=state.modified_at)
            if reason == "duplicate_file":
                row["file_rows"] = _count_rows_quietly(landed, ctx)
            log_rows.append(row)
            if status == "skipped_duplicate":
                outcome["skipped_duplicate"].append(landed.name)
            continue
        try:
            raw, bronze_rows = reads.read(ctx, landed, file_hash)
        except UnreadableFile as error:
            log.warning(
                "quarantined file %s/%s of %s: %s", batch_id, landed.name, ctx.resource.id, error
            )
            row = _log_row(
                ctx, batch_id, landed.name, file_hash, size, "quarantined", error.reason, str(error)
            )
            row.update(file_rows=error.rows_seen, file_modified_at=state.modified_at)
            log_rows.append(row)
            quarantine_rows.append(
                _file_quarantine_row(ctx, batch_id, landed.name, file_hash, error)
            )
            outcome["quarantined"].append({"file": landed.name, "reason": error.reason})
            continue
        if landing.FileState.of(landed.path) != state:
            message = f"{batch_id}/{landed.name} changed while it was read: still being written"
            return landing.Waiting(batch_id, landing.CHANGED_WHILE_READ, message)
        known.hashes[file_hash] = f"{batch_id}/{landed.name}"
        replaces = known.current.get((batch_id, landed.name))
        row = _log_row(ctx, batch_id, landed.name, file_hash, size, "ingested", None, None)
        if replaces:
            row["message"] = f"a correction: supersedes the version read before ({replaces[:12]}…)"
            log.info("%s/%s of %s: %s", batch_id, landed.name, ctx.resource.id, row["message"])
        row.update(
            file_modified_at=state.modified_at,
            replaces=replaces,
            file_rows=raw.row_count,
            bronze_rows=raw.row_count,
            detected_encoding=raw.detected_encoding,
            encoding_mismatch=not encodings_compatible(declared, raw.detected_encoding),
            columns=list(raw.columns),
        )
        if row["encoding_mismatch"]:
            mismatch = f"declared {declared}, delivered {raw.detected_encoding}: read as delivered"
            row["message"] = "; ".join(filter(None, [row["message"], mismatch]))
        if raw.notes:  # what the reader wants the department told (e.g. the sheets it read)
            row["message"] = "; ".join(filter(None, [row["message"], *raw.notes]))
        log_rows.append(row)
        bronze_parts.append(bronze_rows)
        outcome["ingested"].append(landed.name)
        outcome["bronze_rows"] += raw.row_count

    # the mtime tells a file delivered again with the same bytes from the first delivery
    files_key = hashlib.sha256(
        "|".join(
            sorted(
                f"{r['source_file']}{r['file_hash']}{r['file_modified_at']:%Y%m%d%H%M%S%f}"
                for r in log_rows
            )
        ).encode()
    ).hexdigest()[:16]
    # A run killed after these commits but before the file log left rows of some of these
    # files in bronze or quarantine already; a file added to the batch since gives this retry
    # another write id, so those files' rows are left out here instead of committed twice.
    in_bronze = _files_held(ctx, BRONZE, batch_id)
    bronze_parts = [p for p in bronze_parts if not p.num_rows or _file_of(p) not in in_bronze]
    in_quarantine = _files_held(ctx, QUARANTINE, batch_id, [("stage", "=", "file")])
    quarantine_rows = [
        r for r in quarantine_rows if (r["source_file"], r["file_hash"]) not in in_quarantine
    ]
    if bronze_parts:
        # Rows read on the driver are committed by delta-rs directly: no Spark job needed.
        committed = ledger.append_arrow(
            ctx.uri(BRONZE),
            pa.concat_tables(bronze_parts),
            write_id=write_id("bronze", ctx.resource.id, batch_id, files_key),
        )
        if committed:
            version = ledger.table_version(ctx.uri(BRONZE))
            bronze.remember_written(
                ctx.uri(BRONZE), bronze_parts, version, ctx.settings.arrow_max_rows
            )
    if quarantine_rows:
        _append_quarantine_files(
            ctx,
            quarantine_rows,
            write_id("quarantine-files", ctx.resource.id, batch_id, files_key),
        )
    # The file log is written last: it is the commit point that tells a re-run what is done.
    _append_file_log(ctx, log_rows, batch_id, files_key)
    return outcome


def _files_held(
    ctx: Context, table: LakeTable, batch_id: str, filters: list | None = None
) -> set[tuple[str, str]]:
    """The (file, file hash) pairs of one batch that ``table`` already holds rows of."""
    where = [("batch_id", "=", batch_id), *(filters or [])]
    return set(ledger.count_rows_by(ctx.uri(table), ("source_file", "file_hash"), where))


def _file_of(part: pa.Table) -> tuple[str, str]:
    return part["source_file"][0].as_py(), part["file_hash"][0].as_py()


def _count_rows_quietly(landed: landing.LandedFile, ctx: Context) -> int | None:
    try:
        return read_file(landed.path, ctx.resource.delivery.format, ctx.read_limits).row_count
    except UnreadableFile as error:
        return error.rows_seen


def _log_row(
    ctx: Context,
    batch_id: str,
    file_name: str,
    file_hash: str | None,
    size: int,
    status: str,
    reason: str | None,
    message: str | None,
) -> dict:
    department, resource_name = ctx.dept_res
    return {
        "department": department,
        "resource": resource_name,
        "batch_id": batch_id,
        "source_file": file_name,
        "file_hash": file_hash,
        "file_size": size,
        "status": status,
        "reason": reason,
        "message": message,
        "file_rows": None,
        "bronze_rows": 0,
        "declared_encoding": ctx.resource.delivery.encoding,
        "detected_encoding": None,
        "encoding_mismatch": None,
        "columns": [],
        "duplicate_of": None,
        "ingested_at": ctx.now,
        "file_modified_at": None,
        "replaces": None,
    }


def _append_file_log(ctx: Context, rows: list[dict], batch_id: str, files_key: str) -> None:
    ledger.append_rows(
        ctx.uri(INGEST_FILES),
        rows,
        INGEST_FILES_SCHEMA,
        write_id=write_id("ingest_files", ctx.resource.id, batch_id, files_key),
        add_columns=True,  # file logs written before corrections were versioned
    )


def _file_quarantine_row(
    ctx: Context, batch_id: str, file_name: str, file_hash: str, error: UnreadableFile
) -> dict:
    department, resource_name = ctx.dept_res
    details = {"_message": str(error)}
    if error.rows_seen is not None:
        details["_rows_seen"] = str(error.rows_seen)
    return {
        "department": department,
        "resource": resource_name,
        "batch_id": batch_id,
        "source_file": file_name,
        "file_hash": file_hash,
        "row_number": None,
        "record_hash": None,
        "ingested_at": ctx.now,
        "stage": "file",
        "reasons": [f"file:{error.reason}"],
        "raw": list(details.items()),
        "quarantined_at": ctx.now,
    }


def _append_quarantine_files(ctx: Context, rows: list[dict], key: str) -> None:
    ledger.append_rows(ctx.uri(QUARANTINE), rows, QUARANTINE_SCHEMA, key)


# --- bronze → pool -----------------------------------------------------------------------------


@one_writer
def bronze_to_pool(
    resource_id: str,
    settings: Settings,
    *,
    spark: SparkSession | None = None,
) -> dict:
    """Standardises every ingested batch not yet promoted (held batches are retried), in batch
    order, into the pool and quarantine; exact duplicates within and across batches are counted.
    Promoting a corrected file takes the rows of the versions it supersedes out of the pool.

    Small promotions run in this process on Arrow data and write through delta-rs, without
    starting Spark; large ones, and every one when Spark is a cluster, run on Spark with the
    same standardisation (:func:`jobs.ingest.promote.runs_on_spark`).
    """
    return promote.promote_pending(open_context(resource_id, settings, spark))


# --- accounting --------------------------------------------------------------------------------


@one_writer
def check_row_accounting(
    resource_id: str,
    settings: Settings,
    *,
    spark: SparkSession | None = None,
) -> dict:
    """Recomputes the row accounting of every file of one resource from the bronze, pool and
    quarantine tables themselves, checked against the file log and the recorded outcomes; stores
    it, and raises :class:`jobs.ingest.accounting.RowAccountingError` naming each batch and file
    whose numbers do not add up."""
    ctx = open_context(resource_id, settings, spark)
    department, resource_name = ctx.dept_res
    rows = accounting.account_files(
        ctx.resource_rows(INGEST_FILES),
        ctx.resource_rows(POOL_BATCHES),
        _table_counts(ctx),
        checked_at=ctx.now,
        department=department,
        resource=resource_name,
    )
    ledger.overwrite_where(
        ctx.uri(ROW_ACCOUNTING),
        pa.Table.from_pylist(rows, schema=accounting.ROW_ACCOUNTING_SCHEMA),
        predicate=f"department = '{department}' AND resource = '{resource_name}'",
        add_columns=True,  # accounting written before file versions had no file_hash column
    )
    counted = ("file_rows", "bronze_rows", *accounting.COUNTS)
    totals = {k: sum(r[k] or 0 for r in rows) for k in counted}
    broken = [r for r in rows if not r["is_balanced"]]
    if broken:
        lines = [
            f"{r['batch_id']}/{r['source_file']}"
            f"{' (' + r['file_hash'][:12] + ')' if r['status'] == 'superseded' else ''}: "
            f"{r['imbalance']}"
            for r in broken
        ]
        raise accounting.RowAccountingError(
            f"row accounting of {resource_id} does not hold for {len(broken)} file(s):\n  "
            + "\n  ".join(lines)
        )
    return {"resource": resource_id, "files": len(rows), "balanced": True, **totals}


def _table_counts(ctx: Context) -> accounting.TableCounts:
    """Rows per file version in this resource's bronze, pool and quarantine (row-level) tables,
    only the three key columns read (delta-rs, no Spark job)."""
    by_file = ("batch_id", "source_file", "file_hash")
    return accounting.TableCounts(
        bronze=ledger.count_rows_by(ctx.uri(BRONZE), by_file),
        pool=ledger.count_rows_by(ctx.uri(POOL), by_file),
        quarantine=ledger.count_rows_by(ctx.uri(QUARANTINE), by_file, [("stage", "!=", "file")]),
    )


@one_writer
def ingest_resource(
    resource_id: str, settings: Settings, *, spark: SparkSession | None = None
) -> dict:
    """All three steps for one resource, as the DAG runs them."""
    return {
        "land_to_bronze": land_to_bronze(resource_id, settings, spark=spark),
        "bronze_to_pool": bronze_to_pool(resource_id, settings, spark=spark),
        "row_accounting": check_row_accounting(resource_id, settings, spark=spark),
    }
