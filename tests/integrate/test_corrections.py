from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from jobs.govern.ticket_snapshot import CORRECTIONS_SCHEMA
from jobs.integrate.conflicts import value_conflicts
from jobs.integrate.corrections import with_corrections
from jobs.integrate.observations import observations_from_pools
from jobs.integrate.survivorship import attribute_values
from tests.integrate.conftest import FULL, INCR, pid, survival

pytestmark = pytest.mark.spark

P1 = pid("1980-01-01", 11)


def _correction(spark, value: str, department: str = "rsj", at: str = "2025-09-27T02:00:00"):
    row = {
        "ticket_id": "t1",
        "key_kind": "citizen_id",
        "key": P1,
        "element": "person_name",
        "value": value,
        "department": department,
        "resource": f"{department}.insured",
        "corrected_at": dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC),
        "corrected_by": "rsj.li",
    }
    return spark.createDataFrame(pa.Table.from_pylist([row], schema=CORRECTIONS_SCHEMA))


def _disputed_name(pool) -> dict:
    """The hukou says 张三; later, both of an insured person's records say 张山."""
    return {
        "gaj.hukou": pool("gaj.hukou", [{"person_id": P1, "full_name": "张三"}], batch=FULL),
        "rsj.insured": pool(
            "rsj.insured",
            [
                {"person_id": P1, "insurance_type": "pension", "full_name": "张山"},
                {"person_id": P1, "insurance_type": "medical", "full_name": "张山"},
            ],
            batch=INCR,
        ),
    }


def test_a_correction_replaces_the_departments_value_in_every_record_and_clears_the_conflict(
    spark, pool, config
):
    pools = _disputed_name(pool)
    observed = observations_from_pools(pools, config)

    corrected = with_corrections(observed, _correction(spark, "张三"))
    values = attribute_values(corrected, config)

    added = corrected.where("source_file = 'verification'").collect()
    assert sorted((r["resource"], r["record_key"], r["value"], r["batch_id"]) for r in added) == [
        ("rsj.insured", f"{P1}|medical", "张三", "verification/t1"),
        ("rsj.insured", f"{P1}|pension", "张三", "verification/t1"),
    ]
    assert [
        (r["value"], r["n_values"], r["survived_by"])
        for r in values.where("element = 'person_name'").collect()
    ] == [("张三", 1, "agreement")]
    assert value_conflicts(values, config).count() == 0


def test_corrections_as_statement_rows_survive_in_the_core_sql_as_in_spark(spark, pool, config):
    from jobs.integrate.core_sql import core_on_statements, statement_queries
    from jobs.integrate.corrections import correction_statement_rows
    from jobs.integrate.observations import statement_rows_from_pools

    pools = _disputed_name(pool)
    # Two answers: one replaces rsj's records, one (jyj, no record of its own) stands alone.
    corrections = _correction(spark, "张三").unionByName(
        _correction(spark, "张叁", department="jyj", at="2025-10-01T02:00:00")
    )
    spark_values = attribute_values(
        with_corrections(observations_from_pools(pools, config), corrections), config
    )

    rows = statement_rows_from_pools(pools, config).unionByName(
        correction_statement_rows(corrections)
    )
    tables = core_on_statements(
        rows.toArrow(),
        statement_queries(config),
        spark.conf.get("spark.sql.session.timeZone"),
    )

    sql_values = tables["attribute_values"].to_pylist()
    assert survival(sql_values) == survival(r.asDict() for r in spark_values.collect())
    (name,) = [v for v in sql_values if v["element"] == "person_name"]
    # rsj's records now say the hukou's name; jyj's answer stands alone, under its own resource.
    assert (name["value"], name["survived_by"], name["n_values"]) == ("张三", "authority", 2)
    assert [(v["value"], v["resources"]) for v in name["losing_values"]] == [
        ("张叁", ["jyj.insured"])
    ]
