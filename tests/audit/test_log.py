from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import CommitProperties, DeltaTable, write_deltalake

from jobs.audit import log
from jobs.audit.hook import write_audit
from jobs.lake import ledger, tables
from jobs.lake.registry import AUDIT_LOG


def _entries(settings, n):
    return log.record_many(
        settings,
        [
            {"action": "steward", "actor": "li", "target": f"t{i}", "detail": {"i": i}}
            for i in range(n)
        ],
    )


def _rewrite(settings, rows):
    """Replaces the log's rows as a tamperer with write access would (a Delta overwrite)."""
    write_deltalake(
        AUDIT_LOG.uri(settings),
        pa.Table.from_pylist(rows, schema=log.AUDIT_SCHEMA),
        mode="overwrite",
    )


def test_entries_chain_each_to_the_hash_of_the_previous(lake_settings):
    first = log.record(lake_settings, "grant_granted", actor="wang", target="share/mzj/population")
    more = _entries(lake_settings, 2)
    stored = log.read_entries(lake_settings)
    assert [e["seq"] for e in stored] == [0, 1, 2]
    assert stored[0]["prev_hash"] == log.GENESIS_HASH
    assert stored[1]["prev_hash"] == first["entry_hash"]
    assert stored[2]["prev_hash"] == more[0]["entry_hash"]
    assert log.verify(lake_settings) == ([], (2, more[1]["entry_hash"]))


def _entry_problems(problems):
    return [(p.seq, p.entry_id) for p in problems if p.seq is not None]


def _commit_problems(problems):
    return [p for p in problems if p.seq is None]


def _forge(rows, key):
    """Re-chains ``rows`` from their first entry's ``prev_hash``, hashing under ``key``."""
    forged, prev = [], rows[0]["prev_hash"]
    for row in rows:
        row = {**row, "prev_hash": prev}
        row["entry_hash"] = log.entry_hash(row, key) if key else log.unkeyed_entry_hash(row)
        forged.append(row)
        prev = row["entry_hash"]
    return forged


def _rebuild(settings, rows):
    """Replaces the whole table, Delta log included, by plain appends: a history with no
    rewrite in it, as someone with access to the lake's storage could make."""
    shutil.rmtree(AUDIT_LOG.uri(settings))
    write_deltalake(
        AUDIT_LOG.uri(settings), pa.Table.from_pylist(rows, schema=log.AUDIT_SCHEMA), mode="append"
    )


def test_verify_names_a_changed_entry(lake_settings):
    _entries(lake_settings, 4)
    rows = log.read_entries(lake_settings)
    rows[2]["actor"] = "someone_else"
    _rewrite(lake_settings, rows)
    problems, _ = log.verify(lake_settings)
    assert _entry_problems(problems) == [(2, rows[2]["entry_id"])]
    assert "changed" in next(p for p in problems if p.seq == 2).reason


def test_verify_names_the_entry_after_a_removed_one(lake_settings):
    _entries(lake_settings, 4)
    rows = log.read_entries(lake_settings)
    _rewrite(lake_settings, rows[:1] + rows[2:])
    problems, _ = log.verify(lake_settings)
    assert _entry_problems(problems) == [(2, rows[2]["entry_id"])]
    assert "seq 1..1" in next(p for p in problems if p.seq == 2).reason


def test_verify_finds_the_newest_entry_removed(lake_settings):
    _entries(lake_settings, 3)
    DeltaTable(AUDIT_LOG.uri(lake_settings)).delete("seq = 2")
    problems, _ = log.verify(lake_settings)
    assert [p.seq for p in problems] == [None, 2, 2]
    assert all("missing" in p.reason for p in problems if p.seq == 2)


def test_truncation_followed_by_fifty_commits_is_detected(lake_settings):
    _entries(lake_settings, 5)
    uri = AUDIT_LOG.uri(lake_settings)
    DeltaTable(uri).delete("seq >= 3")
    for _ in range(50):
        write_deltalake(uri, pa.Table.from_pylist([], schema=log.AUDIT_SCHEMA), mode="append")
    problems, _ = log.verify(lake_settings)
    (delete,) = _commit_problems(problems)
    assert delete.version == 1 and "append-only" in delete.reason
    assert any(p.seq == 4 and "anchor outside the lake" in p.reason for p in problems)
    # Entries recorded afterwards continue after the anchored head: the gap stays visible.
    log.record(lake_settings, "steward", actor="li")
    problems, head = log.verify(lake_settings)
    assert head[0] == 5
    assert any(p.seq == 5 and "seq 3..4" in p.reason for p in problems)


