from __future__ import annotations

import datetime as dt
import zipfile

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from jobs.ingest.xlsx_rows import sheet_rows

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _rows_both_ways(path):
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        out = []
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()
            out.append((list(sheet.iter_rows(values_only=True)), list(sheet_rows(sheet))))
        return out
    finally:
        workbook.close()


def _assert_same(path):
    for theirs, ours in _rows_both_ways(path):
        assert ours == theirs
        assert [type(r) for r in ours] == [type(r) for r in theirs]
        assert [[type(v) for v in r] for r in ours] == [[type(v) for v in r] for r in theirs]


def test_reads_every_kind_of_cell_as_openpyxl_does(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["编号", "name", "when", "n", "flag", "f"])
    sheet.append([1, "a", dt.datetime(2020, 1, 2), 3.5, True, "=1+2"])
    sheet.append([4.10105e17, " sp ", dt.date(2021, 5, 6), 1e15, False, None])
    sheet["A6"] = "after two missing rows"
    sheet["D6"] = dt.time(12, 30)
    sheet["F7"] = dt.timedelta(hours=5)
    sheet["C8"] = CellRichText(["ri", TextBlock(InlineFont(b=True), "ch")])
    sheet["B8"] = ""
    sheet["A9"] = "=NA()"
    sheet["B9"] = "x&y<z>"
    second = workbook.create_sheet("第二")
    second.append(["only"])
    second["C3"] = 7
    path = tmp_path / "kinds.xlsx"
    workbook.save(path)
    _assert_same(path)


def _sheet_xml(rows: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">'
        f"<sheetData>{rows}</sheetData></worksheet>"
    ).encode()


def _workbook_with_rows(tmp_path, rows):
    """A workbook saved by openpyxl whose first sheet's rows are replaced by ``rows`` (XML)."""
    workbook = Workbook()
    workbook.active.append(["x"])
    plain = tmp_path / "plain.xlsx"
    workbook.save(plain)
    path = tmp_path / "hand.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = _sheet_xml(rows)
            target.writestr(item, data)
    return path


@pytest.mark.parametrize(
    "rows",
    [
        # inline strings: plain, empty, rich runs, no <is>; cells without a reference
        '<row r="1"><c r="A1" t="inlineStr"><is><t>身份证</t></is></c>'
        '<c r="C1" t="inlineStr"><is><t/></is></c></row>'
        '<row r="2"><c t="inlineStr"><is><r><t>a</t></r><r><t xml:space="preserve"> b</t></r>'
        '</is></c><c t="inlineStr"/><c t="inlineStr"><is><t>x</t><rPh sb="0" eb="1"><t>y</t></rPh></is></c></row>',
        # rows out of order and repeated, a row without a number, a float row number
        '<row r="3"><c r="A3"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>'
        '<row><c r="B4"><v>4.5E+3</v></c></row><row r="6.0"><c r="AA6" t="b"><v>0</v></c></row>',
        # errors, strings from formulas, ISO dates, empty values, a cell left of the one before
        '<row r="1"><c r="B1" t="e"><v>#N/A</v></c><c r="C1" t="str"><v>s</v></c>'
        '<c r="D1" t="d"><v>2024-02-29T10:00:00</v></c><c r="E1"><v></v></c>'
        '<c r="A1"><v>9</v></c></row><row r="2"/>',
    ],
)
def test_reads_hand_written_sheets_as_openpyxl_does(tmp_path, rows):
    _assert_same(_workbook_with_rows(tmp_path, rows))


def test_bad_row_number_raises_as_openpyxl_does(tmp_path):
    path = _workbook_with_rows(tmp_path, '<row r="1.5"><c r="A1"><v>1</v></c></row>')
    workbook = load_workbook(path, read_only=True, data_only=True)
    sheet = workbook.worksheets[0]
    with pytest.raises(ValueError, match=r"1\.5 is not a valid row number"):
        list(sheet.iter_rows(values_only=True))
    with pytest.raises(ValueError, match=r"1\.5 is not a valid row number"):
        list(sheet_rows(sheet))
    workbook.close()
