from __future__ import annotations

import codecs
import gc
import json
import re
import zipfile

import pytest
from openpyxl import Workbook

from jobs.ingest import readers
from jobs.ingest.readers import (
    RAW_LINE,
    READ_PROBLEM,
    ROW_NUMBER,
    UnreadableFile,
    decode_text,
    encodings_compatible,
    read_csv,
    read_file,
    read_geojson,
    read_jsonl,
    read_xlsx,
)


def _rows(raw):
    return raw.table.to_pylist()


def test_reads_gbk_csv_as_raw_strings_with_row_numbers(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("姓名,公民身份号码\n张三, 11010519491231002X \n李四,\n".encode("gbk"))
    raw = read_csv(path)
    assert raw.detected_encoding == "gbk"
    assert raw.columns == ["姓名", "公民身份号码"]
    assert _rows(raw) == [
        {"姓名": "张三", "公民身份号码": " 11010519491231002X ", ROW_NUMBER: 1},
        {"姓名": "李四", "公民身份号码": "", ROW_NUMBER: 2},
    ]


def test_reads_utf8_bom_csv(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("\ufeff姓名,性别\r\n王五,男\r\n".encode())
    raw = read_csv(path)
    assert raw.detected_encoding == "utf-8-sig"
    assert _rows(raw) == [{"姓名": "王五", "性别": "男", ROW_NUMBER: 1}]


def test_keeps_quoted_newlines_and_leading_zeros(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('编号,住址\n007,"第一行\n第二行"\n', encoding="utf-8")
    assert _rows(read_csv(path)) == [{"编号": "007", "住址": "第一行\n第二行", ROW_NUMBER: 1}]


def test_quarantines_empty_file(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"")
    with pytest.raises(UnreadableFile) as caught:
        read_csv(path)
    assert caught.value.reason == "empty_file"


def test_quarantines_truncated_csv(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("姓名,性别,民族\n张三,男,汉族\n李四,女".encode())
    with pytest.raises(UnreadableFile) as caught:
        read_csv(path)
    assert caught.value.reason == "truncated"


def test_quarantines_file_cut_inside_a_gbk_character(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("姓名\n张三\n".encode("gbk")[:-2])
    with pytest.raises(UnreadableFile) as caught:
        read_csv(path)
    assert caught.value.reason == "truncated"


def test_quarantines_duplicate_header(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("姓名,姓名\n张三,李四\n", encoding="utf-8")
    with pytest.raises(UnreadableFile) as caught:
        read_csv(path)
    assert caught.value.reason == "duplicate_columns"


def test_undecodable_bytes_are_unreadable():
    with pytest.raises(UnreadableFile) as caught:
        decode_text(b"abc\x81\x20abc" * 10)
    assert caught.value.reason == "undecodable"


def test_encoding_compatibility():
    assert encodings_compatible("gbk", "gb18030")
    assert encodings_compatible("utf-8", "utf-8-sig")
    assert not encodings_compatible("gbk", "utf-8")


def test_jsonl_keeps_malformed_line_as_a_row(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"姓名": "张三", "年龄": 7}\n{broken\n[1, 2]\n{"姓名": null}\n', encoding="utf-8"
    )
    raw = read_jsonl(path)
    rows = _rows(raw)
    assert [r[ROW_NUMBER] for r in rows] == [1, 2, 3, 4]
    assert [r[READ_PROBLEM] for r in rows] == [None, "malformed_json", "not_a_json_object", None]
    assert rows[0]["年龄"] == "7"
    assert rows[3]["姓名"] is None


def test_jsonl_truncated_last_line(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": "1"}\n{"a": "2', encoding="utf-8")
    with pytest.raises(UnreadableFile) as caught:
        read_jsonl(path)
    assert caught.value.reason == "truncated"


def test_xlsx_shows_excel_number_damage(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["证件号码", "姓名"])
    sheet.append([4.10105198001011e17, "张三"])
    sheet.append(["41010519800101001X", None])
    sheet.append([None, None])
    path = tmp_path / "a.xlsx"
    workbook.save(path)
    rows = _rows(read_xlsx(path))
    assert rows == [
        {"证件号码": "4.10105198001011e+17", "姓名": "张三", ROW_NUMBER: 1},
        {"证件号码": "41010519800101001X", "姓名": None, ROW_NUMBER: 2},
    ]


def test_xlsx_that_is_not_a_workbook_is_unreadable(tmp_path):
    path = tmp_path / "a.xlsx"
    path.write_bytes("姓名,性别\n张三,男\n".encode())  # a CSV saved with the wrong ending
    with pytest.raises(UnreadableFile) as caught:
        read_xlsx(path)
    assert caught.value.reason == "unreadable_xlsx"


def test_geojson_features_become_rows(tmp_path):
    geometry = {
        "type": "Polygon",
        "coordinates": [[[121.0, 29.0], [121.1, 29.0], [121.1, 29.1], [121.0, 29.0]]],
    }
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"ZDDM": "330211001001GB00001", "ZDMJ": 120.5},
                "geometry": geometry,
            },
            {"type": "Nope"},
            {"type": "Feature", "properties": ["ZDDM", "330211001001GB00002"], "geometry": None},
        ],
    }
    path = tmp_path / "a.geojson"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    rows = _rows(read_geojson(path))
    assert rows[0]["ZDDM"] == "330211001001GB00001"
    assert rows[0]["ZDMJ"] == "120.5"
    assert json.loads(rows[0]["geometry"]) == geometry
    assert rows[1][READ_PROBLEM] == "not_a_feature"
    assert rows[2][READ_PROBLEM] == "properties_not_an_object"


def test_geojson_truncated(tmp_path):
    path = tmp_path / "a.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feat', encoding="utf-8")
    with pytest.raises(UnreadableFile) as caught:
        read_geojson(path)
    assert caught.value.reason == "truncated"


def test_quarantines_file_cut_inside_the_header(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("地址编码,标准地址,区县代码,乡镇街", encoding="utf-8")
    with pytest.raises(UnreadableFile) as caught:
        read_csv(path)
    assert caught.value.reason == "truncated"


def test_quarantines_cut_off_workbook_as_truncated(tmp_path):
    workbook = Workbook()
    workbook.active.append(["证件号码"])
    whole = tmp_path / "whole.xlsx"
    workbook.save(whole)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(UnreadableFile) as caught:
        read_xlsx(cut)
    assert caught.value.reason == "truncated"


def test_csv_row_of_the_wrong_width_is_kept_with_its_text_and_the_rest_read(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(
        '编号,姓名,住址\n1,张三,"第一行\n第二行"\n2,李四\n\n3,王五,某地,多余\n4,赵六,某地\n',
        encoding="utf-8",
    )
    rows = _rows(read_csv(path))
    assert [(r[ROW_NUMBER], r["编号"], r[READ_PROBLEM], r[RAW_LINE]) for r in rows] == [
        (1, "1", None, None),
        (2, None, "wrong_column_count", "2,李四"),
        (3, None, "wrong_column_count", "3,王五,某地,多余"),
        (4, "4", None, None),
    ]
    assert rows[0]["住址"] == "第一行\n第二行"


def test_csv_where_no_row_fits_the_header_is_unreadable(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("编号,姓名\n1\t张三\n2\t李四\n", encoding="utf-8")
    with pytest.raises(UnreadableFile) as caught:
        read_csv(path)
    assert (caught.value.reason, caught.value.rows_seen) == ("malformed_csv", 2)


def test_invalid_utf8_byte_costs_its_csv_row_only(tmp_path):
    path = tmp_path / "a.csv"
    lines = ["编号,姓名", "1,张三", "2,李\xff四", "3,王五"]
    path.write_bytes("\n".join(lines).encode().replace("\xff".encode(), b"\xff") + b"\n")
    raw = read_csv(path)
    assert raw.detected_encoding == "utf-8"
    assert [(r["姓名"], r[READ_PROBLEM], r[RAW_LINE]) for r in _rows(raw)] == [
        ("张三", None, None),
        (None, "undecodable_bytes", "2,李\\xff四"),
        ("王五", None, None),
    ]


def test_invalid_utf8_byte_costs_its_json_line_only(tmp_path):
    path = tmp_path / "a.jsonl"
    good = ['{"姓名": "张三"}', '{"姓名": "王\u2028五"}']
    path.write_bytes(
        good[0].encode() + b'\n{"\xe5\xa7\x93\xe5\x90\x8d": "\xff"}\r\n' + good[1].encode() + b"\n"
    )
    rows = _rows(read_jsonl(path))
    assert [(r[ROW_NUMBER], r["姓名"], r[READ_PROBLEM]) for r in rows] == [
        (1, "张三", None),
        (2, None, "undecodable_bytes"),
        (3, "王\u2028五", None),
    ]
    assert rows[1][RAW_LINE] == '{"姓名": "\\xff"}'


def _workbook(tmp_path, rows, name="a.xlsx"):
    return _sheets(tmp_path, {"Sheet": rows}, name)


def test_xlsx_is_read_whole_whatever_its_declared_dimension(tmp_path):
    path = _workbook(tmp_path, [["编号", "姓名"], *[[str(n), f"人{n}"] for n in range(1, 11)]])
    understated = tmp_path / "understated.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(understated, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B5"', data)
                assert b'ref="A1:B5"' in data
            target.writestr(item, data)
    assert [r["编号"] for r in _rows(read_xlsx(understated))] == [str(n) for n in range(1, 11)]


def test_xlsx_values_right_of_the_header_make_a_row_with_a_read_problem(tmp_path):
    path = _workbook(
        tmp_path, [["编号", "姓名"], ["1", "张三"], ["2", "李四", "多余"], ["3", "王五"]]
    )
    rows = _rows(read_xlsx(path))
    assert [(r["编号"], r[READ_PROBLEM], r[RAW_LINE]) for r in rows] == [
        ("1", None, None),
        (None, "wrong_column_count", "2\t李四\t多余"),
        ("3", None, None),
    ]


def test_quote_left_open_costs_its_line_and_the_rows_after_are_read(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('编号,姓名\n0,"零\n一"\n1,"张三\n2,李四\n3,王五\n', encoding="utf-8")
    rows = _rows(read_csv(path))
    assert [(r["编号"], r["姓名"], r[READ_PROBLEM], r[RAW_LINE]) for r in rows] == [
        ("0", "零\n一", None, None),
        (None, None, "unbalanced_quote", '1,"张三'),
        ("2", "李四", None, None),
        ("3", "王五", None, None),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("2,李\x00四", "nul_bytes"),
        ("编号,姓名", "repeated_header"),
        ("\ufeff编号,姓名", "repeated_header"),
        ("\ufeff2,李四", "byte_order_mark"),
    ],
)
def test_csv_row_that_is_no_data_costs_only_itself(tmp_path, line, problem):
    path = tmp_path / "a.csv"
    path.write_text(f"编号,姓名\n1,张三\n{line}\n3,王五\n", encoding="utf-8")
    rows = _rows(read_csv(path))
    assert [(r["编号"], r[READ_PROBLEM], r[RAW_LINE]) for r in rows] == [
        ("1", None, None),
        (None, problem, line),
        ("3", None, None),
    ]


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
def test_csv_header_may_end_a_line_any_way(tmp_path, end):
    path = tmp_path / "a.csv"
    path.write_bytes(f"编号,姓名{end}1,张三\r\n2,李四\r3,王五\n".encode())
    assert [r["姓名"] for r in _rows(read_csv(path))] == ["张三", "李四", "王五"]


def test_reads_utf16_csv(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("编号,姓名\n1,张三\n".encode("utf-16"))
    raw = read_csv(path)
    assert (raw.detected_encoding, _rows(raw)[0]["姓名"]) == ("utf-16", "张三")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00" * 100, "nul_bytes"),
        (codecs.BOM_UTF8 + "编号\n张三\n".encode("gbk"), "undecodable"),
        ("编号,姓\x00名\n1,张三\n".encode(), "nul_bytes"),
    ],
)
def test_quarantines_csv_that_is_no_text(tmp_path, data, reason):
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    with pytest.raises(UnreadableFile) as caught:
        read_csv(path)
    assert caught.value.reason == reason


def test_mostly_ascii_file_with_one_bad_byte_costs_that_line(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": "1"}\n{"a": "\xff"}\n{"a": "3"}\n')
    rows = _rows(read_jsonl(path))
    assert [(r["a"], r[READ_PROBLEM]) for r in rows] == [
        ("1", None),
        (None, "undecodable_bytes"),
        ("3", None),
    ]


def test_json_line_naming_a_key_twice_or_holding_nul_costs_its_row(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": "1", "a": "2"}\n{"a": "\x00"}\n\xef\xbb\xbf{"a": "3"}\n{"a": "4"}\n')
    rows = _rows(read_jsonl(path))
    assert [(r["a"], r[READ_PROBLEM]) for r in rows] == [
        (None, "duplicate_keys"),
        (None, "nul_bytes"),
        (None, "byte_order_mark"),
        ("4", None),
    ]


def test_xlsx_header_row_repeated_costs_that_row(tmp_path):
    path = _workbook(tmp_path, [["编号", "姓名"], ["1", "张三"], ["编号", "姓名"], ["2", "李四"]])
    rows = _rows(read_xlsx(path))
    assert [(r["编号"], r[READ_PROBLEM]) for r in rows] == [
        ("1", None),
        (None, "repeated_header"),
        ("2", None),
    ]


def test_a_reader_failing_in_an_unforeseen_way_quarantines_only_that_file(tmp_path, monkeypatch):
    def fails(path, limits):
        raise KeyError("姓名")  # as a parser does on a shape it never met

    monkeypatch.setitem(readers.READERS, "csv", fails)
    path = tmp_path / "a.csv"
    path.write_text("姓名\n张三\n", encoding="utf-8")
    with pytest.raises(UnreadableFile) as caught:
        read_file(path, "csv")
    assert caught.value.reason == "reader_failed"
    assert str(caught.value) == "the csv reader failed: KeyError: '姓名'"


def _sheets(tmp_path, sheets: dict[str, list[list]], name="a.xlsx"):
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / name
    workbook.save(path)
    return path


def test_xlsx_rows_on_every_sheet_are_read_in_sheet_order(tmp_path):
    """An export split over sheets (one per district): the rows of the second sheet were lost
    when only the first was read. Blank sheets in between are skipped."""
    path = _sheets(
        tmp_path,
        {
            "城区": [["编号", "姓名"], ["1", "张三"], ["2", "李四"]],
            "空白": [],
            "郊区": [["编号", "姓名"], ["3", "王五"], ["4", "李四", "多余"]],
        },
    )
    raw = read_xlsx(path)
    rows = _rows(raw)
    assert [(r[ROW_NUMBER], r["编号"], r[READ_PROBLEM]) for r in rows] == [
        (1, "1", None),
        (2, "2", None),
        (3, "3", None),
        (4, None, "wrong_column_count"),
    ]
    assert raw.notes == ["rows of 2 sheets read in order: 城区, 郊区"]


def test_xlsx_with_a_sheet_of_other_columns_is_unreadable_and_names_the_sheet(tmp_path):
    path = _sheets(
        tmp_path,
        {"人员": [["编号", "姓名"], ["1", "张三"]], "说明": [["字段", "含义"], ["编号", "序号"]]},
    )
    with pytest.raises(UnreadableFile) as caught:
        read_xlsx(path)
    assert caught.value.reason == "sheets_differ"
    assert "'说明'" in str(caught.value) and "'人员'" in str(caught.value)


def test_xlsx_whose_sheets_are_all_blank_is_an_empty_file(tmp_path):
    path = _sheets(tmp_path, {"一": [], "二": []})
    with pytest.raises(UnreadableFile) as caught:
        read_xlsx(path)
    assert (caught.value.reason, caught.value.rows_seen) == ("empty_file", 0)


def test_cycle_collector_is_on_again_after_a_read_and_a_refused_file(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("编号,姓名\n1,张三\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert read_file(good, "csv").row_count == 1
    assert gc.isenabled()
    with pytest.raises(UnreadableFile):
        read_file(empty, "csv")
    assert gc.isenabled()
    gc.disable()
    try:
        read_file(good, "csv")
        assert not gc.isenabled()
    finally:
        gc.enable()
