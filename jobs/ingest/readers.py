"""Reading one delivered file into raw strings, exactly as delivered.

Every reader returns a :class:`RawFile`: a pyarrow table whose columns are the file's own column
names (all strings, nothing parsed or trimmed) plus ``_row_number`` (1-based data row), and the
rows that could not be split into columns (``_read_problem`` set, the raw text kept in
``_raw_line``). A file that cannot be read at all raises :class:`UnreadableFile` with a reason
code; the caller quarantines it whole. Nothing here drops a row.

Every reader is bounded (:class:`ReadLimits`, from the ``read_max_*`` settings): bytes once
decompressed, line length, rows, columns, cells and GeoJSON vertices are counted while the file
is read, and reading stops at the first bound crossed, so no single file can exhaust memory.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gc
import io
import json
import re
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator, Set
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from jobs.settings import ENV_PREFIX, Settings

ROW_NUMBER = "_row_number"
READ_PROBLEM = "_read_problem"
RAW_LINE = "_raw_line"

#: Read problems of one row (the row goes to quarantine with its text; NUL_BYTES is also the
#: reason of a file that holds nothing else).
WRONG_COLUMN_COUNT = "wrong_column_count"
UNDECODABLE_BYTES = "undecodable_bytes"
#: NUL bytes in a row: no delivered text holds them; a damaged or partly zeroed file does.
NUL_BYTES = "nul_bytes"
#: The header again below the first line: exports joined by hand, each with its header.
REPEATED_HEADER = "repeated_header"
#: A byte-order mark opening a line below the first: a file appended to another. The row is kept
#: apart rather than read with an invisible character in its first field.
BYTE_ORDER_MARK = "byte_order_mark"
#: A quote opened in a row and not closed where the row ends: read on, it would swallow the
#: rows after it, so only its own line is kept apart.
UNBALANCED_QUOTE = "unbalanced_quote"
#: A JSON object naming a key twice: a reader keeps one value silently, so the row is kept apart.
DUPLICATE_KEYS = "duplicate_keys"


class UnreadableFile(Exception):
    """A file that must be quarantined whole. ``reason`` is a short code, the message says why."""

    def __init__(self, reason: str, message: str, rows_seen: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.rows_seen = rows_seen


@dataclass
class RawFile:
    """The raw content of one file: string columns in delivered order, plus row numbers."""

    table: pa.Table
    columns: list[str]
    detected_encoding: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return self.table.num_rows


# --- bounds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadLimits:
    """Per-file bounds, each checked while a file is read; the values of the ``read_max_*``
    settings (:meth:`from_settings`)."""

    max_bytes: int
    max_line_bytes: int
    max_rows: int
    max_columns: int
    max_cells: int
    max_vertices: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        return cls(**{f.name: getattr(settings, f"read_{f.name}") for f in dataclass_fields(cls)})

    def check(self, bound: str, count: int, what: str) -> None:
        """Raises :class:`UnreadableFile` when ``count`` of ``what`` crosses ``bound``; the
        message names the bound and the variable that sets it."""
        limit = getattr(self, bound)
        if count > limit:
            variable = f"{ENV_PREFIX}READ_{bound.upper()}"
            raise UnreadableFile(
                _LIMIT_REASONS[bound],
                f"more than {limit:,} {what} ({variable}={limit}): not read further",
            )


_LIMIT_REASONS = {
    "max_bytes": "too_large",
    "max_line_bytes": "line_too_long",
    "max_rows": "too_many_rows",
    "max_columns": "too_many_columns",
    "max_cells": "too_many_cells",
    "max_vertices": "too_many_vertices",
}

#: The bounds of the default settings (tests, callers that read one file by hand).
DEFAULT_LIMITS = ReadLimits.from_settings(Settings())


def _read_bounded(
    path: Path, limits: ReadLimits, *, header_lines: int | None, positions: bool = False
) -> bytes:
    """The file's bytes, read in chunks that stop at the first bound crossed: its size; for a
    line-based file (``header_lines`` not None) the length of a line and the number of lines
    (a data row is at least one line; a line ends at \\n, \\r\\n or a bare \\r); with
    ``positions``, the GeoJSON coordinate positions (vertices), so that a polygon of a million
    vertices is refused before the document is parsed, or even read whole."""
    chunks: list[bytes] = []
    size = line_ends = open_line = vertices = 0
    unscanned = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            size += len(chunk)
            limits.check("max_bytes", size, "bytes")
            chunks.append(chunk)
            if positions:
                count, unscanned = _count_positions(unscanned + chunk)
                vertices += count
                limits.check("max_vertices", vertices, "coordinate positions (vertices)")
            if header_lines is None:
                continue
            lengths = _line_lengths(chunk)
            lengths[0] += open_line
            if lengths.max() > limits.max_line_bytes:
                # Perhaps lines ended by a bare \r (classic Mac), split again (slower) to know.
                lengths = np.array([len(line) for line in _LINE_END.split(chunk)])
                lengths[0] += open_line
            limits.check("max_line_bytes", int(lengths.max()), "bytes in one line")
            open_line = int(lengths[-1])
            line_ends += len(lengths) - 1
            limits.check("max_rows", line_ends - header_lines, "rows (lines)")
    if unscanned:
        vertices += _count_positions(unscanned + b",")[0]
        limits.check("max_vertices", vertices, "coordinate positions (vertices)")
    return b"".join(chunks)


def _line_lengths(chunk: bytes) -> np.ndarray:
    """The lengths of ``chunk.split(b"\\n")``'s pieces, without a Python object per line."""
    ends = np.flatnonzero(np.frombuffer(chunk, np.uint8) == ord("\n"))
    return np.diff(np.concatenate([[-1], ends, [len(chunk)]])) - 1


