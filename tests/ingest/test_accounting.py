from __future__ import annotations

import datetime as dt

from jobs.ingest.accounting import TableCounts, account_files

NOW = dt.datetime(2025, 1, 8, 2, 0, tzinfo=dt.UTC)
FILE = ("b1", "hukou.csv")
VERSION = (*FILE, "h1")


def _logged(rows: int, status: str = "ingested") -> dict:
    return {
        "department": "gaj",
        "resource": "hukou",
        "batch_id": FILE[0],
        "source_file": FILE[1],
        "file_hash": VERSION[2],
        "status": status,
        "file_rows": rows,
        "bronze_rows": rows if status == "ingested" else 0,
    }


def _outcome(pool: int, quarantined: int, duplicates: int, outcome: str = "promoted") -> dict:
    return {
        "department": "gaj",
        "resource": "hukou",
        "batch_id": FILE[0],
        "source_file": FILE[1],
        "file_hash": VERSION[2],
        "outcome": outcome,
        "pool_rows": pool,
        "quarantined_rows": quarantined,
        "duplicate_rows": duplicates,
        "held_rows": 0,
        "decided_at": NOW,
    }


def _account(files, outcomes, bronze=None, pool=None, quarantine=None):
    counts = TableCounts(
        bronze={VERSION: bronze} if bronze is not None else {},
        pool={VERSION: pool} if pool is not None else {},
        quarantine={VERSION: quarantine} if quarantine is not None else {},
    )
    return account_files(files, outcomes, counts, NOW, department="gaj", resource="hukou")


def test_balances_when_tables_match_the_recorded_outcome():
    (row,) = _account([_logged(4991)], [_outcome(4982, 0, 9)], bronze=4991, pool=4982)
    assert row["is_balanced"] and row["imbalance"] is None
    assert (row["pool_rows"], row["duplicate_rows"]) == (4982, 9)


def test_reports_the_pool_truth_when_the_outcome_record_is_missing():
    (row,) = _account([_logged(4991)], [], bronze=4991, pool=4982)
    assert not row["is_balanced"]
    assert row["pool_rows"] == 4982 and row["duplicate_rows"] == 0
    assert "pool 4982" in row["imbalance"] and "no promotion outcome" in row["imbalance"]


def test_outcome_that_counts_the_pool_as_duplicates_does_not_balance():
    (row,) = _account([_logged(4991)], [_outcome(0, 0, 4991)], bronze=4991, pool=4982)
    assert not row["is_balanced"]
    assert "pool 4982" in row["imbalance"] and "recorded pool 0" in row["imbalance"]


def test_bronze_holding_a_file_twice_does_not_balance():
    (row,) = _account([_logged(5015)], [_outcome(5015, 0, 0)], bronze=10030, pool=5015)
    assert not row["is_balanced"] and "bronze table 10030" in row["imbalance"]


def test_rows_of_a_file_the_log_does_not_list_are_named():
    (row,) = _account([], [], bronze=12)
    assert (row["batch_id"], row["source_file"], row["status"]) == ("b1", "hukou.csv", "unlogged")
    assert not row["is_balanced"] and "does not list" in row["imbalance"]


def test_held_file_balances_with_its_rows_in_bronze_only():
    held = {**_outcome(0, 0, 0, outcome="held"), "held_rows": 7}
    (row,) = _account([_logged(7)], [held], bronze=7)
    assert row["is_balanced"] and row["held_rows"] == 7
    (leaked,) = _account([_logged(7)], [held], bronze=7, pool=7)
    assert not leaked["is_balanced"]


def test_quarantined_file_with_rows_in_bronze_does_not_balance():
    (row,) = _account([_logged(3, status="quarantined")], [])
    assert row["is_balanced"]
    (row,) = _account([_logged(3, status="quarantined")], [], bronze=3)
    assert not row["is_balanced"]


def test_destroyed_file_expects_no_rows_and_its_earlier_entry_is_not_counted():
    logged = [_logged(4991), _logged(0, status="destroyed")]
    (row,) = _account(logged, [_outcome(4982, 0, 9)])
    assert row["is_balanced"] and row["status"] == "destroyed"
    assert (row["bronze_rows"], row["pool_rows"], row["duplicate_rows"]) == (0, 0, 0)


def test_destroyed_file_whose_rows_are_still_in_the_pool_does_not_balance():
    logged = [_logged(4991), _logged(0, status="destroyed")]
    (row,) = _account(logged, [_outcome(4982, 0, 9)], bronze=4991, pool=4982)
    assert not row["is_balanced"]
    assert "destroyed file still has rows" in row["imbalance"] and "pool 4982" in row["imbalance"]
