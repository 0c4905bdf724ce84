"""The bridge's pieces without Spark: schema checks, features, partitions, statistics, commit."""

from __future__ import annotations

import datetime as dt
import json
import threading
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from jobs.lake import bridge
from jobs.lake.bridge import (
    ConcurrentWriteError,
    ConstraintViolationError,
    SchemaMismatchError,
    UnsupportedTableError,
    WriteOptions,
    WritePlan,
    commit_write,
    compare_schema,
)
from tests.lake.conftest import data_files, stray_files

LONG = {"name": "amount", "type": "long", "nullable": True, "metadata": {}}
STRING = {"name": "dept", "type": "string", "nullable": True, "metadata": {}}
DATE = {"name": "born_on", "type": "date", "nullable": False, "metadata": {}}


def test_schema_mismatch_names_missing_extra_and_changed_columns():
    data = [{**LONG, "type": "string"}, STRING, {"name": "note", "type": "string"}]
    with pytest.raises(SchemaMismatchError) as error:
        compare_schema([LONG, STRING, DATE], data, merge_schema=False, where="table t")
    assert str(error.value) == (
        "[govlake.SchemaMismatchError] data does not match the schema of table t: "
        "missing columns ['born_on']; extra columns ['note'] (pass merge_schema=True to add "
        "them); type changed: amount (table long, data string)"
    )


def test_schema_check_ignores_nullability_and_returns_new_columns_when_merging():
    data = [
        {**LONG, "nullable": False},
        STRING,
        {**DATE, "nullable": True},
        {**STRING, "name": "x"},
    ]
    added = compare_schema([LONG, STRING, DATE], data, merge_schema=True, where="t")
    assert added == [{**STRING, "name": "x", "nullable": True}]


def test_schema_check_compares_nested_types():
    table = [
        {"name": "tags", "type": {"type": "array", "elementType": "string", "containsNull": True}}
    ]
    data = [
        {"name": "tags", "type": {"type": "array", "elementType": "long", "containsNull": False}}
    ]
    with pytest.raises(
        SchemaMismatchError, match=r"tags \(table array<string>, data array<long>\)"
    ):
        compare_schema(table, data, merge_schema=False, where="t")


def _protocol(reader=1, writer=2, reader_features=None, writer_features=None):
    return SimpleNamespace(
        min_reader_version=reader,
        min_writer_version=writer,
        reader_features=reader_features,
        writer_features=writer_features,
    )


@pytest.mark.parametrize(
    ("protocol", "configuration", "expected"),
    [
        (_protocol(3, 7, ["deletionVectors"], ["deletionVectors"]), {}, "deletion vectors"),
        (_protocol(2, 5), {"delta.columnMapping.mode": "name"}, "column mapping"),
        (_protocol(3, 7, ["columnMapping"], ["columnMapping"]), {}, "column mapping"),
        (_protocol(3, 7, ["typeWidening"], []), {}, "typeWidening"),
    ],
)
def test_refuses_tables_it_cannot_read(protocol, configuration, expected):
    with pytest.raises(UnsupportedTableError, match=f"cannot read table t: it uses {expected}"):
        bridge.check_supported(protocol, configuration, [], for_write=False, where="table t")


def test_reads_but_refuses_to_write_generated_columns():
    fields = [{**LONG, "metadata": {"delta.generationExpression": "1"}}]
    bridge.check_supported(_protocol(1, 4), {}, fields, for_write=False, where="table t")
    with pytest.raises(UnsupportedTableError, match="generatedColumns"):
        bridge.check_supported(_protocol(1, 4), {}, fields, for_write=True, where="table t")


def test_accepts_constraints_append_only_and_change_data_feed_for_writes():
    # Next to a feature it cannot honour, the refusal names that feature alone: the three the
    # write path enforces itself are accepted.
    honoured = ["appendOnly", "checkConstraints", "changeDataFeed"]
    protocol = _protocol(1, 7, None, [*honoured, "rowTracking"])
    with pytest.raises(
        UnsupportedTableError, match=r"write to table t: it uses rowTracking, which"
    ):
        bridge.check_supported(protocol, {}, [LONG], for_write=True, where="table t")


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        ("dept = 'gaj'", {"dept"}),
        ("dept IN ('amount', 'x') AND year >= 2021", {"dept", "year"}),
        ("`amount` > 5", {"amount"}),
        ("dept = 'it''s amount'", {"dept"}),
    ],
)
def test_finds_columns_a_predicate_uses(predicate, expected):
    assert bridge.referenced_columns(predicate, ["dept", "year", "amount"]) == expected


def test_partition_folders_escape_like_hive():
    assert bridge.partition_folder(["dept", "d"], ["a:b/c", None]) == (
        "dept=a%3Ab%2Fc/d=__HIVE_DEFAULT_PARTITION__"
    )
    assert bridge.partition_folder(["dept"], ["公安 局"]) == "dept=公安 局"


def test_partition_strings_follow_the_delta_log():
    assert [
        bridge.partition_string(v) for v in [None, "", "gaj", 7, True, dt.date(2024, 2, 29)]
    ] == [None, None, "gaj", "7", "true", "2024-02-29"]


