"""The in-process runner of a promotion (:mod:`jobs.ingest.promote`): Arrow end to end.

Bronze rows are read with delta-rs, standardised on every core by
:func:`jobs.ingest.standardize_arrow.standardized_table`, given a disposition (quarantine,
duplicate or pool: :func:`with_disposition`, the meaning of
:func:`jobs.ingest.pool.with_disposition`) and appended to pool and quarantine with delta-rs
under the promotion's write ids. No Spark session, no JVM: a delivery of a few hundred
thousand rows is single-process work, done in about the time Spark needs to start.
"""

from __future__ import annotations

import concurrent.futures
import os
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.ingest import pool, standardize_arrow
from jobs.ingest.bronze import BRONZE_SCHEMA, written_rows
from jobs.lake import ledger
from jobs.lake.registry import BRONZE, POOL, QUARANTINE

if TYPE_CHECKING:
    import datetime as dt

    from jobs.catalog.models import Resource
    from jobs.ingest.promote import Promotion


def promote(promotion: Promotion) -> dict[tuple[str, str], dict]:
    """Standardises the promotion's bronze rows in this process and appends its pool and
    quarantine rows; returns the counts per (batch, file)."""
    ctx = promotion.ctx
    uri = ctx.uri(BRONZE)
    bronze = written_rows(uri, promotion.files, ledger.table_version(uri))
    if bronze is None:  # not landed by this process, or the table changed since
        bronze = ledger.scan_arrow(
            uri,
            BRONZE_SCHEMA.names,
            pc.field("batch_id").isin(promotion.batch_ids)
            & pc.field("file_hash").isin(promotion.file_hashes),
        )
    standardized = standardize_arrow.standardized_table(
        bronze if bronze is not None else BRONZE_SCHEMA.empty_table(),
        ctx.resource,
        ctx.catalog,
        timezone=ctx.settings.timezone,
    )
    disposed = with_disposition(
        standardized, _earlier_content_hashes(promotion, standardized["content_hash"])
    )
    ledger.append_arrow(
        ctx.uri(POOL),
        pool_rows(disposed, ctx.resource, ctx.now),
        write_id=promotion.append_id("pool"),
        # a field added by an approved catalog revision (目录更新) is a new column; earlier
        # batches read it as null
        add_columns=True,
    )
    ledger.append_arrow(
        ctx.uri(QUARANTINE),
        quarantine_rows(disposed, ctx.now),
        write_id=promotion.append_id("quarantine"),
    )
    return counts_by_file(disposed)


def _earlier_content_hashes(
    promotion: Promotion, candidates: pa.ChunkedArray | pa.Array
) -> pa.Array:
    """Content hashes of the rows already in the pool that count as earlier rows (not those of
    the promotion's own files, not those of the versions it supersedes): each of them that
    ``candidates`` (the promotion's hashes) has, and the others too for a large promotion.

    A promotion much smaller than the pool (a daily increment) probes the pool's hashes
    against its own, hashed once: a set of every hash the pool holds made an increment cost
    what the pool holds, not what was delivered (1,000 rows into a city's pool of a million:
    0.64 s, now 0.12-0.2 s). A promotion with half as many rows as the pool or more (a full
    re-export) gets the pool's distinct hashes, a superset, as before: hashing its own and then
    those found took 1.76 s instead of 0.95 s for a million into a million. Not a filter of
    the scan either way: there the set is hashed again for every file (2.48 s).
    """
    delivered = len(candidates) - candidates.null_count
    if delivered == 0:
        return pa.array([], pa.string())
    earlier = ~pc.field("file_hash").isin(promotion.file_hashes)
    for v in promotion.replaced:
        # Rows of these very files already in the pool were committed by an attempt that
        # stopped before recording its outcome: they are not earlier rows, or the re-run would
        # count every row of the batch as a duplicate of itself. Left out, the re-run decides
        # exactly as that attempt did, so its pool write (same write id) adds nothing.
        earlier &= ~(
            (pc.field("batch_id") == v["batch_id"])
            & (pc.field("source_file") == v["source_file"])
            & (pc.field("file_hash") == v["file_hash"])
        )
    hashes = ledger.scan_arrow(promotion.ctx.uri(POOL), ["content_hash"], earlier)
    if hashes is None:
        return pa.array([], pa.string())
    pooled = hashes["content_hash"]
    if 2 * delivered >= len(pooled):
        return pc.unique(pooled)
    wanted = pc.unique(pc.drop_null(candidates))
    return pc.unique(pooled.filter(pc.is_in(pooled, value_set=wanted)))


