from __future__ import annotations

import json

import openpyxl

from jobs.synth.exporters import ExcelNumber, open_writer
from tests.synth.conftest import read_delivery

COLUMNS = ["公民身份号码", "姓名", "备注"]
ROWS = [
    ["410622199001020133", "张三", None],
    [ExcelNumber(4.10622199001020e17, "4.10622E+17"), "<李&四>", " \t前后空白 "],
]


def _write(path, fmt, encoding="utf-8"):
    writer = open_writer(path, fmt, COLUMNS, encoding, created="2025-01-08T00:00:00Z")
    for row in ROWS:
        writer.write(list(row))
    writer.close()
    return writer.rows


def test_xlsx_is_byte_identical_for_identical_rows(tmp_path):
    _write(tmp_path / "a.xlsx", "xlsx")
    _write(tmp_path / "b.xlsx", "xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_xlsx_reads_back_with_openpyxl_including_the_excel_number(tmp_path):
    assert _write(tmp_path / "a.xlsx", "xlsx") == 2
    book = openpyxl.load_workbook(tmp_path / "a.xlsx")
    values = list(book.active.values)
    assert values[0] == tuple(COLUMNS)
    assert values[1] == ("410622199001020133", "张三", None)
    assert isinstance(values[2][0], float) and values[2][1:] == ("<李&四>", " \t前后空白 ")
    assert book.properties.created.year == 2025


def test_csv_in_gbk_writes_empty_values_and_excel_display_text(tmp_path):
    _write(tmp_path / "a.csv", "csv", "gbk")
    header, rows = read_delivery(tmp_path / "a.csv", "csv", "gbk")
    assert header == COLUMNS
    assert rows == [
        ["410622199001020133", "张三", None],
        ["4.10622E+17", "<李&四>", " \t前后空白 "],
    ]
    assert (tmp_path / "a.csv").read_bytes().endswith(b"\r\n")


def test_jsonl_writes_one_object_per_line_with_nulls(tmp_path):
    _write(tmp_path / "a.jsonl", "jsonl")
    lines = (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {
        "公民身份号码": "410622199001020133",
        "姓名": "张三",
        "备注": None,
    }
    assert json.loads(lines[1])["公民身份号码"] == "4.10622E+17"


def test_geojson_is_a_feature_collection_in_cgcs2000(tmp_path):
    path = tmp_path / "a.geojson"
    writer = open_writer(
        path, "geojson", ["ZDDM", "geometry"], "utf-8", geometry_column="geometry", name="parcel"
    )
    ring = [[114.1, 35.6], [114.2, 35.6], [114.2, 35.7], [114.1, 35.7], [114.1, 35.6]]
    writer.write(["410622001001GB00001", {"type": "Polygon", "coordinates": [ring]}])
    writer.close()
    collection = json.loads(path.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    assert collection["crs"]["properties"]["name"].endswith("4490")
    assert collection["features"][0]["properties"] == {"ZDDM": "410622001001GB00001"}


def test_an_empty_geojson_is_still_a_valid_collection(tmp_path):
    path = tmp_path / "a.geojson"
    open_writer(path, "geojson", ["ZDDM", "geometry"], "utf-8", geometry_column="geometry").close()
    assert json.loads(path.read_text(encoding="utf-8"))["features"] == []
