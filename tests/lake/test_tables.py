from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from deltalake._internal import TableFeatures
from pyspark.sql import functions as F

from jobs.lake import tables
from jobs.lake.bridge import LakeError, WriteOptions
from jobs.lake.tables import (
    ConcurrentWriteError,
    ConstraintViolationError,
    RetentionError,
    SchemaMismatchError,
    UnsupportedTableError,
)
from tests.lake.conftest import PEOPLE_SCHEMA, commit_count, people_rows, stray_files

pytestmark = pytest.mark.spark


def _as_arrow_row(row: tuple) -> dict:
    """A people row as delta-rs returns it: timestamps in UTC, time zone attached."""
    values = dict(zip(["person_id", "dept", "name", "born_on", "age", "seen_at"], row, strict=True))
    if values["seen_at"] is not None:
        # createDataFrame reads a naive datetime as the Python process's local time.
        values["seen_at"] = values["seen_at"].astimezone(dt.UTC)
    return values


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: r["person_id"])


def _local_fs(uri: str) -> pafs.FileSystem:
    # delta-rs's default Python filesystem handler can abort the interpreter at exit (a known
    # pyarrow/delta-rs teardown issue); a native pyarrow filesystem reads the same files.
    return pafs.SubTreeFileSystem(uri, pafs.LocalFileSystem())


def _ids(df) -> list:
    return sorted(r[0] for r in df.collect())


# ----------------------------------------------------------------------- round trip


