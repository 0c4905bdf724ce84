from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from jobs.standardize import arrow_keys, keys, regions
from tests.standardize.samples import IDS, PARCELS, UNITS, USCCS

pytestmark = pytest.mark.spark

REFERENCE = dt.date(2024, 6, 30)


def _spark(spark, texts, *expressions):
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "i int, v string")
    found = sorted(
        df.select("i", *[e(F.col("v")).alias(f"e{k}") for k, e in enumerate(expressions)]).collect()
    )
    return [[row[f"e{k}"] for row in found] for k in range(len(expressions))]


def test_citizen_ids_and_their_parts_as_the_spark_rules_give_them(spark):
    normalized, problem, birth, gender, region = _spark(
        spark,
        IDS,
        keys.normalized_citizen_id,
        lambda c: keys.citizen_id_problem(c, REFERENCE),
        lambda c: F.unix_date(keys.birth_date_of(c, REFERENCE)),
        lambda c: keys.gender_of(c, REFERENCE),
        lambda c: keys.region_of(c, REFERENCE),
    )
    arrow_normalized = arrow_keys.normalized_citizen_id(pa.array(IDS, pa.string()))
    reference_days = (REFERENCE - dt.date(1970, 1, 1)).days
    arrow_problem = arrow_keys.citizen_id_problem(arrow_normalized, reference_days)
    assert arrow_normalized.to_pylist() == normalized
    assert arrow_problem.to_pylist() == problem
    valid = [n if p is None else None for n, p in zip(normalized, problem, strict=True)]
    rows = [i for i, v in enumerate(valid) if v is not None]
    days, _ = arrow_keys.birth_days(pa.array(valid, pa.string()), rows)
    assert [birth[i] for i in rows] == days.tolist()
    assert [(gender[i], region[i]) for i in rows] == [
        ("1" if int(valid[i][16]) % 2 else "2", valid[i][:6]) for i in rows
    ]
    assert len(rows) >= 5 and len(set(problem)) >= 9


def test_usccs_as_the_spark_rules_give_them(spark):
    normalized, problem = _spark(spark, USCCS, keys.normalized_uscc, keys.uscc_problem)
    arrow_normalized = arrow_keys.normalized_uscc(pa.array(USCCS, pa.string()))
    assert arrow_normalized.to_pylist() == normalized
    assert arrow_keys.uscc_problem(arrow_normalized).to_pylist() == problem


def test_parcel_codes_and_unit_numbers_as_the_spark_rules_give_them(spark):
    texts = PARCELS + UNITS
    normalized, parcel, unit = _spark(
        spark,
        texts,
        keys.normalized_real_estate_code,
        keys.parcel_code_problem,
        keys.unit_number_problem,
    )
    arrow_normalized = arrow_keys.normalized_real_estate_code(pa.array(texts, pa.string()))
    assert arrow_normalized.to_pylist() == normalized
    assert arrow_keys.parcel_code_problem(arrow_normalized).to_pylist() == parcel
    assert arrow_keys.unit_number_problem(arrow_normalized).to_pylist() == unit


def test_region_checks_as_the_spark_rules_give_them(spark):
    codes = [
        "110101",
        "110103",
        "110201",
        "999999",
        "100000",
        "1101",
        "11010a",
        "１１０１０１",
        None,
    ]
    known, known_or_national, last_year = _spark(
        spark,
        codes,
        regions.is_known_region,
        lambda c: regions.is_known_region(c, keys.USCC_EXTRA_REGION_CODES),
        regions.last_year_in_use,
    )
    array = pa.array(codes, pa.string())
    assert arrow_keys.is_known_region(array).to_pylist() == known
    national = arrow_keys.is_known_region(array, keys.USCC_EXTRA_REGION_CODES)
    assert national.to_pylist() == known_or_national
    assert arrow_keys.last_year_in_use(array).to_pylist() == last_year
