from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jobs.audit import log as audit
from jobs.audit.hook import write_audit
from jobs.lake import ledger
from jobs.lake.crash import CRASH_AT_ENV
from jobs.lake.maintenance import find_orphans, maintain_lake
from jobs.lake.registry import AUDIT_LOG
from jobs.lake.tables import RetentionError, table_uri
from tests.lake.conftest import data_files, stray_files

REPO = Path(__file__).resolve().parents[2]
ROWS = pa.schema([("person_id", pa.string()), ("name", pa.string())])
WEEK_AGO = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)

KILLED_WRITE = """
import sys
from jobs.lake import tables
from jobs.settings import Settings
from jobs.spark import get_spark

settings = Settings(lake_root=sys.argv[1], spark_master="local[1]", shuffle_partitions=1)
spark = get_spark(settings, **{"spark.ui.enabled": "false"})
df = spark.createDataFrame([("110105194912310021", "张三")], "person_id string, name string")
uri = tables.table_uri(settings, "pool", "gaj", "hukou")
tables.write_table(df, uri, "append")
tables.write_table(df, uri, "append")  # killed before its commit (GOVLAKE_CRASH_AT)
"""

KILLED_APPEND = """
import sys
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from jobs.lake.appends import Appender

rows = pa.table({"seq": pa.array([1], pa.int64())})
write_deltalake(sys.argv[1], rows)
Appender(sys.argv[1], DeltaTable(sys.argv[1])).append(rows, {})  # killed before its commit
"""


@pytest.fixture
def lake_settings(lake_settings, tmp_path):
    """Every root maintenance visits under tmp_path (the re-identification root's default is a
    project folder)."""
    return dataclasses.replace(lake_settings, reid_root=str(tmp_path / "reid"))


def _age(path: str | Path, when: dt.datetime = WEEK_AGO) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def _age_all(table: str) -> None:
    for name in data_files(table):
        _age(Path(table) / name)


def _rows(n: int) -> pa.Table:
    return pa.Table.from_pylist(
        [{"person_id": f"11010519491231{i:04d}", "name": f"n{i}"} for i in range(n)], ROWS
    )


@pytest.mark.spark
@pytest.mark.slow
def test_a_killed_write_leaves_an_orphan_that_maintenance_removes(lake_settings):
    completed = subprocess.run(
        [sys.executable, "-c", KILLED_WRITE, lake_settings.lake_root],
        env={**os.environ, "PYTHONPATH": str(REPO), CRASH_AT_ENV: "bridge.commit#2"},
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,  # the crash point kills the whole session: JVM and workers too
    )
    table = table_uri(lake_settings, "pool", "gaj", "hukou")
    orphans = stray_files(table)
    assert completed.returncode == -9, completed.stderr[-2000:]
    assert orphans and DeltaTable(table).version() == 0

    _age_all(table)
    summary = maintain_lake(lake_settings)

    assert summary["orphans_removed"] == len(orphans)
    assert stray_files(table) == set()
    assert DeltaTable(table).to_pyarrow_table().num_rows == 1


