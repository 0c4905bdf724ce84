from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from deltalake import DeltaTable

pytestmark = pytest.mark.spark

#: Row counts and digests of every table a build of the generated county writes, recorded before
#: the integration was made faster (December 2026): the faster build must write the same rows.
#: After a change meant to alter the bases, record them again with
#: ``GOVLAKE_RECORD_DIGESTS=1 pytest tests/integrate/test_build.py``.
DIGESTS = Path(__file__).with_name("county_digests.json")
PERSONS = 600


def _canonical(value):
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def table_digest(uri: str, leave_out: tuple[str, ...] = ()) -> dict:
    """Rows and a digest of a table's rows, whatever their order and their files."""
    rows = DeltaTable(uri).to_pyarrow_table().to_pylist()
    lines = sorted(
        json.dumps(
            _canonical({k: v for k, v in row.items() if k not in leave_out}),
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        for row in rows
    )
    return {"rows": len(rows), "sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest()}


def test_a_generated_county_builds_the_same_base_tables_as_recorded(spark, tmp_path):
    from bench.bench_integrate import AS_OF, BUILT_AT, county_pools
    from jobs.integrate.build import build_bases
    from jobs.integrate.config import load_integration_config
    from jobs.lake import tables
    from jobs.lake.registry import (
        ATTRIBUTE_OBSERVATIONS,
        ATTRIBUTE_VALUES,
        BASE_TABLES,
        CONFLICTS,
        LINKS,
        POOL,
    )
    from jobs.settings import Settings, pinned_clock

    # Two lanes, as the demo builds (every other build test runs the default one): the
    # digests were recorded with one, and running queries side by side must not change a row.
    settings = Settings(
        lake_root=str(tmp_path / "lake"), spark_master="local[2]", integrate_lanes=2
    )
    settings = settings.with_clock(pinned_clock(BUILT_AT))
    catalog = load_integration_config(settings).catalog
    for resource_id, df in county_pools(spark, catalog, PERSONS).items():
        tables.write_table(df, POOL.uri(settings, *resource_id.split(".")), mode="append")
    summary = build_bases(settings, spark, as_of=AS_OF)

    found = {
        table.name: table_digest(table.uri(settings))
        for table in (ATTRIBUTE_OBSERVATIONS, ATTRIBUTE_VALUES, *BASE_TABLES, LINKS)
    }
    # The build id names the configuration's fingerprint: left out, so that a configuration
    # change that alters no row does not count as a difference.
    found["conflicts"] = table_digest(CONFLICTS.uri(settings), leave_out=("build_id",))
    if os.environ.get("GOVLAKE_RECORD_DIGESTS"):
        DIGESTS.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
        pytest.skip(f"recorded {DIGESTS.name}")
    assert summary["rows"]["attribute_values"] > 10 * PERSONS
    assert found == json.loads(DIGESTS.read_text())
    # The core's task files are the tables' now, or gone (they hold personal data).
    assert [p for p in (tmp_path / "lake" / "scratch").rglob("*") if p.is_file()] == []


def test_the_build_runs_the_integration_on_its_lanes_and_removes_its_scratch_files(
    spark, tmp_path, monkeypatch
):
    from jobs.integrate import build
    from jobs.settings import Settings

    class Stop(Exception):
        pass

    asked, scratches = [], []

    def integrate(*args, lanes, scratch, **kwargs):
        asked.append(lanes)
        scratches.append(Path(scratch))
        # A task's file, left behind by a build that fails after its tasks ran.
        (Path(scratch) / "attribute_values").mkdir(parents=True)
        (Path(scratch) / "attribute_values" / "part-00000.parquet").write_bytes(b"rows")
        raise Stop

    monkeypatch.setattr(build, "integrate", integrate)
    for lanes in (1, 3):
        settings = Settings(lake_root=str(tmp_path / f"lake{lanes}"), integrate_lanes=lanes)
        with pytest.raises(Stop):
            build.build_bases(settings, spark)
    assert asked == [1, 3]
    # The core's scratch folder is in the lake (maintenance sweeps what a killed build left)
    # and goes with the failed build.
    assert [s.relative_to(tmp_path).parts[:3] for s in scratches] == [
        ("lake1", "scratch", "integrate_core"),
        ("lake3", "scratch", "integrate_core"),
    ]
    assert not any(s.exists() for s in scratches)
