"""The audit log (日志记录): every write, export, grant decision and steward action.

``governance/audit_log`` — one row per recorded action, hash-chained: each entry carries
``prev_hash``, the hash of the entry before it, and its own ``entry_hash`` over its content and
``prev_hash``. :func:`verify` names every entry or commit that shows a change:

* **keyed chain**: ``entry_hash`` is ``hmac-sha256:<key fingerprint>:<hex>``, an HMAC-SHA256
  under the audit key, which is kept apart from the lake (``GOVLAKE_AUDIT_KEY`` or the file
  ``GOVLAKE_AUDIT_KEY_FILE``; a public development key outside production only). Someone who
  can write the lake but lacks the key cannot recompute a hash that verifies.
* **append-only table**: verify reads every commit of the table's Delta log (not the summary a
  writer chooses to give): a commit that removes or rewrites files, or changes the table's
  schema or settings, is reported, unless it is a purge of expired entries that a keyed
  ``audit_purge`` entry announced.
* **head anchored outside the lake**: every append writes the newest (seq, hash) to a file under
  ``audit_anchor_root`` (another volume or bucket; by default a folder next to the lake root).
  Removing the newest entries, or rebuilding the table from older files, leaves the log behind
  its anchor; an append never chains after less than the anchored head, so a truncation stays
  visible as a gap.

Entries written before the key existed keep their plain SHA-256 ``entry_hash`` (64 hex digits):
a versioned chain, not a migration, because re-hashing them would itself be the rewrite verify
must catch. They verify as before, and the first keyed entry seals them: its HMAC covers the
last unkeyed hash, which covers everything before it. After a keyed entry, an unkeyed one is
reported as forged.

Kept at least the policy profile's log retention (000 §13: 3 years; 003 §27: 6 months): the
table's Delta log and deleted-file retention are set to it when the table is created, so
vacuum and log cleanup (:func:`jobs.lake.tables.vacuum`) never go below it, and
:func:`purge_expired` removes only entries older than it, after an anchor entry that lets the
shortened chain still verify.

Written directly (:mod:`jobs.lake.appends`, not :mod:`jobs.lake.ledger`): the write observers
must not audit the audit log's own appends, and an append must cost the same however many
entries the log holds.

Limits: someone holding the key and able to write both the lake and the anchor root can rebuild
a consistent log; keep the key and the anchor root out of reach of the lake's writers. Appends
are serialised by a lock file on local lake roots only; on an object store two concurrent
writers can fork the chain, which :func:`verify` then reports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from jobs.lake import ledger, tables
from jobs.lake.appends import Appender
from jobs.lake.crash import crash_point
from jobs.lake.files import read_text, write_text
from jobs.lake.paths import join_uri
from jobs.lake.registry import AUDIT_LOG
from jobs.secrets import Secret, SecretError, load_secret
from jobs.settings import Settings

GENESIS_HASH = "0" * 64
HEAD_SEQ_KEY = "govlake.audit.seq"
HEAD_HASH_KEY = "govlake.audit.hash"
PURGE_ACTION = "audit_purge"
#: commitInfo key of a purge's delete commit: the last seq it removes (an ``audit_purge`` entry
#: announcing exactly that must be in the chain, or the commit is reported).
PURGE_THROUGH_KEY = "govlake.audit.purge_through"
HASH_SCHEME = "hmac-sha256"
KEY_ENV = "GOVLAKE_AUDIT_KEY"
#: Development only: public (it is in this file); refused in production.
DEVELOPMENT_KEY = b"govlake-development-audit-key--public--never-in-production"
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


class AuditKey(Secret):
    """The key of the audit log's HMAC chain; its bytes are kept out of repr, str and logs."""


#: The key file is missing or empty, or production has no key.
AuditKeyError = SecretError


def load_audit_key(settings: Settings) -> AuditKey:
    """The key from ``GOVLAKE_AUDIT_KEY``, the ``audit_key_file`` setting, or (outside
    production, warned once per process) the public development key."""
    return load_secret(
        AuditKey,
        env_var=KEY_ENV,
        key_file=settings.audit_key_file,
        development_key=DEVELOPMENT_KEY,
        production=settings.is_production,
        what="audit key",
        warn_once=True,
    )