def test_splits_rows_by_partition_value_including_null():
    table = pa.table({"dept": ["b", "a", None, "b", None], "n": [1, 2, 3, 4, 5]})
    parts = {
        key: part.column("n").to_pylist()
        for key, part in bridge._split_by_partition(table, ["dept"])
    }
    assert parts == {("a",): [2], ("b",): [1, 4], (None,): [3, 5]}


def test_file_statistics_bound_every_value():
    stats = bridge._ColumnStats(pa.timestamp("us", tz="UTC"))
    stats.update(
        pa.chunked_array(
            [[dt.datetime(2024, 1, 1, 0, 0, 0, 1500), None, dt.datetime(2024, 1, 2, 0, 0, 0, 999)]],
            pa.timestamp("us", tz="UTC"),
        )
    )
    assert (stats.nulls, stats.json_range()) == (
        1,
        ("2024-01-01T00:00:00.001Z", "2024-01-02T00:00:00.001Z"),
    )
    text = bridge._ColumnStats(pa.string())
    text.update(pa.chunked_array([["b" * 40, "a" * 40]]))
    # the minimum is cut to a prefix; the maximum is cut and raised, so it still bounds
    assert text.json_range() == ("a" * 32, "b" * 31 + "c")
    floats = bridge._ColumnStats(pa.float64())
    floats.update(pa.chunked_array([[1.0, float("nan")]]))
    assert floats.json_range() == (None, None)


def test_recognises_a_lake_error_inside_a_spark_error():
    wrapped = RuntimeError(
        "py4j error ... File x.py\n[govlake.ConstraintViolationError] CHECK age_ok (age >= 0): "
        "2 row(s)\n\tat org.apache.spark..."
    )
    with pytest.raises(ConstraintViolationError) as error:
        bridge.raise_lake_error_from(wrapped)
    assert error.value.detail == "CHECK age_ok (age >= 0): 2 row(s)"
    assert bridge.raise_lake_error_from(RuntimeError("other")) is None


# ------------------------------------------------------------------ commit without Spark

FIELDS = (
    {"name": "id", "type": "long", "nullable": True, "metadata": {}},
    {"name": "dept", "type": "string", "nullable": True, "metadata": {}},
)


def _plan(uri: str, **changes) -> WritePlan:
    values = {
        "uri": uri,
        "job_id": changes.pop("job_id", "job" + str(threading.get_ident())),
        "overwrite": False,
        "table_existed": False,
        "partition_by": ("dept",),
        "data_fields": FIELDS,
        "not_null": (),
        "checks": {},
    }
    values.update(changes)
    return WritePlan(**values)


def _task(plan: WritePlan, ids: list[int], depts: list[str | None], partition_id: int = 0):
    task = bridge._TaskWriter(plan, partition_id)
    task.add(pa.record_batch({"id": pa.array(ids, pa.int64()), "dept": pa.array(depts)}))
    return task.finish()


def _rows(uri: str) -> list[dict]:
    table = DeltaTable(uri).to_pyarrow_dataset().to_table()
    return sorted(table.to_pylist(), key=lambda r: r["id"])


def test_commit_creates_then_appends_then_overwrites(tmp_path):
    uri = str(tmp_path / "t")
    first = _plan(uri, job_id="a")
    assert commit_write(first, [_task(first, [1, 2], ["x", "y"]), None]) == 0
    second = _plan(uri, job_id="b", table_existed=True)
    assert commit_write(second, [_task(second, [3], ["x"])]) == 1
    assert _rows(uri) == [
        {"id": 1, "dept": "x"},
        {"id": 2, "dept": "y"},
        {"id": 3, "dept": "x"},
    ]
    third = _plan(uri, job_id="c", table_existed=True, overwrite=True, replace_where="dept = 'x'")
    assert commit_write(third, [_task(third, [9], ["x"])]) == 2
    assert _rows(uri) == [{"id": 2, "dept": "y"}, {"id": 9, "dept": "x"}]


def test_counted_violations_refuse_the_commit_and_delete_the_files(tmp_path):
    uri = str(tmp_path / "t")
    plan = _plan(uri, checks={"positive": "id > 0"}, not_null=("dept",))
    message = _task(plan, [1, -2], ["x", None])
    message.violations = {"positive": 1}
    assert len(data_files(uri)) == 2
    with pytest.raises(ConstraintViolationError) as error:
        commit_write(plan, [message])
    assert str(error.value) == (
        f"[govlake.ConstraintViolationError] nothing written to table {uri}: "
        "NOT NULL dept: 1 row(s); CHECK positive (id > 0): 1 row(s)"
    )
    assert (DeltaTable.is_deltatable(uri), data_files(uri)) == (False, set())