_LINE_END = re.compile(rb"\r\n?|\n")
#: A GeoJSON position: an array that opens with a number.
_POSITION = re.compile(rb"\[\s*-?[0-9.]")


def _count_positions(data: bytes) -> tuple[int, bytes]:
    """The GeoJSON positions in ``data`` up to its last ',' or ']' (no position's opening spans
    either), and the bytes after, which the next chunk completes."""
    end = max(data.rfind(b","), data.rfind(b"]")) + 1
    return sum(1 for _ in _POSITION.finditer(data, 0, end)), data[end:]


def _check_has_text(data: bytes) -> None:
    """Refuses a file with nothing to read: empty (or blank), or only NUL bytes, which is what
    a file preallocated and never written (or zeroed by a crash) holds."""
    if _BLANK.fullmatch(data):
        raise UnreadableFile("empty_file", "file is empty", rows_seen=0)
    if _BLANK_OR_NUL.fullmatch(data):
        raise UnreadableFile(
            NUL_BYTES,
            f"file holds only NUL bytes ({data.count(0):,}): zero-filled, never written",
            rows_seen=0,
        )


_BLANK = re.compile(rb"\s*")
_BLANK_OR_NUL = re.compile(rb"[\s\x00]*")


class _RowCollector:
    """Collects a file's rows and turns them into Arrow every few thousand, so that memory
    follows the text read rather than Python objects per cell; checks the bounds on rows,
    columns and cells as each row arrives."""

    CHUNK_ROWS = 10_000

    def __init__(self, limits: ReadLimits, columns: list[str] | None = None):
        self.limits = limits
        self.columns: dict[str, None] = dict.fromkeys(columns or [])
        self.row_count = 0
        self.problem_count = 0
        self.first_problem: str | None = None
        self._pending: list[dict[str, str | None]] = []
        self._chunks: list[pa.Table] = []

    def add(self, record: dict[str, str | None]) -> None:
        self.row_count += 1
        self.limits.check("max_rows", self.row_count, "rows")
        if READ_PROBLEM in record:
            self.problem_count += 1
            if self.first_problem is None:
                self.first_problem = f"{record[READ_PROBLEM]} {record[RAW_LINE][:80]!r}"
        elif not record.keys() <= self.columns.keys():
            self.columns.update(dict.fromkeys(record))
            self.limits.check("max_columns", len(self.columns), "columns")
        self.limits.check("max_cells", self.row_count * len(self.columns), "cells (rows × columns)")
        self._pending.append(record)
        if len(self._pending) >= self.CHUNK_ROWS:
            self._flush()

    def _names(self) -> list[str]:
        return list(self.columns) + ([READ_PROBLEM, RAW_LINE] if self.problem_count else [])

    def _flush(self) -> None:
        names = self._names() or [RAW_LINE]  # rows without any column still count
        arrays = {n: pa.array([r.get(n) for r in self._pending], pa.string()) for n in names}
        self._chunks.append(pa.table(arrays))
        self._pending.clear()

    def raw_file(self, encoding: str | None) -> RawFile:
        if self._pending or not self._chunks:
            self._flush()
        table = pa.concat_tables(self._chunks, promote_options="default")
        table = table.select(self._names() or [RAW_LINE])
        return RawFile(
            table=_with_row_numbers(table), columns=list(self.columns), detected_encoding=encoding
        )


