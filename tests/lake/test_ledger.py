from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from jobs.lake import ledger, tables

ROWS = pa.table({"n": [1, 2, 3]})


def test_same_write_id_committed_meanwhile_is_not_committed_again(tmp_path, monkeypatch):
    uri = str(tmp_path / "t")
    ledger.append_arrow(uri, ROWS, write_id="first")
    checked = ledger._applied

    def other_run_commits_after_the_check(dt, app_id, version):
        # the check sees the id missing, then another run commits the same write
        applied = checked(dt, app_id, version)
        monkeypatch.setattr(ledger, "_applied", checked)
        assert ledger.append_arrow(uri, ROWS, write_id="batch-1") is True
        return applied

    monkeypatch.setattr(ledger, "_applied", other_run_commits_after_the_check)

    assert ledger.append_arrow(uri, ROWS, write_id="batch-1") is False
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 6
    assert DeltaTable(uri).transaction_version("batch-1") == 0


@pytest.fixture
def reported_writes():
    """The (operation, version) of every write the lake's observers are told about."""
    seen: list[tuple[str, int | None]] = []

    def observe(uri, operation, details):
        seen.append((operation, details.get("version")))

    tables.add_write_observer(observe)
    yield seen
    tables.remove_write_observer(observe)


def test_every_delta_rs_write_reports_the_version_it_committed(tmp_path, reported_writes):
    # The Spark writer's audit entries name the committed version; the delta-rs writes must
    # too, or the same run records different audit logs on the two runners.
    uri = str(tmp_path / "t")
    ledger.append_arrow(uri, ROWS, write_id="create")
    ledger.append_arrow(uri, ROWS, write_id="again")
    ledger.overwrite_where(uri, pa.table({"n": [1]}), "n = 1")
    assert ledger.delete_where(uri, "n = 2") == 2
    assert ledger.delete_where(uri, "n = 2") == 0  # nothing deleted: no commit, no report
    tables.merge(uri, pa.table({"n": [3, 4]}), keys=["n"])

    assert reported_writes == [
        ("append", 0),
        ("append", 1),
        ("overwrite", 2),
        ("delete", 3),
        ("merge", 4),
    ]
    assert DeltaTable(uri).version() == 4


def test_an_append_after_a_concurrent_commit_reports_its_own_version(
    tmp_path, monkeypatch, reported_writes
):
    uri = str(tmp_path / "t")
    ledger.append_arrow(uri, ROWS, write_id="create")
    checked = ledger._applied

    def another_writer_commits_after_the_check(dt, app_id, version):
        monkeypatch.setattr(ledger, "_applied", checked)
        ledger.append_arrow(uri, ROWS, write_id="other")
        return checked(dt, app_id, version)

    monkeypatch.setattr(ledger, "_applied", another_writer_commits_after_the_check)
    ledger.append_arrow(uri, ROWS, write_id="mine")

    # read at version 0, committed at 2 (behind the other writer's 1)
    assert reported_writes == [("append", 0), ("append", 1), ("append", 2)]


@pytest.mark.spark
def test_scan_finds_long_strings_the_bridge_wrote_without_a_maximum(spark, tmp_path):
    uri = str(tmp_path / "t")
    long_hash, other = "a" * 64, "b" * 64
    frame = spark.createDataFrame([(long_hash, 1), (other, 2)], "file_hash string, n long")
    tables.write_table(frame, uri)  # the bridge's statistics leave out a maximum over 32 chars

    found = ledger.scan_arrow(uri, ["n"], pc.field("file_hash") == long_hash)
    not_other = ledger.scan_arrow(uri, ["file_hash", "n"], ~pc.field("file_hash").isin([other]))

    assert found.to_pylist() == [{"n": 1}]
    assert not_other.to_pylist() == [{"file_hash": long_hash, "n": 1}]
    assert ledger.scan_arrow(str(tmp_path / "none"), ["n"]) is None


def _failing(times, error):
    runs = []

    def write():
        runs.append(len(runs) + 1)
        if len(runs) <= times:
            raise error
        return len(runs)

    return write, runs