def test_written_table_reads_back_through_deltalake_and_pyarrow_dataset(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    result = tables.write_table(people_df, uri, partition_by=["dept"])
    expected = _sorted([_as_arrow_row(r) for r in people_rows()])

    through_deltalake = DeltaTable(uri).to_pyarrow_table(filesystem=_local_fs(uri))
    files = DeltaTable(uri).file_uris()
    through_dataset = ds.dataset(files, format="parquet", partitioning="hive").to_table()
    assert (result.version, result.rows, result.skipped) == (0, 4, False)
    assert _sorted(through_deltalake.select(list(expected[0])).to_pylist()) == expected
    # Partition values live in the folder names (Hive style), as Delta writers do.
    from_dataset = [
        {**r, "dept": r["dept"].replace("%3A", ":")}
        for r in through_dataset.select(list(expected[0])).to_pylist()
    ]
    assert _sorted(from_dataset) == expected
    assert_df_equality(
        tables.read_table(spark, uri), people_df, ignore_row_order=True, ignore_nullable=True
    )


def test_empty_table_reads_as_empty_dataframe_with_the_table_schema(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df.limit(0), uri)
    read = tables.read_table(spark, uri)
    assert (read.schema.simpleString(), read.collect()) == (people_df.schema.simpleString(), [])


def test_read_prunes_columns_and_skips_files_by_statistics(spark, tmp_path):
    uri = str(tmp_path / "numbers")
    df = spark.range(0, 100, numPartitions=4).select(F.col("id"), (F.col("id") * 2).alias("twice"))
    tables.write_table(df, uri)
    assert len(DeltaTable(uri).file_uris(file_pruning_predicate="id >= 90")) == 1
    read = tables.read_table(spark, uri, columns=["twice"], predicate="id >= 95")
    assert sorted(r.twice for r in read.collect()) == [190, 192, 194, 196, 198]


def test_format_reader_reads_the_same_rows(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, partition_by=["dept"])
    read = spark.read.format("govlake_delta").load(uri)
    assert_df_equality(read, people_df, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------ commits and modes


def test_history_shows_exactly_one_commit_per_write(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, partition_by=["dept"])
    tables.write_table(people_df.where("dept = 'gaj'"), uri)
    tables.write_table(people_df, uri, mode="overwrite")
    tables.write_table(
        people_df.where("dept = 'wjw'"), uri, mode="overwrite", replace_where="dept = 'wjw'"
    )
    commits = tables.history(uri)
    assert [(c["version"], c["operation"], c["operationParameters"]["mode"]) for c in commits] == [
        (3, "WRITE", "Append"),  # a replace-where commits adds and removes together
        (2, "WRITE", "Overwrite"),
        (1, "WRITE", "Append"),
        (0, "CREATE TABLE", "ErrorIfExists"),
    ]
    assert [c["govlake.numOutputRows"] for c in commits] == [1, 4, 2, 4]
    assert commits[0]["govlake.replaceWhere"] == "dept = 'wjw'"


def test_overwrite_replaces_every_row(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri)
    tables.write_table(people_df.where("dept = 'wjw'"), uri, mode="overwrite")
    assert_df_equality(
        tables.read_table(spark, uri), people_df.where("dept = 'wjw'"), ignore_nullable=True
    )


def test_partitioned_write_puts_each_value_in_its_folder(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    rows = [*people_rows(), ("330211198506151237", None, "赵六", None, 1, None)]
    tables.write_table(spark.createDataFrame(rows, PEOPLE_SCHEMA), uri, partition_by=["dept"])
    folders = sorted({Path(f).parent.name for f in DeltaTable(uri).file_uris()})
    assert folders == ["dept=__HIVE_DEFAULT_PARTITION__", "dept=gaj", "dept=mz%3Aj", "dept=wjw"]
    assert sorted(DeltaTable(uri).partitions(), key=str) == sorted(
        [{"dept": "gaj"}, {"dept": "mz:j"}, {"dept": "wjw"}, {"dept": None}], key=str
    )
    assert_df_equality(
        tables.read_table(spark, uri),
        spark.createDataFrame(rows, PEOPLE_SCHEMA),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    wjw = tables.read_table(spark, uri, predicate="dept = 'wjw'")
    assert [r.person_id for r in wjw.collect()] == ["330211198506151235"]


def test_partitions_by_date_and_reads_back_through_both_read_paths(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, partition_by=["born_on"])
    for read in (tables.read_table(spark, uri), spark.read.format("govlake_delta").load(uri)):
        assert_df_equality(read, people_df, ignore_row_order=True, ignore_nullable=True)


def test_refuses_partition_columns_other_than_the_table_s(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, partition_by=["dept"])
    with pytest.raises(SchemaMismatchError, match=r"partitioned by \['dept'\], not \['born_on'\]"):
        tables.write_table(people_df, uri, partition_by=["born_on"])


def test_overwrite_of_a_partition_keeps_the_other_partitions(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, partition_by=["dept"])
    new_gaj = spark.createDataFrame(
        [("110105194912310099", "gaj", "新", None, 1, None)], PEOPLE_SCHEMA
    )
    tables.write_table(new_gaj, uri, mode="overwrite", replace_where="dept = 'gaj'")
    expected = new_gaj.unionByName(people_df.where("dept <> 'gaj'"))
    assert_df_equality(
        tables.read_table(spark, uri), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_overwrite_by_data_predicate_rewrites_files_and_keeps_other_rows(spark, tmp_path):
    uri = str(tmp_path / "scores")
    schema = "id long, year int, score int"
    old = spark.createDataFrame(
        [(1, 2020, 10), (2, 2021, 20), (3, 2021, 30), (4, 2022, 40)], schema
    )
    tables.write_table(old.coalesce(1), uri)
    new_2021 = spark.createDataFrame([(5, 2021, 55)], schema)
    tables.write_table(new_2021, uri, mode="overwrite", replace_where="year = 2021")
    expected = spark.createDataFrame([(1, 2020, 10), (4, 2022, 40), (5, 2021, 55)], schema)
    assert_df_equality(
        tables.read_table(spark, uri), expected, ignore_row_order=True, ignore_nullable=True
    )
    assert tables.history(uri, limit=1)[0]["version"] == 1


def test_replace_where_refuses_new_rows_outside_the_predicate(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, partition_by=["dept"])
    with pytest.raises(
        ConstraintViolationError, match=r"replace_where \(dept = 'gaj'\): 2 new row"
    ):
        tables.write_table(people_df, uri, mode="overwrite", replace_where="dept = 'gaj'")
    assert (commit_count(uri), stray_files(uri)) == (1, set())


# ------------------------------------------------------------- failure and idempotency


def test_failing_task_leaves_no_commit_and_no_files(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, partition_by=["dept"])

    @F.udf("int")
    def fails_on_wjw(age, dept):
        if dept == "wjw":
            raise ValueError("department feed is broken")
        return age

    broken = people_df.repartition(2, "dept").withColumn("age", fails_on_wjw("age", "dept"))
    with pytest.raises(Exception, match="department feed is broken"):
        tables.write_table(broken, uri)
    assert (commit_count(uri), stray_files(uri)) == (1, set())
    with pytest.raises(Exception, match="department feed is broken"):
        tables.write_table(broken, str(tmp_path / "new_table"))
    assert not (tmp_path / "new_table").exists() or not any(
        (tmp_path / "new_table").rglob("*.parquet")
    )


def test_retry_with_the_same_write_id_adds_nothing(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    first = tables.write_table(people_df, uri, write_id="gaj.hukou/batch-1")
    retry = tables.write_table(people_df, uri, write_id="gaj.hukou/batch-1")
    other = tables.write_table(people_df.limit(1), uri, write_id="gaj.hukou/batch-2")
    assert (first.version, retry.skipped, retry.version, other.version) == (0, True, None, 1)
    assert tables.read_table(spark, uri).count() == 5
    assert stray_files(uri) == set()


def test_versioned_write_id_skips_every_version_up_to_the_last_applied(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, write_id=("pool.gaj.hukou", 5))
    assert tables.write_table(people_df, uri, write_id=("pool.gaj.hukou", 4)).skipped
    assert not tables.write_table(people_df, uri, write_id=("pool.gaj.hukou", 6)).skipped
    assert DeltaTable(uri).transaction_version("pool.gaj.hukou") == 6


def test_format_writer_skips_an_applied_write_id_without_the_tables_module(
    spark, people_df, tmp_path
):
    uri = str(tmp_path / "people")
    options = WriteOptions(write_id=("direct", 0)).as_spark_options()
    for _ in range(2):
        people_df.write.format("govlake_delta").mode("append").options(**options).save(uri)
    assert (DeltaTable(uri).version(), stray_files(uri)) == (0, set())


def test_format_writer_refuses_options_it_would_ignore(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    with pytest.raises(Exception, match=r"takes its write options as one WriteOptions"):
        people_df.write.format("govlake_delta").mode("append").option("partition_by", "dept").save(
            uri
        )
    assert not (tmp_path / "people").exists()


# ------------------------------------------------------------------------- concurrency


def _in_threads(*calls):
    """Runs the calls at the same moment; returns each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            outcomes[i] = call()
        except Exception as exc:  # the test inspects it
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return outcomes


def test_concurrent_appends_both_land(spark, tmp_path):
    uri = str(tmp_path / "ids")
    tables.write_table(spark.range(0, 2), uri)
    outcomes = _in_threads(
        lambda: tables.write_table(spark.range(10, 13), uri),
        lambda: tables.write_table(spark.range(20, 24), uri),
    )
    assert sorted(o.version for o in outcomes) == [1, 2]
    assert _ids(tables.read_table(spark, uri)) == [0, 1, 10, 11, 12, 20, 21, 22, 23]
    assert stray_files(uri) == set()


def test_concurrent_overwrites_leave_one_writer_s_rows_and_a_sound_table(spark, tmp_path):
    uri = str(tmp_path / "ids")
    tables.write_table(spark.range(0, 2), uri)
    outcomes = _in_threads(
        lambda: tables.write_table(spark.range(10, 13), uri, mode="overwrite"),
        lambda: tables.write_table(spark.range(20, 24), uri, mode="overwrite"),
    )
    landed = [o for o in outcomes if not isinstance(o, Exception)]
    failed = [o for o in outcomes if isinstance(o, Exception)]
    assert all(isinstance(e, ConcurrentWriteError) for e in failed), failed
    assert len(landed) >= 1
    last = max(landed, key=lambda o: o.version)
    expected = [[10, 11, 12], [20, 21, 22, 23]][outcomes.index(last)]
    assert _ids(tables.read_table(spark, uri)) == expected
    assert DeltaTable(uri).version() == len(landed)
    assert stray_files(uri) == set()


# ----------------------------------------------------------------- schema and constraints


def test_schema_mismatch_names_the_columns(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri)
    changed = (
        people_df.drop("born_on")
        .withColumn("age", F.col("age").cast("string"))
        .withColumn("note", F.lit("x"))
    )
    with pytest.raises(SchemaMismatchError) as error:
        tables.write_table(changed, uri)
    assert error.value.detail == (
        f"data does not match the schema of table {uri}: missing columns ['born_on']; "
        "extra columns ['note'] (pass merge_schema=True to add them); "
        "type changed: age (table integer, data string)"
    )


def test_format_writer_checks_the_schema_before_any_task_runs(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri)
    with pytest.raises(Exception, match=r"missing columns \['born_on'\]"):
        people_df.drop("born_on").write.format("govlake_delta").mode("append").save(uri)
    assert (commit_count(uri), stray_files(uri)) == (1, set())


def test_merge_schema_adds_new_columns_as_nullable(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri)
    with_phone = people_df.limit(1).withColumn("phone", F.lit("138"))
    tables.write_table(with_phone, uri, merge_schema=True)
    read = tables.read_table(spark, uri)
    expected = people_df.withColumn("phone", F.lit(None).cast("string")).unionByName(with_phone)
    assert_df_equality(read, expected, ignore_row_order=True, ignore_nullable=True)


def test_not_null_is_enforced_and_counts_the_rows(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df.where("name IS NOT NULL"), uri, not_null=["person_id", "name"])
    with pytest.raises(ConstraintViolationError) as error:
        tables.write_table(people_df, uri)
    assert error.value.detail == f"nothing written to table {uri}: NOT NULL name: 1 row(s)"
    assert (commit_count(uri), stray_files(uri)) == (1, set())


def test_check_constraint_is_enforced_and_names_the_constraint(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    constraints = {"adult_age": "age >= 18", "id_length": "character_length(person_id) = 18"}
    tables.write_table(people_df.where("age IS NOT NULL"), uri, constraints=constraints)
    assert tables.properties(uri) == {
        "delta.constraints.adult_age": "age >= 18",
        "delta.constraints.id_length": "character_length(person_id) = 18",
    }
    bad = spark.createDataFrame(
        [("1", "gaj", "x", None, 10, None), ("330211198506151299", "gaj", "y", None, 30, None)],
        PEOPLE_SCHEMA,
    ).unionByName(people_df.where("age IS NULL"))
    versions = commit_count(uri)
    with pytest.raises(ConstraintViolationError) as error:
        tables.write_table(bad, uri)
    assert error.value.detail == (
        f"nothing written to table {uri}: CHECK adult_age (age >= 18): 2 row(s); "
        "CHECK id_length (character_length(person_id) = 18): 1 row(s)"
    )
    assert (commit_count(uri), stray_files(uri)) == (versions, set())


def test_format_writer_refuses_a_table_with_constraints_it_would_not_evaluate(
    spark, people_df, tmp_path
):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri, constraints={"known_dept": "dept IS NOT NULL"})
    with pytest.raises(Exception, match=r"CHECK constraint\(s\) \['known_dept'\]"):
        people_df.write.format("govlake_delta").mode("append").save(uri)


# ----------------------------------------------------------------- unsupported features


def test_refuses_to_read_or_write_a_table_with_deletion_vectors(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri)
    DeltaTable(uri).alter.add_feature(
        TableFeatures.DeletionVectors, allow_protocol_versions_increase=True
    )
    with pytest.raises(UnsupportedTableError, match=r"cannot read .* deletion vectors"):
        tables.read_table(spark, uri)
    with pytest.raises(UnsupportedTableError, match=r"cannot write to .* deletion vectors"):
        tables.write_table(people_df, uri)
    with pytest.raises(Exception, match="deletion vectors"):
        spark.read.format("govlake_delta").load(uri).collect()


def test_refuses_a_table_with_column_mapping(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri)
    # What a Delta writer with column mapping (mode "name") commits: reader v2, writer v5, and
    # physical column names in the field metadata.
    log = Path(uri) / "_delta_log"
    metadata = next(
        json.loads(line)["metaData"]
        for line in (log / f"{0:020d}.json").read_text().splitlines()
        if '"metaData"' in line
    )
    schema = json.loads(metadata["schemaString"])
    for i, f in enumerate(schema["fields"], start=1):
        f["metadata"] = {
            "delta.columnMapping.id": i,
            "delta.columnMapping.physicalName": f"col-{i}",
        }
    metadata["schemaString"] = json.dumps(schema)
    metadata["configuration"] = {
        "delta.columnMapping.mode": "name",
        "delta.columnMapping.maxColumnId": "6",
    }
    commit = [
        {"commitInfo": {"timestamp": int(time.time() * 1000), "operation": "SET TBLPROPERTIES"}},
        {"protocol": {"minReaderVersion": 2, "minWriterVersion": 5}},
        {"metaData": metadata},
    ]
    (log / f"{1:020d}.json").write_text("\n".join(json.dumps(a) for a in commit) + "\n")
    with pytest.raises(UnsupportedTableError, match=r"cannot read .* column mapping"):
        tables.read_table(spark, uri)
    with pytest.raises(UnsupportedTableError, match=r"cannot write to .* column mapping"):
        tables.write_table(people_df, uri)


# ------------------------------------------------------------------ retention and vacuum


def test_sets_log_and_deleted_file_retention_from_the_profile(spark, people_df, tmp_path):
    uri = str(tmp_path / "audit")
    tables.write_table(people_df, uri, retention_days=3 * 365)
    assert tables.properties(uri) == {
        "delta.logRetentionDuration": "interval 1095 days",
        "delta.deletedFileRetentionDuration": "interval 1095 days",
    }
    assert tables.retention_of(uri) == dt.timedelta(days=1095)
    tables.write_table(people_df, uri, retention_days=dt.timedelta(days=183))
    assert tables.properties(uri)["delta.logRetentionDuration"] == "interval 183 days"
    assert [c["operation"] for c in tables.history(uri)] == [
        "WRITE",
        "SET TBLPROPERTIES",
        "CREATE TABLE",
    ]


def test_vacuum_refuses_to_go_below_the_table_retention(spark, people_df, tmp_path):
    uri = str(tmp_path / "audit")
    tables.write_table(people_df, uri, retention_days=183)
    tables.write_table(people_df, uri, mode="overwrite")
    with pytest.raises(RetentionError, match=r"below its retention of 4392 hours \(183 days\)"):
        tables.vacuum(uri, retention_hours=24, dry_run=False)
    assert tables.vacuum(uri, dry_run=False) == []  # removed files are younger than 183 days
    assert len(list(Path(uri).rglob("*.parquet"))) == 4


def test_vacuum_guards_the_delta_default_when_no_retention_is_set(spark, people_df, tmp_path):
    uri = str(tmp_path / "scratch")
    tables.write_table(people_df, uri)
    with pytest.raises(RetentionError, match="168 hours"):
        tables.vacuum(uri, retention_hours=0)


# -------------------------------------------------------------------------- time travel


def test_time_travel_by_version(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df.where("dept = 'gaj'"), uri)
    tables.write_table(people_df.where("dept <> 'gaj'"), uri, mode="overwrite")
    assert_df_equality(
        tables.read_table(spark, uri, version=0),
        people_df.where("dept = 'gaj'"),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert_df_equality(
        tables.read_table(spark, uri, version=1),
        people_df.where("dept <> 'gaj'"),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_time_travel_by_timestamp(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df.where("dept = 'gaj'"), uri)
    time.sleep(0.05)
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    tables.write_table(people_df.where("dept <> 'gaj'"), uri)
    assert_df_equality(
        tables.read_table(spark, uri, timestamp=between),
        people_df.where("dept = 'gaj'"),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert_df_equality(
        tables.read_table(spark, uri), people_df, ignore_row_order=True, ignore_nullable=True
    )


# -------------------------------------------------------------- delta-rs table operations


def test_merge_upserts_by_key(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri)
    changes = spark.createDataFrame(
        [
            ("330211198506151235", "wjw", "改名", None, 40, None),
            ("440000200001010000", "gaj", "新人", None, 24, None),
        ],
        PEOPLE_SCHEMA,
    )
    metrics = tables.merge(uri, changes, keys=["person_id"], write_id="changes-1")
    again = tables.merge(uri, changes, keys=["person_id"], write_id="changes-1")
    expected = people_df.where("person_id <> '330211198506151235'").unionByName(changes)
    assert (metrics["num_target_rows_updated"], metrics["num_target_rows_inserted"], again) == (
        1,
        1,
        {"skipped": True},
    )
    assert_df_equality(
        tables.read_table(spark, uri), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_merge_refuses_a_source_with_duplicate_keys(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri)
    with pytest.raises(
        ConstraintViolationError, match=r"1 key\(s\) \['dept'\] on more than one row"
    ):
        tables.merge(uri, people_df.where("dept = 'gaj'"), keys=["dept"])


def test_optimize_compacts_without_changing_rows(spark, tmp_path):
    uri = str(tmp_path / "ids")
    for start in range(0, 30, 10):
        tables.write_table(spark.range(start, start + 10, numPartitions=2), uri)
    metrics = tables.optimize(uri)
    assert (
        metrics["numFilesRemoved"],
        metrics["numFilesAdded"],
        len(DeltaTable(uri).file_uris()),
    ) == (6, 1, 1)
    assert _ids(tables.read_table(spark, uri)) == list(range(30))


def test_change_data_feed_lists_inserts_and_deletes_between_versions(spark, tmp_path):
    uri = str(tmp_path / "scores")
    schema = "id long, score int"
    tables.write_table(
        spark.createDataFrame([(1, 10), (2, 20)], schema).coalesce(1),
        uri,
        properties={"delta.enableChangeDataFeed": "true"},
    )
    tables.write_table(spark.createDataFrame([(3, 30)], schema), uri)
    tables.write_table(spark.createDataFrame([(4, 40)], schema), uri, mode="overwrite")
    changes = tables.change_data_feed(spark, uri, starting_version=1)
    assert sorted((r.id, r._change_type, r._commit_version) for r in changes.collect()) == [
        (1, "delete", 2),
        (2, "delete", 2),
        (3, "delete", 2),
        (3, "insert", 1),
        (4, "insert", 2),
    ]


def test_write_table_refuses_other_modes(spark, people_df, tmp_path):
    with pytest.raises(LakeError, match="mode must be"):
        tables.write_table(people_df, str(tmp_path / "t"), mode="ignore")
    with pytest.raises(LakeError, match="replace_where needs mode='overwrite'"):
        tables.write_table(people_df, str(tmp_path / "t"), replace_where="dept = 'gaj'")


def test_row_count_of_the_current_version_comes_from_the_log(spark, people_df, tmp_path):
    uri = str(tmp_path / "people")
    tables.write_table(people_df, uri)
    tables.write_table(people_df.limit(1), uri, "append")
    assert tables.row_count(uri) == 5
    tables.write_table(people_df.limit(2), uri, "overwrite")
    assert tables.row_count(uri) == 2