def test_stale_replace_fails_with_concurrent_write_error_and_leaves_no_files(tmp_path):
    uri = str(tmp_path / "t")
    first = _plan(uri, job_id="a")
    commit_write(first, [_task(first, [1, 2], ["x", "x"])])
    read_version = DeltaTable(uri).version()
    files = [u.split(uri + "/")[1] for u in DeltaTable(uri).file_uris()]
    winner = _plan(
        uri, job_id="w", table_existed=True, replace_files=tuple(files), read_version=read_version
    )
    loser = _plan(
        uri, job_id="l", table_existed=True, replace_files=tuple(files), read_version=read_version
    )
    winner_message, loser_message = _task(winner, [10], ["x"]), _task(loser, [20], ["x"])
    commit_write(winner, [winner_message])
    with pytest.raises(ConcurrentWriteError, match="a concurrent commit conflicts with this write"):
        commit_write(loser, [loser_message])
    assert _rows(uri) == [{"id": 10, "dept": "x"}]
    assert stray_files(uri) == set()


def test_commit_skips_a_write_id_already_applied_and_deletes_its_files(tmp_path):
    uri = str(tmp_path / "t")
    first = _plan(uri, job_id="a", write_id=("load", 3))
    commit_write(first, [_task(first, [1], ["x"])])
    retry = _plan(uri, job_id="b", table_existed=True, write_id=("load", 2))
    assert commit_write(retry, [_task(retry, [1], ["x"])]) is None
    assert (_rows(uri), DeltaTable(uri).version(), stray_files(uri)) == (
        [{"id": 1, "dept": "x"}],
        0,
        set(),
    )


def test_commit_stats_let_delta_rs_skip_files(tmp_path):
    uri = str(tmp_path / "t")
    plan = _plan(uri, partition_by=())
    commit_write(plan, [_task(plan, [1, 2], ["a", "b"], 0), _task(plan, [50, 60], ["c", "d"], 1)])
    kept = DeltaTable(uri).file_uris(file_pruning_predicate="id > 10")
    assert [json.loads(a)["numRecords"] for a in _stats_of(uri, kept)] == [2]


@pytest.mark.parametrize(
    ("long_value", "bound"),
    [
        ("t" * 64, "t" * 31 + "u"),
        ("令" * 40, "令" * 31 + chr(ord("令") + 1)),
        ("a" * 31 + "\U0010ffff" * 9, "a" * 30 + "b"),
        ("\ud7ff" * 33, "\ud7ff" * 31 + "\ue000"),
    ],
    ids=["ascii-token", "chinese", "last-code-point", "past-surrogates"],
)
def test_a_long_string_maximum_is_cut_and_raised_so_delta_rs_filters_still_find_it(
    tmp_path, long_value, bound
):
    """A 64-character token as the column's maximum: with the maximum left out, delta-rs read
    the file as ``token <= null`` and an equality filter on the token matched nothing."""
    uri = str(tmp_path / "t")
    plan = _plan(uri, partition_by=())
    task = bridge._TaskWriter(plan, 0)
    task.add(pa.record_batch({"id": pa.array([1, 2], pa.int64()), "dept": ["a", long_value]}))
    commit_write(plan, [task.finish()])
    actions = pa.table(DeltaTable(uri).get_add_actions(flatten=True))
    assert actions.column("max.dept").to_pylist() == [bound]
    assert bound > long_value
    found = DeltaTable(uri).to_pyarrow_dataset().to_table(filter=pc.field("dept") == long_value)
    assert found.column("id").to_pylist() == [2]


def _stats_of(uri: str, file_uris: list[str]) -> list[str]:
    actions = pa.table(DeltaTable(uri).get_add_actions(flatten=False)).to_pylist()
    wanted = {u.split(uri + "/")[1] for u in file_uris}
    return [json.dumps({"numRecords": a["num_records"]}) for a in actions if a["path"] in wanted]


def test_commit_refuses_constraints_that_appeared_while_the_tasks_ran(tmp_path):
    uri = str(tmp_path / "t")
    plan = _plan(uri, job_id="late")
    message = _task(plan, [1], ["x"])
    other = _plan(uri, job_id="first")
    commit_write(other, [_task(other, [5], ["y"])])
    DeltaTable(uri).alter.add_constraint({"positive": "id > 0"})
    with pytest.raises(ConcurrentWriteError, match=r"constraints \['positive'\] were added"):
        commit_write(plan, [message])
    assert (_rows(uri), stray_files(uri)) == ([{"id": 5, "dept": "y"}], set())


def test_write_options_cross_the_spark_boundary_as_one_option_and_come_back_equal():
    options = WriteOptions(
        partition_by=("dept",),
        not_null=("id",),
        configuration={"delta.appendOnly": "false"},
        replace_where="dept = 'gaj'",
        checks={"positive": "id > 0"},
        replace_files=("part-0.parquet",),
        read_version=3,
        write_id=("pool.gaj.hukou", 7),
        merge_schema=True,
        storage_options={"AWS_REGION": "cn-north-1"},
        max_rows_per_file=10,
    )
    spark_options = options.as_spark_options()
    assert list(spark_options) == [bridge.WRITE_OPTIONS]
    assert WriteOptions.from_spark_options({"path": "/t", **spark_options}) == options


def test_write_options_refuse_a_loose_option():
    with pytest.raises(bridge.LakeError, match=r"not \['write_id'\]"):
        WriteOptions.from_spark_options({"path": "/t", "write_id": "direct"})
