"""The Spark integration core, and the core run inside Spark's tasks, against their DuckDB
reference (``bench.bench_integrate``).

The benchmark's ratio means something only if both engines do the same work: the reference
computes the same four tables column for column. Run on a small generated county whose sources
disagree now and then, the two must write the same rows — which also checks survivorship,
base rows and conflicts against a second implementation written from the same rules.
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
    from bench.bench_integrate import county_pools, duckdb_core, partitioned_core, spark_core
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
    spark_core(spark, pools, config, settings)
    partitioned_counts, _ = partitioned_core(spark, pools, config, settings)
    files = {rid: DeltaTable(POOL.uri(settings, *rid.split("."))).file_uris() for rid in pools}
    duck_out = root / "duckdb"
    duck_out.mkdir()
    con = duckdb.connect()
    counts = duckdb_core(con, files, config, str(duck_out), settings.timezone)
    yield settings, con, str(duck_out), counts, partitioned_counts
    con.close()


def test_duckdb_reference_writes_the_spark_cores_rows_column_for_column(both_cores):
    from bench.bench_integrate import CORE_TABLES, different_rows

    settings, con, duck_out, counts, _ = both_cores

    assert different_rows(con, settings, duck_out) == {name: 0 for name in CORE_TABLES}
    # Not a comparison of empty or trivial tables: the county has its disputes.
    assert counts["population"] == PERSONS
    assert counts["conflicts"] > 0
    reasons = dict(
        con.execute(
            f"SELECT survived_by, count(*) FROM '{duck_out}/attribute_values.parquet' GROUP BY 1"
        ).fetchall()
    )
    assert reasons["agreement"] > 0 and reasons["authority"] > 0


def test_the_core_run_inside_spark_tasks_writes_the_references_rows(both_cores):
    from bench.bench_integrate import CORE_TABLES, different_rows

    settings, con, duck_out, counts, partitioned_counts = both_cores

    assert different_rows(con, settings, duck_out, "partitioned_") == {
        name: 0 for name in CORE_TABLES
    }
    assert partitioned_counts == counts


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
