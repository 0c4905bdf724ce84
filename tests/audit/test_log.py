from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

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


def test_verify_names_a_changed_entry(lake_settings):
    _entries(lake_settings, 4)
    rows = log.read_entries(lake_settings)
    rows[2]["actor"] = "someone_else"
    _rewrite(lake_settings, rows)
    problems, _ = log.verify(lake_settings)
    assert [(p.seq, p.entry_id) for p in problems] == [(2, rows[2]["entry_id"])]
    assert "changed" in problems[0].reason


def test_verify_names_the_entry_after_a_removed_one(lake_settings):
    _entries(lake_settings, 4)
    rows = log.read_entries(lake_settings)
    _rewrite(lake_settings, rows[:1] + rows[2:])
    problems, _ = log.verify(lake_settings)
    assert [(p.seq, p.entry_id) for p in problems] == [(2, rows[2]["entry_id"])]
    assert "seq 1..1" in problems[0].reason


def test_verify_finds_the_newest_entry_removed(lake_settings):
    _entries(lake_settings, 3)
    DeltaTable(AUDIT_LOG.uri(lake_settings)).delete("seq = 2")
    problems, _ = log.verify(lake_settings)
    assert [p.seq for p in problems] == [2]
    assert "missing" in problems[0].reason


def test_rehashing_a_changed_entry_still_breaks_the_link_to_the_next(lake_settings):
    _entries(lake_settings, 3)
    rows = log.read_entries(lake_settings)
    rows[1]["detail"] = json.dumps({"i": 99})
    rows[1]["entry_hash"] = log.entry_hash(rows[1])
    _rewrite(lake_settings, rows)
    problems, _ = log.verify(lake_settings)
    assert [p.seq for p in problems] == [2]


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
    assert json.loads(entries[0]["detail"]) == {"operation": "append", "rows": 2}


@pytest.mark.spark
def test_write_table_is_audited_with_its_version(spark, lake_settings):
    uri = tables.table_uri(lake_settings, "pool", "gaj", "hukou")
    with write_audit(lake_settings):
        tables.write_table(spark.createDataFrame([(1,), (None,)], "a int"), uri)
    (entry,) = log.read_entries(lake_settings)
    assert entry["target"] == "pool/gaj/hukou"
    assert json.loads(entry["detail"]) == {"operation": "append", "rows": 2, "version": 0}