def test_rewrite_with_recomputed_hashes_is_detected(lake_settings):
    _entries(lake_settings, 4)
    rows = log.read_entries(lake_settings)
    rows[1]["detail"] = json.dumps({"i": 99})
    _rewrite(lake_settings, _forge(rows, key=None))
    problems, _ = log.verify(lake_settings)
    (rewrite,) = _commit_problems(problems)
    assert "append-only" in rewrite.reason
    assert [seq for seq, _ in _entry_problems(problems)] == [0, 1, 2, 3, 3, 3]
    entry_reasons = [p.reason for p in problems if p.seq is not None]
    assert all("written without the audit key" in reason for reason in entry_reasons[:4])
    assert "newest append's commit" in entry_reasons[4]
    assert "anchor outside the lake" in entry_reasons[5]


def test_forged_rehash_of_a_rebuilt_table_is_detected(lake_settings):
    _entries(lake_settings, 4)
    rows = log.read_entries(lake_settings)
    rows[2]["actor"] = "someone_else"
    guessed = log.AuditKey(b"not-the-audit-key", "attacker")
    _rebuild(lake_settings, _forge(rows, key=guessed))
    problems, _ = log.verify(lake_settings)
    assert _commit_problems(problems) == []  # the rebuilt history is all appends
    assert [seq for seq, _ in _entry_problems(problems)] == [0, 1, 2, 3, 3]
    assert all("another key" in p.reason for p in problems[:4])
    assert "anchor outside the lake" in problems[4].reason


def test_rebuilt_table_without_its_newest_entries_is_caught_by_the_anchor(lake_settings):
    _entries(lake_settings, 4)
    rows = log.read_entries(lake_settings)
    _rebuild(lake_settings, rows[:2])  # genuine entries, genuine hashes: only the anchor knows
    problems, _ = log.verify(lake_settings)
    assert [(p.seq, "anchor outside the lake" in p.reason) for p in problems] == [(3, True)]


def test_delete_disguised_as_a_purge_is_reported(lake_settings):
    _entries(lake_settings, 4)
    DeltaTable(AUDIT_LOG.uri(lake_settings)).delete(
        "seq = 3", commit_properties=CommitProperties(custom_metadata={log.PURGE_THROUGH_KEY: "3"})
    )
    problems, _ = log.verify(lake_settings)
    assert "append-only" in _commit_problems(problems)[0].reason


def test_entries_written_before_the_key_still_verify_and_the_first_keyed_one_seals_them(
    lake_settings,
):
    at = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    unkeyed = [
        {"seq": i, "entry_id": f"e{i}", "at": at, "action": "steward", "actor": "li",
         "target": str(i), "detail": "{}", "prev_hash": log.GENESIS_HASH}
        for i in range(3)
    ]  # fmt: skip
    write_deltalake(
        AUDIT_LOG.uri(lake_settings),
        pa.Table.from_pylist(_forge(unkeyed, key=None), schema=log.AUDIT_SCHEMA),
        mode="append",
    )
    keyed = log.record(lake_settings, "steward", actor="wang")
    assert keyed["seq"] == 3 and keyed["entry_hash"].startswith("hmac-sha256:")
    assert log.verify(lake_settings)[0] == []

    rows = log.read_entries(lake_settings)
    rows[1]["actor"] = "someone_else"
    _rebuild(lake_settings, _forge(rows[:3], key=None) + rows[3:])
    problems, _ = log.verify(lake_settings)
    assert [(p.seq, "prev_hash differs" in p.reason) for p in problems] == [(3, True)]


def test_a_log_without_its_anchor_is_reported(lake_settings):
    _entries(lake_settings, 2)
    Path(log.anchor_uri(lake_settings)).unlink()
    problems, _ = log.verify(lake_settings)
    assert ["no head anchored outside the lake" in p.reason for p in problems] == [True]


