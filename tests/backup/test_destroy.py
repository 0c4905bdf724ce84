from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobs.backup.backup import backup, destroy
from tests.ingest.test_pipeline import HEADER, _deliver, _id, _row, _run_all, at_now

pytestmark = [pytest.mark.spark, pytest.mark.slow]

#: A name only the destroyed resource holds.
SENTINEL = "哨兵甲乙丙"


def _holders(roots: list[str]) -> list[str]:
    """Every file under the roots that holds the sentinel: in its bytes (UTF-8 or GBK, as
    delivered), or in any value of a Parquet file (compressed pages hide it from a byte scan)."""
    needles = (SENTINEL.encode("utf-8"), SENTINEL.encode("gbk"))
    found = []
    for root in roots:
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            data = path.read_bytes()
            in_values = data[:4] == b"PAR1" and SENTINEL in str(pq.read_table(path).to_pylist())
            if in_values or any(needle in data for needle in needles):
                found.append(str(path.relative_to(Path(root).parent)))
    return found


def test_after_destroy_no_file_in_the_lake_landing_or_backups_holds_a_destroyed_value(
    spark, lake_settings
):
    settings = at_now(lake_settings)
    person = _id("33021119850615001")
    _deliver(settings, "20250101T000000_full", "hukou.csv", HEADER + _row(person, SENTINEL))
    _deliver(
        settings, "20250102T000000_incr", "bad.csv", HEADER + _row(person[:-1] + "0", SENTINEL)
    )
    _run_all(spark, settings)
    backup(settings, by="ops")
    roots = [settings.lake_root, settings.landing_root, settings.backup_root]

    before = _holders(roots)
    assert {path.split("/")[0] for path in before} == {"lake", "landing", "backups"}
    assert any(path.startswith("lake/quarantine/") for path in before)

    result = destroy(settings, "gaj.hukou", by="steward", why="保存期满")

    assert _holders(roots) == []
    assert result["by_hand"] == []
    assert result["landing_files"] == 2
