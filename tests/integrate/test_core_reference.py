"""The integration core as the build runs it (inside Spark's tasks), Spark's own survivorship,
and their DuckDB reference (``bench.bench_integrate``).

The benchmark's ratio means something only if both do the same work: the reference computes the
same four tables column for column, from the pool files. The build's core shares the reference's
survivorship SQL (``core_sql``), so the rules are also held to a second implementation written
from them: Spark's survivorship transforms (:mod:`jobs.integrate.survivorship`), which the build
ran until session 19. Run on a small generated county whose sources disagree now and then, all
three must write the same rows.
"""

from __future__ import annotations

import duckdb
import pytest
from deltalake import DeltaTable

pytestmark = pytest.mark.spark

#: Enough persons that the generated sources disagree (about one record in a thousand).
PERSONS = 3_000


@pytest.fixture(scope="module")
def both_cores(spark, tmp_path_factory):
    from bench.bench_integrate import county_pools, duckdb_core, spark_core
    from jobs.integrate.build import read_pools
    from jobs.integrate.config import load_integration_config
    from jobs.lake import tables
    from jobs.lake.registry import POOL
    from jobs.settings import Settings

    root = tmp_path_factory.mktemp("core-reference")
    settings = Settings(lake_root=str(root / "lake"), spark_master="local[2]")
    config = load_integration_config(settings)
    for resource_id, df in county_pools(spark, config.catalog, PERSONS).items():
        tables.write_table(df, POOL.uri(settings, *resource_id.split(".")), mode="append")
    pools, _ = read_pools(spark, settings, config.catalog)
    core_counts, _ = spark_core(spark, pools, config, settings, tasks=3)
    _spark_survivorship(pools, config, settings)
    files = {rid: DeltaTable(POOL.uri(settings, *rid.split("."))).file_uris() for rid in pools}
    duck_out = root / "duckdb"
    duck_out.mkdir()
    con = duckdb.connect()
    counts = duckdb_core(con, files, config, str(duck_out), settings.timezone)
    yield settings, con, str(duck_out), counts, core_counts
    con.close()


def _spark_survivorship(pools, config, settings) -> None:
    """The core's four tables by Spark's survivorship transforms, as ``base/spark_<table>``."""
    from jobs.frames import kept_on_disk
    from jobs.integrate.build import with_nullable_fields
    from jobs.integrate.conflicts import value_conflicts
    from jobs.integrate.core_sql import CORE_BASES
    from jobs.integrate.observations import members_from_pools, observations_from_pools
    from jobs.integrate.survivorship import attribute_values, base_rows
    from jobs.lake import tables
    from jobs.lake.paths import table_uri

    values = kept_on_disk(attribute_values(observations_from_pools(pools, config), config))
    outputs = {"attribute_values": values, "conflicts": value_conflicts(values, config)}
    for name in CORE_BASES:
        members = members_from_pools(pools, config, name)
        outputs[name] = base_rows(members, values, config.bases[name])
    for name, df in outputs.items():
        uri = table_uri(settings, "base", f"spark_{name}")
        tables.write_table(with_nullable_fields(df), uri, mode="overwrite")


def test_the_build_s_core_writes_the_reference_s_rows_column_for_column(both_cores):
    from bench.bench_integrate import CORE_TABLES, different_rows

    settings, con, duck_out, counts, core_counts = both_cores

    assert different_rows(con, settings, duck_out) == {name: 0 for name in CORE_TABLES}
    assert core_counts == counts

    # Not a comparison of empty or trivial tables: the county has its disputes.
    assert counts["population"] == PERSONS
    assert counts["conflicts"] > 0
    reasons = dict(
        con.execute(
            f"SELECT survived_by, count(*) FROM '{duck_out}/attribute_values.parquet' GROUP BY 1"
        ).fetchall()
    )
    assert reasons["agreement"] > 0 and reasons["authority"] > 0


def test_spark_s_survivorship_writes_the_reference_s_rows(both_cores):
    from bench.bench_integrate import CORE_TABLES, different_rows

    settings, con, duck_out, _, _ = both_cores

    assert different_rows(con, settings, duck_out, "spark_") == {name: 0 for name in CORE_TABLES}


def test_a_row_that_differs_in_one_nested_field_is_found(both_cores, tmp_path):
    from bench.bench_integrate import CORE_TABLES, different_rows

    settings, con, duck_out, _, _ = both_cores
    altered = tmp_path / "altered"
    altered.mkdir()
    for name in CORE_TABLES:
        con.execute(
            f"COPY (SELECT * FROM '{duck_out}/{name}.parquet') TO '{altered}/{name}.parquet'"
        )
    # One disputed attribute's losing values lose their departments.
    con.execute(
        f"""
        COPY (
            WITH rows AS (SELECT *, n_values > 1 AND row_number() OVER (
                              PARTITION BY n_values > 1 ORDER BY key, element) = 1 AS target
                          FROM '{duck_out}/attribute_values.parquet')
            SELECT * EXCLUDE (target) REPLACE (
                CASE WHEN target THEN list_transform(losing_values, lambda v: {{
                    'value': v.value, 'departments': [], 'resources': v.resources,
                    'observed_at': v.observed_at}})
                ELSE losing_values END AS losing_values)
            FROM rows
        ) TO '{altered}/attribute_values.parquet'
        """
    )

    found = different_rows(con, settings, str(altered))

    assert found == {name: 2 if name == "attribute_values" else 0 for name in CORE_TABLES}
