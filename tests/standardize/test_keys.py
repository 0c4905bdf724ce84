from __future__ import annotations

import datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from stdnum.cn import ric

from jobs.standardize.keys import (
    REASON_CODES,
    birth_date_of,
    citizen_id_problem,
    entity_type_of,
    gender_of,
    normalized_citizen_id,
    normalized_real_estate_code,
    normalized_uscc,
    parcel_code_of,
    parcel_code_problem,
    region_of,
    registering_authority_of,
    unit_number_problem,
    uscc_problem,
    with_checked_key,
)
from jobs.standardize.regions import (
    current_region_codes,
    is_known_region,
    known_region_codes,
    region_codes_df,
    region_names,
)

pytestmark = pytest.mark.spark

REFERENCE_DATE = datetime.date(2024, 6, 30)
CHECKED = "raw string, normalized string, problem string"


def _check_ids(spark, raws):
    raw_df = spark.createDataFrame([(raw,) for raw in raws], "raw string")
    return raw_df.select(
        "raw",
        normalized_citizen_id("raw").alias("normalized"),
        citizen_id_problem("raw", REFERENCE_DATE).alias("problem"),
    )


def _with_check(first_17: str) -> str:
    return first_17 + ric.calc_check_digit(first_17 + "?")  # stdnum ignores the last character


def _check(spark, raws, normalize, problem):
    raw_df = spark.createDataFrame([(raw,) for raw in raws], "raw string")
    return raw_df.select(
        "raw", normalize("raw").alias("normalized"), problem("raw").alias("problem")
    )


def _expected(spark, rows, schema=CHECKED):
    return spark.createDataFrame(rows, schema)