def with_disposition(standardized: pa.Table, earlier_hashes: pa.Array) -> pa.Table:
    """Adds ``disposition``: ``quarantine`` (a reason code), ``duplicate`` or ``pool``.

    A duplicate is an accepted row whose content hash was already in the pool
    (``earlier_hashes``) or appears on an accepted row before it in (batch, file, row) order:
    the first occurrence is kept, the repeats are counted (as
    :func:`jobs.ingest.pool.with_duplicate_flag` on Spark).
    """
    rows = standardized.num_rows
    rejected = pc.fill_null(pc.list_value_length(standardized["problems"]), 0).to_numpy() > 0
    accepted = np.flatnonzero(~rejected)
    hashes = standardized["content_hash"].take(accepted).combine_chunks()
    is_duplicate = np.zeros(rows, dtype=bool)
    is_duplicate[accepted] = _repeats_in_row_order(standardized, accepted, hashes)
    seen_before = pc.is_in(hashes, value_set=earlier_hashes)
    is_duplicate[accepted] |= pc.fill_null(seen_before, False).to_numpy(zero_copy_only=False)
    # one of three texts per row, taken by index (numpy's texts cost a tenth of a second)
    codes = np.where(rejected, 2, np.where(is_duplicate, 1, 0))
    return standardized.append_column("disposition", _DISPOSITIONS.take(pa.array(codes)))


#: The values of ``disposition``, by code.
_DISPOSITIONS = pa.array(["pool", "duplicate", "quarantine"], pa.string())


#: Length of a content hash: hex SHA-256.
_HASH_CHARS = 64


def _repeats_in_row_order(table: pa.Table, rows: np.ndarray, hashes: pa.Array) -> np.ndarray:
    """For each of ``rows`` (indices into ``table``; ``hashes`` their content hashes): its
    content hash is that of one of the ``rows`` before it in (batch, file, row) order. A row
    without a hash repeats none.

    Sorted by hash and then row key, a row repeats an earlier row exactly when the row just
    before it has the same hash. Integers are sorted, not texts: the rows by their row key
    (:data:`jobs.ingest.pool.ROW_KEY`; its texts as codes that sort as they do), then stably by
    the first 16 hex digits of their hash read as one 64-bit integer. Sorting the hash and key
    texts themselves took most of a core-second per million rows, on the one core. Two hashes
    that share 16 digits and differ (about one pair in 30 million promotions of a million rows)
    would break the grouping: then the texts are sorted after all
    (:func:`_repeats_by_sorting_texts`).
    """
    prefixes = _hash_prefixes(hashes)
    if prefixes is None:
        return _repeats_by_sorting_texts(table, rows)
    *texts, number = pool.ROW_KEY  # lexsort's last key is its first
    by_row = np.lexsort(
        (
            _filled_numbers(table[number])[rows],
            *[_order_codes(table[c])[rows] for c in reversed(texts)],
        )
    )
    order = by_row[np.argsort(prefixes[by_row], kind="stable")]
    present = hashes.is_valid().to_numpy(zero_copy_only=False)[order]
    sorted_prefixes = prefixes[order]
    same_prefix = (sorted_prefixes[1:] == sorted_prefixes[:-1]) & present[1:] & present[:-1]
    pairs = np.flatnonzero(same_prefix)
    same_hash = pc.equal(hashes.take(order[pairs + 1]), hashes.take(order[pairs]))
    if not pc.all(same_hash).as_py():
        return _repeats_by_sorting_texts(table, rows)
    repeats = np.zeros(len(rows), dtype=bool)
    repeats[order[pairs + 1]] = True
    return repeats


#: The value of each hex digit's byte (lower case, as the hashes are written).
_HEX_DIGIT_VALUES = np.zeros(256, dtype=np.uint8)
_HEX_DIGIT_VALUES[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16)


def _hash_prefixes(hashes: pa.Array) -> np.ndarray | None:
    """The first 16 hex digits of each hash as one 64-bit integer (0 where the hash is null),
    or None unless every hash present is :data:`_HASH_CHARS` bytes long."""
    offset_type = np.int64 if pa.types.is_large_string(hashes.type) else np.int32
    offsets = np.frombuffer(hashes.buffers()[1], dtype=offset_type)
    offsets = offsets[hashes.offset : hashes.offset + len(hashes) + 1].astype(np.int64)
    present = hashes.is_valid().to_numpy(zero_copy_only=False)
    if not np.all(np.diff(offsets)[present] == _HASH_CHARS):
        return None
    data = np.frombuffer(hashes.buffers()[2] or b"", dtype=np.uint8)
    prefixes = np.zeros(len(hashes), dtype=np.uint64)
    if present.all():  # hashes back to back: a view of their bytes, one row per hash
        texts = data[offsets[0] : offsets[-1]].reshape(len(hashes), _HASH_CHARS)[:, :16]
    else:
        texts = data[offsets[:-1][present, None] + np.arange(16)]
    digits = _HEX_DIGIT_VALUES[texts]
    # two digits to a byte, eight bytes read as one big-endian integer
    packed = np.ascontiguousarray((digits[:, 0::2] << 4) | digits[:, 1::2])
    prefixes[present] = packed.view(">u8").ravel()
    return prefixes


