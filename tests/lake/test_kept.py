from __future__ import annotations

import shutil

import pyarrow as pa
from deltalake import write_deltalake

from jobs.lake.kept import KeptTable


def _append(uri, *values):
    for value in values:
        write_deltalake(uri, pa.table({"a": [value]}), mode="append")


def _values(table):
    return sorted(table.to_pyarrow_table().column("a").to_pylist())


def test_no_table_is_none_until_one_is_written(tmp_path):
    uri = str(tmp_path / "t")
    keeper = KeptTable(uri)
    assert keeper.refreshed() is None
    _append(uri, 1)
    assert _values(keeper.refreshed()) == [1]


def test_commits_of_other_writers_are_read_into_the_kept_table(tmp_path):
    uri = str(tmp_path / "t")
    _append(uri, 1)
    keeper = KeptTable(uri)
    first = keeper.refreshed()
    _append(uri, 2, 3)
    table = keeper.refreshed()
    assert table is first and table.version() == 2
    assert _values(table) == [1, 2, 3]


def test_a_table_rebuilt_at_the_same_path_is_opened_afresh_not_mixed(tmp_path):
    uri = str(tmp_path / "t")
    _append(uri, 1, 2)
    keeper = KeptTable(uri)
    old_id = keeper.refreshed().metadata().id
    shutil.rmtree(uri)
    _append(uri, 10, 20, 30)  # versions 0..2: past the kept version 1
    table = keeper.refreshed()
    assert table.metadata().id != old_id
    assert _values(table) == [10, 20, 30]


def test_an_older_log_put_back_is_opened_afresh(tmp_path):
    uri, copy = str(tmp_path / "t"), str(tmp_path / "copy")
    _append(uri, 1)
    shutil.copytree(uri, copy)
    keeper = KeptTable(uri)
    _append(uri, 2, 3)
    assert keeper.refreshed().version() == 2
    shutil.rmtree(uri)
    shutil.copytree(copy, uri)  # a restore from a backup taken at version 0
    table = keeper.refreshed()
    assert table.version() == 0 and _values(table) == [1]


def test_the_memo_lasts_while_the_table_stays_at_its_version(tmp_path):
    uri = str(tmp_path / "t")
    _append(uri, 1)
    keeper = KeptTable(uri)
    table = keeper.refreshed()
    write_deltalake(table, pa.table({"a": [2]}), mode="append")
    keeper.remember("after my commit")
    assert keeper.refreshed() is table and keeper.memo == "after my commit"
    _append(uri, 3)  # another writer
    keeper.refreshed()
    assert keeper.memo is None
