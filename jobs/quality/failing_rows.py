"""The failing-rows table: every row of a batch that failed anything, not a sample.

``governance/quality_failing_rows``: one row per (batch, pool row) that failed at least one
expectation or accuracy check: the row's lineage (department, resource, batch, source file,
file hash, row number, record hash, ingested at), its key (``record_key``, key fields joined
with ``|``; NULL when the key is missing), the names of every expectation it failed
(``failed_expectations``), the suite version and when it was validated.

The rows are the unexpected rows Great Expectations names in its results (every one: result
format ``COMPLETE``) and those the accuracy checks found (:mod:`jobs.quality.metrics`), so for
every expectation the number of rows listing it is its unexpected count. Their lineage is taken
from the batch already read for GX (:func:`failing_lineage_of_arrow`) or, for a batch validated
on Spark, by one join (:func:`failing_lineage_of_spark`); the table is appended with delta-rs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from jobs.lake import ledger
from jobs.lake.registry import QUALITY_FAILING_ROWS
from jobs.quality.metrics import FAILED_COLUMN, FLAG_LINEAGE, KEY_COLUMN, RowId
from jobs.quality.validate import ROW_ID
from jobs.settings import Settings

_LINEAGE_TYPES = {"row_number": pa.int64(), "ingested_at": pa.timestamp("us", tz="UTC")}
QUALITY_FAILING_ROWS_SCHEMA = pa.schema(
    [
        *[(c, _LINEAGE_TYPES.get(c, pa.string())) for c in FLAG_LINEAGE],
        (KEY_COLUMN, pa.string()),
        (FAILED_COLUMN, pa.list_(pa.string())),
        ("suite_version", pa.string()),
        ("validated_at", pa.timestamp("us", tz="UTC")),
    ]
)
_INDEX = "__failed_index"


def _failed_ids(failed: Mapping[RowId, Sequence[str]]) -> pa.Table:
    """The failing rows' ids with the position of each in ``failed`` (to take names by)."""
    return pa.table(
        {
            ROW_ID[0]: pa.array([source_file for source_file, _ in failed], pa.string()),
            ROW_ID[1]: pa.array([row_number for _, row_number in failed], pa.int64()),
            _INDEX: pa.array(range(len(failed)), pa.int64()),
        }
    )


def failing_lineage_of_arrow(
    batch: pa.Table, failed: Mapping[RowId, Sequence[str]], key: Sequence[str]
) -> pa.Table:
    """The lineage and key columns of the failing rows of a batch read as Arrow, with the
    position of each row in ``failed``."""
    columns = [*FLAG_LINEAGE, *[k for k in key if k not in FLAG_LINEAGE]]
    return batch.select(columns).join(_failed_ids(failed), list(ROW_ID), join_type="inner")


def failing_lineage_of_spark(
    batch_df: Any, failed: Mapping[RowId, Sequence[str]], key: Sequence[str]
) -> pa.Table:
    """:func:`failing_lineage_of_arrow` for a batch validated on Spark (one broadcast join)."""
    from pyspark.sql import functions as F

    # From Arrow, not pandas: an Arrow table carries its schema even with no rows (a batch
    # where no expectation failed), where pandas left Spark nothing to infer it from.
    ids_df = batch_df.sparkSession.createDataFrame(_failed_ids(failed))
    columns = [*FLAG_LINEAGE, *[k for k in key if k not in FLAG_LINEAGE]]
    return batch_df.select(*columns).join(F.broadcast(ids_df), list(ROW_ID), "inner").toArrow()


def record_key(rows: pa.Table, key: Sequence[str]) -> pa.Array:
    """Key fields as text joined with ``|`` (missing ones left out); NULL without any."""
    if not key:
        return pa.nulls(rows.num_rows, pa.string())
    parts = [pc.cast(rows[k].combine_chunks(), pa.string()) for k in key]
    present = parts[0].is_valid()
    for part in parts[1:]:
        present = pc.or_(present, part.is_valid())
    # Joined over the rows that have a key field only: pyarrow's join drops a row whose
    # fields are all missing instead of giving it a NULL.
    joined = pc.binary_join_element_wise(
        *[part.filter(present) for part in parts], "|", null_handling="skip"
    )
    return pc.replace_with_mask(pa.nulls(rows.num_rows, pa.string()), present, joined)


def failing_rows_table(
    lineage: pa.Table,
    failed: Mapping[RowId, Sequence[str]],
    key: Sequence[str],
    suite_version: str,
    validated_at: dt.datetime,
) -> pa.Table:
    """The failing-rows table's rows: ``lineage`` (from ``failing_lineage_of_*``) with the
    record key, the names each row failed, the suite version and the validation time."""
    names = pa.array(list(failed.values()), pa.list_(pa.string()))
    columns = {c: lineage[c] for c in FLAG_LINEAGE}
    columns[KEY_COLUMN] = record_key(lineage, key)
    columns[FAILED_COLUMN] = names.take(lineage[_INDEX])
    columns["suite_version"] = pa.repeat(pa.scalar(suite_version), lineage.num_rows)
    columns["validated_at"] = pa.repeat(
        pa.scalar(validated_at, pa.timestamp("us", tz="UTC")), lineage.num_rows
    )
    return (
        pa.table(columns)
        .cast(QUALITY_FAILING_ROWS_SCHEMA)
        .sort_by([(c, "ascending") for c in ROW_ID])
    )


def append_failing_rows(settings: Settings, rows: pa.Table, write_id: str) -> bool:
    """Appends a batch's failing rows in one delta-rs commit, idempotent per ``write_id``;
    returns False for a retry that was already applied (or when there are none)."""
    if rows.num_rows == 0:
        return False
    return ledger.append_arrow(QUALITY_FAILING_ROWS.uri(settings), rows, write_id)


def batches_with_rows(
    settings: Settings,
    department: str,
    resource: str,
    suite_version: str,
    batch_ids: Collection[str],
) -> set[str]:
    """Which of ``batch_ids`` already have failing rows of this suite version (delta-rs read).

    A batch has no decision until its last step, so a task retried after a failure finds its
    failing rows already written; a retry must not write those rows twice, whatever write id
    the earlier attempt used.
    """
    if not batch_ids:
        return set()
    rows = ledger.read_rows(
        QUALITY_FAILING_ROWS.uri(settings),
        filters=[
            ("department", "=", department),
            ("resource", "=", resource),
            ("suite_version", "=", suite_version),
            ("batch_id", "in", sorted(batch_ids)),
        ],
        columns=["batch_id"],
    )
    return {r["batch_id"] for r in rows}
