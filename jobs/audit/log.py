"""The audit log (日志记录): every write, export, grant decision and steward action.

``governance/audit_log`` — one row per recorded action, append-only, hash-chained: each entry
carries ``prev_hash``, the SHA-256 of the entry before it, and its own ``entry_hash`` over its
content and ``prev_hash``. Changing an entry breaks its hash; removing one breaks the chain (a
gap in ``seq`` and a ``prev_hash`` that matches nothing); removing the newest ones is caught by
the head each append records in its Delta commit (``govlake.audit.seq`` / ``…hash``).
:func:`verify` names every such entry.

Kept at least the policy profile's log retention (000 §13: 3 years; 003 §27: 6 months): the
table's Delta log and deleted-file retention are set to it when the table is created, so
vacuum and log cleanup (:func:`jobs.lake.tables.vacuum`) never go below it, and
:func:`purge_expired` removes only entries older than it, leaving an anchor entry so that the
shortened chain still verifies.

Written with delta-rs directly (not :mod:`jobs.lake.ledger`): the write observers must not
audit the audit log's own appends.

Limits: the chain is plain SHA-256 (no key), so it shows accidental or naive changes; someone
able to rewrite the whole table and its Delta log can rebuild a consistent chain. Anchor the
head outside the lake (``govlake audit verify`` prints it) to catch that. Appends are
serialised by a lock file on local lake roots only; on an object store two concurrent writers
can fork the chain, which :func:`verify` then reports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from jobs.lake import ledger, tables
from jobs.lake.registry import AUDIT_LOG
from jobs.settings import Settings

GENESIS_HASH = "0" * 64
HEAD_SEQ_KEY = "govlake.audit.seq"
HEAD_HASH_KEY = "govlake.audit.hash"
PURGE_ACTION = "audit_purge"
_LOCK_FILE = "_govlake_audit.lock"  # leading "_": Delta and vacuum ignore it

AUDIT_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("entry_id", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("action", pa.string()),
        ("actor", pa.string()),
        ("target", pa.string()),
        ("detail", pa.string()),
        ("prev_hash", pa.string()),
        ("entry_hash", pa.string()),
    ]
)

Entry = dict[str, Any]
_process_lock = threading.Lock()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 over an entry's content and ``prev_hash`` (canonical JSON, microsecond time)."""
    at = entry["at"]
    at_text = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    content = [
        int(entry["seq"]),
        entry["entry_id"],
        at_text,
        entry["action"],
        entry["actor"],
        entry["target"],
        entry["detail"],
        entry["prev_hash"],
    ]
    canonical = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def chain(
    records: Sequence[Mapping[str, Any]], head: tuple[int, str] | None, now: dt.datetime
) -> list[Entry]:
    """Turns records (action, actor, target, detail) into entries chained after ``head``.

    Pure: ``head`` is (seq, hash) of the newest entry, or None for an empty log.
    """
    seq, prev = (head[0] + 1, head[1]) if head else (0, GENESIS_HASH)
    at = now.astimezone(dt.UTC)  # microseconds, as the table stores them
    entries: list[Entry] = []
    for record in records:
        detail = record.get("detail") or {}
        entry: Entry = {
            "seq": seq,
            "entry_id": uuid.uuid4().hex,
            "at": at,
            "action": str(record["action"]),
            "actor": str(record.get("actor") or "system"),
            "target": str(record.get("target") or ""),
            "detail": detail
            if isinstance(detail, str)
            else json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
            "prev_hash": prev,
        }
        entry["entry_hash"] = entry_hash(entry)
        entries.append(entry)
        seq, prev = seq + 1, entry["entry_hash"]
    return entries


