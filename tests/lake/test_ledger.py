from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
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
