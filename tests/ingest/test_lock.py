from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stdnum.cn import ric

from jobs.ingest import pipeline
from jobs.ingest.lock import ResourceBusyError, lock_path, resource_lock
from jobs.lake import ledger
from jobs.lake.paths import table_uri
from jobs.settings import Settings

REPO = Path(__file__).resolve().parents[2]
HEADER = "公民身份号码,姓名,性别,出生日期,户号,户籍地址,户口状态\n"
#: Set by the run, not by the data: left out when two lakes are compared.
RUN_TIME_COLUMNS = {"ingested_at", "promoted_at", "decided_at", "checked_at", "quarantined_at"}
TABLES = {
    "bronze": ("bronze", "gaj", "hukou"),
    "pool": ("pool", "gaj", "hukou"),
    "quarantine": ("quarantine", "gaj", "hukou"),
    "files": ("governance", "ingest_files"),
    "outcomes": ("governance", "pool_batches"),
    "accounting": ("governance", "row_accounting"),
}

HOLD_LOCK = """
import sys, time
from jobs.ingest.lock import resource_lock
from jobs.settings import Settings
with resource_lock(Settings(lake_root=sys.argv[1]), "gaj.hukou"):
    print("held", flush=True)
    time.sleep(600)
"""


def _holder(settings: Settings) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, settings.lake_root],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_second_writer_fails_naming_the_holder(lake_settings):
    holder = _holder(lake_settings)
    try:
        busy = pytest.raises(ResourceBusyError, match=rf"gaj.hukou .*pid {holder.pid} on ")
        with busy, resource_lock(lake_settings, "gaj.hukou", wait_seconds=0.5):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_holder_is_free_at_once(lake_settings):
    holder = _holder(lake_settings)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with resource_lock(lake_settings, "gaj.hukou", wait_seconds=0) as held:
        assert held["pid"] == os.getpid()


def test_lock_is_reentrant_and_per_resource(lake_settings):
    with resource_lock(lake_settings, "gaj.hukou", wait_seconds=0):
        with resource_lock(lake_settings, "gaj.hukou", wait_seconds=0):
            pass
        with resource_lock(lake_settings, "wjw.births", wait_seconds=0):
            pass
    holder = _holder(lake_settings)  # released by the outer block: another process gets it
    holder.kill()
    holder.wait()


def test_object_store_lake_locks_on_this_host():
    path = lock_path(Settings(lake_root="s3://bureau-lake/prod"), "gaj.hukou")
    assert path.endswith("gaj.hukou.lock") and "://" not in path


def _deliver_small_batch(landing_root: Path) -> None:
    rows = []
    for n in range(1, 6):
        first_17 = f"33021119850615{n:03d}"
        person_id = first_17 + ric.calc_check_digit(first_17 + "?")
        rows.append(f"{person_id},张三,男,1985-06-15,H1,浙江省宁波市镇海区招宝山街道1号,正常\n")
    rows += [rows[0], "330211198506150990,李四,女,1985-06-15,H1,宁波,正常\n"]
    folder = landing_root / "gaj" / "hukou" / "20250101T000000_full"
    folder.mkdir(parents=True)
    (folder / "hukou.csv").write_bytes((HEADER + "".join(rows)).encode("gbk"))
    # delivered an hour before the runs: complete by the landing quiet period of the CLI's clock
    an_hour_ago = time.time() - 3600
    os.utime(folder / "hukou.csv", (an_hour_ago, an_hour_ago))


def _cli_run(settings: Settings, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GOVLAKE_LAKE_ROOT": settings.lake_root,
        "GOVLAKE_LANDING_ROOT": settings.landing_root,
        "GOVLAKE_REPORTS_ROOT": settings.reports_root,
        "GOVLAKE_SPARK_MASTER": "local[1]",
        "GOVLAKE_SHUFFLE_PARTITIONS": "1",
        "GOVLAKE_DRIVER_MEMORY": "1g",
    }
    command = [sys.executable, "-m", "jobs.cli", "ingest", "run", "gaj.hukou"]
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _lake_contents(settings: Settings) -> dict[str, tuple[int, list]]:
    """Per table: its number of commits and its rows without the run-time columns."""
    from deltalake import DeltaTable

    contents = {}
    for name, parts in TABLES.items():
        uri = table_uri(settings, *parts)
        rows = [
            repr(sorted((k, v) for k, v in row.items() if k not in RUN_TIME_COLUMNS))
            for row in ledger.read_rows(uri)
        ]
        # The accounting is rewritten by every run, so only its rows must be the same.
        version = None if name == "accounting" else DeltaTable(uri).version()
        contents[name] = (version, sorted(rows))
    return contents


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("stagger_seconds", [0, 8])
def test_two_cli_runs_at_once_leave_the_lake_as_one_run(
    spark, tmp_path, lake_settings, stagger_seconds
):
    _deliver_small_batch(Path(lake_settings.landing_root))
    pipeline.ingest_resource("gaj.hukou", lake_settings, spark=spark)
    expected = _lake_contents(lake_settings)

    both = Settings(
        lake_root=str(tmp_path / "both"),
        landing_root=lake_settings.landing_root,
        reports_root=lake_settings.reports_root,
    )
    first = _cli_run(both, tmp_path / "first.log")
    time.sleep(stagger_seconds)
    second = _cli_run(both, tmp_path / "second.log")
    codes = (first.wait(timeout=600), second.wait(timeout=600))

    logs = [(tmp_path / name).read_text() for name in ("first.log", "second.log")]
    assert codes == (0, 0), logs
    assert _lake_contents(both) == expected
    assert expected["bronze"][1] and len(expected["bronze"][1]) == 7