# --- hashes ---------------------------------------------------------------------------------


def _canonical(entry: Mapping[str, Any]) -> bytes:
    """An entry's content and ``prev_hash`` as canonical JSON (microsecond UTC time)."""
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
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(entry: Mapping[str, Any], key: AuditKey) -> str:
    """``hmac-sha256:<key fingerprint>:<hex>`` over an entry's content and ``prev_hash``."""
    digest = hmac.new(key.derive("audit-chain"), _canonical(entry), hashlib.sha256).hexdigest()
    return f"{HASH_SCHEME}:{key.fingerprint}:{digest}"


def unkeyed_entry_hash(entry: Mapping[str, Any]) -> str:
    """Plain SHA-256 (64 hex digits): the hash of entries written before the chain had a key."""
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _hash_problem(entry: Mapping[str, Any], key: AuditKey, must_be_keyed: bool) -> str | None:
    stored = entry["entry_hash"]
    scheme, _, rest = stored.partition(":")
    if scheme == HASH_SCHEME:
        fingerprint = rest.partition(":")[0]
        if fingerprint != key.fingerprint:
            return (
                f"hashed under another key (fingerprint {fingerprint}; the audit key in use is "
                f"{key.fingerprint}): forged, or verified with the wrong key"
            )
        if stored != entry_hash(entry, key):
            return "changed: its content does not match its keyed hash"
        return None
    if must_be_keyed:
        return "an unkeyed hash where the chain is keyed: written without the audit key (forged)"
    if stored != unkeyed_entry_hash(entry):
        return "changed: its content does not match its hash"
    return None