# --- encodings ---------------------------------------------------------------------------------


def decode_text(data: bytes) -> tuple[str, str]:
    """Decodes delivered bytes: BOM first, then strict UTF-8, then GBK, then GB18030.

    UTF-8 is tried first because GBK/GB18030 decoders accept many UTF-8 byte sequences as
    (wrong) Chinese text, while Chinese GBK text almost never is valid UTF-8.

    Returns:
        (text, encoding name).
    Raises:
        UnreadableFile: ``truncated`` when only the last few bytes fail (a multi-byte character
            cut off), else ``undecodable``.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _decode_marked(data, "utf-8-sig", "UTF-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_marked(data, "utf-16", "UTF-16")
    errors = {}
    for encoding in ("utf-8", "gbk", "gb18030"):
        try:
            return data.decode(encoding, errors="strict"), encoding
        except UnicodeDecodeError as error:
            errors[encoding] = error
    # A transfer cut inside a multi-byte character: the text decodes cleanly up to its last bytes.
    if any(len(data) - error.start <= 3 for error in errors.values()):
        raise UnreadableFile("truncated", "file ends inside a multi-byte character (cut off)")
    first = errors["gb18030"]
    raise UnreadableFile(
        "undecodable",
        f"bytes are neither UTF-8 nor GBK/GB18030 (first bad byte at offset {first.start})",
    )


def _decode_marked(data: bytes, encoding: str, name: str) -> tuple[str, str]:
    """A file that opens with a byte-order mark, in the encoding the mark names: a file it does
    not fit (a GBK export given a UTF-8 mark) is not guessed at."""
    try:
        return data.decode(encoding, errors="strict"), encoding
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            "undecodable",
            f"starts with a {name} byte-order mark but is not {name} text "
            f"(first bad byte at offset {error.start})",
        ) from error


def decode_lines(data: bytes) -> tuple[str, str, frozenset[int]]:
    """Decodes a line-based file (CSV, JSON lines) so that a bad byte costs its line, not the file.

    A file that decodes whole is read as :func:`decode_text` reads it. Otherwise the encoding is
    the one (UTF-8, else GB18030; only UTF-8 after a UTF-8 byte-order mark, and a UTF-16 file
    decodes whole or not at all) in which most lines holding non-ASCII bytes decode, else UTF-8
    when most lines are ASCII; the lines that do not decode are decoded with their bad bytes
    shown as ``\\xNN`` and reported, so the reader can quarantine those rows with their text.

    Returns:
        (text, encoding name, indices of the lines, split at ``\\n``, that had bad bytes).
    Raises:
        UnreadableFile: as :func:`decode_text`, when no encoding fits most lines.
    """
    try:
        text, encoding = decode_text(data)
        return text, encoding, frozenset()
    except UnreadableFile as error:
        if error.reason == "truncated":
            raise
        whole_file_error = error
    has_bom = data.startswith(codecs.BOM_UTF8)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise whole_file_error
    lines = data.removeprefix(codecs.BOM_UTF8).split(b"\n")
    non_ascii = [index for index, line in enumerate(lines) if not line.isascii()]
    encodings = ("utf-8",) if has_bom else ("utf-8", "gb18030")
    bad = {e: frozenset(i for i in non_ascii if not _decodes(lines[i], e)) for e in encodings}
    fitting = [e for e in encodings if len(non_ascii) - len(bad[e]) > len(bad[e])]
    # Mostly ASCII lines, the others fitting no encoding well: UTF-8, each line that is not
    # UTF-8 costing itself.
    if not fitting and len(lines) - len(non_ascii) > len(bad["utf-8"]):
        fitting = ["utf-8"]
    if fitting:
        encoding = fitting[0]
        return (
            _joined(lines, encoding, bad[encoding]),
            ("utf-8-sig" if has_bom else encoding),
            bad[encoding],
        )
    raise whole_file_error


def _decodes(line: bytes, encoding: str) -> bool:
    try:
        line.decode(encoding, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def _joined(lines: list[bytes], encoding: str, bad: Set[int]) -> str:
    """The lines decoded and joined again, the bad bytes of the ``bad`` lines as ``\\xNN``."""
    return "\n".join(
        line.decode(encoding, errors="backslashreplace" if i in bad else "strict")
        for i, line in enumerate(lines)
    )


def encodings_compatible(declared: str | None, detected: str | None) -> bool:
    """True when a file read with ``detected`` matches what the department declared."""
    if not declared or not detected:
        return True
    norm = {"utf-8-sig": "utf-8", "utf8": "utf-8", "gb2312": "gbk", "cp936": "gbk"}
    declared_n = norm.get(declared.lower(), declared.lower())
    detected_n = norm.get(detected.lower(), detected.lower())
    # GBK is a subset of GB18030: a GBK file declared as GB18030 (or the reverse) reads the same.
    chinese = {"gbk", "gb18030"}
    return declared_n == detected_n or {declared_n, detected_n} <= chinese


# --- CSV ---------------------------------------------------------------------------------------


def read_csv(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> RawFile:
    """Reads a delimited text file (comma, or tab/semicolon/pipe if sniffed) as raw strings.

    A row that does not split into the header's columns, or holds undecodable bytes, is kept
    as a row with a read problem and its text; the file is unreadable only when no row is.
    """
    # A field is bounded by its line: let the csv module read fields as long as a line may be
    # (its own default, 128 KiB, would fail the whole run on a longer one).
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_line_bytes))
    _check_header_width(path, limits)
    data = _read_bounded(path, limits, header_lines=1)
    _check_has_text(data)
    text, encoding, bad_lines = decode_lines(data)
    if "\n" not in text and "\r" not in text:
        # Not even the header line ended: the transfer was cut off inside the header.
        raise UnreadableFile(
            "truncated", "file has no complete line: cut off inside the header", rows_seen=0
        )
    if 0 in bad_lines:
        raise UnreadableFile("undecodable", f"the header line is not {encoding} text")
    header_line = _first_line(text)
    delimiter = _sniff_delimiter(header_line)
    header = next(csv.reader([header_line], delimiter=delimiter))
    _check_header(header)
    limits.check("max_columns", len(header), "columns")
    lines_after_header = max(text.count("\n"), text.count("\r")) - text.endswith(("\n", "\r"))
    limits.check("max_cells", lines_after_header * len(header), "cells (rows × columns)")
    if not text.endswith(("\n", "\r")):
        _check_last_line_complete(text, delimiter, len(header))
    # NUL bytes, byte-order marks, the header again and a quote left open cost their rows: the
    # fast reader would take them as data (an open quote, the rest of the file as one value).
    if not (
        bad_lines
        or "\x00" in text
        or "\ufeff" in text
        or f"\n{header_line}" in text
        or f"\r{header_line}" in text
        or text.count('"') % 2
    ):
        # Arrow reads UTF-8 bytes: the delivered ones when they are UTF-8, else the text encoded
        # again. The decoded text, the largest copy, is let go first and decoded again only
        # for the row-by-row reader.
        if encoding.startswith("utf-8"):
            utf8 = memoryview(data)[len(codecs.BOM_UTF8) if encoding == "utf-8-sig" else 0 :]
        else:
            utf8 = text.encode("utf-8")
        del text
        table = _read_csv_fast(utf8, delimiter, header)
        if table is not None:
            return RawFile(
                table=_with_row_numbers(table), columns=header, detected_encoding=encoding
            )
        del utf8
        text = decode_lines(data)[0]
    rows = _csv_records(text, delimiter, header, bad_lines, limits)
    if rows.row_count and rows.problem_count == rows.row_count:
        raise UnreadableFile(
            "malformed_csv",
            f"none of its {rows.row_count} rows can be read as the header's {len(header)} "
            f"columns (first: {rows.first_problem})",
            rows_seen=rows.row_count,
        )
    return rows.raw_file(encoding)


def _read_csv_fast(data: bytes | memoryview, delimiter: str, header: list[str]) -> pa.Table | None:
    """The whole file (UTF-8) with Arrow's reader, or None when a row does not fit (then the
    rows are read one by one by :func:`_csv_records`)."""
    try:
        return pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(data)),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except pa.ArrowInvalid:
        return None


def _first_line(text: str) -> str:
    """The text before the first line end (\\n, \\r\\n or a bare \\r: line ends may be mixed)."""
    end = text.find("\n")
    end = len(text) if end < 0 else end
    cr = text.find("\r", 0, end)
    return text[: end if cr < 0 else cr]


def _is_header(fields: list[str], header: list[str]) -> bool:
    return [f.strip() for f in fields] == [name.strip() for name in header]


def _csv_records(
    text: str, delimiter: str, header: list[str], bad_lines: frozenset[int], limits: ReadLimits
) -> _RowCollector:
    """Every data row as a record; a row with undecodable bytes or NUL bytes, the header
    repeated (after a byte-order mark or not), a row opening with a byte-order mark, a quote
    left open and a row of the wrong width each as a record holding its text (``_raw_line``)
    and its read problem. Blank lines are skipped, as the fast reader skips them."""
    lines = _Lines(text)
    rows = _RowCollector(limits, header)
    reader = csv.reader(lines, delimiter=delimiter)
    for number, fields in enumerate(reader):
        record = lines.take_consumed()
        raw_text = "".join(line for line, _ in record).rstrip("\r\n")
        touched = {index for _, index in record}
        if number == 0 or not fields:
            continue  # the header; a blank line
        if touched & bad_lines:
            rows.add({READ_PROBLEM: UNDECODABLE_BYTES, RAW_LINE: raw_text})
        elif "\x00" in raw_text:
            rows.add({READ_PROBLEM: NUL_BYTES, RAW_LINE: raw_text})
        elif _is_header([fields[0].lstrip("\ufeff"), *fields[1:]], header):
            rows.add({READ_PROBLEM: REPEATED_HEADER, RAW_LINE: raw_text})
        elif raw_text.startswith("\ufeff"):
            rows.add({READ_PROBLEM: BYTE_ORDER_MARK, RAW_LINE: raw_text})
        elif len(record) > 1 and (len(fields) != len(header) or raw_text.count('"') % 2):
            # A quote opened and not closed where its row ends (or never) swallowed the lines
            # after it: only its first line is the bad row; the others are read again.
            rows.add({READ_PROBLEM: UNBALANCED_QUOTE, RAW_LINE: record[0][0].rstrip("\r\n")})
            lines.read_again(record[1:])
        elif len(fields) != len(header):
            rows.add({READ_PROBLEM: WRONG_COLUMN_COUNT, RAW_LINE: raw_text})
        else:
            rows.add(dict(zip(header, fields, strict=True)))
    return rows


class _Lines:
    """The lines of a text for the csv module, line ends as it wants them (\\n, \\r\\n, \\r),
    each kept with the index of its \\n-separated line (what ``bad_lines`` counts) until the
    reader's record is taken; lines handed back are read again first."""

    def __init__(self, text: str):
        self._source = io.StringIO(text, newline="")
        self._index = 0
        self._again: deque[tuple[str, int]] = deque()
        self._consumed: list[tuple[str, int]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            line, index = self._again.popleft()
        else:
            line, index = self._source.readline(), self._index
            if not line:
                raise StopIteration
            self._index += line.endswith("\n")
        self._consumed.append((line, index))
        return line

    def take_consumed(self) -> list[tuple[str, int]]:
        """The lines read since the last call: those of the record the reader just returned."""
        record, self._consumed = self._consumed, []
        return record

    def read_again(self, lines: list[tuple[str, int]]) -> None:
        self._again.extendleft(reversed(lines))


def _check_header_width(path: Path, limits: ReadLimits) -> None:
    """Counts the header's columns before the file is read: a file 10,000 columns wide is
    refused after its first line. Delimiters are ASCII, so the line is split as Latin-1."""
    with path.open("rb") as handle:
        head = handle.read(limits.max_line_bytes + 1)
    first_line = _LINE_END.split(head, 1)[0]
    limits.check("max_line_bytes", len(first_line), "bytes in one line")
    header_line = first_line.decode("latin-1")
    try:
        header = next(csv.reader([header_line], delimiter=_sniff_delimiter(header_line)), [])
    except csv.Error:
        return  # not text the csv module splits (UTF-16): the decoded header is checked later
    limits.check("max_columns", len(header), "columns")


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _check_header(header: list[str]) -> None:
    names = [name.strip() for name in header]
    if not any(names):
        raise UnreadableFile("no_header", "first line has no column names")
    if any("\x00" in name for name in names):
        raise UnreadableFile(NUL_BYTES, f"the header holds NUL bytes: {header}")
    if "" in names:
        raise UnreadableFile("blank_column_name", f"a column has no name (header: {header})")
    seen, duplicates = set(), []
    for name in names:
        if name in seen:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        raise UnreadableFile("duplicate_columns", f"column names repeat: {sorted(set(duplicates))}")


def _check_last_line_complete(text: str, delimiter: str, width: int) -> None:
    """A file without a final newline whose last row is short was cut off in transfer."""
    last_line = text[max(text.rfind("\n"), text.rfind("\r")) + 1 :]
    fields = next(csv.reader([last_line], delimiter=delimiter), [])
    quotes_open = last_line.count('"') % 2 == 1
    if quotes_open or len(fields) < width:
        rows_seen = max(text.count("\n"), 0)
        raise UnreadableFile(
            "truncated",
            f"last line has {len(fields)} of {width} columns and no line end: file was cut off",
            rows_seen=rows_seen,
        )


# --- JSON lines --------------------------------------------------------------------------------


def read_jsonl(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> RawFile:
    """Reads JSON lines; a line that is not a JSON object (or names a key twice), or holds
    undecodable or NUL bytes, or opens with a byte-order mark, is kept as a row with a read
    problem and its text."""
    data = _read_bounded(path, limits, header_lines=0)
    _check_has_text(data)
    text, encoding, bad_lines = decode_lines(data)
    # Trailing blank lines are no rows: the last line kept is the one of the last non-blank
    # character, up to its line end.
    last = len(text)
    while last and text[last - 1].isspace():
        last -= 1
    line_ends = [i for i in (text.find("\n", last), text.find("\r", last)) if i >= 0]
    stop = min(line_ends, default=len(text)) if last else 0
    if stop and not text.endswith(("\n", "\r")):
        last_line = text[max(text.rfind("\n", 0, stop), text.rfind("\r", 0, stop)) + 1 : stop]
        try:
            json.loads(last_line)
        except json.JSONDecodeError as error:
            raise UnreadableFile(
                "truncated",
                "last line is not complete JSON and has no line end",
                rows_seen=sum(1 for _ in _json_lines(text, stop, bad_lines)),
            ) from error
    lines = _json_lines(text, stop, bad_lines)
    rows = _RowCollector(limits)
    for line, undecodable in lines:
        if undecodable:
            problem = UNDECODABLE_BYTES
        elif "\x00" in line:
            problem = NUL_BYTES
        elif line.startswith("\ufeff"):
            problem = BYTE_ORDER_MARK
        else:
            record, problem = _parse_json_object(line)
        rows.add({READ_PROBLEM: problem, RAW_LINE: line} if problem else record)
    return rows.raw_file(encoding)


def _json_lines(text: str, stop: int, bad_lines: frozenset[int]) -> Iterator[tuple[str, bool]]:
    """The lines of ``text[:stop]``, one at a time (a list of them would double the memory a
    file takes), each with whether it held undecodable bytes. Split at \\n and a bare \\r,
    which JSON text cannot hold raw; never at U+2028 and the other separators
    str.splitlines() knows: JSON strings may hold those."""
    start = index = 0
    while start < stop:
        line_end = text.find("\n", start, stop)
        line_end = stop if line_end < 0 else line_end
        for line in text[start:line_end].removesuffix("\r").split("\r"):
            yield line, index in bad_lines
        index += 1
        start = line_end + 1


def _parse_json_object(line: str) -> tuple[dict[str, str | None], str | None]:
    if not line.strip():
        return {}, "blank_line"
    try:
        value = json.loads(line, object_pairs_hook=_object_of_unique_keys)
    except _RepeatedKey:
        return {}, DUPLICATE_KEYS
    except (json.JSONDecodeError, RecursionError):
        return {}, "malformed_json"
    if not isinstance(value, dict):
        return {}, "not_a_json_object"
    return {str(k): _scalar_text(v) for k, v in value.items()}, None


class _RepeatedKey(ValueError):
    pass


def _object_of_unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _RepeatedKey
    return value


def _scalar_text(value: object) -> str | None:
    """The delivered value as text: numbers as written, nested values as compact JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# --- XLSX --------------------------------------------------------------------------------------


def read_xlsx(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> RawFile:
    """Reads every sheet of a workbook that holds rows, header in row 1 of each. Cell values
    become text as Excel shows them; numbers keep Excel's own digits, so an ID typed as a number
    shows its damage.

    Departments split long exports over several sheets (one per district, one per 65,536 rows
    of old Excel): each sheet must carry the first one's header and its rows follow the first
    sheet's, numbered on. A sheet with another header is another table: the workbook is
    unreadable as one delivery (nothing of it is taken), and the message names the sheet.
    Sheets without any row are skipped; the notes name the sheets read.

    The sheet is streamed row by row. Before anything is unpacked, the sizes the zip members
    declare must fit the byte bound; Python's zip reader never unpacks more than a member
    declares (a member that holds more fails its checksum), so a zip bomb stops there.
    """
    from openpyxl import load_workbook

    if path.stat().st_size == 0:
        raise UnreadableFile("empty_file", "file is empty", rows_seen=0)
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
        limits.check("max_bytes", unpacked, "bytes once unpacked")
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        if _is_cut_off_zip(path):
            raise UnreadableFile(
                "truncated", "workbook starts as a zip archive but its end is missing: cut off"
            ) from error
        raise UnreadableFile("unreadable_xlsx", f"not a readable XLSX workbook: {error}") from error
    try:
        return _read_sheets(workbook.worksheets, limits)
    except (zipfile.BadZipFile, SyntaxError, zlib.error, EOFError) as error:
        # A member that unpacks to more than it declares fails its checksum here.
        raise UnreadableFile(
            "unreadable_xlsx", f"sheet cannot be read to its end: {error}"
        ) from error
    finally:
        workbook.close()


def _read_sheets(sheets: list, limits: ReadLimits) -> RawFile:
    """The rows of every read-only sheet that has any, streamed into one file, within
    ``limits`` (the bounds count the whole workbook). The rows are openpyxl's
    ``iter_rows(values_only=True)``, parsed leaner (:func:`jobs.ingest.xlsx_rows.sheet_rows`)."""
    from jobs.ingest.xlsx_rows import sheet_rows  # openpyxl: only for workbooks

    header: list[str] | None = None
    collected: _RowCollector | None = None
    read: list[str] = []
    for sheet in sheets:
        # The <dimension> a workbook declares may understate its rows (read short) or
        # overstate them: read what the sheet holds, never what it declares.
        sheet.reset_dimensions()
        rows = sheet_rows(sheet)
        header_cells = next(rows, None)
        if header_cells is None:
            continue
        sheet_header = [("" if c is None else str(c)).strip() for c in header_cells]
        while sheet_header and sheet_header[-1] == "":
            sheet_header.pop()
        if not sheet_header:
            continue  # a sheet with nothing in its first row: a blank sheet
        if header is None:
            header = sheet_header
            _check_header(header)
            limits.check("max_columns", len(header), "columns")
            collected = _RowCollector(limits, header)
        elif sheet_header != header:
            raise UnreadableFile(
                "sheets_differ",
                f"sheet {sheet.title!r} has the columns {sheet_header} but sheet {read[0]!r} "
                f"has {header}: deliver one table per workbook, or the same header on every "
                "sheet",
            )
        _read_sheet_rows(rows, header, collected, limits)
        read.append(sheet.title)
    if collected is None:
        raise UnreadableFile("empty_file", "workbook has no rows", rows_seen=0)
    raw = collected.raw_file(None)
    if len(read) > 1:
        raw.notes.append(f"rows of {len(read)} sheets read in order: {', '.join(read)}")
    return raw


def _read_sheet_rows(
    rows: Iterator, header: list[str], collected: _RowCollector, limits: ReadLimits
) -> None:
    """The rows of one sheet after its header, added to ``collected``."""
    for number, cells in enumerate(rows, start=2):
        if number > EXCEL_MAX_ROWS:
            raise UnreadableFile(
                "too_many_rows", f"more than {EXCEL_MAX_ROWS:,} rows: Excel wrote no such sheet"
            )
        if len(cells) > limits.max_columns and any(
            c is not None for c in cells[limits.max_columns :]
        ):
            # Checked before any per-cell work: a stray cell in column XFD makes a row of
            # 16,384 cells.
            limits.check("max_columns", len(cells), "columns")
        values = [_cell_text(c) for c in cells[: limits.max_columns]]
        if all(v is None for v in values):
            continue  # empty rows Excel keeps in the sheet
        if any(v is not None for v in values[len(header) :]):
            # Values right of the last named column belong to no column: never drop them.
            line = "\t".join("" if v is None else v for v in values)
            collected.add({READ_PROBLEM: WRONG_COLUMN_COUNT, RAW_LINE: line})
            continue
        values = values[: len(header)]
        if _is_header([v or "" for v in values], header):
            collected.add({READ_PROBLEM: REPEATED_HEADER, RAW_LINE: "\t".join(header)})
            continue
        collected.add(dict(zip(header, values + [None] * (len(header) - len(values)), strict=True)))


#: Rows of a sheet in Excel's own format: a sheet that holds more was not written by Excel.
EXCEL_MAX_ROWS = 1_048_576


def _is_cut_off_zip(path: Path) -> bool:
    """An XLSX is a zip archive: it opens with a local-file header and ends with the
    end-of-central-directory record. The first without the second means a cut-off transfer."""
    with path.open("rb") as handle:
        starts_as_zip = handle.read(4) == b"PK\x03\x04"
        handle.seek(
            max(path.stat().st_size - 65_557, 0)
        )  # the record sits in the last 64 KiB + 22 bytes
        return starts_as_zip and b"PK\x05\x06" not in handle.read()


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Excel keeps 15 significant digits: show the number as Excel displays it (4.10105E+17
        # becomes '4.10105e+17'), never re-inflate it into a plausible-looking ID.
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


# --- GeoJSON -----------------------------------------------------------------------------------


def read_geojson(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> RawFile:
    """Reads a FeatureCollection: one row per feature, properties as text, the geometry as compact
    GeoJSON text in a ``geometry`` column. Vertices are counted in the bytes as they are read,
    before the document is parsed."""
    data = _read_bounded(path, limits, header_lines=None, positions=True)
    _check_has_text(data)
    text, encoding = decode_text(data)
    del data
    try:
        document = json.loads(text)
    except RecursionError as error:
        raise UnreadableFile("malformed_json", "JSON nested too deeply to read") from error
    except json.JSONDecodeError as error:
        # A document that stops before its closing brace was cut off in transfer.
        reason = "truncated" if not text.rstrip().endswith(("}", "]")) else "malformed_json"
        raise UnreadableFile(reason, f"not valid JSON: {error}") from error
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise UnreadableFile("not_a_feature_collection", "GeoJSON root is not a FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise UnreadableFile("not_a_feature_collection", "FeatureCollection has no features list")
    rows = _RowCollector(limits)
    for feature in features:
        is_feature = isinstance(feature, dict) and feature.get("type") == "Feature"
        properties = (feature.get("properties") or {}) if is_feature else {}
        if not is_feature or not isinstance(properties, dict):
            problem = "properties_not_an_object" if is_feature else "not_a_feature"
            rows.add({READ_PROBLEM: problem, RAW_LINE: json.dumps(feature, ensure_ascii=False)})
            continue
        record = {str(k): _scalar_text(v) for k, v in properties.items()}
        record["geometry"] = _scalar_text(feature.get("geometry"))
        rows.add(record)
    return rows.raw_file(encoding)


# --- shared ------------------------------------------------------------------------------------

READERS = {"csv": read_csv, "jsonl": read_jsonl, "xlsx": read_xlsx, "geojson": read_geojson}


def read_file(path: Path, delivery_format: str, limits: ReadLimits = DEFAULT_LIMITS) -> RawFile:
    """Reads ``path`` with the reader for the catalog's delivery format (or its file ending),
    within ``limits``."""
    suffix = path.suffix.lower()
    by_suffix = {
        ".csv": "csv",
        ".txt": "csv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".xlsx": "xlsx",
        ".geojson": "geojson",
    }
    fmt = by_suffix.get(suffix, delivery_format)
    if fmt not in READERS:
        raise UnreadableFile("unknown_format", f"no reader for format {fmt!r} ({path.name})")
    try:
        with _cycle_collection_paused():
            return READERS[fmt](path, limits)
    except _PARSER_FAILURES as error:
        # A shape no rule above foresaw: this file is quarantined with what failed, and the
        # run goes on with the others (it used to stop the whole resource on every retry).
        raise UnreadableFile(
            "reader_failed", f"the {fmt} reader failed: {type(error).__name__}: {error}"
        ) from error


@contextlib.contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector paused while a file is read (on again after, if it was on).
    The XLSX, JSON Lines and GeoJSON readers allocate objects per cell, which sets the collector
    off every few hundred cells and, every so often, over every object of the process: that was
    40% of the CPU of reading the city's driving-licence workbook (313k rows; 50 → 31 CPU-s)
    and of its student JSON Lines. What a reader allocates holds no reference cycles, so there
    is nothing for the collector to find meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: What the parsers raise on input they cannot take (never OSError or MemoryError: those are
#: the machine's, not the file's).
_PARSER_FAILURES = (
    csv.Error,
    ValueError,  # UnicodeDecodeError, json.JSONDecodeError, ArrowInvalid
    LookupError,
    TypeError,
    AttributeError,
    ArithmeticError,
    RecursionError,
    SyntaxError,  # XML parse errors
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
)


def _with_row_numbers(table: pa.Table) -> pa.Table:
    return table.append_column(ROW_NUMBER, pa.array(range(1, table.num_rows + 1), type=pa.int64()))
