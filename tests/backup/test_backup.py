from __future__ import annotations

import dataclasses
import json
import os
import shutil

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jobs.audit import log as audit
from jobs.backup import store
from jobs.backup.backup import BackupError, backup, destroy, read_manifest, restore
from jobs.lake import ledger, tables
from jobs.lake.registry import QUALITY_FAILING_ROWS

SCHEMA = pa.schema([("id", pa.string()), ("n", pa.int64())])


def _table(uri, rows, write_id):
    ledger.append_rows(uri, [{"id": i, "n": n} for i, n in rows], SCHEMA, write_id)


def _snapshot(uri, version=None):
    return DeltaTable(uri, version=version).to_pyarrow_table().sort_by("id")


def _objects(tmp_path):
    return sorted(p.name for p in (tmp_path / "backups" / "objects").glob("??/*"))


def done_files(done, path):
    manifest = read_manifest(done["path"])
    return next(t["files"] for t in manifest["tables"] if t["path"] == path)


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
    with open(store.object_uri(str(tmp_path / "backups"), data_file["sha256"]), "wb") as damaged:
        damaged.write(b"x")
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


def test_destroy_removes_every_version_its_landing_files_and_its_backup_copies(
    small_lake, tmp_path
):
    landing = tmp_path / "landing" / "gaj" / "hukou" / "b1"
    landing.mkdir(parents=True)
    (landing / "hukou.csv").write_text("id\na\n")
    (tmp_path / "landing" / "gaj" / "other" / "b1").mkdir(parents=True)
    done = backup(small_lake, by="ops")
    objects_before = _objects(tmp_path)
    pool_files = len(done_files(done, "pool/gaj/hukou"))

    result = destroy(small_lake, "gaj.hukou", by="steward", why="保存期满")

    assert list(result["removed_files"]) == ["pool/gaj/hukou"]
    assert result["landing_files"] == 1
    assert not (tmp_path / "landing" / "gaj" / "hukou").exists()
    assert (tmp_path / "landing" / "gaj" / "other" / "b1").exists()
    assert result["backups"]["sets"] == [done["backup_id"]]
    assert result["by_hand"] == []
    assert not tables.table_exists(tables.table_uri(small_lake, "pool", "gaj", "hukou"))
    entry = audit.read_entries(small_lake)[-1]
    assert (entry["action"], entry["actor"], entry["target"]) == ("destroy", "steward", "gaj.hukou")
    manifest = read_manifest(str(tmp_path / "backups" / done["backup_id"]))
    assert [t["path"] for t in manifest["tables"]] == ["base/population"]
    assert manifest["destroyed"][0]["tables"] == ["pool/gaj/hukou"]
    assert len(_objects(tmp_path)) == len(objects_before) - pool_files
    # the rest of the set still restores
    restored = restore(small_lake, done["path"], by="ops", target_root=str(tmp_path / "again"))
    assert list(restored["restored"]) == ["base/population"]


def test_destroy_lists_what_a_read_only_backup_keeps_for_destruction_by_hand(
    small_lake, tmp_path, monkeypatch
):
    done = backup(small_lake, by="ops")
    pool_objects = {
        store.object_uri(str(tmp_path / "backups"), item["sha256"])
        for item in done_files(done, "pool/gaj/hukou")
    }

    def read_only(uri):
        raise PermissionError(13, "Permission denied", uri)

    monkeypatch.setattr(store, "remove_file", read_only)
    result = destroy(small_lake, "gaj.hukou", by="steward", why="保存期满")

    assert {line.split(" ")[0] for line in result["by_hand"]} == pool_objects
    assert all(os.path.exists(uri) for uri in pool_objects)
    assert audit.read_entries(small_lake)[-1]["action"] == "destroy"


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


def test_backup_refuses_a_backup_root_inside_the_lake(small_lake, tmp_path):
    inside = dataclasses.replace(small_lake, backup_root=str(tmp_path / "lake" / "backups"))

    with pytest.raises(BackupError, match="inside the lake root"):
        backup(inside, by="ops")
    assert not (tmp_path / "lake" / "backups").exists()


def test_backup_on_the_lakes_volume_is_refused_in_production_and_warned_otherwise(small_lake):
    assert "on the lake's volume" in backup(small_lake, by="ops")["warnings"][0]

    with pytest.raises(BackupError, match="on the lake's volume"):
        backup(dataclasses.replace(small_lake, env="production"), by="ops")


def test_restore_into_an_empty_lake_anchors_its_audit_log_there(small_lake, tmp_path):
    audit.record(small_lake, "steward", actor="li", detail={"why": "before the backup"})
    done = backup(small_lake, by="ops")
    other = dataclasses.replace(
        small_lake, lake_root=str(tmp_path / "new"), audit_anchor_root=str(tmp_path / "anchors")
    )

    result = restore(
        small_lake,
        done["path"],
        by="ops",
        target_root=other.lake_root,
        anchor_root=other.audit_anchor_root,
    )

    assert result["audit"]["lost"] is None
    assert audit.verify(other)[0] == []
    assert [e["action"] for e in audit.read_entries(other)] == ["steward", "restore"]
    assert audit.verify(small_lake)[0] == []


def test_restore_after_losing_the_lake_names_the_audit_entries_lost_since_the_backup(
    small_lake, tmp_path
):
    audit.record(small_lake, "steward", actor="li")
    done = backup(small_lake, by="ops")
    audit.record(small_lake, "steward", actor="wang")  # seq 2 after seq 1, the backup's own
    shutil.rmtree(tmp_path / "lake")  # the anchor outside the lake survives
    assert audit.verify(small_lake)[0] != []

    result = restore(small_lake, done["path"], by="ops")

    assert result["audit"]["lost"] == "1..2"
    assert os.path.exists(result["audit"]["kept_aside"])
    assert audit.verify(small_lake)[0] == []
    entries = audit.read_entries(small_lake)
    assert [e["action"] for e in entries] == ["steward", "restore"]
    assert json.loads(entries[-1]["detail"])["audit"]["lost"] == "1..2"


def test_restore_refuses_an_audit_log_without_the_head_anchored_at_backup_time(
    small_lake, tmp_path
):
    audit.record(small_lake, "steward", actor="li")
    done = backup(small_lake, by="ops")
    manifest_path = tmp_path / "backups" / done["backup_id"] / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["audit_anchor"]["seq"] += 5  # as if entries had been cut from the backed-up log
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(BackupError, match=r"restored audit log does not verify.*missing"):
        restore(small_lake, done["path"], by="ops", target_root=str(tmp_path / "new"))


def test_destroy_lists_the_resources_rows_left_in_tables_every_resource_shares(small_lake):
    failing = QUALITY_FAILING_ROWS.uri(small_lake)
    schema = pa.schema(
        [("department", pa.string()), ("resource", pa.string()), ("row_number", pa.int64())]
    )
    rows = [("gaj", "hukou", 4), ("gaj", "hukou", 9), ("mzj", "marriage", 4)]
    ledger.append_rows(
        failing, [dict(zip(schema.names, r, strict=True)) for r in rows], schema, "q1"
    )

    result = destroy(small_lake, "gaj.hukou", by="steward", why="保存期满")

    assert result["by_hand"] == [
        f"{failing}: 2 rows of gaj.hukou, also in its earlier versions (delete them, then vacuum "
        "that table with no retention while no run writes it)"
    ]