def test_a_commit_file_staged_by_a_killed_append_is_removed_once_no_writer_can_hold_it(
    lake_settings,
):
    table = table_uri(lake_settings, "governance", "audit_log")
    completed = subprocess.run(
        [sys.executable, "-c", KILLED_APPEND, table],
        env={**os.environ, "PYTHONPATH": str(REPO), CRASH_AT_ENV: "appends.commit#1"},
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    (staged,) = Path(table).glob("_govlake_commit_*.tmp")
    delta_rs_staged = Path(table) / "_delta_log" / f"_commit_{uuid.uuid4()}.json.tmp"
    delta_rs_staged.write_text("{}")  # delta-rs's own, left the same way
    in_use = Path(table) / f"_govlake_commit_{uuid.uuid4().hex}.tmp"
    in_use.write_text("{}")  # a live writer's, staged a moment ago
    assert completed.returncode == -9, completed.stderr[-2000:]

    _age(staged), _age(delta_rs_staged), _age_all(table)
    summary = maintain_lake(lake_settings)

    assert not staged.exists() and not delta_rs_staged.exists() and in_use.exists()
    assert summary["orphans_removed"] == 3  # the two staged commits and the append's data file
    assert summary["young_orphans_kept"] == 1
    assert stray_files(table) == set()
    assert DeltaTable(table).version() == 0 and DeltaTable(table).to_pyarrow_table().num_rows == 1


def test_keeps_every_file_a_current_or_retained_version_needs(lake_settings):
    table = table_uri(lake_settings, "governance", "row_accounting")
    ledger.append_rows(table, _rows(3).to_pylist(), ROWS, "first")
    ledger.overwrite_where(table, _rows(1), "person_id >= ''")  # v0's files: removed, retained
    before = data_files(table)
    _age_all(table)

    summary = maintain_lake(lake_settings, grace=dt.timedelta(0))

    assert summary["orphans_removed"] == 0 and summary["vacuumed_files"] == {}
    assert data_files(table) == before and len(before) == 2
    assert DeltaTable(table, version=0).to_pyarrow_table().num_rows == 3


def test_an_orphan_younger_than_the_grace_may_still_be_written_and_is_kept(lake_settings):
    table = table_uri(lake_settings, "pool", "gaj", "hukou")
    ledger.append_rows(table, _rows(2).to_pylist(), ROWS, "first")
    in_flight = Path(table) / "part-00000-inflight.c000.snappy.parquet"
    in_flight.write_bytes(b"PAR1 a file a task is still writing")

    summary = maintain_lake(lake_settings)

    assert in_flight.exists()
    assert (summary["orphans_removed"], summary["young_orphans_kept"]) == (0, 1)


def test_removes_files_of_a_table_whose_first_commit_never_happened(lake_settings):
    folder = Path(table_uri(lake_settings, "pool", "wjw", "birth_cert"))
    folder.mkdir(parents=True)
    (folder / "part-00000-killed.c000.snappy.parquet").write_bytes(b"PAR1 half a file")
    _age(folder / "part-00000-killed.c000.snappy.parquet")

    orphans, _young = find_orphans(lake_settings.lake_root, now=dt.datetime.now(dt.UTC))

    assert [(o.table, Path(o.path).name) for o in orphans] == [
        (None, "part-00000-killed.c000.snappy.parquet")
    ]
    maintain_lake(lake_settings)
    assert list(folder.iterdir()) == []


def test_removes_orphans_of_re_identification_tables_too(lake_settings):
    table = table_uri(lake_settings, "reid", "mzj", "population")
    ledger.append_rows(table, _rows(1).to_pylist(), ROWS, "first")
    orphan = Path(table) / "part-00001-killed.c000.snappy.parquet"
    orphan.write_bytes(b"PAR1 tokens and the values they stand for")
    _age(orphan)

    summary = maintain_lake(lake_settings)

    assert summary["orphans_by_table"] == {"mzj/population": 1}
    assert not orphan.exists()


def test_refuses_a_retention_below_the_floor_and_removes_nothing(lake_settings):
    audit.record(lake_settings, "test", detail="an entry kept 3 years")
    pool = table_uri(lake_settings, "pool", "gaj", "hukou")
    ledger.append_rows(pool, _rows(1).to_pylist(), ROWS, "first")
    orphan = Path(pool) / "part-00001-killed.c000.snappy.parquet"
    orphan.write_bytes(b"PAR1")
    _age(orphan)

    refused = pytest.raises(
        RetentionError,
        match=r"vacuum with 200 hours refused, nothing was removed: it is below the retention "
        r"floor 26304 h for governance/audit_log \(.*hebi profile's log retention",
    )
    with refused:
        maintain_lake(lake_settings, retention_hours=200)
    assert orphan.exists()
    with pytest.raises(RetentionError, match=r"168 h for pool/gaj/hukou; 26304 h for governance"):
        maintain_lake(lake_settings, retention_hours=24)


def test_maintenance_of_the_audit_log_keeps_it_intact_and_is_audited(lake_settings):
    with write_audit(lake_settings, actor="test"):
        pool = table_uri(lake_settings, "pool", "gaj", "hukou")
        ledger.append_rows(pool, _rows(1).to_pylist(), ROWS, "first")
        audit_folder = Path(AUDIT_LOG.uri(lake_settings))
        orphans = [audit_folder / "part-00009-killed.parquet", Path(pool) / "part-9.parquet"]
        for orphan in orphans:
            orphan.write_bytes(b"PAR1")
            _age(orphan)

        summary = maintain_lake(lake_settings)

    problems, _head = audit.verify(lake_settings)
    assert problems == []
    assert summary["orphans_by_table"] == {"governance/audit_log": 1, "pool/gaj/hukou": 1}
    removals = [e for e in audit.read_entries(lake_settings) if "remove_orphans" in e["detail"]]
    assert [e["target"] for e in removals] == ["pool/gaj/hukou"]
