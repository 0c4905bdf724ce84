from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jobs.backup import store
from jobs.backup.backup import backup, list_backups, prune, read_manifest, restore
from jobs.lake import ledger, tables

SCHEMA = pa.schema([("id", pa.string()), ("n", pa.int64())])


def _append(settings, rows, write_id):
    uri = tables.table_uri(settings, "pool", "gaj", "hukou")
    ledger.append_rows(uri, [{"id": i, "n": n} for i, n in rows], SCHEMA, write_id)


def _files(done, path="pool/gaj/hukou"):
    return next(t["files"] for t in read_manifest(done["path"])["tables"] if t["path"] == path)


def _stored(settings):
    return {p.name for p in (Path(settings.backup_root) / "objects").glob("??/*")}


@pytest.fixture
def lake(lake_settings):
    _append(lake_settings, [("a", 1), ("b", None)], "w1")
    return lake_settings


def _restored_version(settings, done, into):
    restore(settings, done["path"], by="ops", target_root=into)
    return DeltaTable(
        tables.table_uri(dataclasses.replace(settings, lake_root=into), "pool", "gaj", "hukou")
    ).version()


def test_a_second_set_copies_only_the_files_the_first_does_not_hold(lake, tmp_path):
    first = backup(lake, by="ops")
    _append(lake, [("c", 3)], "w2")

    second = backup(lake, by="ops")

    new_files = [f for f in _files(second) if f not in _files(first)]
    assert first["copied_bytes"] == first["bytes"]
    assert len(new_files) == 2
    assert "_delta_log/00000000000000000001.json" in [f["path"] for f in new_files]
    # the audit log is new in the second set (the first backup's entry created it)
    audit_bytes = sum(f["size"] for f in _files(second, "governance/audit_log"))
    assert second["copied_bytes"] == sum(f["size"] for f in new_files) + audit_bytes
    assert second["bytes"] > second["copied_bytes"]
    assert _restored_version(lake, first, str(tmp_path / "one")) == 0
    assert _restored_version(lake, second, str(tmp_path / "two")) == 1


def test_prune_keeps_the_newest_sets_and_only_the_objects_they_name(lake, tmp_path):
    sets = []
    pool = tables.table_uri(lake, "pool", "gaj", "hukou")
    for n in range(3):
        # each set holds one row, rewritten: a file of the first set is in no later one
        rows = pa.Table.from_pylist([{"id": "a", "n": n}], schema=SCHEMA)
        ledger.overwrite_where(pool, rows, "id = 'a'")
        sets.append(backup(lake, by="ops"))
    only_in_first = {f["sha256"] for f in _files(sets[0])} - {
        f["sha256"] for done in sets[1:] for f in _files(done)
    }
    assert only_in_first and only_in_first <= _stored(lake)

    result = prune(dataclasses.replace(lake, backup_keep=2), by="ops")

    assert result["removed_sets"] == [sets[0]["backup_id"]]
    assert list_backups(lake) == [s["backup_id"] for s in sets[1:]]
    assert _stored(lake) == store.referenced_objects(lake.backup_root)
    assert not only_in_first & _stored(lake)
    assert _restored_version(lake, sets[1], str(tmp_path / "kept")) == 2
    assert _restored_version(lake, sets[2], str(tmp_path / "newest")) == 3


def test_a_file_changed_under_the_same_name_is_copied_again(lake):
    first = backup(lake, by="ops")
    commit = (
        tables.table_uri(lake, "pool", "gaj", "hukou") + "/_delta_log/00000000000000000000.json"
    )
    with open(commit, "a") as handle:  # as if the table were destroyed and created again
        handle.write("\n")

    second = backup(lake, by="ops")

    assert second["copied_bytes"] > 0
    assert {f["sha256"] for f in _files(first)} != {f["sha256"] for f in _files(second)}