def chain(
    records: Sequence[Mapping[str, Any]],
    head: tuple[int, str] | None,
    now: dt.datetime,
    key: AuditKey,
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
        entry["entry_hash"] = entry_hash(entry, key)
        entries.append(entry)
        seq, prev = seq + 1, entry["entry_hash"]
    return entries


# --- the head anchored outside the lake -----------------------------------------------------


def anchor_uri(settings: Settings) -> str:
    """The file holding this lake's anchored head: under ``audit_anchor_root`` (by default a
    folder next to the lake root), named after the log's location so lakes never share one."""
    root = settings.audit_anchor_root or settings.lake_root.rstrip("/\\") + "_audit_anchor"
    name = hashlib.sha256(AUDIT_LOG.uri(settings).encode("utf-8")).hexdigest()[:16]
    return join_uri(root, f"audit_head_{name}.json")


@dataclass(frozen=True)
class Anchor:
    """What the anchor file outside the lake holds."""

    seq: int
    entry_hash: str
    keyed_from: int
    """The seq from which every entry is keyed: an unkeyed entry there is forged (a whole
    chain re-hashed without the key would otherwise pass as entries from before the key)."""

    @property
    def head(self) -> tuple[int, str]:
        return self.seq, self.entry_hash


def read_anchor(settings: Settings) -> Anchor | None:
    """The newest head anchored outside the lake; None when none was written."""
    try:
        anchored = json.loads(read_text(anchor_uri(settings)))
    except FileNotFoundError:
        return None
    return Anchor(int(anchored["seq"]), str(anchored["entry_hash"]), int(anchored["keyed_from"]))


def _write_anchor(settings: Settings, head: Entry, keyed_from: int) -> None:
    """Replaces the anchor file in one step (a rename, or one object-store put)."""
    anchored = {
        "audit_log": AUDIT_LOG.uri(settings),
        "seq": int(head["seq"]),
        "entry_hash": head["entry_hash"],
        "keyed_from": keyed_from,
        "at": head["at"].isoformat(),
    }
    write_text(anchor_uri(settings), json.dumps(anchored, ensure_ascii=False))


def _newest(*heads: tuple[int, str] | None) -> tuple[int, str] | None:
    """The head with the highest seq (the first given wins a tie)."""
    known = [h for h in heads if h is not None]
    return max(known, key=lambda h: h[0]) if known else None


# --- appends --------------------------------------------------------------------------------


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
    Falls back to the rows when no recent commit carries a head (e.g. after a purge). Appends
    chain after the anchored head when that one is newer (:func:`record_many`).
    """
    if not tables.table_exists(uri):
        return None
    from deltalake import DeltaTable

    return _head_of(DeltaTable(uri), uri, limit)


def _head_of(table: Any, uri: str, limit: int = 50) -> tuple[int, str] | None:
    """:func:`recorded_head` of the log opened as ``table`` (a ``DeltaTable``)."""
    for commit in table.history(limit):
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
    """Appends entries in one commit, chained after the current head, and anchors the new head
    outside the lake; returns them once they are committed.

    The current head is the newer of the anchored one and the one the table shows: after the
    newest entries were removed, new entries continue after the anchored head, so the removal
    stays a visible gap instead of being papered over.

    Callers in other threads appending at the same time share the commit (a group commit,
    :class:`_GroupCommit`): their entries stay together and in order, and nobody returns before
    the commit holding its own entries.

    Raises:
        AuditAppendFailed: the commit carrying these records, made by another caller's thread,
            failed; none of them is in the log. (The thread that made it gets the error itself.)
    """
    if not records:
        return []
    return _group_commit(AUDIT_LOG.uri(settings)).append(settings, records)


class AuditAppendFailed(RuntimeError):
    """The group commit that carried a caller's records failed: none of them was written."""


@dataclass
class _Pending:
    """One caller's records waiting for a commit, and what became of them."""

    records: Sequence[Mapping[str, Any]]
    entries: list[Entry] | None = None
    error: BaseException | None = None


class _GroupCommit:
    """Concurrent appends of one process to one log, committed together (a group commit).

    Each caller queues its records, then takes the commit lock. The first to take it commits
    everything queued by then — one Delta commit, the chain extended in queue order — and
    hands every caller its entries; a caller whose records an earlier commit carried finds
    them done when it gets the lock, and returns. Under load a commit (a table open, a file
    and a log entry) carries many reads instead of one each, and no caller returns before its
    own entries are durable.
    """

    def __init__(self) -> None:
        self._commit_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []

    def append(self, settings: Settings, records: Sequence[Mapping[str, Any]]) -> list[Entry]:
        mine = _Pending(records)
        with self._queue_lock:
            self._queue.append(mine)
        with self._commit_lock:
            if mine.entries is None and mine.error is None:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                try:
                    entries = _append(settings, [r for p in group for r in p.records])
                except BaseException as exc:
                    for pending in group:
                        pending.error = exc
                    raise  # this thread's own error, as a caller alone would get it
                start = 0
                for pending in group:
                    pending.entries = entries[start : start + len(pending.records)]
                    start += len(pending.records)
        if mine.error is not None:
            raise AuditAppendFailed(
                f"the audit append carrying this entry failed ({type(mine.error).__name__}); "
                "nothing of it was written"
            ) from mine.error
        assert mine.entries is not None
        return mine.entries


_group_commits: dict[str, _GroupCommit] = {}
_group_commits_lock = threading.Lock()


def _group_commit(uri: str) -> _GroupCommit:
    with _group_commits_lock:
        return _group_commits.setdefault(uri, _GroupCommit())


def _append(settings: Settings, records: Sequence[Mapping[str, Any]]) -> list[Entry]:
    """One commit of ``records`` (:func:`record_many`).

    The process keeps where the log ends (:class:`_Tail`) between commits: while nobody else
    appends, a commit chains after the head it wrote itself and costs the same however long
    the log is (:mod:`jobs.lake.appends`); after another writer's commit, the log is read
    afresh.
    """
    from deltalake import CommitProperties, write_deltalake

    uri = AUDIT_LOG.uri(settings)
    key = load_audit_key(settings)
    with _append_lock(uri):
        tail = _tail(uri)
        anchor = read_anchor(settings)
        current = _newest(anchor and anchor.head, tail and tail.head)
        # One instant for the whole group: when its commit was made.
        entries = chain(records, current, settings.now(), key)
        head = entries[-1]
        rows = pa.Table.from_pylist(entries, schema=AUDIT_SCHEMA)
        metadata = {HEAD_SEQ_KEY: str(head["seq"]), HEAD_HASH_KEY: head["entry_hash"]}
        crash_point("audit.append")
        try:
            if tail is None:
                # Retention of the provide/obtain log (日志记录) from the profile: vacuum and
                # Delta's log cleanup keep everything at least this long.
                write_deltalake(
                    uri,
                    rows,
                    mode="append",
                    configuration=tables.retention_properties(_retention_days(settings)),
                    commit_properties=CommitProperties(custom_metadata=metadata),
                )
            else:
                tail.appender.append(rows, metadata)
                tail.head = (int(head["seq"]), head["entry_hash"])
        except BaseException:
            _tails.pop(uri, None)
            raise
        crash_point("audit.anchor")  # committed, the anchor outside the lake not yet moved
        # The first keyed append (or the first after the anchor was lost) says where keys begin.
        _write_anchor(settings, head, anchor.keyed_from if anchor else entries[0]["seq"])
    return entries


@dataclass
class _Tail:
    """Where the log ends as this process last saw it: the table to append to, and the head
    (seq, hash) its newest commit recorded."""

    appender: Appender
    head: tuple[int, str] | None


_tails: dict[str, _Tail] = {}


def _tail(uri: str) -> _Tail | None:
    """The log's tail (None: no table yet), called under the append lock: kept while nobody
    else commits; moved past other processes' audit appends (the service's other workers) by
    reading only their commit files; else read afresh."""
    from deltalake import DeltaTable

    tail = _tails.get(uri)
    if tail is not None and tail.appender.is_current():
        return tail
    if tail is not None and (head := _caught_up_head(tail.appender)) is not None:
        tail.head = head
        return tail
    _tails.pop(uri, None)
    if not DeltaTable.is_deltatable(uri):
        return None
    table = DeltaTable(uri)
    tail = _tails[uri] = _Tail(Appender(uri, table), _head_of(table, uri))
    return tail


def _caught_up_head(appender: Appender) -> tuple[int, str] | None:
    """The head the newest of the other writers' appends recorded, once ``appender`` is moved
    past them; None when they were not all audit appends (the log is then read afresh)."""
    infos = appender.catch_up()
    if not infos or HEAD_SEQ_KEY not in infos[-1]:
        return None
    return int(infos[-1][HEAD_SEQ_KEY]), str(infos[-1][HEAD_HASH_KEY])


def _retention_days(settings: Settings) -> int:
    from jobs.policy import load_profile

    return load_profile(settings.policy_profile, settings.schemas_root).log_retention_days


def read_entries(settings: Settings) -> list[Entry]:
    """Every entry, oldest first."""
    return sorted(ledger.read_rows(AUDIT_LOG.uri(settings)), key=lambda e: e["seq"])


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One broken link: ``seq``/``entry_id`` name the entry it shows at, or, for a problem of
    the table itself, ``seq`` is None and ``version`` names the Delta commit."""

    seq: int | None
    entry_id: str | None
    reason: str
    version: int | None = None

    def __str__(self) -> str:
        if self.seq is None:
            return f"commit version={self.version}: {self.reason}"
        return f"entry seq={self.seq} id={self.entry_id}: {self.reason}"


def check_chain(
    entries: Sequence[Mapping[str, Any]],
    key: AuditKey,
    heads: Mapping[str, tuple[int, str] | None] | None = None,
    keyed_from: int | None = None,
) -> list[Problem]:
    """Every changed, removed, forked or forged entry (pure; ``entries`` in any order).

    Args:
        key: the audit key the keyed hashes are checked with.
        heads: where a head was recorded (a description, e.g. "the anchor outside the lake")
            → (seq, hash); catches removal of the newest entries.
        keyed_from: the seq from which every entry must be keyed (from the anchor).
    """
    problems: list[Problem] = []
    ordered = sorted(entries, key=lambda e: (e["seq"], e["entry_id"]))
    previous: Mapping[str, Any] | None = None
    anchors = {int(d["first_kept_seq"]): d for d in _purge_details(ordered)}
    after_keyed = False
    for entry in ordered:
        seq, eid = int(entry["seq"]), entry["entry_id"]
        must_be_keyed = after_keyed or (keyed_from is not None and seq >= keyed_from)
        if reason := _hash_problem(entry, key, must_be_keyed):
            problems.append(Problem(seq, eid, reason))
        after_keyed = after_keyed or entry["entry_hash"].startswith(HASH_SCHEME + ":")
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
    by_seq = {int(e["seq"]): e for e in ordered}
    last_seq = int(ordered[-1]["seq"]) if ordered else -1
    for where, head in (heads or {}).items():
        if head is None:
            continue
        if last_seq < head[0]:
            problems.append(
                Problem(
                    head[0],
                    "?",
                    f"missing (removed): {where} holds seq {head[0]}, the log ends at seq "
                    f"{last_seq}",
                )
            )
        elif head[0] in by_seq and by_seq[head[0]]["entry_hash"] != head[1]:
            entry = by_seq[head[0]]
            problems.append(
                Problem(head[0], entry["entry_id"], f"changed: differs from the head in {where}")
            )
    return problems


def _purge_details(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(e["detail"]) for e in entries if e["action"] == PURGE_ACTION]


def check_commits(log: tables.CommitLog, entries: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Every commit of the table's Delta log that is not an append (pure).

    The log is append-only: after the commit that creates the table, a commit may only add
    files. The one exception is the delete of a purge (:func:`purge_expired`), marked with
    :data:`PURGE_THROUGH_KEY` and announced by a (keyed) ``audit_purge`` entry of the chain.
    """
    if not log.commits:
        return [Problem(None, None, "the table has no commits left in its Delta log")]
    problems: list[Problem] = []
    versions = list(log.commits)
    first, last = versions[0], versions[-1]
    if first > 0 and not any(c >= first - 1 for c in log.checkpoints):
        problems.append(
            Problem(None, None, "commits before it were deleted with no checkpoint", first)
        )
    for missing in sorted(set(range(first, last + 1)) - set(versions)):
        problems.append(Problem(None, None, "missing from the Delta log (deleted)", missing))
    announced = {int(d["first_kept_seq"]) - 1 for d in _purge_details(entries)}
    for version, actions in log.commits.items():
        kinds = {kind for action in actions for kind in action}
        info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
        if version > 0 and kinds & {"metaData", "protocol"}:
            problems.append(
                Problem(None, None, "changed the table's schema, settings or protocol", version)
            )
        if "remove" in kinds:
            through = info.get(PURGE_THROUGH_KEY)
            if through is None or int(through) not in announced:
                problems.append(
                    Problem(
                        None,
                        None,
                        f"removed or rewrote files ({info.get('operation', 'unknown operation')}):"
                        " the audit log is append-only",
                        version,
                    )
                )
    return problems


def _committed_head(log: tables.CommitLog) -> tuple[int, str] | None:
    """The head the newest audit append recorded in its commit."""
    for actions in reversed(log.commits.values()):
        for action in actions:
            info = action.get("commitInfo", {})
            if HEAD_SEQ_KEY in info:
                return int(info[HEAD_SEQ_KEY]), str(info[HEAD_HASH_KEY])
    return None


def verify(settings: Settings) -> tuple[list[Problem], tuple[int, str] | None]:
    """Checks the whole log, its whole Delta history and its anchor outside the lake; returns
    the problems and the head (seq, hash)."""
    uri = AUDIT_LOG.uri(settings)
    anchored = read_anchor(settings)
    if not tables.table_exists(uri):
        if anchored is None:
            return [], None
        reason = f"missing (removed): the log is gone, the anchor holds seq {anchored.seq}"
        return [Problem(anchored.seq, "?", reason)], None
    entries = read_entries(settings)
    commits = tables.commit_log(uri)
    heads = {
        "the newest append's commit": _committed_head(commits),
        f"the anchor outside the lake ({anchor_uri(settings)})": anchored and anchored.head,
    }
    problems = check_commits(commits, entries) + check_chain(
        entries, load_audit_key(settings), heads, anchored and anchored.keyed_from
    )
    if entries and anchored is None:
        problems.append(
            Problem(
                None,
                None,
                f"no head anchored outside the lake at {anchor_uri(settings)}: the newest "
                "entries cannot be checked (the next append anchors it)",
            )
        )
    last = entries[-1] if entries else None
    return problems, ((int(last["seq"]), last["entry_hash"]) if last else None)


def anchor_restored_log(
    settings: Settings, anchored: Anchor | None, *, source: str
) -> dict[str, Any]:
    """Anchors a log just restored from a backup; ``settings`` name the lake it now lives in.

    The restored log must verify on its own and hold ``anchored``, the head anchored when the
    backup was taken (in the backup's manifest). An anchor this lake already had that differs
    (the lake was lost after the backup: its newest entries are gone with it) is kept beside
    the new one as evidence, and the entries it shows lost are named; the new anchor is the
    restored head. The caller records the restore as the log's next entry.

    Returns:
        ``problems`` (nothing is anchored unless empty), ``head``, ``lost`` (a seq range or
        None) and ``kept_aside`` (where the earlier anchor was kept, or None).
    """
    uri = AUDIT_LOG.uri(settings)
    entries = read_entries(settings)
    commits = tables.commit_log(uri)
    heads = {f"the anchor when {source} was taken": anchored and anchored.head}
    key = load_audit_key(settings)
    keyed_from = anchored and anchored.keyed_from
    problems = check_commits(commits, entries) + check_chain(entries, key, heads, keyed_from)
    if problems or not entries:
        return {"problems": [str(p) for p in problems], "head": None, "lost": None}
    head = entries[-1]
    earlier = read_anchor(settings)
    lost = kept_aside = None
    if earlier is not None and earlier.head != (int(head["seq"]), head["entry_hash"]):
        kept_aside = f"{anchor_uri(settings)}.before-restore-{uuid.uuid4().hex[:8]}"
        write_text(kept_aside, read_text(anchor_uri(settings)))
        if earlier.seq > int(head["seq"]):
            lost = f"{int(head['seq']) + 1}..{earlier.seq}"
    if keyed_from is None:
        keyed = [int(e["seq"]) for e in entries if e["entry_hash"].startswith(HASH_SCHEME + ":")]
        keyed_from = keyed[0] if keyed else int(head["seq"]) + 1
    _write_anchor(settings, head, keyed_from)
    return {
        "problems": [],
        "head": [int(head["seq"]), head["entry_hash"]],
        "lost": lost,
        "kept_aside": kept_aside,
    }


# --- retention ------------------------------------------------------------------------------


def purge_expired(
    settings: Settings, *, by: str, why: str, today: dt.date | None = None
) -> dict[str, Any]:
    """Removes entries older than the profile's log retention, never younger ones.

    ``today`` defaults to the bureau's date (:meth:`Settings.today`).

    First appends an anchor entry (``audit_purge``) naming the first kept entry and its
    ``prev_hash``, so that :func:`verify` accepts the shortened chain and the delete commit.
    The removed rows' files stay until a vacuum, which itself keeps the retention.
    """
    from deltalake import CommitProperties, DeltaTable

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
    # The announcement goes first: a delete the chain has not announced is reported by verify.
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
    uri = AUDIT_LOG.uri(settings)
    with _append_lock(uri):
        DeltaTable(uri).delete(
            f"seq <= {last_removed_seq}",
            commit_properties=CommitProperties(
                custom_metadata={PURGE_THROUGH_KEY: str(last_removed_seq)}
            ),
        )
    return {"removed": len(expired), "retention": str(retention)}
