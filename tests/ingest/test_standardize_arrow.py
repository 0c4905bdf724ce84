from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from jobs.catalog.loader import load_catalog
from jobs.ingest import pool
from jobs.ingest.bronze import BRONZE_SCHEMA
from jobs.ingest.standardize_arrow import (
    standardized_batch,
    standardized_batches,
    standardized_df,
    standardized_schema,
    standardized_table,
)
from jobs.settings import Settings
from tests.standardize.samples import (
    DATES,
    IDS,
    KEY_BLANKS,
    NUMBERS,
    PARCELS,
    PHONES,
    TEXTS,
    TIMESTAMPS,
    UNITS,
    USCCS,
    full_width,
)

pytestmark = pytest.mark.spark

CATALOG = load_catalog(Settings().schemas_root)
# 16:30 UTC is the next day in Beijing: the reference date of the future-birth check.
INGESTED = [
    dt.datetime(2024, 6, 30, 16, 30, tzinfo=dt.UTC),
    dt.datetime(2024, 6, 30, 8, 0, tzinfo=dt.UTC),
]


REGION_CODES = ["110101", "999999", "1101", full_width("110101"), "110103", *KEY_BLANKS]
GEOMETRIES = ['{"type":"Point","coordinates":[116.4,39.9]}', '  {"a":\t1}  ', "\t", *KEY_BLANKS]
# Each kind's first value is a good one (the good rows take it).
SAMPLES = {
    "citizen_id": IDS,
    "uscc": USCCS,
    "parcel_code": PARCELS,
    "unit_number": UNITS,
    "date": DATES,
    "timestamp": TIMESTAMPS,
    "decimal": NUMBERS,
    "name": ["张三", *TEXTS],
    "phone": PHONES,
    "region_code": REGION_CODES,
    "geometry": GEOMETRIES,
    "text": ["  hello   world ", 'quote" and back\\slash', *TEXTS],
    "address": ["北京市东城区 1 号", *TEXTS],
}


def _samples(resource, f) -> list[str | None]:
    kind = pool._key_kind(f) or f.data_element.kind
    if kind == "party_id":
        return SAMPLES["citizen_id"] + SAMPLES["uscc"]
    if kind == "code":
        mapping = CATALOG.value_map(resource.id, f.name)
        known = sorted(mapping)[:6]
        return [*known, *(f" {full_width(k)} " for k in known[:2]), "外星人", *KEY_BLANKS]
    return SAMPLES[kind]


def _bronze(resource) -> pa.Table:
    rows = []
    width = max(len(_samples(resource, f)) for f in resource.fields)
    for i in range(2 * width + 4):
        raw = {}
        for j, f in enumerate(resource.fields):
            samples = _samples(resource, f)
            # Every fourth row is a good one; in the others every fifth column is missing and
            # the values go round the samples, good and bad.
            if i % 4 == 0:
                raw[f.source_columns[i % len(f.source_columns)]] = samples[0]
                continue
            if (i + j) % 5 == 4:
                continue
            column = f.source_columns[-1] if i % 3 == 0 else f.source_columns[0]
            raw[column] = samples[(i * (j + 1) + j) % len(samples)]
        rows.append(
            {
                "department": resource.department,
                "resource": resource.id,
                "batch_id": f"b{i % 2}",
                "source_file": "f.csv",
                "file_hash": "h",
                "row_number": i,
                "raw": list(raw.items()),
                "read_problem": "bad_quoting" if i in (7, 8) else None,
                "ingested_at": INGESTED[i % 2],
                "record_hash": f"r{i}",
            }
        )
    return pa.Table.from_pylist(rows, schema=BRONZE_SCHEMA)


def _spark_standardized(spark, resource, bronze: pa.Table) -> pa.Table:
    bronze_df = spark.createDataFrame(bronze)
    standardized = pool.with_content_hash(
        pool.with_standardized_fields(bronze_df, resource, CATALOG), resource
    ).withColumn("raw", F.when(F.size("problems") > 0, F.col("raw")))
    return standardized.toArrow()


def _rows(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: tuple(r[k] for k in pool.ROW_KEY))


def _assert_same_rows(actual: pa.Table, expected: pa.Table) -> None:
    assert actual.column_names == expected.column_names
    differences = [
        (e["row_number"], name, e[name], a[name])
        for e, a in zip(_rows(expected), _rows(actual), strict=True)
        for name in expected.column_names
        if e[name] != a[name]
    ]
    assert differences == []


@pytest.mark.parametrize("resource_id", sorted(CATALOG.resources))
def test_arrow_standardisation_gives_the_spark_table(spark, resource_id):
    resource = CATALOG.resource(resource_id)
    bronze = _bronze(resource)
    actual = standardized_batch(bronze, resource, CATALOG)
    _assert_same_rows(actual, _spark_standardized(spark, resource, bronze))
    assert any(actual.column("problems").to_pylist()) and not all(
        actual.column("problems").to_pylist()
    )


def test_batches_stream_gives_the_same_rows_as_one_table():
    resource = CATALOG.resource("gaj.hukou")
    bronze = _bronze(resource)
    whole = standardized_batch(bronze, resource, CATALOG)
    streamed = pa.Table.from_batches(
        list(standardized_batches(iter(bronze.to_batches(max_chunksize=7)), resource, CATALOG))
    )
    assert streamed.to_pylist() == whole.to_pylist()


def test_pieces_standardised_on_threads_give_the_same_rows_as_one_table():
    resource = CATALOG.resource("gaj.hukou")
    bronze = _bronze(resource)
    whole = standardized_batch(bronze, resource, CATALOG)
    in_pieces = standardized_table(bronze, resource, CATALOG, rows_per_piece=5)
    assert in_pieces.schema == whole.schema
    assert in_pieces.to_pylist() == whole.to_pylist()


@pytest.mark.parametrize("resource_id", ["gaj.hukou", "zrzyj.real_estate"])
def test_spark_runs_the_arrow_rules_in_map_in_arrow_with_the_same_result(spark, resource_id):
    resource = CATALOG.resource(resource_id)
    bronze = _bronze(resource)
    in_spark = standardized_df(spark.createDataFrame(bronze).repartition(3), resource, CATALOG)
    _assert_same_rows(in_spark.toArrow(), _spark_standardized(spark, resource, bronze))


def test_no_bronze_rows_give_an_empty_table_of_the_schema():
    for resource in CATALOG.resources.values():
        standardized = standardized_batch(BRONZE_SCHEMA.empty_table(), resource, CATALOG)
        assert standardized.schema == standardized_schema(resource)
        assert standardized.num_rows == 0
