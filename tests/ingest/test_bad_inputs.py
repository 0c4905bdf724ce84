"""The catalogue of bad inputs: what a department can deliver wrong, and what govlake does.

Every kind below is one batch of its own, all ingested together through the real pipeline
(landing → bronze → pool → row accounting from the tables). For each, the test checks the
reason quarantine (or the file log) shows, the good rows that still reach the pool, and that
the row accounting read from the bronze, pool and quarantine tables balances. The read bounds
are set low (``GOVLAKE_READ_MAX_*``) so that the oversized files stay small and the run fast.

Reason codes: ``file:<code>`` quarantines the file whole (its message in the file log);
``record:<code>`` quarantines one row with its delivered text (``_raw_line``) while the rest of
the file goes on; ``<field>:<code>`` is a value the standardiser refused; a ``rejected`` entry
is a landing entry never read. Each line: kind: what was delivered → what ingestion made of it.

- csv_short_row: a row with 4 of 7 columns → record:wrong_column_count
- csv_invalid_utf8_byte: one byte that is not UTF-8 in one row → record:undecodable_bytes
- csv_nul_bytes: NUL bytes inside a row → record:nul_bytes
- csv_repeated_header: the header again mid-file → record:repeated_header
- csv_joined_exports: two exports joined: BOM + header mid-file → record:repeated_header
- csv_bom_mid_file: a byte-order mark opening a data row → record:byte_order_mark
- csv_mixed_line_endings: CR, CRLF and LF line ends in one file → every row read
- csv_utf16: UTF-16 with its BOM, GBK declared → read; encoding mismatch logged
- csv_utf8_bom_on_gbk: a UTF-8 BOM on GBK bytes → file:undecodable
- csv_undecodable: binary bytes → file:undecodable
- csv_empty: 0 bytes → file:empty_file
- csv_zero_filled: only NUL bytes → file:nul_bytes
- csv_truncated: cut off inside the last row → file:truncated
- csv_no_row_fits: every row tab-separated, header commas → file:malformed_csv
- csv_unclosed_quote: a quote opened and never closed → record:unbalanced_quote
- csv_duplicate_columns: a column name twice → file:duplicate_columns
- csv_10000_columns: 10,000 columns → file:too_many_columns
- csv_single_huge_line: one line past the line bound (200 MB) → file:line_too_long
- csv_too_many_rows: rows past the row bound → file:too_many_rows
- csv_missing_required_column: no 户口状态 column → batch held, its rows counted as held
- csv_same_file_twice: one file delivered twice in a batch → second skipped as duplicate
- jsonl_malformed_line: a line that is not JSON → record:malformed_json
- jsonl_invalid_utf8_byte: one byte that is not UTF-8 in one line → record:undecodable_bytes
- jsonl_not_an_object: a line holding a JSON array → record:not_a_json_object
- jsonl_duplicate_keys: an object naming a key twice → record:duplicate_keys
- jsonl_truncated: last line cut off → file:truncated
- xlsx_row_wider_than_header: a value right of the last named column → record:wrong_column_count
- xlsx_repeated_header: the header row again mid-sheet → record:repeated_header
- xlsx_zip_bomb: a few KB unpacking past the byte bound → file:too_large
- xlsx_declares_whole_sheet: <dimension> A1:XFD1048576 → only its rows read
- xlsx_understates_dimension: <dimension> naming 4 of 10 rows → all 10 rows read
- xlsx_not_a_workbook: a CSV saved as .xlsx → file:unreadable_xlsx
- xlsx_rows_on_two_sheets: the export split over two sheets, a blank one between → every row read
- xlsx_sheet_of_other_columns: a second sheet holding another table → file:sheets_differ
- xlsx_excel_mangled_id: an ID Excel turned into 3.3e17 → person_id:excel_damaged
- geojson_million_vertices: a polygon of 1,000,000 vertices → file:too_many_vertices
- geojson_truncated: the document cut off → file:truncated
- geojson_properties_not_an_object: a feature's properties a list →
  record:properties_not_an_object
- date_year_0: birth date 0000-01-01 → birth_date:out_of_range
- date_year_10000: birth date 10000-01-01 → birth_date:bad_date
- id_region_abolished_before_birth: 110201… on a person born 1993 →
  person_id:region_abolished_before_birth
- number_out_of_range: a longitude of 400 digits → longitude:out_of_range
- nan_in_key: an address code NaN → address_code:not_a_value
- file_linked_outside: a symlink to a file outside the landing → rejected outside_landing
- batch_linked_outside: a batch folder linked outside → rejected outside_landing
- resource_linked_outside: the resource folder linked outside → rejected outside_landing
- unsafe_batch_name: a batch folder named -x → rejected unsafe_name

Covered in depth elsewhere: tests/ingest/test_readers.py and test_read_limits.py (each reader
rule), test_pipeline.py (a wrong-width row among 27, unstorable dates and times, landing links),
tests/ingest/test_pool.py (values the lake cannot store), tests/standardize/test_keys.py (keys).
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook
from stdnum.cn import ric

from jobs.ingest import pipeline
from jobs.ingest.accounting import RowAccountingError
from jobs.lake import ledger
from jobs.lake.paths import table_uri
from jobs.settings import Settings, pinned_clock
from tests.conftest import settings_under

pytestmark = [pytest.mark.spark, pytest.mark.slow]

NOW = dt.datetime(2025, 1, 8, 2, 0, tzinfo=dt.UTC)
HEADER = "公民身份号码,姓名,性别,出生日期,户号,户籍地址,户口状态"
COLUMNS = HEADER.split(",")
#: Bounds low enough that an oversized file is a small one (the defaults are in jobs/settings.py).
LIMITS = {
    "read_max_bytes": 4 * 1024 * 1024,
    "read_max_line_bytes": 64 * 1024,
    "read_max_rows": 1_000,
    "read_max_columns": 100,
    "read_max_cells": 100_000,
    "read_max_vertices": 10_000,
}

_serial = itertools.count(1)


def _person_id(birth: str = "19850615", region: str = "330211") -> str:
    """A valid citizen ID of a man, new for every call: no good row repeats another batch's."""
    first_17 = f"{region}{birth}{2 * next(_serial) + 1:03d}"
    return first_17 + ric.calc_check_digit(first_17 + "?")


