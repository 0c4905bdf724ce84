"""The integration core inside Spark's tasks (jobs.integrate.core): the same observations,
attribute values and base rows as Spark's survivorship, as files a build can move into its
tables."""

from __future__ import annotations

import datetime as dt
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.govern.ticket_snapshot import CORRECTIONS_SCHEMA
from jobs.integrate.core import OBSERVATIONS, VALUES, run_core, statement_rows_for
from jobs.integrate.observations import (
    OBSERVATION_COLUMNS,
    members_from_pools,
    observations_from_pools,
)
from jobs.integrate.survivorship import attribute_values, base_rows
from tests.integrate.conftest import INCR, pid, uscc

pytestmark = pytest.mark.spark

P1, P2, P3 = pid("1980-01-01", 11), pid("1990-05-05", 22), pid("1975-03-03", 33)
COMPANY = uscc("MA000001")
BASES = ["population", "legal_entity"]


@pytest.fixture
def pools(pool):
    """Three departments disagreeing about two persons, a company, a row without a valid key."""
    return {
        "gaj.hukou": pool(
            "gaj.hukou",
            [
                {"person_id": P1, "full_name": "张三", "phone": "13800000002"},
                # Text that JSON escapes, as Spark ships the statements to its tasks.
                {"person_id": P2, "full_name": '李"四\\', "phone": "1\t2\n3"},
                {"person_id": None, "full_name": "无名"},  # states nothing about anyone
            ],
        ),
        "rsj.insured": pool(
            "rsj.insured",
            [
                {"person_id": P1, "insurance_type": "pension", "phone": "13800000001"},
                {"person_id": P3, "insurance_type": "medical", "full_name": "王五"},
            ],
            batch=INCR,
        ),
        "jyj.student": pool("jyj.student", [{"person_id": P1, "full_name": "张山"}]),
        "scjgj.enterprise": pool(
            "scjgj.enterprise",
            [
                {
                    "uscc": COMPANY,
                    "entity_name": "某某有限公司",
                    "legal_representative_name": "李四",
                    "legal_representative_id": P2,
                }
            ],
        ),
    }


def _rows(df) -> list[str]:
    """Every row with every column (nested ones too), comparable across engines."""
    return sorted(
        json.dumps(r.asDict(recursive=True), sort_keys=True, default=str) for r in df.collect()
    )


def test_the_tasks_make_spark_survivorship_s_observations_values_and_base_rows(
    spark, pools, config, tmp_path
):
    core = run_core(
        statement_rows_for(pools, config, BASES), config, spark, str(tmp_path), bases=BASES, tasks=3
    )

    observed = observations_from_pools(pools, config)
    spark_values = attribute_values(observed, config)
    spark_tables = {
        OBSERVATIONS: observed.select(*OBSERVATION_COLUMNS),
        VALUES: spark_values,
        **{
            base: base_rows(
                members_from_pools(pools, config, base), spark_values, config.bases[base]
            )
            for base in BASES
        },
    }
    for name, spark_df in spark_tables.items():
        # Column for column as Spark's survivorship types them: a lake its build wrote takes
        # the files as they are (``spark_parquet.can_move``).
        assert core.frames[name].schema.simpleString() == spark_df.schema.simpleString(), name
        assert _rows(core.frames[name]) == _rows(spark_df), name
    assert {r["survived_by"] for r in core.frames[VALUES].collect()} >= {"recency", "agreement"}
    assert core.frames["population"].count() == 3
    # Every row is in exactly one task's file, and the tasks counted them.
    for name, files in core.files.items():
        assert sum(pq.read_metadata(f).num_rows for f in files) == core.rows[name], name
    assert core.rows[OBSERVATIONS] == observed.count()


def test_statement_rows_of_observations_and_corrections_join_the_pools(
    spark, pools, config, tmp_path
):
    from jobs.integrate.corrections import with_corrections

    correction = {
        "ticket_id": "t1",
        "key_kind": "citizen_id",
        "key": P1,
        "element": "person_name",
        "value": "张三丰",
        "department": "gaj",
        "resource": "gaj.hukou",
        "corrected_at": dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC),
        "corrected_by": "gaj.wang",
    }
    corrections = spark.createDataFrame(
        pa.Table.from_pylist([correction], schema=CORRECTIONS_SCHEMA)
    )
    observed = observations_from_pools(pools, config)

    core = run_core(
        statement_rows_for(pools, config, BASES, corrections=corrections),
        config,
        spark,
        str(tmp_path),
        bases=BASES,
        tasks=2,
    )

    corrected = with_corrections(observed, corrections)
    assert _rows(core.frames[OBSERVATIONS]) == _rows(corrected.select(*OBSERVATION_COLUMNS))
    (name,) = [
        r["person_name"] for r in core.frames["population"].collect() if r["person_id"] == P1
    ]
    assert name == "张三丰"


