"""What a governed read is sent as: a JSON page, CSV or XLSX for people, Arrow or Parquet in bulk.

CSV and XLSX cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) get a leading apostrophe, as the share exports do
(:func:`jobs.share.export.neutralise`). Arrow IPC and Parquet carry typed columns for programs,
so they are sent as read.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.service.errors import BadRequest
from jobs.service.ports import Encoded
from jobs.service.reads import Page
from jobs.share.export import csv_bytes, xlsx_bytes


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)  # exact: a float would round money
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


def page_dict(page: Page) -> dict[str, Any]:
    """The JSON page: rows as objects, the fields and how each was masked, the next cursor."""
    return {
        "dataset": page.dataset,
        "grant": page.grant_id,
        "fields": list(page.fields),
        "treatments": page.treatments,
        "row_count": page.table.num_rows,
        "rows": page.table.to_pylist(),
        "next_cursor": page.next_cursor,
    }


def _rows(table: pa.Table) -> list[list[Any]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [list(row) for row in zip(*columns, strict=True)]


def _arrow_stream(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


#: Format name → media type.
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}
FORMATS = tuple(MEDIA_TYPES)


def encode(page: Page, fmt: str) -> Encoded:
    """The page as ``fmt`` (one of :data:`FORMATS`).

    Raises:
        BadRequest: an unknown format.
    """
    table = page.table
    if fmt == "json":
        body = json.dumps(page_dict(page), ensure_ascii=False, default=_json_value).encode()
    elif fmt == "csv":
        body = csv_bytes(table.column_names, _rows(table))
    elif fmt == "xlsx":
        body = xlsx_bytes(table.column_names, _rows(table))
    elif fmt == "arrow":
        body = _arrow_stream(table)
    elif fmt == "parquet":
        body = _parquet(table)
    else:
        raise BadRequest(f"format {fmt!r} is not offered", f"use one of {', '.join(FORMATS)}")
    extension = "arrows" if fmt == "arrow" else fmt
    return Encoded(body, MEDIA_TYPES[fmt], f"{page.dataset}.{extension}")