# --- citizen ID ------------------------------------------------------------------------------
def test_valid_ids_pass_unchanged(spark):
    actual = _check_ids(spark, ["110105199003070017", "11010519491231002X", None, "1101051990"])
    expected = _expected(
        spark,
        [
            ("110105199003070017", "110105199003070017", None),
            ("11010519491231002X", "11010519491231002X", None),
            (None, None, "missing"),
            ("1101051990", "1101051990", "bad_length"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_upgrades_15_digit_id(spark):
    actual = _check_ids(spark, ["110105491231002", "440300951231003", None, "11010549123100A"])
    expected = _expected(
        spark,
        [
            ("110105491231002", "11010519491231002X", None),
            ("440300951231003", "440300199512310037", None),
            (None, None, "missing"),
            ("11010549123100A", "11010549123100A", "bad_length"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_quarantines_excel_mangled_id(spark):
    actual = _check_ids(
        spark,
        [
            "4.10105E+17",
            "4.10105e17",
            "4.101051990010110e+17",
            "410105199001011008.0",
            "110105199003070000",  # ...0017 after Excel kept 15 significant digits
            None,
            "110105199003070017",
        ],
    )
    expected = _expected(
        spark,
        [
            ("4.10105E+17", "4.10105E+17", "excel_damaged"),
            ("4.10105e17", "4.10105e17", "excel_damaged"),
            ("4.101051990010110e+17", "4.101051990010110e+17", "excel_damaged"),
            ("410105199001011008.0", "410105199001011008.0", "excel_damaged"),
            ("110105199003070000", "110105199003070000", "excel_damaged"),
            (None, None, "missing"),
            ("110105199003070017", "110105199003070017", None),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_id_ending_000_with_a_correct_check_is_not_excel_damage(spark):
    # 41010519900101100 has check character 6; 410105199001011000 fails it, but a real ID can
    # end in 000 when its check character is 0, and then nothing says it was damaged.
    actual = _check_ids(spark, ["410105199001011006", "410105199001011000"])
    expected = _expected(
        spark,
        [
            ("410105199001011006", "410105199001011006", None),
            ("410105199001011000", "410105199001011000", "excel_damaged"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_lowercase_x_normalised(spark):
    actual = _check_ids(
        spark,
        ["11010519491231002x", "１１０１０５１９４９１２３１００２ｘ", None, "11010519491231002y"],
    )
    expected = _expected(
        spark,
        [
            ("11010519491231002x", "11010519491231002X", None),
            ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X", None),
            (None, None, "missing"),
            ("11010519491231002y", "11010519491231002y", "bad_characters"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_full_width_digits_normalised(spark):
    actual = _check_ids(
        spark,
        [
            "１１０１０５１９９００３０７００１７",
            "１１０１０５４９１２３１００２",
            None,
            "１１０１０５",
        ],
    )
    expected = _expected(
        spark,
        [
            ("１１０１０５１９９００３０７００１７", "110105199003070017", None),
            ("１１０１０５４９１２３１００２", "11010519491231002X", None),
            (None, None, "missing"),
            ("１１０１０５", "110105", "bad_length"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_whitespace_removed_anywhere(spark):
    raws = [
        " 110105 19900307 0017 ",
        "\t110105199003070017\r\n",
        "110105\u00a019900307\u30000017",
        "\ufeff1101051990\u200b03070017",
        "110105199003070017\n",
        " \t\u3000",
        None,
    ]
    actual = _check_ids(spark, raws)
    expected = _expected(
        spark,
        [(raw, "110105199003070017", None) for raw in raws[:5]]
        + [(" \t\u3000", "", "missing"), (None, None, "missing")],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_rejects_bad_check_character(spark):
    actual = _check_ids(spark, ["110105199003070018", "110105199003070017", None])
    expected = _expected(
        spark,
        [
            # Never repaired: the normalised value keeps the wrong character.
            ("110105199003070018", "110105199003070018", "bad_check_character"),
            ("110105199003070017", "110105199003070017", None),
            (None, None, "missing"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_rejects_unknown_region_but_accepts_abolished_one(spark):
    # 110103 崇文区 was merged into 东城区 in 2010; IDs issued under it stay valid.
    actual = _check_ids(spark, ["110103198001010013", "999999199003070013", None])
    expected = _expected(
        spark,
        [
            ("110103198001010013", "110103198001010013", None),
            ("999999199003070013", "999999199003070013", "bad_region"),
            (None, None, "missing"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_rejects_region_abolished_before_birth_but_not_one_created_after(spark):
    ids = [
        _with_check("11020119930101001"),  # 110201 昌平县 until 1982, holder born 1993
        _with_check("11020119830101001"),  # the year after it ended
        _with_check("11020119820101001"),  # born in its last year: could be issued there
        _with_check("11011219900101001"),  # 110112 通州区 created 1997, born 1990: issued later
        _with_check("11010519900101001"),  # 110105 朝阳区, still in use
        _with_check("11020119930101001")[:-1] + "3",  # a typo is named first
    ]
    actual = _check_ids(spark, ids)
    expected = _expected(
        spark,
        [
            (ids[0], ids[0], "region_abolished_before_birth"),
            (ids[1], ids[1], "region_abolished_before_birth"),
            (ids[2], ids[2], None),
            (ids[3], ids[3], None),
            (ids[4], ids[4], None),
            (ids[5], ids[5], "bad_check_character"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_rejects_impossible_early_and_future_birth_dates(spark):
    actual = _check_ids(
        spark,
        [
            "110105199002300010",  # 30 February
            "110105189912310010",  # before 1900
            "11010520251231001X",  # after the reference date 2024-06-30
            "33010220000229002" + "3",  # 29 February 2000 exists
            None,
        ],
    )
    expected = _expected(
        spark,
        [
            ("110105199002300010", "110105199002300010", "bad_birth_date"),
            ("110105189912310010", "110105189912310010", "bad_birth_date"),
            ("11010520251231001X", "11010520251231001X", "bad_birth_date"),
            ("330102200002290023", "330102200002290023", None),
            (None, None, "missing"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_future_birth_date_is_relative_to_the_reference_date(spark):
    raw_df = spark.createDataFrame([("11010520251231001X",)], "raw string")
    actual = raw_df.select(
        citizen_id_problem("raw", datetime.date(2025, 12, 30)).alias("day_before"),
        citizen_id_problem("raw", "2025-12-31").alias("same_day"),
        citizen_id_problem("raw", F.lit(datetime.date(2026, 1, 1))).alias("day_after"),
    )
    expected = spark.createDataFrame(
        [("bad_birth_date", None, None)], "day_before string, same_day string, day_after string"
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_id_reasons_follow_the_documented_order(spark):
    actual = _check_ids(
        spark,
        [
            "",  # missing before anything else
            "4.10105E+17",  # excel_damaged before bad_length and bad_characters
            "11010519900307001A7",  # bad_length before bad_characters
            "99999919900230001A",  # bad_characters before bad_region and bad_birth_date
            "999999199002300011",  # bad_region before bad_birth_date
            "110105199002300011",  # bad_birth_date before bad_check_character
            "110201199301010010",  # bad_check_character before region_abolished_before_birth
            _with_check("11020119930101001"),
        ],
    )
    assert [row.problem for row in actual.collect()] == list(REASON_CODES["id"])


def test_birth_date_gender_and_region_come_from_valid_ids_only(spark):
    raw_df = spark.createDataFrame(
        [("110105199003070017",), ("11010519491231002x",), ("110105199003070018",), (None,)],
        "raw string",
    )
    actual = raw_df.select(
        "raw",
        birth_date_of("raw", REFERENCE_DATE).alias("birth_date"),
        gender_of("raw", REFERENCE_DATE).alias("gender"),
        region_of("raw", REFERENCE_DATE).alias("region_code"),
    )
    expected = spark.createDataFrame(
        [
            ("110105199003070017", datetime.date(1990, 3, 7), "1", "110105"),
            ("11010519491231002x", datetime.date(1949, 12, 31), "2", "110105"),
            ("110105199003070018", None, None, None),
            (None, None, None, None),
        ],
        "raw string, birth_date date, gender string, region_code string",
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_with_checked_key_adds_normalized_and_problem(spark):
    persons_df = spark.createDataFrame(
        [(1, "11010519491231002x"), (2, "110105199003070018"), (3, None)],
        "row_number int, person_id string",
    )
    actual = persons_df.transform(
        lambda df: with_checked_key(df, "person_id", "id", REFERENCE_DATE)
    )
    expected = spark.createDataFrame(
        [
            (1, "11010519491231002x", "11010519491231002X", None),
            (2, "110105199003070018", "110105199003070018", "bad_check_character"),
            (3, None, None, "missing"),
        ],
        "row_number int, person_id string, person_id_normalized string, person_id_problem string",
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


# --- USCC ------------------------------------------------------------------------------------
def test_uscc_normalised_and_checked(spark):
    actual = _check(
        spark,
        [
            "91110000600037341L",
            "91110000600037341l",
            "９１１１００００６０００３７３４１Ｌ",
            " 9111 0000 6000 3734 1L\t",
            "91110000600037341L\n",
            None,
        ],
        normalized_uscc,
        uscc_problem,
    )
    expected = _expected(
        spark,
        [
            ("91110000600037341L", "91110000600037341L", None),
            ("91110000600037341l", "91110000600037341L", None),
            ("９１１１００００６０００３７３４１Ｌ", "91110000600037341L", None),
            (" 9111 0000 6000 3734 1L\t", "91110000600037341L", None),
            ("91110000600037341L\n", "91110000600037341L", None),
            (None, None, "missing"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_uscc_reasons(spark):
    actual = _check(
        spark,
        [
            "",
            "91110000600037341",  # 17 characters
            "91110000600O37341L",  # O is not in the alphabet
            "B1110000600037341L",  # no registering authority B
            "94110000600037341L",  # market regulation has no entity type 4
            "91999999600037341L",  # no such region
            "91110000600037342L",  # organisation code 60003734-2, its check is 1
            "91110000600037341X",  # MOD 31 check is L
            "5111000050000012XW",
        ],
        normalized_uscc,
        uscc_problem,
    )
    assert [row.problem for row in actual.collect()] == [*REASON_CODES["uscc"], None]


def test_uscc_accepts_letter_authority_national_and_development_zone_regions(spark):
    actual = _check(
        spark,
        [
            "Y1330100MA2H1B0R26",  # authority Y (其他)
            "11100000000013127D",  # 100000: registered at national level
            "92320594L12345674X",  # 苏州工业园区 office, under prefecture 320500
            "92329994L12345674X",  # prefecture 3299 does not exist
        ],
        normalized_uscc,
        uscc_problem,
    )
    assert [row.problem for row in actual.collect()] == [None, None, None, "bad_region"]


def test_registering_authority_and_entity_type_of_valid_uscc_only(spark):
    raw_df = spark.createDataFrame(
        [("91110000600037341L",), ("5111000050000012XW",), ("91110000600037341X",), (None,)],
        "raw string",
    )
    actual = raw_df.select(
        "raw",
        registering_authority_of("raw").alias("authority"),
        entity_type_of("raw").alias("entity_type"),
    )
    expected = spark.createDataFrame(
        [
            ("91110000600037341L", "9", "91"),
            ("5111000050000012XW", "5", "51"),
            ("91110000600037341X", None, None),
            (None, None, None),
        ],
        "raw string, authority string, entity_type string",
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


# --- real estate -----------------------------------------------------------------------------
def test_parcel_code_checks(spark):
    actual = _check(
        spark,
        [
            "340123002004GB00011",  # GB/T 37346 Annex A example
            "340123 002004 gb00011",
            "340123000000GH00003",  # a sea area (宗海), cadastral zone 000
            None,
            "340123002004GB0001",
            "340123002004G100011",
            "990123002004GB00011",
            "340123002004GA00011",  # A (collective ownership) needs J
            "340123002004JK00011",
            "340123002004GB00000",
        ],
        normalized_real_estate_code,
        parcel_code_problem,
    )
    expected = _expected(
        spark,
        [
            ("340123002004GB00011", "340123002004GB00011", None),
            ("340123 002004 gb00011", "340123002004GB00011", None),
            ("340123000000GH00003", "340123000000GH00003", None),
            (None, None, "missing"),
            ("340123002004GB0001", "340123002004GB0001", "bad_length"),
            ("340123002004G100011", "340123002004G100011", "bad_characters"),
            ("990123002004GB00011", "990123002004GB00011", "bad_region"),
            ("340123002004GA00011", "340123002004GA00011", "bad_parcel_feature_code"),
            ("340123002004JK00011", "340123002004JK00011", "bad_parcel_feature_code"),
            ("340123002004GB00000", "340123002004GB00000", "bad_parcel_sequence"),
        ],
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_unit_number_checks(spark):
    actual = _check(
        spark,
        [
            "340123002004GB00011F00010001",
            "340123 002004 GB00011 F00010001",
            "340123002004JC00021W00000000",
            "340123002004JD00022L00000001",
            None,
            "340123002004GB00011F0001001",
            "340123002004GB00011F0001000A",
            "990123002004GB00011F00010001",
            "340123002004ZQ00011F00010001",
            "340123002004GB00000F00010001",
            "340123002004GB00011K00010001",
            "340123002004GB00011W00010001",
            "340123002004GB00011F00000000",
        ],
        normalized_real_estate_code,
        unit_number_problem,
    )
    assert [row.problem for row in actual.collect()] == [
        None,
        None,
        None,
        None,
        *REASON_CODES["unit"],
        "bad_fixture_number",
    ]


def test_parcel_code_of_unit_number(spark):
    raw_df = spark.createDataFrame(
        [("340123 002004 GB00011 F00010001",), ("340123002004GB00011K00010001",), (None,)],
        "raw string",
    )
    actual = raw_df.select("raw", parcel_code_of("raw").alias("parcel_code"))
    expected = spark.createDataFrame(
        [
            ("340123 002004 GB00011 F00010001", "340123002004GB00011"),
            ("340123002004GB00011K00010001", None),
            (None, None),
        ],
        "raw string, parcel_code string",
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


# --- region reference ------------------------------------------------------------------------
def test_known_region_codes_include_historical_codes():
    codes = known_region_codes()
    assert {"110101", "110103", "110105", "130602", "441900"} <= codes
    assert "999999" not in codes
    assert "110103" not in current_region_codes()
    assert all(code.endswith("0000") for code in current_region_codes("province"))


def test_region_names_by_year():
    assert region_names("130602") == {"province": "河北省", "city": "保定市", "county": "竞秀区"}
    assert region_names("130602", year=2010)["county"] == "新市区"
    assert region_names("110112", year=1990)["county"] is None  # 通州区 since 1997
    assert region_names("999999") is None


def test_is_known_region_matches_the_python_set(spark):
    codes = sorted(known_region_codes())
    neighbours = {f"{int(code) + delta:06d}" for code in codes[::7] for delta in (-1, 1, 50)}
    malformed = [
        "+11010",
        " 11010",
        "110101 ",
        "11010.",
        "1.1e+5",
        "",
        "１１０１０１",
        "0110101",
        None,
    ]
    candidates = [*codes, *sorted(neighbours), *malformed]
    code_df = spark.createDataFrame([(c,) for c in candidates], "code string")
    known = {row.code for row in code_df.where(is_known_region(F.col("code"))).collect()}
    assert known == set(codes)


def test_region_codes_df_has_one_row_per_code(spark):
    regions_df = region_codes_df(spark)
    assert regions_df.count() == regions_df.select("region_code").distinct().count()
    assert regions_df.count() == len(known_region_codes())
    row = regions_df.where(F.col("region_code") == "110105").first()
    assert (row.province_name, row.city_name, row.county_name, row.region_level) == (
        "北京市",
        "市辖区",
        "朝阳区",
        "county",
    )
