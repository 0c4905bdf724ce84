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

from jobs.ingest.content_hash import sha256_hexdigests
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
    # Row i's keys are the names again: taken by index, not built from a million Python strings.
    keys = pa.array(names, pa.string()).take(pa.array(np.tile(np.arange(width), rows)))
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
            "department": _repeated(landed.department, pa.string(), rows),
            "resource": _repeated(landed.resource, pa.string(), rows),
            "batch_id": _repeated(landed.batch_id, pa.string(), rows),
            "source_file": _repeated(landed.name, pa.string(), rows),
            "file_hash": _repeated(file_hash, pa.string(), rows),
            "row_number": table.column(ROW_NUMBER),
            "raw": raw_map_array(raw),
            "read_problem": read_problem,
            "ingested_at": _repeated(ingested_at, pa.timestamp("us", tz="UTC"), rows),
            "record_hash": record_hashes(raw),
        },
        schema=BRONZE_SCHEMA,
    )


def _repeated(value: object, kind: pa.DataType, rows: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, kind), rows)


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
    return sha256_hexdigests(joined)


# --- rows this process wrote -------------------------------------------------------------------

#: Per bronze table: the version of this process's last commit to it and the rows of every file
#: version it committed (batch, file, file hash). A promotion in the same process (``govlake
#: ingest run``, the demo, a benchmark) takes them from here instead of reading back what was
#: just written; a commit by anyone else since (a destroy, a repair) makes it read the table.
_written: dict[str, tuple[int, dict[tuple[str, str, str], pa.Table]]] = {}


def remember_written(uri: str, parts: list[pa.Table], version: int | None, max_rows: int) -> None:
    """Keeps ``parts`` (the bronze rows of one commit, one table per file version) as the rows
    of ``version`` of ``uri``; with the rows kept from the commit just before, if it was this
    process's. Nothing is kept past ``max_rows`` rows: a promotion that large runs on Spark."""
    version_before, kept = _written.pop(uri, (None, {}))
    if version is None or version_before != version - 1:
        kept = {}
    kept.update({_file_of(part): part for part in parts if part.num_rows})
    if sum(part.num_rows for part in kept.values()) <= max_rows and version is not None:
        _written[uri] = (version, kept)


def written_rows(uri: str, file_rows: list[dict], version: int | None) -> pa.Table | None:
    """The bronze rows of these file versions (file-log rows) as this process committed them,
    if ``version`` (the table's current one) is still its last commit and it wrote every one;
    else None (read the table). What is kept for ``uri`` is let go either way."""
    version_written, kept = _written.pop(uri, (None, {}))
    wanted = {
        (r["batch_id"], r["source_file"], r["file_hash"]) for r in file_rows if r["bronze_rows"]
    }
    if version is None or version != version_written or not wanted <= kept.keys():
        return None
    with_rows = [kept[key] for key in sorted(wanted & kept.keys())]
    return pa.concat_tables(with_rows) if with_rows else BRONZE_SCHEMA.empty_table()


def _file_of(part: pa.Table) -> tuple[str, str, str]:
    return part["batch_id"][0].as_py(), part["source_file"][0].as_py(), part["file_hash"][0].as_py()
