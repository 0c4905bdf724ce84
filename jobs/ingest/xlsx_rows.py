"""The rows of a read-only openpyxl sheet, parsed lean: what ``iter_rows(values_only=True)`` gives.

openpyxl's read-only sheet turns every cell into a dictionary, every inline string into a rich
text object built through its descriptors, and every row into a padded tuple, all in Python:
reading the city's driving-licence export (313k rows, 11 inline-string cells each) took about
four fifths of that resource's ingestion. :func:`sheet_rows` walks the same sheet XML with the
same stdlib parser and yields the same values in the same rows, doing per cell only what a cell
needs: the common cells (an inline string of plain text, a shared string, a number without a
date style) are read directly, and every other cell (rich or empty inline text, a date-styled
number, an ISO date, a boolean) through openpyxl's own functions, so each value is the one
openpyxl gives. It reads openpyxl's workbook state (the sheet's source, shared strings, date
styles and epoch) the way openpyxl's own ``_cells_by_row`` does, for the openpyxl version the
lock pins; the reader tests compare the two on every kind of cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import XMLPullParser

from openpyxl.cell.text import Text
from openpyxl.utils.cell import column_index_from_string, coordinate_to_tuple
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.worksheet._reader import INLINE_STRING, ROW_TAG, VALUE_TAG, _cast_number
from openpyxl.xml.constants import SHEET_MAIN_NS

_PLAIN_TEXT = f"{{{SHEET_MAIN_NS}}}t"
_DIGITS = "0123456789"
#: Bytes of sheet XML fed to the parser at a time.
_CHUNK = 1 << 16


def sheet_rows(sheet: Any) -> Iterator[tuple | list]:
    """The rows of a read-only sheet (``openpyxl.worksheet._read_only.ReadOnlyWorksheet``)
    after ``reset_dimensions()``, as ``sheet.iter_rows(values_only=True)`` yields them: a
    missing row as an empty list, a row as a tuple as wide as its last cell's column (cells
    left of it that the sheet omits are None), a row numbered below one already given skipped.
    Raises what openpyxl's parse raises on bad XML (``SyntaxError``, zip errors)."""
    workbook = sheet.parent
    cells = _Cells(
        sheet._shared_strings,
        workbook._date_formats,
        workbook._timedelta_formats,
        workbook.epoch,
    )
    expected = 1
    row_number = 0
    for element in _row_elements(sheet):
        row_number = _row_number(element.get("r"), row_number)
        values = cells.row(element)
        element.clear()
        while expected < row_number:  # rows the sheet leaves out
            expected += 1
            yield []
        if expected <= row_number:
            expected += 1
            yield values


def _row_elements(sheet: Any) -> Iterator[Any]:
    """Each ``<row>`` element of the sheet as it ends (ElementTree's pull parser, as openpyxl's
    ``iterparse``)."""
    parser = XMLPullParser(events=("end",))
    with sheet._get_source() as source:
        while data := source.read(_CHUNK):
            parser.feed(data)
            for _event, element in parser.read_events():
                if element.tag == ROW_TAG:
                    yield element
        parser.close()
        for _event, element in parser.read_events():
            if element.tag == ROW_TAG:
                yield element


def _row_number(r: str | None, previous: int) -> int:
    """The row's number as openpyxl's ``parse_row`` reads it."""
    if r is None:
        return previous + 1
    try:
        return int(r)
    except ValueError:
        value = float(r)
        if not value.is_integer():
            raise ValueError(f"{r} is not a valid row number") from None
        return int(value)


class _Cells:
    """Cell values as openpyxl's ``WorkSheetParser.parse_cell`` reads them (``data_only``, no
    rich text), placed as its ``_get_row`` places them."""

    def __init__(self, shared_strings: Any, date_formats: set, timedelta_formats: set, epoch: Any):
        self.shared_strings = shared_strings
        self.date_formats = date_formats
        self.timedelta_formats = timedelta_formats
        self.epoch = epoch
        self.columns: dict[str, int] = {}

    def column(self, coordinate: str) -> int:
        """The column of a cell reference such as ``AB12`` (openpyxl's
        ``coordinate_to_tuple``, with the column of each run of letters looked up once)."""
        letters = coordinate.rstrip(_DIGITS)
        column = self.columns.get(letters)
        if column is None:
            if not (len(letters) < len(coordinate) and letters.isascii() and letters.isalpha()):
                return coordinate_to_tuple(coordinate)[1]  # raises as openpyxl does
            column = self.columns[letters] = column_index_from_string(letters)
        return column

    def row(self, row: Any) -> tuple:
        placed: list[tuple[int, Any]] = []
        column = 0
        for cell in row:
            coordinate = cell.get("r")
            column = self.column(coordinate) if coordinate else column + 1
            placed.append((column, self.value(cell)))
        if not placed:
            return ()
        width = placed[-1][0]
        values: list[Any] = [None] * width
        for at, value in placed:
            if 1 <= at <= width:
                values[at - 1] = value
        return tuple(values)

    def value(self, cell: Any) -> Any:
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            child = cell.find(INLINE_STRING)
            if child is None:
                return None
            if len(child) == 1 and child[0].tag == _PLAIN_TEXT and child[0].text is not None:
                return child[0].text
            return Text.from_tree(child).content
        value = cell.findtext(VALUE_TAG, None) or None
        if value is None:
            return None
        if kind == "n":
            number = _cast_number(value)
            style = cell.get("s", 0)
            if style:
                style = int(style)
            if style not in self.date_formats:
                return number
            try:
                return from_excel(number, self.epoch, timedelta=style in self.timedelta_formats)
            except (OverflowError, ValueError):
                return "#VALUE!"  # openpyxl warns and treats the cell as an error
        if kind == "s":
            return self.shared_strings[int(value)]
        if kind == "b":
            return bool(int(value))
        if kind == "d":
            return from_ISO8601(value)
        return value
