from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from jobs.audit import log as audit
from jobs.backup.backup import backup
from jobs.backup.drill import compare_table, drill
from jobs.backup.store import BackupError
from jobs.lake import ledger, tables

SCHEMA = pa.schema([("id", pa.string()), ("n", pa.int64()), ("tags", pa.list_(pa.string()))])


@pytest.fixture
def lake(lake_settings):
    pool = tables.table_uri(lake_settings, "pool", "gaj", "hukou")
    rows = [{"id": "a", "n": 1, "tags": ["x"]}, {"id": "b", "n": None, "tags": None}]
    ledger.append_rows(pool, rows, SCHEMA, "w1")
    ledger.append_rows(pool, [{"id": "c", "n": 3, "tags": []}], SCHEMA, "w2")
    ledger.append_rows(
        tables.table_uri(lake_settings, "base", "population"), rows[:1], SCHEMA, "w1"
    )
    audit.record(lake_settings, "steward", actor="li")
    return lake_settings


def test_drill_proves_every_table_equal_and_the_restored_audit_log_intact(lake, tmp_path):
    done = backup(lake, by="ops")
    ledger.append_rows(  # written after the set: the drill compares at the set's versions
        tables.table_uri(lake, "pool", "gaj", "hukou"), [{"id": "d"}], SCHEMA, "w3"
    )

    result = drill(lake, by="ops", into=str(tmp_path / "drill"))

    assert result["problems"] == []
    assert result["ok"]
    assert (result["backup_id"], result["tables"], result["rows"]) == (done["backup_id"], 3, 5)
    assert not list((tmp_path / "lake_audit_anchor").glob("*before-restore*"))
    assert [e["action"] for e in audit.read_entries(lake)][-2:] == ["restore", "backup_drill"]
    assert audit.verify(lake)[0] == []


def test_drill_reports_a_source_table_damaged_since_its_backup(lake, tmp_path):
    backup(lake, by="ops")
    pool = tables.table_uri(lake, "pool", "gaj", "hukou")
    data_file = DeltaTable(pool, version=0).file_uris()[0]
    forged = pa.Table.from_pylist([{"id": "a", "n": 9, "tags": ["x"]}, {"id": "b"}], SCHEMA)
    pq.write_table(forged, data_file)

    result = drill(lake, by="ops", into=str(tmp_path / "drill"))

    assert not result["ok"]
    assert [p.split(":")[:2] for p in result["problems"]] == [
        ["pool/gaj/hukou", " the source cannot be read at version 1"]
    ]


def _delta(tmp_path, name, rows, schema=SCHEMA):
    uri = str(tmp_path / name)
    ledger.append_rows(uri, rows, schema, "w1")
    return uri


def test_compare_table_finds_changed_rows_and_schemas_but_not_another_row_order(tmp_path):
    rows = [{"id": "a", "n": 1, "tags": ["x"]}, {"id": "b", "n": None, "tags": None}]
    source = _delta(tmp_path, "source", rows)
    reordered = _delta(tmp_path, "reordered", rows[::-1])
    changed = _delta(tmp_path, "changed", [rows[0], {**rows[1], "n": 2}])
    narrower = _delta(tmp_path, "narrower", [{"id": "a"}, {"id": "b"}], SCHEMA.remove(2))

    assert compare_table(source, reordered, 0) == {"rows": 2, "problem": None}
    assert compare_table(source, changed, 0)["problem"] == (
        "rows differ: 2 in the source, 2 restored"
    )
    assert compare_table(source, narrower, 0)["problem"].startswith("schema differs")


def test_drill_refuses_a_folder_that_is_not_empty_and_a_root_without_sets(lake, tmp_path):
    with pytest.raises(BackupError, match="no backup set"):
        drill(lake, by="ops")
    backup(lake, by="ops")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")

    with pytest.raises(BackupError, match="not empty"):
        drill(lake, by="ops", into=str(tmp_path / "busy"))
