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