def _filled_numbers(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Row numbers as integers, a missing one after every other (as sorting puts nulls)."""
    numbers = pc.fill_null(values, pa.scalar(np.iinfo(np.int64).max, pa.int64()))
    return numbers.to_numpy()


def _order_codes(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """One integer per value that orders as the values do (ascending, nulls last, as
    ``pc.sort_indices``), equal where the values are equal: a row key's texts (a few batch
    ids and file names) sorted once each instead of compared row by row."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    distinct = len(encoded.dictionary)
    rank = np.empty(distinct + 1, dtype=np.int64)
    rank[pc.sort_indices(encoded.dictionary).to_numpy()] = np.arange(distinct)
    rank[distinct] = distinct  # the null's slot: after every value
    return rank[encoded.indices.fill_null(distinct).to_numpy(zero_copy_only=False)]


def _repeats_by_sorting_texts(table: pa.Table, rows: np.ndarray) -> np.ndarray:
    """:func:`_repeats_in_row_order` by sorting the hash and row key texts themselves."""
    keys = table.select(["content_hash", *pool.ROW_KEY]).take(rows)
    order = pc.sort_indices(
        keys, sort_keys=[(c, "ascending") for c in ("content_hash", *pool.ROW_KEY)]
    ).to_numpy()
    hashes = keys["content_hash"].take(order).combine_chunks()
    repeats_sorted = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        same = pc.equal(hashes.slice(1), hashes.slice(0, len(order) - 1))
        repeats_sorted[1:] = pc.fill_null(same, False).to_numpy(zero_copy_only=False)
    repeats = np.zeros(len(rows), dtype=bool)
    repeats[order] = repeats_sorted
    return repeats


def counts_by_file(disposed: pa.Table) -> dict[tuple[str, str], dict]:
    """Pool, quarantined, duplicate and warning rows per (batch, file)."""
    disposition = disposed["disposition"]
    counted = pa.table(
        {
            "batch_id": disposed["batch_id"],
            "source_file": disposed["source_file"],
            "pool_rows": pc.equal(disposition, "pool").cast(pa.int64()),
            "quarantined_rows": pc.equal(disposition, "quarantine").cast(pa.int64()),
            "duplicate_rows": pc.equal(disposition, "duplicate").cast(pa.int64()),
            "warning_rows": pc.greater(
                pc.fill_null(pc.list_value_length(disposed["warnings"]), 0), 0
            ).cast(pa.int64()),
        }
    ).group_by(["batch_id", "source_file"])
    totals = counted.aggregate(
        [(c, "sum") for c in ("pool_rows", "quarantined_rows", "duplicate_rows", "warning_rows")]
    )
    return {
        (r.pop("batch_id"), r.pop("source_file")): {k.removesuffix("_sum"): v for k, v in r.items()}
        for r in totals.to_pylist()
    }


def pool_rows(disposed: pa.Table, resource: Resource, promoted_at: dt.datetime) -> pa.Table:
    """The rows that stay, shaped as the pool table (:func:`jobs.ingest.pool.pool_schema`)."""
    schema = pool.pool_arrow_schema(resource)
    names = [name for name in schema.names if name != "promoted_at"]
    # the pool's columns only: the problems and delivered text of the rejected rows stay behind
    stays = pc.equal(disposed["disposition"], "pool")
    # column by column on every core: one table filter runs its columns one after another
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as threads:
        kept = list(threads.map(lambda name: pc.filter(disposed[name], stays), names))
    columns = dict(zip(names, kept, strict=True))
    columns["promoted_at"] = _repeated(promoted_at, len(kept[0]) if kept else 0)
    return pa.table(columns).select(schema.names).cast(schema)


def quarantine_rows(disposed: pa.Table, quarantined_at: dt.datetime) -> pa.Table:
    """The rejected rows with their reason codes and delivered text, shaped as the quarantine
    table (:data:`jobs.ingest.pool.QUARANTINE_SCHEMA`, the rows of
    :func:`jobs.ingest.pool.filter_quarantined`)."""
    rejected = disposed.filter(pc.equal(disposed["disposition"], "quarantine"))
    rows = rejected.num_rows
    columns = {name: rejected[name] for name in pool.LINEAGE_COLUMNS}
    columns["stage"] = pa.repeat(pa.scalar("standardize"), rows)
    columns["reasons"] = rejected["problems"]
    columns["raw"] = rejected["raw"]
    columns["quarantined_at"] = _repeated(quarantined_at, rows)
    return pa.table(columns).select(pool.QUARANTINE_SCHEMA.names).cast(pool.QUARANTINE_SCHEMA)


def _repeated(instant: dt.datetime, rows: int) -> pa.Array:
    return pa.repeat(pa.scalar(instant, pa.timestamp("us", tz="UTC")), rows)
