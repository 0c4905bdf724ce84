from __future__ import annotations

import pyarrow as pa

from jobs.ingest import bronze

URI = "memory://lake/bronze/gaj/hukou"


def _part(batch_id: str, source_file: str, file_hash: str, rows: int) -> pa.Table:
    table = {
        name: pa.nulls(rows, field.type)
        for name, field in zip(bronze.BRONZE_SCHEMA.names, bronze.BRONZE_SCHEMA, strict=True)
    }
    table["batch_id"] = pa.array([batch_id] * rows, pa.string())
    table["source_file"] = pa.array([source_file] * rows, pa.string())
    table["file_hash"] = pa.array([file_hash] * rows, pa.string())
    table["row_number"] = pa.array(range(1, rows + 1), pa.int64())
    return pa.table(table, schema=bronze.BRONZE_SCHEMA)


def _file_row(batch_id: str, source_file: str, file_hash: str, rows: int) -> dict:
    return {"batch_id": batch_id, "source_file": source_file, "file_hash": file_hash,
            "bronze_rows": rows}  # fmt: skip


def test_hands_the_rows_of_consecutive_commits_to_the_promotion():
    bronze.remember_written(URI, [_part("b1", "f.csv", "h1", 3)], version=0, max_rows=100)
    bronze.remember_written(URI, [_part("b2", "f.csv", "h2", 2)], version=1, max_rows=100)
    files = [_file_row("b1", "f.csv", "h1", 3), _file_row("b2", "f.csv", "h2", 2),
             _file_row("b2", "empty.csv", "h3", 0)]  # fmt: skip

    rows = bronze.written_rows(URI, files, version=1)

    assert rows is not None
    assert rows.select(["batch_id", "row_number"]).to_pylist() == [
        {"batch_id": "b1", "row_number": n} for n in (1, 2, 3)
    ] + [{"batch_id": "b2", "row_number": n} for n in (1, 2)]
    assert bronze.written_rows(URI, files, version=1) is None  # let go once taken


def test_reads_the_table_when_another_commit_came_after_its_own():
    bronze.remember_written(URI, [_part("b1", "f.csv", "h1", 3)], version=4, max_rows=100)

    assert bronze.written_rows(URI, [_file_row("b1", "f.csv", "h1", 3)], version=5) is None


def test_reads_the_table_for_a_file_it_did_not_write():
    bronze.remember_written(URI, [_part("b1", "f.csv", "h1", 3)], version=0, max_rows=100)
    bronze.remember_written(URI, [_part("b3", "f.csv", "h9", 1)], version=2, max_rows=100)

    files = [_file_row("b1", "f.csv", "h1", 3), _file_row("b3", "f.csv", "h9", 1)]
    assert bronze.written_rows(URI, files, version=2) is None


def test_keeps_nothing_past_the_in_process_limit():
    bronze.remember_written(URI, [_part("b1", "f.csv", "h1", 3)], version=0, max_rows=2)

    assert bronze.written_rows(URI, [_file_row("b1", "f.csv", "h1", 3)], version=0) is None