def test_no_statements_make_empty_tables_of_the_core_s_columns(spark, config, tmp_path):
    core = run_core(None, config, spark, str(tmp_path), bases=BASES, tasks=2)

    assert {name: df.count() for name, df in core.frames.items()} == {
        OBSERVATIONS: 0,
        VALUES: 0,
        "population": 0,
        "legal_entity": 0,
    }
    assert tuple(core.frames[OBSERVATIONS].columns) == OBSERVATION_COLUMNS
    assert "losing_values" in core.frames[VALUES].columns
    assert "person_id" in core.frames["population"].columns
    assert core.files == {name: [] for name in core.frames}


def test_a_task_run_again_replaces_its_own_files(spark, pools, config, tmp_path):
    rows = statement_rows_for(pools, config, BASES)
    first = run_core(rows, config, spark, str(tmp_path), bases=BASES, tasks=2)
    again = run_core(rows, config, spark, str(tmp_path), bases=BASES, tasks=2)

    assert again.files == first.files
    on_disk = sorted(
        os.path.join(folder, name) for folder, _, names in os.walk(tmp_path) for name in names
    )
    assert on_disk == sorted(f for files in again.files.values() for f in files)  # no .tmp left
    assert again.frames[VALUES].count() == first.rows[VALUES]


@pytest.mark.parametrize(
    ("tasks", "scratch", "message"),
    [(0, None, "tasks must be at least 1"), (2, "s3://lake/scratch", "must be a local folder")],
)
def test_bad_arguments_are_refused_before_any_task_runs(
    spark, config, tmp_path, tasks, scratch, message
):
    with pytest.raises(ValueError, match=message):
        run_core(None, config, spark, scratch or str(tmp_path), bases=BASES, tasks=tasks)


def test_an_owner_states_only_what_its_own_kind_of_base_keeps(spark, pool, config, tmp_path):
    """A real-estate owner is a person or an entity, per row (a ``party`` subject): a person
    owner's row must not state an element only the legal-entity base keeps, under the person's
    key, nor an entity owner's one only the population base keeps."""
    import dataclasses

    from jobs.integrate.config import Subject

    fields = {f.name: f for f in config.catalog.resource("zrzyj.real_estate").fields}
    owner = Subject(
        "zrzyj.real_estate",
        "owner_id",
        "party",
        (
            dataclasses.replace(fields["owner_name"], element="person_name"),  # persons only
            dataclasses.replace(fields["owner_type"], element="entity_type"),  # entities only
        ),
    )
    subjects = {**config.subjects}
    subjects["zrzyj.real_estate"] = (*subjects["zrzyj.real_estate"], owner)
    with_owner = dataclasses.replace(config, subjects=subjects)
    units = pool(
        "zrzyj.real_estate",
        [
            {
                "owner_id": P1,
                "owner_id_kind": "citizen_id",
                "owner_name": "张三",
                "owner_type": "个人",
            },
            {
                "owner_id": COMPANY,
                "owner_id_kind": "uscc",
                "owner_name": "某某",
                "owner_type": "企业",
            },
        ],
    )

    core = run_core(
        statement_rows_for({"zrzyj.real_estate": units}, with_owner, BASES),
        with_owner,
        spark,
        str(tmp_path),
        bases=BASES,
        tasks=2,
    )

    observed = {
        (r["key_kind"], r["element"], r["value"]) for r in core.frames[OBSERVATIONS].collect()
    }
    assert observed == {("citizen_id", "person_name", "张三"), ("uscc", "entity_type", "企业")}


def test_members_without_a_single_statement_still_make_their_base_rows(
    spark, pools, config, tmp_path
):
    """No pool states an attribute (a configuration whose bases keep none yet): the member
    rows alone make the statement rows, and every member is a base row with no attribute."""
    import dataclasses

    bare = dataclasses.replace(
        config,
        bases={n: dataclasses.replace(s, attributes=()) for n, s in config.bases.items()},
    )

    core = run_core(
        statement_rows_for(pools, bare, BASES), bare, spark, str(tmp_path), bases=BASES, tasks=2
    )

    assert {r["person_id"] for r in core.frames["population"].collect()} == {P1, P2, P3}
    assert [r["uscc"] for r in core.frames["legal_entity"].collect()] == [COMPANY]
    assert core.rows[OBSERVATIONS] == core.rows[VALUES] == 0
