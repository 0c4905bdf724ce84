from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from jobs.govern.ticket_snapshot import CORRECTIONS_SCHEMA
from jobs.integrate.conflicts import value_conflicts
from jobs.integrate.corrections import with_corrections
from jobs.integrate.observations import observations_from_pools
from jobs.integrate.survivorship import attribute_values
from tests.integrate.conftest import FULL, INCR, pid

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


def test_a_correction_replaces_the_departments_value_in_every_record_and_clears_the_conflict(
    spark, pool, config
):
    pools = {
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
