from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jobs.audit import log as audit
from jobs.backup.backup import BackupError, backup, destroy, list_backups, restore
from jobs.lake import ledger, tables

SCHEMA = pa.schema([("id", pa.string()), ("n", pa.int64())])


def _table(uri, rows, write_id):
    ledger.append_rows(uri, [{"id": i, "n": n} for i, n in rows], SCHEMA, write_id)


def _snapshot(uri, version=None):
    return DeltaTable(uri, version=version).to_pyarrow_table().sort_by("id")


@pytest.fixture
def small_lake(lake_settings, tmp_path):
    settings = dataclasses.replace(lake_settings, backup_root=str(tmp_path / "backups"))
    pool = tables.table_uri(settings, "pool", "gaj", "hukou")
    _table(pool, [("a", 1), ("b", None)], "w1")
    _table(pool, [("c", 3)], "w2")
    _table(tables.table_uri(settings, "base", "population"), [("a", 1)], "w1")
    return settings


def test_restore_brings_back_each_table_at_its_backed_up_version(small_lake, tmp_path):
    pool = tables.table_uri(small_lake, "pool", "gaj", "hukou")
    expected = _snapshot(pool)
    done = backup(small_lake, by="ops")
    assert done["versions"] == {"base/population": 0, "pool/gaj/hukou": 1}
    _table(pool, [("d", 4)], "w3")  # a later write is not in the backup

    other = str(tmp_path / "restored")
    result = restore(small_lake, done["path"], by="ops", target_root=other)
    assert result["restored"] == {"base/population": 0, "pool/gaj/hukou": 1}
    restored = tables.table_uri(
        dataclasses.replace(small_lake, lake_root=other), "pool", "gaj", "hukou"
    )
    assert _snapshot(restored).equals(expected)
    assert _snapshot(restored).equals(_snapshot(pool, version=1))
    actions = [e["action"] for e in audit.read_entries(small_lake)]
    assert actions[-2:] == ["backup", "restore"]


def test_restore_refuses_to_overwrite_and_detects_a_damaged_backup(small_lake, tmp_path):
    done = backup(small_lake, by="ops")
    with pytest.raises(BackupError, match="exists"):
        restore(small_lake, done["path"], by="ops")
    manifest = json.loads((tmp_path / "backups" / done["backup_id"] / "manifest.json").read_text())
    data_file = next(f for f in manifest["tables"][1]["files"] if f["path"].endswith(".parquet"))
    (tmp_path / "backups" / done["backup_id"] / "pool/gaj/hukou" / data_file["path"]).write_bytes(
        b"x"
    )
    with pytest.raises(BackupError, match="differs from the backup manifest"):
        restore(small_lake, done["path"], by="ops", target_root=str(tmp_path / "other"))


def test_restore_over_the_live_lake_keeps_the_audit_log(small_lake):
    audit.record(small_lake, "steward", actor="li", detail={"why": "before the backup"})
    done = backup(small_lake, by="ops")
    pool = tables.table_uri(small_lake, "pool", "gaj", "hukou")
    _table(pool, [("z", 9)], "w9")
    result = restore(small_lake, done["path"], by="ops", overwrite=True)
    assert result["skipped"] == ["governance/audit_log"]
    assert sorted(r["id"] for r in ledger.read_rows(pool)) == ["a", "b", "c"]
    assert [e["action"] for e in audit.read_entries(small_lake)] == ["steward", "backup", "restore"]
    assert audit.verify(small_lake)[0] == []


def test_destroy_removes_every_version_and_is_audited(small_lake):
    done = backup(small_lake, by="ops")
    result = destroy(small_lake, "gaj.hukou", by="steward", why="保存期满")
    assert list(result["removed_files"]) == ["pool/gaj/hukou"]
    assert result["still_in_backups"] == [done["backup_id"]]
    assert not tables.table_exists(tables.table_uri(small_lake, "pool", "gaj", "hukou"))
    entry = audit.read_entries(small_lake)[-1]
    assert (entry["action"], entry["actor"], entry["target"]) == ("destroy", "steward", "gaj.hukou")
    assert list_backups(small_lake) == [done["backup_id"]]


def test_destroy_refuses_base_without_force_and_never_the_audit_log(small_lake):
    with pytest.raises(BackupError, match="--force"):
        destroy(small_lake, "population", by="steward", why="test")
    assert tables.table_exists(tables.table_uri(small_lake, "base", "population"))
    audit.record(small_lake, "steward", actor="x")
    with pytest.raises(BackupError, match="never destroyed"):
        destroy(small_lake, "governance/audit_log", by="steward", why="test", force=True)
    with pytest.raises(BackupError, match="why"):
        destroy(small_lake, "gaj.hukou", by="steward", why="")
    destroy(small_lake, "population", by="steward", why="test", force=True)
    assert not tables.table_exists(tables.table_uri(small_lake, "base", "population"))
