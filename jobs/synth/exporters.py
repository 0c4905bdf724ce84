"""Writers for the delivery formats departments use: CSV, JSON lines, XLSX and GeoJSON.

Each writer streams rows to disk (one row in memory at a time) and is deterministic: no
wall-clock time is written anywhere. The XLSX writer is a small Office Open XML writer of its
own, with inline strings and fixed zip timestamps and document properties, because openpyxl
stamps the current time into both, and is also several times slower on large sheets.

A row is a list of values in column order: ``str``, ``None`` (empty), :class:`ExcelNumber`
(a number Excel stored instead of the text it was given, for the scientific-notation defect)
or, for the GeoJSON geometry column, a geometry ``dict``.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

#: Zip entry timestamp of every XLSX part (the zip format's earliest date is 1980-01-01).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "xlsx": "xlsx", "geojson": "geojson"}
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


@dataclass(frozen=True)
class ExcelNumber:
    """A value Excel turned into a number: written as a numeric cell in XLSX and as Excel's
    display text (``4.10105E+17``) in text formats."""

    value: float
    display: str

    def __str__(self) -> str:
        return self.display


def extension(fmt: str) -> str:
    return _EXTENSIONS[fmt]


class Writer:
    """Base class: ``write(row)`` appends one data row; ``close()`` finishes the file."""

    rows = 0

    def write(self, row: list[Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class CsvWriter(Writer):
    """CSV with a header row, RFC 4180 quoting and CRLF line ends, in ``encoding``."""

    def __init__(self, path: Path, columns: list[str], encoding: str, bom: bool = False) -> None:
        codec = "utf-8-sig" if bom and encoding == "utf-8" else encoding
        self.file: IO[str] = open(path, "w", encoding=codec, newline="")  # noqa: SIM115
        self.csv = csv.writer(self.file, lineterminator="\r\n")
        self.csv.writerow(columns)

    def write(self, row: list[Any]) -> None:
        self.csv.writerow(row)  # the csv module writes None as an empty field
        self.rows += 1

    def close(self) -> None:
        self.file.close()


class JsonlWriter(Writer):
    """One JSON object per line, keys in column order; empty values are ``null``."""

    def __init__(self, path: Path, columns: list[str], encoding: str) -> None:
        self.file: IO[str] = open(path, "w", encoding=encoding, newline="\n")  # noqa: SIM115
        self.columns = columns

    def write(self, row: list[Any]) -> None:
        record = {
            c: (None if v is None else str(v)) for c, v in zip(self.columns, row, strict=True)
        }
        self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.rows += 1

    def close(self) -> None:
        self.file.close()


class GeoJsonWriter(Writer):
    """A GeoJSON FeatureCollection in CGCS2000 (EPSG:4490), features streamed one per line.

    ``geometry_column`` is the column whose values are geometry dicts; the other columns become
    the feature's properties.
    """

    def __init__(self, path: Path, columns: list[str], geometry_column: str, name: str) -> None:
        self.file: IO[str] = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        self.columns = columns
        self.geometry_index = columns.index(geometry_column)
        header = {
            "type": "FeatureCollection",
            "name": name,
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
        }
        self.file.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "features": [\n')

    def write(self, row: list[Any]) -> None:
        properties = {
            c: (None if v is None else str(v))
            for i, (c, v) in enumerate(zip(self.columns, row, strict=True))
            if i != self.geometry_index
        }
        feature = {
            "type": "Feature",
            "properties": properties,
            "geometry": row[self.geometry_index],
        }
        prefix = ",\n" if self.rows else ""
        self.file.write(prefix + json.dumps(feature, ensure_ascii=False))
        self.rows += 1

    def close(self) -> None:
        self.file.write("\n]}\n")
        self.file.close()


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xml_text(value: str) -> str:
    # XML 1.0 forbids most control characters; tabs and line ends are allowed.
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    return value.translate(_XML_ESCAPE)


class XlsxWriter(Writer):
    """A one-sheet XLSX workbook, streamed into the zip, byte-identical for identical rows.

    ``created`` is the document's creation time (ISO 8601, UTC) written into its properties:
    the delivery date, never the time the file was generated.
    """

    def __init__(self, path: Path, columns: list[str], created: str) -> None:
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6)
        for name, text in _static_parts(created).items():
            self.zip.writestr(_entry(name), text)
        self.letters = [_column_letter(i) for i in range(len(columns))]
        self.sheet = self.zip.open(_entry("xl/worksheets/sheet1.xml"), "w", force_zip64=True)
        self.sheet.write(
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><sheetData>'.encode()
        )
        self.buffer: list[str] = []
        self._row(1, columns)

    def _row(self, number: int, values: list[Any]) -> None:
        cells = []
        for letter, value in zip(self.letters, values, strict=True):
            if value is None:
                continue
            ref = f"{letter}{number}"
            if isinstance(value, ExcelNumber):
                cells.append(f'<c r="{ref}"><v>{value.value!r}</v></c>')
                continue
            text = _xml_text(str(value))
            space = ' xml:space="preserve"' if text != text.strip() else ""
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
        self.buffer.append(f'<row r="{number}">{"".join(cells)}</row>')
        if len(self.buffer) >= 500:  # one deflate call per 500 rows, not per row
            self._flush()

    def _flush(self) -> None:
        self.sheet.write("".join(self.buffer).encode())
        self.buffer.clear()

    def write(self, row: list[Any]) -> None:
        self.rows += 1
        self._row(self.rows + 1, row)

    def close(self) -> None:
        self._flush()
        self.sheet.write(b"</sheetData></worksheet>")
        self.sheet.close()
        self.zip.close()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _static_parts(created: str) -> dict[str, str]:
    declaration = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    return {
        "[Content_Types].xml": declaration
        + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{sheet_type}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{sheet_type}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{sheet_type}.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
        'package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType='
        '"application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>',
        "_rels/.rels": declaration + f'<Relationships xmlns="{_PKG_REL_NS}">'
        f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{_REL_NS}/extended-properties" '
        'Target="docProps/app.xml"/></Relationships>',
        "docProps/core.xml": declaration
        + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms='
        '"http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>'
        "</cp:coreProperties>",
        "docProps/app.xml": declaration
        + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-'
        'properties"><Application>Microsoft Excel</Application></Properties>',
        "xl/workbook.xml": declaration + f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": declaration + f'<Relationships xmlns="{_PKG_REL_NS}">'
        f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": declaration + f'<styleSheet xmlns="{_MAIN_NS}">'
        '<fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        '</cellStyleXfs><cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" '
        'xfId="0"/></cellXfs><cellStyles count="1"><cellStyle name="常规" xfId="0" '
        'builtinId="0"/></cellStyles></styleSheet>',
    }


def open_writer(
    path: Path,
    fmt: str,
    columns: list[str],
    encoding: str,
    *,
    geometry_column: str | None = None,
    created: str = "2025-01-01T00:00:00Z",
    bom: bool = False,
    name: str = "",
) -> Writer:
    """A writer for one delivered file.

    Args:
        path: the file to create.
        fmt: ``csv``, ``jsonl``, ``xlsx`` or ``geojson`` (the catalog's delivery format).
        columns: header, in order (the department's column names).
        encoding: the encoding to write text formats in (not always the declared one).
        geometry_column: for GeoJSON, the column holding the geometry.
        created: for XLSX, the document creation time (the delivery date).
        bom: for UTF-8 CSV, start with a byte-order mark, as Excel's "CSV UTF-8" does.
        name: for GeoJSON, the collection's name.
    """
    if fmt == "csv":
        return CsvWriter(path, columns, encoding, bom=bom)
    if fmt == "jsonl":
        return JsonlWriter(path, columns, encoding)
    if fmt == "xlsx":
        return XlsxWriter(path, columns, created)
    if fmt == "geojson":
        if geometry_column is None:
            raise ValueError("a GeoJSON delivery needs a geometry column")
        return GeoJsonWriter(path, columns, geometry_column, name)
    raise ValueError(f"unknown delivery format {fmt!r}")
