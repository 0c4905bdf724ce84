from __future__ import annotations

import json

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from jobs.lake import tables
from tests.lake.conftest import commit_count, stray_files

pytestmark = pytest.mark.spark


def _with_nested(people_df):
    return people_df.withColumn(
        "visits",
        F.when(
            F.col("age").isNotNull(),
            F.array(F.struct(F.col("dept").alias("dept"), F.col("seen_at").alias("at"))),
        ),
    )


def _add_actions(uri: str) -> list[str]:
    adds = pa.table(DeltaTable(uri).get_add_actions(flatten=False)).to_pylist()
    keys = ("num_records", "null_count", "min", "max")
    return sorted(json.dumps({k: a[k] for k in keys}, default=str, sort_keys=True) for a in adds)


def test_writes_the_bridge_s_table_rows_schema_and_statistics(spark, people_df, tmp_path):
    df = _with_nested(people_df)
    bridge, native = str(tmp_path / "bridge"), str(tmp_path / "native")
    tables.write_table(df, bridge, mode="overwrite")
    result = tables.write_table(df, native, mode="overwrite", spark_parquet=True)
    assert (result.version, result.rows) == (0, 4)
    assert DeltaTable(native).schema() == DeltaTable(bridge).schema()
    assert _add_actions(native) == _add_actions(bridge)
    rows = sorted(tables.read_table(spark, native).collect())
    assert rows == sorted(tables.read_table(spark, bridge).collect())
    assert (stray_files(native), sorted(p.name for p in (tmp_path / "native").iterdir())) == (
        set(),
        sorted(["_delta_log", *(p.name for p in (tmp_path / "native").glob("*.parquet"))]),
    )


def test_a_retry_with_the_same_write_id_writes_nothing(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    first = tables.write_table(people_df, uri, write_id=("base.people", 0), spark_parquet=True)
    retry = tables.write_table(people_df, uri, write_id=("base.people", 0), spark_parquet=True)
    assert (first.version, retry.skipped, commit_count(uri), stray_files(uri)) == (
        0,
        True,
        1,
        set(),
    )


def test_constraints_still_refuse_rows_through_the_bridge(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, not_null=["person_id"])
    with pytest.raises(tables.ConstraintViolationError, match="NOT NULL person_id"):
        tables.write_table(
            people_df.withColumn("person_id", F.lit(None).cast("string")),
            uri,
            mode="overwrite",
            spark_parquet=True,
        )
    assert stray_files(uri) == set()


def test_a_failing_write_leaves_no_commit_and_no_files(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, spark_parquet=True)

    @F.udf("int")
    def fails_on_wjw(age, dept):
        if dept == "wjw":
            raise ValueError("department feed is broken")
        return age

    broken = people_df.withColumn("age", fails_on_wjw("age", "dept"))
    with pytest.raises(Exception, match="department feed is broken"):
        tables.write_table(broken, uri, mode="overwrite", spark_parquet=True)
    leftovers = [p.name for p in (tmp_path / "people").iterdir() if p.name.startswith("_govlake")]
    assert (commit_count(uri), stray_files(uri), leftovers) == (1, set(), [])


def _task_files(df, folder) -> list[str]:
    """``df`` as Parquet files in ``folder``, written as the integration core's tasks write
    theirs (pyarrow, one file per part)."""
    import pyarrow.parquet as pq

    folder.mkdir()
    arrow = df.toArrow()
    paths = []
    for number, start in enumerate(range(0, arrow.num_rows, 3)):
        path = folder / f"part-{number:05d}.parquet"
        pq.write_table(arrow.slice(start, 3), path)
        paths.append(str(path))
    return paths


def test_task_files_are_moved_into_the_table_with_the_bridge_s_statistics(
    spark, people_df, tmp_path
):
    df = _with_nested(people_df)
    files = _task_files(df, tmp_path / "tasks")
    bridge, moved = str(tmp_path / "bridge"), str(tmp_path / "moved")
    tables.write_table(df, bridge, mode="overwrite")

    result = tables.write_table(
        spark.read.parquet(*files), moved, mode="overwrite", spark_parquet=True, parquet_files=files
    )

    assert (result.version, result.rows, result.files) == (0, 4, 2)
    assert list((tmp_path / "tasks").iterdir()) == []  # moved, not copied
    assert sorted(tables.read_table(spark, moved).collect()) == sorted(
        tables.read_table(spark, bridge).collect()
    )
    adds = pa.table(DeltaTable(moved).get_add_actions(flatten=False)).to_pylist()
    assert sum(a["num_records"] for a in adds) == 4
    assert all(a["min"]["person_id"] is not None for a in adds)  # statistics from the footers
    assert stray_files(moved) == set()


def test_task_files_with_the_table_s_columns_in_another_order_are_written_instead(
    spark, people_df, tmp_path
):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, mode="overwrite")
    reordered = people_df.select(*reversed(people_df.columns))
    files = _task_files(reordered, tmp_path / "tasks")

    result = tables.write_table(
        spark.read.parquet(*files), uri, mode="overwrite", spark_parquet=True, parquet_files=files
    )

    assert (result.version, result.rows) == (1, 4)
    assert sorted(tables.read_table(spark, uri).collect()) == sorted(people_df.collect())
    assert len(list((tmp_path / "tasks").iterdir())) == 2  # left to the caller
    assert stray_files(uri) == set()


def test_task_files_of_a_write_already_applied_stay_where_they_are(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, write_id=("base.people", 0), spark_parquet=True)
    files = _task_files(people_df, tmp_path / "tasks")

    retry = tables.write_table(
        spark.read.parquet(*files),
        uri,
        write_id=("base.people", 0),
        spark_parquet=True,
        parquet_files=files,
    )

    assert (retry.skipped, commit_count(uri)) == (True, 1)
    assert sorted(str(p) for p in (tmp_path / "tasks").iterdir()) == files  # left to the caller