@contextlib.contextmanager
def _append_lock(uri: str) -> Iterator[None]:
    """Serialises appends: threads of this process, and processes sharing a local lake root."""
    with _process_lock:
        if "://" in uri:
            yield
            return
        import fcntl

        os.makedirs(uri, exist_ok=True)
        with open(os.path.join(uri, _LOCK_FILE), "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def recorded_head(uri: str, limit: int = 50) -> tuple[int, str] | None:
    """(seq, hash) of the newest entry as the newest audit append recorded it in its commit.

    Reads the Delta history, not the rows: an append stays cheap however long the log is.
    Falls back to the rows when no recent commit carries a head (e.g. after maintenance).
    """
    if not tables.table_exists(uri):
        return None
    for commit in tables.history(uri, limit=limit):
        if HEAD_SEQ_KEY in commit:
            return int(commit[HEAD_SEQ_KEY]), str(commit[HEAD_HASH_KEY])
    rows = ledger.read_rows(uri, columns=["seq", "entry_hash"])
    if not rows:
        return None
    newest = max(rows, key=lambda r: r["seq"])
    return int(newest["seq"]), newest["entry_hash"]


def record(
    settings: Settings,
    action: str,
    *,
    actor: str = "system",
    target: str = "",
    detail: Mapping[str, Any] | str | None = None,
) -> Entry:
    """Appends one entry; returns it (with its seq and hash)."""
    return record_many(
        settings, [{"action": action, "actor": actor, "target": target, "detail": detail}]
    )[0]


def record_many(settings: Settings, records: Sequence[Mapping[str, Any]]) -> list[Entry]:
    """Appends entries in one commit, chained after the current head."""
    from deltalake import CommitProperties, write_deltalake

    if not records:
        return []
    uri = AUDIT_LOG.uri(settings)
    with _append_lock(uri):
        exists = tables.table_exists(uri)
        entries = chain(records, recorded_head(uri), settings.now())
        head = entries[-1]
        configuration = None
        if not exists:
            # Retention of the provide/obtain log (日志记录) from the profile: vacuum and Delta's
            # log cleanup keep everything at least this long.
            configuration = tables.retention_properties(_retention_days(settings))
        write_deltalake(
            uri,
            pa.Table.from_pylist(entries, schema=AUDIT_SCHEMA),
            mode="append",
            configuration=configuration,
            commit_properties=CommitProperties(
                custom_metadata={
                    HEAD_SEQ_KEY: str(head["seq"]),
                    HEAD_HASH_KEY: head["entry_hash"],
                }
            ),
        )
    return entries


def _retention_days(settings: Settings) -> int:
    from jobs.policy import load_profile

    return load_profile(settings.policy_profile, settings.schemas_root).log_retention_days


def read_entries(settings: Settings) -> list[Entry]:
    """Every entry, oldest first."""
    return sorted(ledger.read_rows(AUDIT_LOG.uri(settings)), key=lambda e: e["seq"])


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One broken link of the chain; ``seq``/``entry_id`` name the entry it shows at."""

    seq: int
    entry_id: str
    reason: str

    def __str__(self) -> str:
        return f"entry seq={self.seq} id={self.entry_id}: {self.reason}"


def check_chain(
    entries: Sequence[Mapping[str, Any]], head: tuple[int, str] | None
) -> list[Problem]:
    """Every changed, removed or forked entry (pure; ``entries`` in any order).

    Args:
        head: (seq, hash) the newest append recorded; catches removal of the newest entries.
    """
    problems: list[Problem] = []
    ordered = sorted(entries, key=lambda e: (e["seq"], e["entry_id"]))
    previous: Mapping[str, Any] | None = None
    anchors = {
        int(json.loads(e["detail"])["first_kept_seq"]): json.loads(e["detail"])
        for e in ordered
        if e["action"] == PURGE_ACTION
    }
    for entry in ordered:
        seq, eid = int(entry["seq"]), entry["entry_id"]
        if entry_hash(entry) != entry["entry_hash"]:
            problems.append(Problem(seq, eid, "changed: its content does not match its hash"))
        if previous is None:
            anchor = anchors.get(seq)
            if seq == 0 and entry["prev_hash"] != GENESIS_HASH:
                problems.append(Problem(seq, eid, "the first entry does not start the chain"))
            elif seq > 0 and not (
                anchor and anchor.get("first_kept_prev_hash") == entry["prev_hash"]
            ):
                problems.append(
                    Problem(seq, eid, f"entries seq 0..{seq - 1} before it are missing (removed)")
                )
        elif seq == previous["seq"]:
            problems.append(
                Problem(seq, eid, f"a second entry with seq {seq}: the chain forked or was copied")
            )
        else:
            if seq > previous["seq"] + 1:
                problems.append(
                    Problem(
                        seq,
                        eid,
                        f"entries seq {previous['seq'] + 1}..{seq - 1} before it are missing "
                        "(removed)",
                    )
                )
            elif entry["prev_hash"] != previous["entry_hash"]:
                problems.append(
                    Problem(
                        seq,
                        eid,
                        f"does not follow entry seq={previous['seq']}: prev_hash differs from "
                        "that entry's hash (it was changed or replaced)",
                    )
                )
        previous = entry
    if head is not None:
        last = ordered[-1] if ordered else None
        if last is None or int(last["seq"]) < head[0]:
            have = -1 if last is None else int(last["seq"])
            problems.append(
                Problem(
                    head[0],
                    "?",
                    f"missing (removed): the newest append recorded seq {head[0]}, the log ends "
                    f"at seq {have}",
                )
            )
        elif int(last["seq"]) == head[0] and last["entry_hash"] != head[1]:
            problems.append(
                Problem(head[0], last["entry_id"], "changed: differs from the recorded head")
            )
    return problems


def verify(settings: Settings) -> tuple[list[Problem], tuple[int, str] | None]:
    """Checks the whole log; returns the problems and the head (seq, hash) to anchor outside."""
    uri = AUDIT_LOG.uri(settings)
    if not tables.table_exists(uri):
        return [], None
    entries = read_entries(settings)
    # The head the newest append recorded in its commit, independently of the rows.
    recorded = next(
        (
            (int(c[HEAD_SEQ_KEY]), str(c[HEAD_HASH_KEY]))
            for c in tables.history(uri, limit=50)
            if HEAD_SEQ_KEY in c
        ),
        None,
    )
    problems = check_chain(entries, recorded)
    last = entries[-1] if entries else None
    return problems, ((int(last["seq"]), last["entry_hash"]) if last else None)


# --- retention ------------------------------------------------------------------------------


def purge_expired(
    settings: Settings, *, by: str, why: str, today: dt.date | None = None
) -> dict[str, Any]:
    """Removes entries older than the profile's log retention, never younger ones.

    ``today`` defaults to the bureau's date (:meth:`Settings.today`).

    Appends an anchor entry (``audit_purge``) naming the first kept entry and its ``prev_hash``,
    so that :func:`verify` accepts the shortened chain. The removed rows' files stay until a
    vacuum, which itself keeps the retention.
    """
    from deltalake import DeltaTable

    from jobs.policy import load_profile

    today = today or settings.today()
    retention = load_profile(settings.policy_profile, settings.schemas_root).log_retention
    entries = read_entries(settings)
    # An entry's day is the bureau's date when it was written, as ``today`` is.
    expired = [
        e for e in entries if retention.keep_until(settings.local_time(e["at"]).date()) <= today
    ]
    if not expired or len(expired) == len(entries):
        # The newest entry always stays: it carries the chain.
        expired = expired[: max(0, len(entries) - 1)]
    if not expired:
        return {"removed": 0, "retention": str(retention)}
    first_kept = entries[len(expired)]
    last_removed_seq = int(expired[-1]["seq"])
    uri = AUDIT_LOG.uri(settings)
    with _append_lock(uri):
        DeltaTable(uri).delete(f"seq <= {last_removed_seq}")
    record(
        settings,
        PURGE_ACTION,
        actor=by,
        target=AUDIT_LOG.path,
        detail={
            "why": why,
            "retention": str(retention),
            "removed": len(expired),
            "first_kept_seq": int(first_kept["seq"]),
            "first_kept_prev_hash": first_kept["prev_hash"],
        },
    )
    return {"removed": len(expired), "retention": str(retention)}
