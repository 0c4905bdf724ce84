"""Pool-shaped batches for the quality tests: small inline rows, valid keys from stdnum."""

from __future__ import annotations

import datetime as dt

import pytest
from stdnum.cn import ric

from jobs.catalog.loader import load_catalog
from jobs.ingest.pool import pool_schema
from jobs.settings import Settings

INGESTED_AT = dt.datetime(2025, 9, 26, 2, 0, tzinfo=dt.UTC)  # Friday 10:00 in Shanghai


def citizen_id(first_17: str) -> str:
    return first_17 + ric.calc_check_digit(first_17 + "?")


ALICE = citizen_id("11010519491231002")
BOB = citizen_id("33021119850615123")
CAROL = citizen_id("44030619900101234")


def lineage(resource_id: str, batch_id: str, row_number: int, ingested_at=INGESTED_AT) -> dict:
    department, resource = resource_id.split(".")
    return {
        "department": department,
        "resource": resource,
        "batch_id": batch_id,
        "source_file": f"{batch_id}.csv",
        "file_hash": f"h-{batch_id}",
        "row_number": row_number,
        "record_hash": f"r-{batch_id}-{row_number}",
        "ingested_at": ingested_at,
        "warnings": [],
        "content_hash": f"c-{batch_id}-{row_number}",
        "promoted_at": ingested_at,
    }


def hukou_row(batch_id: str, row_number: int, person_id: str | None = ALICE, **values) -> dict:
    born = (
        dt.date(int(person_id[6:10]), int(person_id[10:12]), int(person_id[12:14]))
        if person_id
        else None
    )
    row = {
        **lineage("gaj.hukou", batch_id, row_number),
        "person_id": person_id,
        "person_id_birth_date": born,
        "person_id_gender": ("1" if int(person_id[16]) % 2 else "2") if person_id else None,
        "person_id_region": person_id[:6] if person_id else None,
        "full_name": "张三",
        "gender": ("1" if int(person_id[16]) % 2 else "2") if person_id else "1",
        "birth_date": born,
        "household_id": "H0001",
        "domicile_address": "北京市西城区金融街1号",
        "status": "normal",
    }
    row.update(values)
    return row


def make_pool_df(spark, resource_id: str, rows: list[dict]):
    schema = pool_schema(load_catalog(Settings().schemas_root).resource(resource_id))
    names = schema.fieldNames()
    unknown = {k for r in rows for k in r} - set(names)
    assert not unknown, f"not pool columns of {resource_id}: {unknown}"
    return spark.createDataFrame([[r.get(c) for c in names] for r in rows], schema)


def pool_arrow(resource_id: str, rows: list[dict]):
    """The rows as the Arrow table delta-rs reads from a pool (the pool's schema)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    spark_schema = pool_schema(load_catalog(Settings().schemas_root).resource(resource_id))
    schema = to_arrow_schema(spark_schema, timezone="UTC")
    unknown = {k for r in rows for k in r} - set(schema.names)
    assert not unknown, f"not pool columns of {resource_id}: {unknown}"
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema)


@pytest.fixture
def pool_df(spark):
    def build(resource_id: str, rows: list[dict]):
        return make_pool_df(spark, resource_id, rows)

    return build
