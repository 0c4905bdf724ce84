"""Raw files → bronze rows: every delivered row as raw strings plus lineage, nothing parsed.

Grain of ``bronze/<dept>/<resource>``: one row per data row of a delivered file (append-only).
The ``raw`` column maps each delivered column name to its text exactly as delivered, so a
renamed or extra column in a later batch never breaks the table's schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.ingest.landing import LandedFile
from jobs.ingest.readers import RAW_LINE, READ_PROBLEM, ROW_NUMBER, RawFile

BRONZE_SCHEMA = pa.schema(
    [
        ("department", pa.string()),
        ("resource", pa.string()),
        ("batch_id", pa.string()),
        ("source_file", pa.string()),
        ("file_hash", pa.string()),
        ("row_number", pa.int64()),
        ("raw", pa.map_(pa.string(), pa.string())),
        ("read_problem", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
        ("record_hash", pa.string()),
    ]
)

# Separators that cannot occur in delivered text: unit separator between values, and a marker
# for a missing value so that NULL and '' hash differently.
_VALUE_SEPARATOR = "\x1f"
_NULL_MARK = "\x00"


def raw_map_array(raw: RawFile) -> pa.MapArray:
    """Builds the ``raw`` map column from a file's string columns, vectorised.

    Row i's map holds (column, value) for every delivered column, in delivered order; a row
    that could not be split into columns holds its whole text under ``_raw_line``.
    """
    table = raw.table
    names = [c for c in raw.columns if c in table.column_names]
    if RAW_LINE in table.column_names:
        names.append(RAW_LINE)
    rows, width = table.num_rows, len(names)
    offsets = pa.array(
        np.arange(0, rows * width + 1, max(width, 1)) if width else np.zeros(rows + 1), pa.int32()
    )
    if not width:
        return pa.MapArray.from_arrays(
            offsets, pa.array([], pa.string()), pa.array([], pa.string())
        )
    keys = pa.array(np.tile(np.array(names, dtype=object), rows), pa.string())
    stacked = pa.concat_arrays([table.column(n).combine_chunks() for n in names])
    # stacked holds column 0's rows, then column 1's, ...; row i, column j sits at j*rows + i.
    order = (np.arange(width)[None, :] * rows + np.arange(rows)[:, None]).ravel()
    items = stacked.take(pa.array(order))
    return pa.MapArray.from_arrays(offsets, keys, items)


def bronze_table(
    raw: RawFile, landed: LandedFile, file_hash: str, ingested_at: dt.datetime
) -> pa.Table:
    """The bronze rows of one readable file as an Arrow table (schema :data:`BRONZE_SCHEMA`)."""
    rows = raw.row_count
    table = raw.table
    read_problem = (
        table.column(READ_PROBLEM)
        if READ_PROBLEM in table.column_names
        else pa.nulls(rows, pa.string())
    )
    return pa.table(
        {
            "department": pa.array([landed.department] * rows, pa.string()),
            "resource": pa.array([landed.resource] * rows, pa.string()),
            "batch_id": pa.array([landed.batch_id] * rows, pa.string()),
            "source_file": pa.array([landed.name] * rows, pa.string()),
            "file_hash": pa.array([file_hash] * rows, pa.string()),
            "row_number": table.column(ROW_NUMBER),
            "raw": raw_map_array(raw),
            "read_problem": read_problem,
            "ingested_at": pc.cast(pa.array([ingested_at] * rows), pa.timestamp("us", tz="UTC")),
            "record_hash": record_hashes(raw),
        },
        schema=BRONZE_SCHEMA,
    )


def record_hashes(raw: RawFile) -> pa.Array:
    """SHA-256 per row of the delivered values in delivered column order (NULL ≠ '')."""
    table = raw.table
    names = [c for c in raw.columns if c in table.column_names]
    if RAW_LINE in table.column_names:
        names.append(RAW_LINE)
    if not names:
        return pa.array([hashlib.sha256(b"").hexdigest()] * table.num_rows, pa.string())
    filled = [pc.fill_null(table.column(n), _NULL_MARK) for n in names]
    joined = (
        pc.binary_join_element_wise(*filled, _VALUE_SEPARATOR) if len(filled) > 1 else filled[0]
    )
    return pa.array(
        (hashlib.sha256(v.encode()).hexdigest() for v in joined.to_pylist()), pa.string()
    )
