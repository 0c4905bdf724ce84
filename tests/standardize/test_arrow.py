from __future__ import annotations

import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from jobs.standardize import arrow, keys, values

pytestmark = pytest.mark.spark

IDS = [
    "11010119900307002X",
    "１１０１０１１９９００３０７００２ｘ",
    "110101 19900307 002x",
    "110101900307002",
    "4.10105E+17",
    "1101",
    None,
]
DATES = [
    "1990年3月7日",
    "1990/3/7",
    "19900307",
    "1990-03-07 00:00:00",
    "2021-02-30",
    "长期",
    "x",
    None,
]
NAMES = ["张 三", "欧阳　娜娜 ", "阿依古丽.买买提", "Zhang  San", "", None]
PHONES = ["138-1234-1234", "+86 13812341234", "010-12345678", "12345", None]


def _spark_column(spark, texts, expression):
    df = spark.createDataFrame([(t,) for t in texts], "v string")
    return [r[0] for r in df.select(expression(F.col("v"))).collect()]


def test_citizen_ids_as_the_spark_rules_give_them(spark):
    spark_ids = _spark_column(spark, IDS, keys.normalized_citizen_id)
    shaped = [i if i and len(i) == 18 and i[:17].isdigit() else None for i in spark_ids]
    assert arrow.normalized_citizen_id(pa.array(IDS)).to_pylist() == shaped


def test_dates_as_the_spark_rules_give_them(spark):
    assert arrow.parsed_date(pa.array(DATES)).to_pylist() == _spark_column(
        spark, DATES, values.parsed_date
    )


def test_names_as_the_spark_rules_give_them(spark):
    assert arrow.normalized_name(pa.array(NAMES)).to_pylist() == _spark_column(
        spark, NAMES, values.normalized_name
    )


def test_phones_as_the_spark_rules_give_them(spark):
    assert arrow.normalized_phone(pa.array(PHONES)).to_pylist() == _spark_column(
        spark, PHONES, values.normalized_phone
    )


def test_codes_by_code_name_or_alias():
    mapping = {"1": "1", "2": "2", "男": "1", "男性": "1", "女": "2"}
    texts = pa.array(["男", " 1 ", "男性", "外星人", None])
    assert arrow.mapped_code(texts, mapping).to_pylist() == ["1", "1", "1", None, None]
