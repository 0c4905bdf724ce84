from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable

from jobs.lake import ledger

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