def test_audit_key_comes_from_the_environment_and_production_refuses_the_development_key(
    lake_settings, monkeypatch
):
    monkeypatch.delenv(log.KEY_ENV, raising=False)
    production = dataclasses.replace(lake_settings, env="production")
    with pytest.raises(log.AuditKeyError, match="no audit key in production"):
        log.record(production, "steward")
    monkeypatch.setenv(log.KEY_ENV, "audit-secret")
    entry = log.record(production, "steward")
    assert "audit-secret" not in repr(log.load_audit_key(production))
    assert entry["entry_hash"].split(":")[1] == log.load_audit_key(production).fingerprint
    monkeypatch.delenv(log.KEY_ENV)
    problems, _ = log.verify(lake_settings)  # the development key cannot verify it
    assert ["another key" in p.reason for p in problems] == [True]


def test_audit_table_keeps_the_profile_retention(lake_settings):
    _entries(lake_settings, 1)
    floor = tables.retention_of(AUDIT_LOG.uri(lake_settings))
    assert floor >= dt.timedelta(days=3 * 365)
    with pytest.raises(tables.RetentionError):
        tables.vacuum(AUDIT_LOG.uri(lake_settings), retention_hours=24 * 30)


def test_purge_keeps_entries_younger_than_the_retention_and_still_verifies(lake_settings):
    _entries(lake_settings, 3)
    today = dt.datetime.now(dt.UTC).date()
    assert log.purge_expired(lake_settings, by="li", why="yearly", today=today)["removed"] == 0
    after_retention = today + dt.timedelta(days=3 * 366 + 1)
    result = log.purge_expired(lake_settings, by="li", why="yearly", today=after_retention)
    assert result["removed"] == 2
    entries = log.read_entries(lake_settings)
    assert [e["seq"] for e in entries] == [2, 3]
    assert entries[-1]["action"] == log.PURGE_ACTION
    assert log.verify(lake_settings)[0] == []


def test_every_ledger_write_is_audited_but_not_the_audit_log_itself(lake_settings):
    schema = pa.schema([("a", pa.int64())])
    uri = tables.table_uri(lake_settings, "governance", "small")
    with write_audit(lake_settings, actor="job"):
        ledger.append_rows(uri, [{"a": 1}, {"a": None}], schema, write_id="w1")
        ledger.append_rows(uri, [{"a": 1}], schema, write_id="w1")  # idempotent retry: no write
    ledger.append_rows(uri, [{"a": 2}], schema, write_id="w2")  # hook uninstalled
    entries = log.read_entries(lake_settings)
    assert [(e["action"], e["actor"], e["target"]) for e in entries] == [
        ("write", "job", "governance/small")
    ]
    assert json.loads(entries[0]["detail"]) == {"operation": "append", "rows": 2, "version": 0}


@pytest.mark.spark
def test_write_table_is_audited_with_its_version(spark, lake_settings):
    uri = tables.table_uri(lake_settings, "pool", "gaj", "hukou")
    with write_audit(lake_settings):
        tables.write_table(spark.createDataFrame([(1,), (None,)], "a int"), uri)
    (entry,) = log.read_entries(lake_settings)
    assert entry["target"] == "pool/gaj/hukou"
    assert json.loads(entry["detail"]) == {"operation": "append", "rows": 2, "version": 0}


