from __future__ import annotations

import datetime as dt

import pytest
from stdnum.cn import ric

from jobs.catalog.loader import load_catalog
from jobs.ingest import pool
from jobs.settings import Settings

pytestmark = pytest.mark.spark

INGESTED_AT = dt.datetime(2025, 1, 8, 2, 0, tzinfo=dt.UTC)


def _id(first_17: str) -> str:
    return first_17 + ric.calc_check_digit(first_17 + "?")  # stdnum ignores the last character


VALID_ID = _id("11010519491231002")  # check character X: covers the lowercase-x case
OTHER_ID = _id("33021119850615123")
FIFTEEN = "330211850615123"  # the same person as OTHER_ID, delivered as an old 15-digit ID


def _hukou_row(row_number: int, **columns: str | None) -> dict:
    raw = {
        "公民身份号码": VALID_ID,
        "姓名": "张三",
        "性别": "男",
        "出生日期": "1949年12月31日",
        "户号": "H0001",
        "户籍地址": "北京市西城区金融街1号",
        "户口状态": "正常",
    }
    raw.update(columns)
    return _bronze_row("gaj.hukou", row_number, raw)


def _bronze_row(resource_id: str, row_number: int, raw: dict[str, str | None]) -> dict:
    department, resource = resource_id.split(".")
    return {
        "department": department,
        "resource": resource,
        "batch_id": "b1",
        "source_file": "a.csv",
        "file_hash": "h",
        "row_number": row_number,
        "raw": dict(raw),
        "read_problem": None,
        "ingested_at": INGESTED_AT,
        "record_hash": f"r{row_number}",
    }


@pytest.fixture(scope="module")
def hukou():
    catalog = load_catalog(Settings().schemas_root)
    return catalog, catalog.resource("gaj.hukou")


def _standardize(spark, hukou, rows):
    catalog, resource = hukou
    schema = (
        "department string, resource string, batch_id string, source_file string, file_hash string, "
        "row_number long, raw map<string,string>, read_problem string, ingested_at timestamp, record_hash string"
    )
    bronze_df = spark.createDataFrame(rows, schema)
    return pool.with_content_hash(
        pool.with_standardized_fields(bronze_df, resource, catalog), resource
    )


def test_standardises_keys_codes_and_dates_and_names_reasons(spark, hukou):
    rows = [
        _hukou_row(1),
        _hukou_row(2, 公民身份号码=VALID_ID.lower(), 姓名=" 张 三 "),
        _hukou_row(3, 公民身份号码=FIFTEEN, 出生日期="19850615", 性别="女"),
        _hukou_row(4, 公民身份号码=VALID_ID[:-1] + "1"),
        _hukou_row(5, 公民身份号码=None),
        _hukou_row(6, 公民身份号码="1.10105194912E+17"),
        _hukou_row(7, 性别="M"),
        _hukou_row(8, 出生日期="1949-02-30"),
        _hukou_row(9, 公民身份号码="１１０１０５１９４９１２３１００２Ｘ", 出生日期="1949/12/31"),
    ]
    result = _standardize(spark, hukou, rows).orderBy("row_number").collect()
    assert [(r.row_number, r.person_id, list(r.problems)) for r in result] == [
        (1, VALID_ID, []),
        (2, VALID_ID, []),
        (3, OTHER_ID, []),
        (4, None, ["person_id:bad_check_character"]),
        (5, None, ["person_id:missing"]),
        (6, None, ["person_id:excel_damaged"]),
        (7, VALID_ID, ["gender:unknown_code"]),
        (8, VALID_ID, ["birth_date:bad_date"]),
        (9, VALID_ID, []),
    ]
    first = result[0]
    assert (first.full_name, first.gender, first.birth_date, first.status) == (
        "张三",
        "1",
        dt.date(1949, 12, 31),
        "normal",
    )
    assert (first.person_id_birth_date, first.person_id_gender, first.person_id_region) == (
        dt.date(1949, 12, 31),
        "2",
        "110105",
    )
    assert result[1].full_name == "张三"
    assert result[2].gender == "2"


def test_unstorable_values_and_nan_keys_are_quarantined_with_reasons(spark):
    catalog = load_catalog(Settings().schemas_root)
    good = {
        "地址编码": "A001",
        "标准地址": "浙江省宁波市镇海区招宝山街道1号",
        "区县代码": "330211",
        "经度": "121.7",
        "纬度": "29.9",
    }
    rows = [
        _bronze_row("zrzyj.address", 1, good),
        _bronze_row("zrzyj.address", 2, {**good, "地址编码": "A002", "经度": "9" * 400}),
        _bronze_row("zrzyj.address", 3, {**good, "地址编码": "NaN"}),
        _bronze_row("zrzyj.address", 4, {**good, "地址编码": " #N/A "}),
        _bronze_row("zrzyj.address", 5, {**good, "地址编码": "A005", "纬度": "-" + "9" * 310}),
    ]
    result = _standardize(spark, (catalog, catalog.resource("zrzyj.address")), rows)
    assert [
        (r.row_number, r.longitude, list(r.problems))
        for r in result.orderBy("row_number").collect()
    ] == [
        (1, 121.7, []),
        (2, None, ["longitude:out_of_range"]),
        (3, 121.7, ["address_code:not_a_value"]),
        (4, 121.7, ["address_code:not_a_value"]),
        (5, 121.7, ["latitude:out_of_range"]),
    ]


def test_read_problem_row_is_quarantined_with_its_reason(spark, hukou):
    row = _hukou_row(1)
    row["read_problem"] = "malformed_json"
    row["raw"] = {"_raw_line": "{broken"}
    (result,) = _standardize(spark, hukou, [row]).collect()
    assert result.problems[0] == "record:malformed_json"
    assert "person_id:missing" in result.problems


def test_same_content_gets_same_hash_and_duplicates_are_flagged(spark, hukou):
    rows = [_hukou_row(1), _hukou_row(2), _hukou_row(3, 姓名="李四")]
    standardized = _standardize(spark, hukou, rows)
    earlier = standardized.filter("row_number = 3").select("content_hash")
    flagged = pool.with_duplicate_flag(pool.filter_accepted(standardized), earlier)
    assert sorted((r.row_number, r.is_duplicate) for r in flagged.collect()) == [
        (1, False),
        (2, True),
        (3, True),
    ]


def test_column_report_names_missing_required_and_extra_columns(hukou):
    _, resource = hukou
    report = pool.column_report(
        resource, ["身份证号", "姓名", "性别", "出生日期", "户号", "住址", "新列"]
    )
    assert report.missing_required == ("status (户口状态)",)
    assert report.extra_columns == ("新列",)
    assert report.must_hold
    assert "status (户口状态)" in report.hold_message("gaj.hukou")


def test_column_report_accepts_synonyms(hukou):
    _, resource = hukou
    report = pool.column_report(
        resource, ["身份证号", "姓名", "性别", "出生日期", "户号", "住址", "户口状态"]
    )
    assert not report.must_hold
    assert report.extra_columns == ()