def test_a_snapshot_that_lost_a_commit_race_runs_again_and_other_errors_are_raised(monkeypatch):
    from deltalake.exceptions import CommitFailedError

    monkeypatch.setattr(ledger.time, "sleep", lambda _: None)
    lost = CommitFailedError("a concurrent transactions added new data")
    write, runs = _failing(2, lost)
    assert ledger.write_snapshot_of("t", write) == 3
    write, runs = _failing(9, lost)
    with pytest.raises(CommitFailedError):
        ledger.write_snapshot_of("t", write, attempts=4)
    assert runs == [1, 2, 3, 4]
    write, runs = _failing(9, OSError("down"))
    with pytest.raises(OSError, match="down"):
        ledger.write_snapshot_of("t", write)
    assert runs == [1]


def test_two_snapshots_in_one_process_take_turns():
    import threading
    import time

    inside, overlapped = [], []

    def write():
        overlapped.append(bool(inside))
        inside.append(1)
        time.sleep(0.05)
        inside.pop()

    threads = [threading.Thread(target=ledger.write_snapshot_of, args=("t", write)) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlapped == [False, False]


LOG_SCHEMA = pa.schema([("department", pa.string()), ("batch_id", pa.string()), ("n", pa.int64())])


def _log_rows(*rows):
    return pa.Table.from_pylist(
        [{"department": d, "batch_id": b, "n": n} for d, b, n in rows], schema=LOG_SCHEMA
    )


def test_filtered_read_keeps_rows_of_files_without_statistics_of_the_column(tmp_path):
    from jobs.lake.appends import Appender

    uri = str(tmp_path / "t")
    ledger.append_arrow(uri, _log_rows(("gaj", "b1", 0)), write_id="w0")
    # the audit log's writer records statistics of integer columns only
    Appender(uri, DeltaTable(uri)).append(_log_rows(("gaj", "b2", 1), ("mzj", None, 2)), {})

    rows = ledger.read_rows(uri, [("department", "=", "gaj")])

    assert sorted(r["n"] for r in rows) == [0, 1]


def test_filtered_read_skips_files_by_statistics_and_returns_what_delta_rs_returns(tmp_path):
    uri = str(tmp_path / "t")
    for n, (department, batch) in enumerate([("gaj", "b1"), ("mzj", "b1"), ("gaj", None)]):
        ledger.append_arrow(uri, _log_rows((department, batch, n)), write_id=f"w{n}")
    long_value = "x" * 40  # a statistic this long may be cut: it never skips a file
    ledger.append_arrow(uri, _log_rows(("gaj", long_value + "z", 3)), write_id="w3")
    table = DeltaTable(uri)

    for filters in (
        [("department", "=", "gaj")],
        [("department", "=", "gaj"), ("batch_id", "=", "b1")],
        [("batch_id", "=", long_value + "z")],
        [("n", "=", 1)],
        [("department", "=", "sfj")],
        [("department", "in", ["mzj"])],
    ):
        expected = table.to_pyarrow_table(filters=filters)
        assert ledger.read_arrow(uri, filters).equals(expected), filters
    assert len(ledger._files_that_may_match(table, [("department", "=", "mzj")])) == 1


def test_the_kept_table_sees_another_writers_commit_of_the_same_write_id(tmp_path):
    from deltalake import CommitProperties, Transaction, write_deltalake

    uri = str(tmp_path / "t")
    ledger.append_arrow(uri, ROWS, write_id="first")
    ledger.append_arrow(uri, ROWS, write_id="second")  # through the table this process keeps
    # another process commits batch-1 meanwhile
    write_deltalake(
        uri,
        ROWS,
        mode="append",
        commit_properties=CommitProperties(app_transactions=[Transaction("batch-1", 0)]),
    )

    assert ledger.append_arrow(uri, ROWS, write_id="batch-1") is False
    assert ledger.read_arrow(uri).num_rows == 9
    assert ledger.append_arrow(uri, ROWS, write_id="third") is True
    assert DeltaTable(uri).version() == 3


def test_rows_are_counted_by_keys_read_as_dictionaries_across_files_with_nulls(tmp_path):
    uri = str(tmp_path / "t")
    # three files, each with its own dictionary of the keys; a null batch is a key too
    deliveries = [
        [("gaj", "b1", 0), ("gaj", "b1", 1), ("mzj", "b2", 2)],
        [("mzj", "b2", 3), ("gaj", None, 4)],
        [("sfj", "b3", 5), ("gaj", "b1", 6), ("gaj", None, 7)],
    ]
    for n, rows in enumerate(deliveries):
        ledger.append_arrow(uri, _log_rows(*rows), write_id=f"w{n}")

    counted = ledger.count_rows_by(uri, ("department", "batch_id"))
    read = ledger.read_arrow(uri, columns=["department", "n"], dictionaries=["department", "n"])

    assert counted == {
        ("gaj", "b1"): 3,
        ("mzj", "b2"): 2,
        ("gaj", None): 2,
        ("sfj", "b3"): 1,
    }
    assert ledger.count_rows_by(uri, ("batch_id",), [("batch_id", "in", ["b1", "b3"])]) == {
        ("b1",): 3,
        ("b3",): 1,
    }
    # text columns come back as dictionaries with the same values; other columns as they are
    assert pa.types.is_dictionary(read.schema.field("department").type)
    assert read.schema.field("n").type == DeltaTable(uri).schema().to_arrow().field("n").type
    assert sorted(read["department"].cast(pa.string()).to_pylist()) == sorted(
        department for rows in deliveries for department, _, _ in rows
    )


# --- large appends written in parts, on every core ------------------------------------------------


def _large(rows: int, start: int = 0) -> pa.Table:
    """Rows of a large append: a text column with nulls, a map column (bronze's ``raw``)."""
    numbers = range(start, start + rows)
    return pa.table(
        {
            "n": pa.array(numbers, pa.int64()),
            "text": pa.array([None if n % 7 == 0 else f"t{n % 5}" for n in numbers]),
            "raw": pa.array([[("列", str(n))] for n in numbers], pa.map_(pa.string(), pa.string())),
        }
    )


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(ledger, "ROWS_PER_PART", 10)
    monkeypatch.setattr(ledger.os, "cpu_count", lambda: 3)


def _data_files(uri: str) -> list[str]:
    return sorted(p.name for p in Path(uri).glob("*.parquet"))


def test_a_large_append_is_written_in_parts_and_committed_once(
    tmp_path, small_parts, reported_writes
):
    uri = str(tmp_path / "t")

    assert ledger.append_arrow(uri, _large(45), write_id=("batch", 1)) is True  # creates
    assert ledger.append_arrow(uri, _large(25, start=45), write_id=("batch", 2)) is True
    assert ledger.append_arrow(uri, _large(25, start=45), write_id=("batch", 2)) is False

    table = DeltaTable(uri)
    assert table.version() == 1 and reported_writes == [("append", 0), ("append", 1)]
    assert len(_data_files(uri)) == 3 + 2  # three cores for 45 rows, two parts for 25
    rows = ledger.scan_arrow(uri, ["n", "text", "raw"], None).sort_by("n")
    assert rows.equals(_large(70).cast(rows.schema))
    stats = [a["stats"] for a in _add_actions(table)]
    assert all('"minValues": {"n":' in s and '"nullCount"' in s for s in stats)
    # the statistics skip files: one part holds rows 0-14
    assert ledger.scan_arrow(uri, ["n"], pc.field("n") < 5).num_rows == 5


def _add_actions(table: DeltaTable) -> list[dict]:
    log = Path(table.table_uri.removeprefix("file://")) / "_delta_log"
    lines = [json.loads(line) for f in sorted(log.glob("*.json")) for line in f.open()]
    return [line["add"] for line in lines if "add" in line]


def test_a_part_write_that_does_not_commit_leaves_no_file(tmp_path, small_parts, monkeypatch):
    uri = str(tmp_path / "t")
    ledger.append_arrow(uri, _large(3), write_id="small")  # one file, by delta-rs
    before = _data_files(uri)

    def refused(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(DeltaTable, "create_write_transaction", refused)
    with pytest.raises(OSError, match="disk full"):
        ledger.append_arrow(uri, _large(40), write_id="large")

    assert _data_files(uri) == before
    assert DeltaTable(uri).version() == 0


def test_a_large_append_adding_a_column_is_merged_by_delta_rs(tmp_path, small_parts):
    uri = str(tmp_path / "t")
    ledger.append_arrow(uri, _large(30).drop_columns(["text"]), write_id="first")
    ledger.append_arrow(uri, _large(30, start=30), write_id="second", add_columns=True)

    rows = ledger.scan_arrow(uri, ["n", "text"], None).sort_by("n")
    assert rows["text"].to_pylist()[:30] == [None] * 30
    assert rows["text"].to_pylist()[30:] == _large(30, start=30)["text"].to_pylist()


def test_a_large_append_to_a_partitioned_or_constrained_table_goes_through_delta_rs(
    tmp_path, small_parts
):
    from deltalake import write_deltalake

    partitioned = str(tmp_path / "partitioned")
    write_deltalake(partitioned, _large(3), partition_by=["text"])
    ledger.append_arrow(partitioned, _large(40, start=3), write_id="large")
    assert DeltaTable(partitioned).metadata().partition_columns == ["text"]
    assert ledger.scan_arrow(partitioned, ["n"], pc.field("text") == "t1").num_rows == len(
        [n for n in range(43) if n % 7 and n % 5 == 1]
    )

    checked = str(tmp_path / "checked")
    ledger.append_arrow(checked, _large(3), write_id="small")
    DeltaTable(checked).alter.add_constraint({"small_n": "n < 30"})
    with pytest.raises(Exception, match="13 rows failed validation check"):
        ledger.append_arrow(checked, _large(40, start=3), write_id="large")
    assert DeltaTable(checked).version() == 1  # the constraint's commit, no rows
    assert len(_data_files(checked)) == 1


def test_parts_dictionary_encode_the_columns_whose_values_repeat(tmp_path, small_parts):
    uri = str(tmp_path / "t")
    rows = _large(80).append_column(
        "codes", pa.array([["a"]] * 80, pa.list_(pa.string()))
    )  # a list column: plain, no statistics

    ledger.append_arrow(uri, rows, write_id="large")

    metadata = pq.ParquetFile(str(tmp_path / "t" / _data_files(uri)[0])).metadata
    columns = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    group = metadata.row_group(0)

    def dictionary(path: str) -> bool:
        return any("DICTIONARY" in e for e in group.column(columns[path]).encodings)

    assert dictionary("text") and dictionary(
        "raw.key_value.key"
    )  # six values (one null) in 80; one key
    assert not dictionary("n") and not dictionary("raw.key_value.value")  # all distinct
    assert group.column(columns["n"]).statistics is not None
    assert group.column(columns["raw.key_value.value"]).statistics is None


def test_a_kept_table_that_cannot_catch_up_after_its_parts_commit_keeps_the_commit(
    tmp_path, small_parts, monkeypatch, reported_writes
):
    uri = str(tmp_path / "t")
    ledger.append_arrow(uri, _large(3), write_id="small")

    def lost(self):
        raise OSError("log unreadable for a moment")

    monkeypatch.setattr(DeltaTable, "update_incremental", lost)
    assert ledger.append_arrow(uri, _large(40, start=3), write_id="large") is True
    monkeypatch.undo()

    assert reported_writes == [("append", 0), ("append", 1)]
    assert ledger.scan_arrow(uri, ["n"], None).num_rows == 43
    assert ledger.append_arrow(uri, _large(40, start=3), write_id="large") is False


def test_parts_of_a_failed_write_stay_when_the_log_cannot_be_read(
    tmp_path, small_parts, monkeypatch
):
    uri = str(tmp_path / "t")
    ledger.append_arrow(uri, _large(3), write_id="small")
    before = _data_files(uri)

    def refused(self, *args, **kwargs):
        raise OSError("disk full")

    def unreadable(root, first, name):
        raise PermissionError("log unreadable")

    monkeypatch.setattr(DeltaTable, "create_write_transaction", refused)
    monkeypatch.setattr(ledger, "_version_adding", unreadable)
    with pytest.raises(OSError, match="disk full"):  # the write's own error, not the log's
        ledger.append_arrow(uri, _large(40), write_id="large")

    assert len(_data_files(uri)) == len(before) + 3  # cannot tell: kept for vacuum
