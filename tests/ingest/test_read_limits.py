from __future__ import annotations

import dataclasses
import json
import struct
import zipfile

import pytest
from openpyxl import Workbook

from jobs.ingest import readers
from jobs.ingest.readers import (
    DEFAULT_LIMITS,
    RAW_LINE,
    READ_PROBLEM,
    ReadLimits,
    UnreadableFile,
    read_csv,
    read_file,
    read_geojson,
    read_jsonl,
    read_xlsx,
)
from jobs.settings import Settings
from tests.ingest.test_readers import _workbook


def _limits(**bounds) -> ReadLimits:
    return dataclasses.replace(DEFAULT_LIMITS, **bounds)


def _refused(reader, path, limits, reason, variable):
    with pytest.raises(UnreadableFile) as caught:
        reader(path, limits)
    assert caught.value.reason == reason
    assert variable in str(caught.value)
    return caught.value


def test_limits_come_from_the_settings():
    settings = dataclasses.replace(Settings(), read_max_rows=7, read_max_vertices=9)
    limits = ReadLimits.from_settings(settings)
    assert (limits.max_rows, limits.max_vertices) == (7, 9)
    assert limits.max_bytes == Settings().read_max_bytes == DEFAULT_LIMITS.max_bytes


def test_file_within_every_bound_is_read(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("编号,姓名\n1,张三\n2,李四\n", encoding="utf-8")
    limits = _limits(max_bytes=32, max_line_bytes=13, max_rows=2, max_columns=2, max_cells=4)
    assert read_csv(path, limits).row_count == 2


def test_quarantines_xlsx_zip_bomb_by_its_unpacked_size(tmp_path):
    path = _workbook(tmp_path, [["编号", "姓名"], *[[str(n), "张三" * 20] for n in range(3000)]])
    packed = path.stat().st_size
    error = _refused(
        read_xlsx, path, _limits(max_bytes=packed * 3), "too_large", "GOVLAKE_READ_MAX_BYTES"
    )
    assert "bytes once unpacked" in str(error)


def _understate_member_size(path, member: str, size: int) -> None:
    """Rewrites the sizes a zip member declares (local header and central directory)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46 : position + 46 + name_length] == member.encode():
            struct.pack_into("<I", data, position + 24, size)
        position = data.find(b"PK\x01\x02", position + 46)
    path.write_bytes(bytes(data))


def test_quarantines_xlsx_member_that_unpacks_to_more_than_it_declares(tmp_path):
    path = _workbook(tmp_path, [["编号", "姓名"], *[[str(n), "张三"] for n in range(500)]])
    _understate_member_size(path, "xl/worksheets/sheet1.xml", 2000)
    with pytest.raises(UnreadableFile) as caught:
        read_xlsx(path, _limits(max_bytes=20_000))
    assert caught.value.reason == "unreadable_xlsx"


def test_xlsx_declaring_the_whole_sheet_reads_only_its_rows(tmp_path):
    path = _workbook(tmp_path, [["编号", "姓名"], ["1", "张三"], ["2", "李四"]])
    declared = tmp_path / "declared.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(declared, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:B3"', b'<dimension ref="A1:XFD1048576"')
                assert b"XFD1048576" in data
            target.writestr(item, data)
    assert read_xlsx(declared, _limits(max_rows=2, max_columns=2)).row_count == 2


def test_quarantines_xlsx_row_with_a_cell_far_right(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["编号", "姓名"])
    sheet.append(["1", "张三"])
    sheet.cell(row=3, column=16_384, value="x")  # XFD3
    path = tmp_path / "wide.xlsx"
    workbook.save(path)
    _refused(read_xlsx, path, DEFAULT_LIMITS, "too_many_columns", "GOVLAKE_READ_MAX_COLUMNS=1000")


def test_xlsx_stops_at_the_row_bound(tmp_path):
    path = _workbook(tmp_path, [["编号"], *[[str(n)] for n in range(20)]])
    error = _refused(read_xlsx, path, _limits(max_rows=10), "too_many_rows", "READ_MAX_ROWS=10")
    assert str(error).startswith("more than 10 rows")


def test_xlsx_stops_at_excels_own_row_count(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "EXCEL_MAX_ROWS", 5)
    path = _workbook(tmp_path, [["编号"], *[[str(n)] for n in range(10)]])
    with pytest.raises(UnreadableFile, match="more than 5 rows: Excel wrote no such sheet"):
        read_xlsx(path)


def test_quarantines_single_line_file_at_the_line_bound(tmp_path):
    path = tmp_path / "one_line.csv"
    path.write_bytes(b"x" * 6_000_000)  # no line end
    _refused(read_csv, path, _limits(max_line_bytes=1024), "line_too_long", "READ_MAX_LINE_BYTES")
    path.write_bytes(b"a\n" + b"x" * 6_000_000)
    _refused(read_csv, path, _limits(max_line_bytes=1024), "line_too_long", "READ_MAX_LINE_BYTES")
    jsonl = tmp_path / "one_line.jsonl"
    jsonl.write_bytes(b'{"a": "' + b"x" * 3_000_000 + b'"}\n')
    _refused(read_jsonl, jsonl, _limits(max_line_bytes=1024), "line_too_long", "LINE_BYTES=1024")


def test_csv_field_longer_than_the_csv_modules_default_is_read(tmp_path):
    path = tmp_path / "long_field.csv"
    path.write_text("a,b\n1," + "x" * 300_000 + "\n2\n", encoding="utf-8")
    rows = read_csv(path).table.to_pylist()
    assert [(r["a"], len(r["b"] or ""), r[READ_PROBLEM]) for r in rows] == [
        ("1", 300_000, None),
        (None, 0, "wrong_column_count"),
    ]


def test_quarantines_file_over_the_byte_bound(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"a\n" + b"1\n" * 5000)
    _refused(read_csv, path, _limits(max_bytes=4096), "too_large", "GOVLAKE_READ_MAX_BYTES=4096")


def test_quarantines_csv_with_10000_columns_after_its_header(tmp_path):
    path = tmp_path / "wide.csv"
    header = ",".join(f"c{n}" for n in range(10_000))
    path.write_text(header + "\n" + (",".join("1" * 10_000) + "\n") * 20, encoding="utf-8")
    limits = _limits(max_bytes=100_000)  # the file is 450 KB: refused before it is read
    _refused(read_csv, path, limits, "too_many_columns", "GOVLAKE_READ_MAX_COLUMNS=1000")


def test_quarantines_csv_over_the_row_and_cell_bounds(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("a,b\n" + "1,2\n" * 50, encoding="utf-8")
    _refused(read_csv, path, _limits(max_rows=49), "too_many_rows", "GOVLAKE_READ_MAX_ROWS=49")
    _refused(read_csv, path, _limits(max_cells=99), "too_many_cells", "GOVLAKE_READ_MAX_CELLS=99")
    assert read_csv(path, _limits(max_rows=50, max_cells=100)).row_count == 50


def test_quarantines_jsonl_whose_keys_cross_the_column_bound(tmp_path):
    path = tmp_path / "keys.jsonl"
    lines = [json.dumps({f"k{n}": n}) for n in range(6)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _refused(read_jsonl, path, _limits(max_columns=5), "too_many_columns", "READ_MAX_COLUMNS=5")
    assert read_jsonl(path, _limits(max_columns=6)).row_count == 6


def test_deeply_nested_json_line_costs_its_row(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"a": "1"}\n' + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    rows = read_jsonl(path).table.to_pylist()
    assert [(r["a"], r[READ_PROBLEM]) for r in rows] == [("1", None), (None, "malformed_json")]
    assert rows[1][RAW_LINE].startswith("[[[")


def _polygon_file(tmp_path, vertices: int):
    ring = [[120.0 + n / vertices, 30.0] for n in range(vertices - 1)]
    geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    document = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"名称": "镇海区"}, "geometry": geometry}],
    }
    path = tmp_path / "area.geojson"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_quarantines_geojson_polygon_over_the_vertex_bound(tmp_path):
    path = _polygon_file(tmp_path, 1001)
    _refused(read_geojson, path, _limits(max_vertices=1000), "too_many_vertices", "=1000")
    assert read_geojson(path, _limits(max_vertices=1001)).row_count == 1


def test_read_file_passes_the_limits_to_the_reader(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    with pytest.raises(UnreadableFile, match="GOVLAKE_READ_MAX_ROWS=1"):
        read_file(path, "jsonl", _limits(max_rows=1))


def test_default_bounds_admit_every_delivery_of_a_million_person_city(tmp_path):
    # The synthetic city scales its deliveries with its persons: a 10,000-person county's files,
    # scaled up a hundredfold, must stay within every default bound, or the city's own files
    # (its cadastre: 1.14M positions at a million persons) are quarantined whole.
    from jobs.synth.config import load_config
    from jobs.synth.generate import generate

    generate(load_config(None, persons=10_000, seed=1), tmp_path / "landing")
    scale = 1_000_000 // 10_000
    deliveries = [p for p in (tmp_path / "landing").rglob("*.*") if "_manifest" not in p.parts]
    geojson = [p for p in deliveries if p.suffix == ".geojson"]
    assert geojson, "the county delivers its parcels as GeoJSON"
    for path in geojson:
        positions = sum(1 for _ in readers._POSITION.finditer(path.read_bytes()))
        assert positions * scale <= DEFAULT_LIMITS.max_vertices, path.name
    for path in deliveries:
        assert path.stat().st_size * scale <= DEFAULT_LIMITS.max_bytes, path.name
