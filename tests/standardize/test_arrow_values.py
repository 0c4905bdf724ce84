from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import functions as F

from jobs.standardize import arrow_dates, arrow_values, values
from tests.standardize.samples import BOOLEANS, NUMBERS, PHONES, TEXTS, TIMESTAMPS

pytestmark = pytest.mark.spark

ZONE = "Asia/Shanghai"


def _spark_values(spark, texts, *expressions):
    """Each expression of the clean text of ``texts``, per text, in one Spark job."""
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "i int, v string")
    clean = values.clean_text(F.col("v"))
    rows = df.select("i", *[e(clean).alias(f"e{k}") for k, e in enumerate(expressions)])
    found = sorted(rows.collect())
    return [[row[f"e{k}"] for row in found] for k in range(len(expressions))]


def _clean(texts) -> pa.Array:
    return arrow_values.clean_text(pa.array(texts, pa.string()))


def test_text_names_and_tokens_as_the_spark_rules_give_them(spark):
    clean, name, not_a_value, no_end = _spark_values(
        spark,
        TEXTS,
        lambda c: c,
        lambda c: values.normalized_name(c, cleaned=True),
        lambda c: values.is_not_a_value(c, cleaned=True),
        lambda c: values.is_no_end_date(c, cleaned=True),
    )
    arrow_clean = _clean(TEXTS)
    assert arrow_clean.to_pylist() == clean
    assert arrow_values.normalized_name(arrow_clean).to_pylist() == name
    assert arrow_values.is_not_a_value(arrow_clean).to_pylist() == not_a_value
    assert arrow_dates.is_no_end_date(arrow_clean).to_pylist() == no_end


def test_dates_and_instants_as_the_spark_rules_give_them(spark):
    date, instant, date_storable, instant_storable = _spark_values(
        spark,
        TIMESTAMPS,
        lambda c: F.unix_date(values.parsed_date(c, cleaned=True)),
        lambda c: F.unix_micros(values.parsed_timestamp(c, cleaned=True)),
        lambda c: values.is_storable(values.parsed_date(c, cleaned=True), "date"),
        lambda c: values.is_storable(values.parsed_timestamp(c, cleaned=True), "timestamp"),
    )
    clean = _clean(TIMESTAMPS)
    arrow_date = arrow_dates.parsed_date(clean)
    arrow_instant = arrow_dates.parsed_timestamp(clean, ZONE)
    assert arrow_date.cast(pa.int32()).to_pylist() == date
    assert arrow_instant.cast(pa.int64()).to_pylist() == instant
    assert arrow_values.is_storable(arrow_date, "date").to_pylist() == date_storable
    assert arrow_values.is_storable(arrow_instant, "timestamp").to_pylist() == instant_storable


@pytest.mark.parametrize("spark_type", ["decimal(18,2)", "decimal(18,4)", "double", "long"])
def test_numbers_as_the_spark_rules_give_them(spark, spark_type):
    (number,) = _spark_values(
        spark, NUMBERS, lambda c: values.parsed_number(c, spark_type, cleaned=True)
    )
    arrow_number = arrow_values.parsed_number(_clean(NUMBERS), spark_type)
    assert arrow_number.to_pylist() == number
    if spark_type == "double":
        (storable,) = _spark_values(
            spark,
            NUMBERS,
            lambda c: values.is_storable(values.parsed_number(c, "double", cleaned=True), "double"),
        )
        assert arrow_values.is_storable(arrow_number, "double").to_pylist() == storable


def test_phones_codes_and_booleans_as_the_spark_rules_give_them(spark):
    mapping = {"1": "1", "2": "2", "男": "1", "男性": "1", "女": "2"}
    texts = [*PHONES, *BOOLEANS, "男", " 1 ", "男性", "外星人", "１"]
    phone, code, unmapped, boolean = _spark_values(
        spark,
        texts,
        lambda c: values.phone_of_digits(values.phone_digits(c, cleaned=True)),
        lambda c: values.mapped_code(c, mapping, cleaned=True),
        lambda c: values.mapped_code(c, {}, cleaned=True),
        lambda c: values.parsed_boolean(c, cleaned=True),
    )
    clean = _clean(texts)
    assert arrow_values.phone_of_digits(arrow_values.phone_digits(clean)).to_pylist() == phone
    assert arrow_values.mapped_code(clean, mapping).to_pylist() == code
    assert arrow_values.mapped_code(clean, {}).to_pylist() == unmapped
    assert arrow_values.parsed_boolean(clean).to_pylist() == boolean


def test_half_width_keeps_every_other_character():
    texts = pa.array(["ＡＢＣ１２３\u3000㎡①", None, "", "中文", "ｶﾀｶﾅ"])
    assert arrow_values.half_width(texts).to_pylist() == ["ABC123 ㎡①", None, "", "中文", "ｶﾀｶﾅ"]


def test_half_width_of_a_slice_reads_its_own_rows():
    texts = pa.array(["ＡＢ", "ｃ", "ｄｅ", None, "f"]).slice(1, 3)
    assert arrow_values.half_width(texts).to_pylist() == ["c", "de", None]
    assert pc.equal(arrow_values.clean_text(texts), pa.array(["c", "de", None])).to_pylist()[:2]
