"""Exports of a consumer's share table to CSV or XLSX, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, WPS and LibreOffice (CSV/formula injection, OWASP): such text gets a leading
apostrophe, which spreadsheets show as text and never evaluate. Only exports are neutralised;
the lake keeps the value as delivered.

Every export is an entry of the audit log (who, what, how many rows, the file's SHA-256).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from jobs.audit import log as audit
from jobs.lake import ledger, tables
from jobs.lake.registry import SHARE
from jobs.settings import Settings
from jobs.share.grants import is_active, read_grants

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")


class ExportError(ValueError):
    """No active grant or no share table to export."""


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, prefixed with ``'``; the rest unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        value = ",".join("" if v is None else str(v) for v in value)
    elif isinstance(value, dict):
        value = str(value)
    return neutralise(value)


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with BOM (Excel in China opens it without mojibake), every cell neutralised."""
    return b"".join(csv_chunks(columns, [rows]))


def csv_chunks(
    columns: Sequence[str], batches: Iterable[Iterable[Sequence[Any]]]
) -> Iterator[bytes]:
    """:func:`csv_bytes` in pieces, to stream a large table: the header (after the BOM), then
    one piece per batch of rows."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([neutralise(c) for c in columns])
    yield text.getvalue().encode("utf-8-sig")
    for rows in batches:
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        for row in rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])
        yield text.getvalue().encode("utf-8")


def xlsx_bytes(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """One sheet; text cells are stored as text (never as formulas), neutralised as for CSV."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("share")
    sheet.append([neutralise(c) for c in columns])
    for row in rows:
        sheet.append([_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    path.write_bytes(csv_bytes(columns, rows))


def write_xlsx(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    path.write_bytes(xlsx_bytes(columns, rows))


def export_share(
    settings: Settings,
    consumer: str,
    dataset_id: str,
    out: Path,
    *,
    fmt: str,
    by: str,
    today: dt.date,
) -> dict[str, Any]:
    """Writes ``share/<consumer>/<dataset>`` to ``out`` and records the export."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {FORMATS}")
    if not any(
        g["consumer"] == consumer and g["dataset"] == dataset_id and is_active(g, today)
        for g in read_grants(settings)
    ):
        raise ExportError(f"{consumer} holds no active grant for {dataset_id}")
    uri = SHARE.uri(settings, consumer, dataset_id)
    if not tables.table_exists(uri):
        raise ExportError(f"no share table {consumer}/{dataset_id} yet: run the share refresh")
    records = ledger.read_rows(uri)
    from deltalake import DeltaTable

    columns = [f.name for f in DeltaTable(uri).schema().fields]
    rows = [[r[c] for c in columns] for r in records]
    out.parent.mkdir(parents=True, exist_ok=True)
    (write_csv if fmt == "csv" else write_xlsx)(out, columns, rows)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    audit.record(
        settings,
        "export",
        actor=by,
        target=SHARE.relative_path(consumer, dataset_id),
        detail={"format": fmt, "rows": len(rows), "file": out.name, "sha256": digest},
    )
    return {"rows": len(rows), "file": str(out), "sha256": digest}