def _in_threads(target, count):
    """Runs ``target(i)`` in ``count`` threads at once; their results (or errors), in order."""
    results: list = [None] * count

    def call(i):
        try:
            results[i] = target(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _held_commit(monkeypatch, fail_second=False):
    """Makes the first commit wait until ``release`` is set (``started`` says it is waiting), so
    that appends made meanwhile queue up for the next one; with ``fail_second`` that next
    commit fails."""
    started, release, calls = threading.Event(), threading.Event(), []
    append = log._append

    def held(settings, records):
        calls.append(len(records))
        if len(calls) == 1:
            started.set()
            release.wait(timeout=30)
        elif fail_second:
            raise OSError("disk full")
        return append(settings, records)

    monkeypatch.setattr(log, "_append", held)
    return started, release, calls


def _wait_until_queued(settings, count, timeout=30.0):
    queue = log._group_commit(AUDIT_LOG.uri(settings))._queue
    deadline = time.monotonic() + timeout
    while len(queue) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_concurrent_appends_each_get_their_own_entries_in_one_verified_chain(lake_settings):
    results = _in_threads(
        lambda i: log.record(lake_settings, "read", actor=f"app{i}", target=f"t{i}"), 40
    )
    assert [(e["actor"], e["target"]) for e in results] == [(f"app{i}", f"t{i}") for i in range(40)]
    stored = log.read_entries(lake_settings)
    assert sorted(e["entry_id"] for e in stored) == sorted(e["entry_id"] for e in results)
    assert [e["seq"] for e in stored] == list(range(40))
    assert log.verify(lake_settings) == ([], (39, stored[-1]["entry_hash"]))


def test_appends_queued_behind_a_commit_share_the_next_one(lake_settings, monkeypatch):
    started, release, calls = _held_commit(monkeypatch)
    first = threading.Thread(target=log.record, args=(lake_settings, "read"), kwargs={"actor": "a"})
    first.start()
    started.wait(timeout=30)
    more = threading.Thread(
        target=_in_threads,
        args=(
            lambda i: log.record_many(lake_settings, [{"action": "read", "actor": f"b{i}"}] * 2),
            5,
        ),
    )
    more.start()
    _wait_until_queued(lake_settings, 5)
    release.set()
    first.join()
    more.join()
    assert calls == [1, 10]  # two commits: the first, then all five callers' records together
    stored = log.read_entries(lake_settings)
    actors = [e["actor"] for e in stored[1:]]
    assert actors[0::2] == actors[1::2] and sorted(actors) == sorted(
        [f"b{i}" for i in range(5)] * 2
    )
    assert len(DeltaTable(AUDIT_LOG.uri(lake_settings)).history()) == 2
    assert log.verify(lake_settings)[0] == []


def test_a_failed_group_commit_fails_every_caller_in_it_and_writes_none_of_them(
    lake_settings, monkeypatch
):
    started, release, calls = _held_commit(monkeypatch, fail_second=True)
    first = threading.Thread(target=log.record, args=(lake_settings, "read"), kwargs={"actor": "a"})
    first.start()
    started.wait(timeout=30)
    outcomes: list = []
    more = threading.Thread(
        target=lambda: outcomes.extend(
            _in_threads(lambda i: log.record(lake_settings, "read", actor=f"b{i}"), 4)
        )
    )
    more.start()
    _wait_until_queued(lake_settings, 4)
    release.set()
    first.join()
    more.join()
    assert calls == [1, 4]
    kinds = sorted(type(o).__name__ for o in outcomes)
    assert kinds == ["AuditAppendFailed"] * 3 + ["OSError"]  # the committing thread's own error
    assert [e["actor"] for e in log.read_entries(lake_settings)] == ["a"]
    assert log.verify(lake_settings)[0] == []


def test_appends_in_turn_by_two_processes_chain_after_each_other(lake_settings, monkeypatch):
    # Each process keeps its own tail of the log (``_tails``): two tails stand for two service
    # workers appending in turn, each behind the other's commits.
    log.record(lake_settings, "read", actor="w1")  # creates the log
    log.record(lake_settings, "read", actor="w1")  # appends to it, keeping its tail
    first, second = dict(log._tails), {}
    kept_tail = first[AUDIT_LOG.uri(lake_settings)]
    monkeypatch.setattr(log, "_tails", second)
    log.record_many(lake_settings, [{"action": "read", "actor": "w2"}] * 2)
    monkeypatch.setattr(log, "_tails", first)
    log.record(lake_settings, "read", actor="w1")  # caught up from w2's commit file
    monkeypatch.setattr(log, "_tails", second)
    log.record(lake_settings, "read", actor="w2")

    stored = log.read_entries(lake_settings)
    assert [(e["seq"], e["actor"]) for e in stored] == [
        (0, "w1"),
        (1, "w1"),
        (2, "w2"),
        (3, "w2"),
        (4, "w1"),
        (5, "w2"),
    ]
    assert log.verify(lake_settings)[0] == []
    assert first[AUDIT_LOG.uri(lake_settings)] is kept_tail  # moved on, not opened afresh
