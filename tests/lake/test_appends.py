from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from jobs.lake.appends import Appender, VersionTaken

SCHEMA = pa.schema([("seq", pa.int64()), ("what", pa.string())])


def _rows(*seqs):
    return pa.table({"seq": list(seqs), "what": [f"w{s}" for s in seqs]}, schema=SCHEMA)


def _table(path, configuration=None):
    write_deltalake(str(path), _rows(0), configuration=configuration)
    return Appender(str(path), DeltaTable(str(path)))


def test_appends_are_commits_delta_rs_reads_with_their_metadata(tmp_path):
    appender = _table(tmp_path / "t")
    assert appender.append(_rows(1, 2), {"govlake.k": "first"}) == 1
    assert appender.append(_rows(3), {"govlake.k": "second"}) == 2
    table = DeltaTable(str(tmp_path / "t"))
    assert table.version() == 2
    assert sorted(table.to_pyarrow_table().column("seq").to_pylist()) == [0, 1, 2, 3]
    assert [c.get("govlake.k") for c in table.history()] == ["second", "first", None]
    assert appender.is_current()


def test_file_statistics_let_readers_skip_files(tmp_path):
    appender = _table(tmp_path / "t")
    appender.append(_rows(5, 7), {})
    actions = pa.table(DeltaTable(str(tmp_path / "t")).get_add_actions(flatten=True))
    newest = actions.filter(pa.compute.equal(actions.column("num_records"), 2))
    assert newest.column("min.seq").to_pylist() == [5]
    assert newest.column("max.seq").to_pylist() == [7]


def test_a_checkpoint_is_written_every_checkpoint_interval(tmp_path):
    appender = _table(tmp_path / "t", {"delta.checkpointInterval": "3"})
    appender.append(_rows(1), {})
    assert not list((tmp_path / "t" / "_delta_log").glob("*.checkpoint.parquet"))
    appender.append(_rows(2), {})
    appender.checkpointing.join(timeout=60)
    (checkpoint,) = (tmp_path / "t" / "_delta_log").glob("*.checkpoint.parquet")
    assert checkpoint.name.startswith(f"{2:020d}")
    assert DeltaTable(str(tmp_path / "t")).to_pyarrow_table().num_rows == 3


def test_another_writers_commit_makes_the_appender_stale_and_is_never_overwritten(tmp_path):
    appender = _table(tmp_path / "t")
    write_deltalake(str(tmp_path / "t"), _rows(1), mode="append")
    assert not appender.is_current()
    with pytest.raises(VersionTaken):
        appender.append(_rows(2), {})
    table = DeltaTable(str(tmp_path / "t"))
    assert sorted(table.to_pyarrow_table().column("seq").to_pylist()) == [0, 1]
    assert not list(Path(tmp_path / "t").glob("_govlake_commit_*"))


def test_a_table_rebuilt_at_the_same_path_is_not_current(tmp_path):
    appender = _table(tmp_path / "t")
    shutil.rmtree(tmp_path / "t")
    write_deltalake(str(tmp_path / "t"), _rows(9))
    assert not appender.is_current()


def test_rows_of_another_schema_go_through_delta_rs_which_checks_them(tmp_path):
    appender = _table(tmp_path / "t")
    with pytest.raises(Exception, match=r"(?i)schema"):
        appender.append(pa.table({"other": [1]}), {})
    assert DeltaTable(str(tmp_path / "t")).version() == 0


def test_catch_up_moves_past_another_appenders_commits_reading_only_their_commit_files(tmp_path):
    mine, theirs = (
        _table(tmp_path / "t"),
        Appender(str(tmp_path / "t"), DeltaTable(str(tmp_path / "t"))),
    )
    theirs.append(_rows(1), {"govlake.k": "theirs-1"})
    theirs.append(_rows(2), {"govlake.k": "theirs-2"})
    assert not mine.is_current()
    assert [i["govlake.k"] for i in mine.catch_up()] == ["theirs-1", "theirs-2"]
    assert mine.is_current() and mine.catch_up() == []
    assert mine.append(_rows(3), {}) == 3
    assert sorted(DeltaTable(str(tmp_path / "t")).to_pyarrow_table().column("seq").to_pylist()) == [
        0,
        1,
        2,
        3,
    ]


def test_catch_up_refuses_a_commit_that_is_not_a_plain_append(tmp_path):
    appender = _table(tmp_path / "t")
    DeltaTable(str(tmp_path / "t")).delete("seq = 0")
    assert appender.catch_up() is None
    assert not appender.is_current()


def test_catch_up_refuses_a_table_rebuilt_at_the_same_path(tmp_path):
    appender = _table(tmp_path / "t")
    shutil.rmtree(tmp_path / "t")
    write_deltalake(str(tmp_path / "t"), _rows(9))
    write_deltalake(str(tmp_path / "t"), _rows(10), mode="append")
    assert appender.catch_up() is None