def _cells(person_id: str | None = None, birth_date: str = "1985-06-15") -> list[str]:
    person_id = person_id or _person_id()
    return [person_id, "张三", "男", birth_date, "H1", "浙江省宁波市镇海区招宝山街道1号", "正常"]


def _row(person_id: str | None = None, birth_date: str = "1985-06-15") -> str:
    return ",".join(_cells(person_id, birth_date))


def _csv(*rows: str, header: str = HEADER, end: str = "\n") -> str:
    return "".join(line + end for line in (header, *rows))


def _text(name: str, text: str, encoding: str = "gbk") -> Callable[[Path], None]:
    return lambda batch: (batch / name).write_bytes(text.encode(encoding))


def _raw(name: str, data: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda batch: (batch / name).write_bytes(data())


def _jsonl(*lines: bytes) -> Callable[[Path], None]:
    def build(batch: Path) -> None:
        good = [
            json.dumps(dict(zip(COLUMNS, _cells(), strict=True)), ensure_ascii=False).encode()
            for _ in range(2)
        ]
        (batch / "hukou.jsonl").write_bytes(b"\n".join([good[0], *lines, good[1]]) + b"\n")

    return build


def _workbook(batch: Path, rows: list[list], name: str = "hukou.xlsx") -> Path:
    workbook = Workbook()
    for row in [COLUMNS, *rows]:
        workbook.active.append(row)
    path = batch / name
    workbook.save(path)
    return path


def _xlsx(*bad_rows: list) -> Callable[[Path], None]:
    return lambda batch: _workbook(batch, [_cells(), *bad_rows, _cells()])


def _two_sheets(second_header: list[str]) -> Callable[[Path], None]:
    """A workbook whose rows go on on a third sheet (a blank sheet between): a split export."""

    def build(batch: Path) -> None:
        workbook = Workbook()
        for row in [COLUMNS, _cells(), _cells()]:
            workbook.active.append(row)
        workbook.create_sheet("blank")
        more = workbook.create_sheet("more")
        for row in [second_header, _cells()]:
            more.append(row)
        workbook.save(batch / "hukou.xlsx")

    return build


def _rewrite_sheet(path: Path, rewrite: Callable[[bytes], bytes]) -> None:
    """Rewrites the sheet XML inside a workbook, as a hand-edited or hostile export would."""
    data = {}
    with zipfile.ZipFile(path) as source:
        infos = source.infolist()
        for item in infos:
            data[item.filename] = source.read(item.filename)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in infos:
            content = data[item.filename]
            if item.filename == "xl/worksheets/sheet1.xml":
                content = rewrite(content)
            target.writestr(item.filename, content)


def _xlsx_dimension(ref: str, rows: int) -> Callable[[Path], None]:
    def build(batch: Path) -> None:
        path = _workbook(batch, [_cells() for _ in range(rows)])
        _rewrite_sheet(path, lambda xml: re.sub(rb'<dimension ref="[^"]*"', ref.encode(), xml))

    return build


def _zip_bomb(batch: Path) -> None:
    path = _workbook(batch, [_cells()])
    padding = b"<!--" + b" " * (LIMITS["read_max_bytes"] + 1) + b"-->"
    _rewrite_sheet(path, lambda xml: xml + padding)  # a comment may follow the root element


def _million_vertex_polygon() -> bytes:
    ring = b"[121.5,29.9]," * 999_999 + b"[121.5,29.9]"
    feature = (
        b'{"type": "Feature", "properties": {"ZDDM": "x"}, '
        b'"geometry": {"type": "Polygon", "coordinates": [[' + ring + b"]]}}"
    )
    return b'{"type": "FeatureCollection", "features": [' + feature + b"]}"


def _features(*bad_properties: object) -> bytes:
    """A FeatureCollection of one good resident and features with ``bad_properties``."""
    good = dict(zip(COLUMNS, _cells(), strict=True))
    features = [
        {"type": "Feature", "properties": properties, "geometry": None}
        for properties in (good, *bad_properties)
    ]
    document = {"type": "FeatureCollection", "features": features}
    return json.dumps(document, ensure_ascii=False).encode()


def _outside(batch: Path, name: str) -> Path:
    """A delivery-shaped folder outside the landing root, holding one good file."""
    folder = batch.parents[3] / "elsewhere" / name
    folder.mkdir(parents=True)
    (folder / "x.csv").write_text(_csv(_row()), encoding="gbk")
    return folder


def _file_linked_outside(batch: Path) -> None:
    (batch / "a.csv").write_text(_csv(_row()), encoding="gbk")
    (batch / "b.csv").symlink_to(_outside(batch, "file") / "x.csv")


def _batch_linked_outside(batch: Path) -> None:
    batch.rmdir()
    batch.symlink_to(_outside(batch, "batch"))


def _resource_linked_outside(batch: Path) -> None:
    resource = batch.parent
    batch.rmdir()
    resource.rmdir()
    resource.symlink_to(_outside(batch, "marriage/b1").parent)


def _same_file_twice(batch: Path) -> None:
    text = _csv(_row(), _row())
    (batch / "a.csv").write_text(text, encoding="gbk")
    (batch / "a_copy.csv").write_text(text, encoding="gbk")


ADDRESS_HEADER = "地址编码,标准地址,区县代码,经度,纬度"


def _address(longitude: str) -> str:
    return f"A{next(_serial):04d},浙江省宁波市镇海区招宝山街道1号,330211,{longitude},29.96"


@dataclasses.dataclass(frozen=True)
class Case:
    """One kind of bad input: how its batch is made and what ingestion must make of it."""

    kind: str
    build: Callable[[Path], None]
    pool_rows: int
    #: Reasons in quarantine: ``file:<code>`` for a file quarantined whole, else one per row.
    reasons: tuple[str, ...] = ()
    #: A fragment of what a reader of the file log or quarantine sees about it.
    clue: str = ""
    #: Landing entries rejected unread: (file name, reason).
    rejected: tuple[tuple[str, str], ...] = ()
    held_rows: int = 0
    skipped: tuple[str, ...] = ()
    resource: str = "gaj.hukou"
    #: The batch folder's name, when not the kind ('' for the resource folder itself).
    batch: str | None = None

    @property
    def batch_id(self) -> str:
        return self.kind if self.batch is None else self.batch


CASES = [
    Case(
        "csv_short_row",
        _text("hukou.csv", _csv(_row(), "330211198506150014,张三,男,1985-06-15", _row())),
        pool_rows=2,
        reasons=("record:wrong_column_count",),
        clue="330211198506150014,张三,男,1985-06-15",
    ),
    Case(
        "csv_invalid_utf8_byte",
        _raw(
            "hukou.csv",
            lambda: _csv(_row(), _row(), "坏\udcff行,1,2,3,4,5,6").encode(errors="surrogateescape"),
        ),
        pool_rows=2,
        reasons=("record:undecodable_bytes",),
        clue="坏\\xff行",
    ),
    Case(
        "csv_nul_bytes",
        _text("hukou.csv", _csv(_row(), _row().replace("张三", "张\x00三"), _row())),
        pool_rows=2,
        reasons=("record:nul_bytes",),
        clue="张\x00三",
    ),
    Case(
        "csv_repeated_header",
        _text("hukou.csv", _csv(_row(), HEADER, _row())),
        pool_rows=2,
        reasons=("record:repeated_header",),
        clue=HEADER,
    ),
    Case(
        "csv_joined_exports",
        _raw("hukou.csv", lambda: b"".join(codecs.BOM_UTF8 + _csv(_row()).encode() for _ in "ab")),
        pool_rows=2,
        reasons=("record:repeated_header",),
        clue="\ufeff" + HEADER,
    ),
    Case(
        "csv_bom_mid_file",
        _raw("hukou.csv", lambda: (_csv(_row(), _row()) + "\ufeff" + _row() + "\n").encode()),
        pool_rows=2,
        reasons=("record:byte_order_mark",),
        clue="\ufeff3302",
    ),
    Case(
        "csv_mixed_line_endings",
        _text("hukou.csv", HEADER + "\r" + _row() + "\r\n" + _row() + "\n" + _row() + "\r"),
        pool_rows=3,
    ),
    Case(
        "csv_utf16",
        _raw("hukou.csv", lambda: _csv(_row(), _row()).encode("utf-16")),
        pool_rows=2,
        clue="declared gbk, delivered utf-16: read as delivered",
    ),
    Case(
        "csv_utf8_bom_on_gbk",
        _raw("hukou.csv", lambda: codecs.BOM_UTF8 + _csv(_row()).encode("gbk")),
        pool_rows=0,
        reasons=("file:undecodable",),
        clue="starts with a UTF-8 byte-order mark but is not UTF-8 text",
    ),
    Case(
        "csv_undecodable",
        _raw("hukou.csv", lambda: bytes(range(256)) * 20),
        pool_rows=0,
        reasons=("file:undecodable",),
        clue="neither UTF-8 nor GBK/GB18030",
    ),
    Case(
        "csv_empty",
        _raw("hukou.csv", lambda: b""),
        pool_rows=0,
        reasons=("file:empty_file",),
        clue="file is empty",
    ),
    Case(
        "csv_zero_filled",
        _raw("hukou.csv", lambda: b"\x00" * 4096),
        pool_rows=0,
        reasons=("file:nul_bytes",),
        clue="only NUL bytes",
    ),
    Case(
        "csv_truncated",
        _text("hukou.csv", _csv(_row(), _row())[:-30]),
        pool_rows=0,
        reasons=("file:truncated",),
        clue="file was cut off",
    ),
    Case(
        "csv_no_row_fits",
        _text("hukou.csv", _csv(_row().replace(",", "\t"), _row().replace(",", "\t"))),
        pool_rows=0,
        reasons=("file:malformed_csv",),
        clue="none of its 2 rows can be read as the header's 7 columns",
    ),
    Case(
        "csv_unclosed_quote",
        _text("hukou.csv", _csv(_row(), _row().replace("张三", '"张三'), _row())),
        pool_rows=2,
        reasons=("record:unbalanced_quote",),
        clue='"张三',
    ),
    Case(
        "csv_duplicate_columns",
        _text("hukou.csv", _csv(_row() + ",张三", header=HEADER + ",姓名")),
        pool_rows=0,
        reasons=("file:duplicate_columns",),
        clue="column names repeat: ['姓名']",
    ),
    Case(
        "csv_10000_columns",
        _raw(
            "hukou.csv",
            lambda: _csv(
                ",".join("1" * 10_000), header=",".join(f"c{n}" for n in range(10_000))
            ).encode(),
        ),
        pool_rows=0,
        reasons=("file:too_many_columns",),
        clue="more than 100 columns (GOVLAKE_READ_MAX_COLUMNS=100)",
    ),
    Case(
        "csv_single_huge_line",
        _raw("hukou.csv", lambda: (_row() + ",").encode() * 20_000),
        pool_rows=0,
        reasons=("file:line_too_long",),
        clue="GOVLAKE_READ_MAX_LINE_BYTES=65536",
    ),
    Case(
        "csv_too_many_rows",
        _text("hukou.csv", _csv(*(_row("330211198506150014") for _ in range(1_001)))),
        pool_rows=0,
        reasons=("file:too_many_rows",),
        clue="more than 1,000 rows",
    ),
    Case(
        "csv_missing_required_column",
        _text("hukou.csv", _csv(_row().rsplit(",", 1)[0], header=HEADER.rsplit(",", 1)[0])),
        pool_rows=0,
        held_rows=1,
        clue="required column(s) missing from the delivery: status (户口状态)",
    ),
    Case(
        "csv_same_file_twice",
        _same_file_twice,
        pool_rows=2,
        skipped=("a_copy.csv",),
        clue="same bytes as csv_same_file_twice/a.csv",
    ),
    Case(
        "jsonl_malformed_line",
        _jsonl(b'{"\xe5\xa7\x93\xe5\x90\x8d": "\xe5\xbc\xa0\xe4\xb8\x89",'),
        pool_rows=2,
        reasons=("record:malformed_json",),
        clue='{"姓名": "张三",',
    ),
    Case(
        "jsonl_invalid_utf8_byte",
        _jsonl(b'{"\xe5\xa7\x93\xe5\x90\x8d": "\xff"}'),
        pool_rows=2,
        reasons=("record:undecodable_bytes",),
        clue='{"姓名": "\\xff"}',
    ),
    Case(
        "jsonl_not_an_object",
        _jsonl(b'["330211198506150014", "\xe5\xbc\xa0\xe4\xb8\x89"]'),
        pool_rows=2,
        reasons=("record:not_a_json_object",),
        clue='["330211198506150014", "张三"]',
    ),
    Case(
        "jsonl_duplicate_keys",
        _jsonl(b'{"a": "1", "a": "2"}'),
        pool_rows=2,
        reasons=("record:duplicate_keys",),
        clue='{"a": "1", "a": "2"}',
    ),
    Case(
        "jsonl_truncated",
        _raw(
            "hukou.jsonl",
            lambda: json.dumps(
                dict(zip(COLUMNS, _cells(), strict=True)), ensure_ascii=False
            ).encode()[:-9],
        ),
        pool_rows=0,
        reasons=("file:truncated",),
        clue="last line is not complete JSON and has no line end",
    ),
    Case(
        "xlsx_row_wider_than_header",
        _xlsx([*_cells(), "多余"]),
        pool_rows=2,
        reasons=("record:wrong_column_count",),
        clue="\t多余",
    ),
    Case(
        "xlsx_repeated_header",
        _xlsx(COLUMNS),
        pool_rows=2,
        reasons=("record:repeated_header",),
        clue="公民身份号码\t姓名",
    ),
    Case(
        "xlsx_zip_bomb",
        _zip_bomb,
        pool_rows=0,
        reasons=("file:too_large",),
        clue="bytes once unpacked (GOVLAKE_READ_MAX_BYTES=4194304)",
    ),
    Case(
        "xlsx_declares_whole_sheet",
        _xlsx_dimension('<dimension ref="A1:XFD1048576"', rows=3),
        pool_rows=3,
    ),
    Case(
        "xlsx_understates_dimension",
        _xlsx_dimension('<dimension ref="A1:G5"', rows=10),
        pool_rows=10,
    ),
    Case(
        "xlsx_not_a_workbook",
        _text("hukou.xlsx", _csv(_row())),
        pool_rows=0,
        reasons=("file:unreadable_xlsx",),
        clue="not a readable XLSX workbook",
    ),
    Case(
        "xlsx_rows_on_two_sheets",
        _two_sheets(COLUMNS),
        pool_rows=3,
        clue="rows of 2 sheets read in order: Sheet, more",
    ),
    Case(
        "xlsx_sheet_of_other_columns",
        _two_sheets(["字段", "含义"]),
        pool_rows=0,
        reasons=("file:sheets_differ",),
        clue="sheet 'more' has the columns ['字段', '含义']",
    ),
    Case(
        "xlsx_excel_mangled_id",
        _xlsx([3.30211198506150e17, *_cells()[1:]]),
        pool_rows=2,
        reasons=("person_id:excel_damaged",),
    ),
    Case(
        "geojson_million_vertices",
        _raw("parcels.geojson", _million_vertex_polygon),
        pool_rows=0,
        reasons=("file:too_many_vertices",),
        clue="more than 10,000 coordinate positions (vertices)",
    ),
    Case(
        "geojson_truncated",
        _raw("parcels.geojson", lambda: b'{"type": "FeatureCollection", "features": [{"type": "Fe'),
        pool_rows=0,
        reasons=("file:truncated",),
        clue="not valid JSON",
    ),
    Case(
        "geojson_properties_not_an_object",
        _raw("residents.geojson", lambda: _features([["公民身份号码", "x"]])),
        pool_rows=1,
        reasons=("record:properties_not_an_object",),
        clue='"properties": [["公民身份号码", "x"]]',
    ),
    Case(
        "date_year_0",
        _text("hukou.csv", _csv(_row(), _row(birth_date="0000-01-01"), _row())),
        pool_rows=2,
        reasons=("birth_date:out_of_range",),
    ),
    Case(
        "date_year_10000",
        _text("hukou.csv", _csv(_row(), _row(birth_date="10000-01-01"), _row())),
        pool_rows=2,
        reasons=("birth_date:bad_date",),
    ),
    Case(
        "id_region_abolished_before_birth",
        _text("hukou.csv", _csv(_row(), _row(_person_id("19930101", "110201"), "1993-01-01"))),
        pool_rows=1,
        reasons=("person_id:region_abolished_before_birth",),
    ),
    Case(
        "number_out_of_range",
        _text(
            "address.csv",
            _csv(
                _address("121.55"),
                _address("9" * 400),
                header=ADDRESS_HEADER,
            ),
            "utf-8",
        ),
        pool_rows=1,
        reasons=("longitude:out_of_range",),
        resource="zrzyj.address",
    ),
    Case(
        "nan_in_key",
        _text(
            "address.csv",
            _csv(_address("121.55"), "NaN" + _address("121.55")[5:], header=ADDRESS_HEADER),
            "utf-8",
        ),
        pool_rows=1,
        reasons=("address_code:not_a_value",),
        resource="zrzyj.address",
    ),
    Case(
        "file_linked_outside",
        _file_linked_outside,
        pool_rows=1,
        rejected=(("b.csv", "outside_landing"),),
        clue="file 'b.csv' in batch 'file_linked_outside' points outside the batch",
    ),
    Case(
        "batch_linked_outside",
        _batch_linked_outside,
        pool_rows=0,
        rejected=(("", "outside_landing"),),
        clue="batch 'batch_linked_outside' resolves outside",
    ),
    Case(
        "resource_linked_outside",
        _resource_linked_outside,
        pool_rows=0,
        rejected=(("", "outside_landing"),),
        clue="resource folder 'marriage' resolves outside",
        resource="mzj.marriage",
        batch="",
    ),
    Case(
        "unsafe_batch_name",
        _text("hukou.csv", _csv(_row())),
        pool_rows=0,
        rejected=(("", "unsafe_name"),),
        clue="batch name '-x' is not allowed",
        batch="-x",
    ),
]


@dataclasses.dataclass
class Found:
    """What the lake holds about one case's batch, read from the tables after the run."""

    reasons: list[str]
    clues: list[str]
    pool_rows: int
    rejected: list[tuple[str, str]]
    held_rows: int
    skipped: list[str]
    accounting: list[dict]


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> dict[str, Found]:
    settings = settings_under(tmp_path_factory.mktemp("bad_inputs"), **LIMITS)
    settings = settings.with_clock(pinned_clock(NOW))
    for case in CASES:
        department, resource = case.resource.split(".")
        batch = Path(settings.landing_root) / department / resource / (case.batch_id or "b1")
        batch.mkdir(parents=True)
        case.build(batch)
    for resource_id in sorted({case.resource for case in CASES}):
        pipeline.land_to_bronze(resource_id, settings, spark=spark)
        pipeline.bronze_to_pool(resource_id, settings, spark=spark)
        with contextlib.suppress(RowAccountingError):  # each case's test names its own files
            pipeline.check_row_accounting(resource_id, settings, spark=spark)
    tables = _read_tables(settings)
    return {case.kind: _found(tables, case) for case in CASES}


def _read_tables(settings: Settings) -> dict[str, list[dict]]:
    """The governance tables, and every resource's quarantine and pool (batch ids only)."""
    tables = {
        name: ledger.read_rows(table_uri(settings, "governance", name))
        for name in ("ingest_files", "pool_batches", "row_accounting")
    }
    for family, columns in (("quarantine", None), ("pool", ["resource", "batch_id"])):
        tables[family] = [
            row
            for resource_id in sorted({case.resource for case in CASES})
            for row in ledger.read_rows(
                table_uri(settings, family, *resource_id.split(".")), columns=columns
            )
        ]
    return tables


def _found(tables: dict[str, list[dict]], case: Case) -> Found:
    resource = case.resource.split(".")[1]

    def rows(table: str) -> list[dict]:
        return [
            r for r in tables[table] if (r["resource"], r["batch_id"]) == (resource, case.batch_id)
        ]

    files, outcomes, quarantined = rows("ingest_files"), rows("pool_batches"), rows("quarantine")
    raw_texts = [v for r in quarantined for k, v in r["raw"] if k in {"_message", "_raw_line"}]
    return Found(
        # a row's first reason says why; a row that could not be read also misses its fields
        reasons=sorted(r["reasons"][0] for r in quarantined),
        clues=[r["message"] for r in files + outcomes if r["message"]] + raw_texts,
        pool_rows=len(rows("pool")),
        rejected=sorted(
            (r["source_file"], r["reason"]) for r in files if r["status"] == "rejected"
        ),
        held_rows=sum(r["held_rows"] for r in outcomes if r["outcome"] == "held"),
        skipped=sorted(r["source_file"] for r in files if r["status"] == "skipped_duplicate"),
        accounting=rows("row_accounting"),
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.kind)
def test_bad_input_costs_only_itself_with_a_clear_reason(lake, case):
    found = lake[case.kind]
    assert found.reasons == sorted(case.reasons)
    assert found.pool_rows == case.pool_rows
    assert found.rejected == list(case.rejected)
    assert (found.held_rows, found.skipped) == (case.held_rows, list(case.skipped))
    if case.clue:
        assert any(case.clue in clue for clue in found.clues), found.clues
    unbalanced = [
        (r["source_file"], r["imbalance"]) for r in found.accounting if not r["is_balanced"]
    ]
    assert unbalanced == []
    if case.pool_rows or not case.rejected:
        # every file read is accounted for, row by row, from the tables
        assert len(found.accounting) == len({r["source_file"] for r in found.accounting}) >= 1
        assert sum(r["bronze_rows"] for r in found.accounting) == sum(
            r["pool_rows"] + r["quarantined_rows"] + r["duplicate_rows"] + r["held_rows"]
            for r in found.accounting
        )


def test_the_catalogue_lists_every_kind_once_and_at_least_25():
    kinds = [case.kind for case in CASES]
    listed = re.findall(r"^- ([a-z0-9_]+): ", __doc__, flags=re.MULTILINE)
    assert len(set(kinds)) == len(kinds) >= 25
    assert listed == kinds
