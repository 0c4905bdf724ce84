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
)
from jobs.settings import Settings
from jobs.standardize import keys

pytestmark = pytest.mark.spark

CATALOG = load_catalog(Settings().schemas_root)
# 16:30 UTC is the next day in Beijing: the reference date of the future-birth check.
INGESTED = [
    dt.datetime(2024, 6, 30, 16, 30, tzinfo=dt.UTC),
    dt.datetime(2024, 6, 30, 8, 0, tzinfo=dt.UTC),
]


def _id(first_17: str) -> str:
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first_17))
    return first_17 + keys._ID_CHECK_CHARACTERS[total % 11]


def _uscc(authority_type: str, region: str, organization_body: str) -> str:
    values = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    total = sum(
        values.index(c) * w for c, w in zip(organization_body, keys._ORG_CODE_WEIGHTS, strict=True)
    )
    first_17 = (
        authority_type
        + region
        + organization_body
        + keys._ORG_CODE_CHECK_CHARACTERS[11 - total % 11]
    )
    alphabet = keys._USCC_ALPHABET
    total = sum(alphabet.index(c) * w for c, w in zip(first_17, keys._USCC_WEIGHTS, strict=True))
    return first_17 + alphabet[(31 - total % 31) % 31]


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


GOOD_ID = _id("11010119900307002")
GOOD_USCC = _uscc("91", "110108", "60003734")
BLANKS = [None, "", "  \u3000", "NaN", "null"]
SAMPLES = {
    "citizen_id": [
        GOOD_ID,
        _full_width(GOOD_ID.lower()),
        f" {GOOD_ID[:6]} {GOOD_ID[6:14]}\u200b{GOOD_ID[14:]}\x85",
        "110101900307002",
        _id("11010119900307002")[:15] + "000",
        "4.10105E+17",
        "410105199001011000.0",
        "1101",
        "11010119900307002A",
        _id("99999919900307002"),
        _id("11010120250101001"),
        _id("11010120240701001"),
        _id("11010118990101001"),
        GOOD_ID[:17] + ("1" if GOOD_ID[17] != "1" else "2"),
        _id("11010320120101001"),
        "ß" * 18,
        *BLANKS,
    ],
    "uscc": [
        GOOD_USCC,
        _full_width(GOOD_USCC.lower()),
        f"{GOOD_USCC[:9]} {GOOD_USCC[9:]}",
        _uscc("Y1", "110108", "MA01234X"),
        _uscc("94", "110108", "60003734"),
        _uscc("01", "110108", "60003734"),
        _uscc("91", "999999", "60003734"),
        _uscc("91", "320594", "60003734"),
        GOOD_USCC[:16] + ("0" if GOOD_USCC[16] != "0" else "1") + GOOD_USCC[17],
        GOOD_USCC[:17] + ("0" if GOOD_USCC[17] != "0" else "1"),
        GOOD_USCC[:17],
        "91110108I000373400",
        "ﬀ" * 9,
        *BLANKS,
    ],
    "parcel_code": [
        "110101001001GB00001",
        " 110101 001001 gb00001 ",
        "110101001001GA00001",
        "110101001001JA00001",
        "110101001001GB00000",
        "999999001001GB00001",
        "110101001001G100001",
        "1101010010",
        *BLANKS,
    ],
    "unit_number": [
        "110101001001GB00001F00010001",
        "110101 001001 GB00001 F00010001",
        "110101001001GB00001W00000000",
        "110101001001GB00001W00010001",
        "110101001001GB00001F00000000",
        "110101001001GB00001X00010001",
        "110101001001GB00000F00010001",
        "110101001001GB00001F0001",
        *BLANKS,
    ],
    "date": [
        "1990年3月7日",
        "1990/3/7",
        "19900307",
        "1990.03.07",
        "1990-03-07 00:00:00",
        "2021-1-5T08:00",
        _full_width("2021-01-05"),
        "2021-02-30",
        "2000-02-29",
        "1900-02-29",
        "长期",
        "9999-12-31",
        "00000101",
        "0001-01-01",
        "2021-12-13\x85",
        "x",
        *BLANKS,
    ],
    "timestamp": [
        "2021-12-13 08:30:00",
        "2021-12-13T08:30",
        "20211213083000",
        "2021年12月13日 08:30",
        "1986-5-4 2:30:00",
        "1986-9-14 1:30:00",
        "1900-12-31 23:59:59",
        "2021-12-13 25:00:00",
        "2021-12-13",
        "00010101000000",
        "99991231235959",
        "x",
        *BLANKS,
    ],
    "decimal": [
        "1,234.50",
        "1 234.5",
        "120万",
        "88.5平方米",
        "1.005",
        "-1.005",
        "+3",
        ".5",
        "5.",
        "9" * 30,
        "9" * 400,
        "12345678.9",
        "0.0001",
        "1e5",
        _full_width("98.5"),
        "x",
        *BLANKS,
    ],
    "name": [
        "张 三",
        "欧阳\u3000娜娜 ",
        "阿依古丽.买买提",
        "Zhang  San",
        "张 三 丰 李 四",
        "\U00020000 \U00020000",
        "张 \U00020000",
        'a"b\\c',
        "x\x01y\x1b",
        *BLANKS,
    ],
    "phone": [
        "138-1234-1234",
        "+86 13812341234",
        "0086 13812341234",
        "010-12345678",
        "(010)1234-5678",
        "12345",
        "8613812341234\x85",
        *BLANKS,
    ],
    "region_code": ["110101", "999999", "1101", _full_width("110101"), "110103", *BLANKS],
    "geometry": ['{"type":"Point","coordinates":[116.4,39.9]}', '  {"a":\t1}  ', "\t", *BLANKS],
    "text": [
        "  hello   world ",
        "Ｎａｎ",
        "#N/A",
        "tab\there",
        'quote"',
        "back\\slash",
        "\x01ctl",
        "é\u2028",
        "Ｓｔｒｅｅｔ\u00a01",
        *BLANKS,
    ],
}
SAMPLES["address"] = SAMPLES["text"]


def _samples(resource, f) -> list[str | None]:
    kind = pool._key_kind(f) or f.data_element.kind
    if kind == "party_id":
        return SAMPLES["citizen_id"] + SAMPLES["uscc"]
    if kind == "code":
        mapping = CATALOG.value_map(resource.id, f.name)
        known = sorted(mapping)[:6]
        return [*known, *(f" {_full_width(k)} " for k in known[:2]), "外星人", *BLANKS]
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


@pytest.mark.parametrize("resource_id", ["gaj.hukou", "zrzyj.real_estate"])
def test_spark_runs_the_arrow_rules_in_map_in_arrow_with_the_same_result(spark, resource_id):
    resource = CATALOG.resource(resource_id)
    bronze = _bronze(resource)
    in_spark = standardized_df(spark.createDataFrame(bronze).repartition(3), resource, CATALOG)
    _assert_same_rows(in_spark.toArrow(), _spark_standardized(spark, resource, bronze))
