"""Governed reads (受控读取): a consumer reads a granted dataset, only its granted fields, masked.

A read is served from the consumer's curated share ``share/<consumer>/<dataset>``
(:mod:`jobs.share.refresh`): already gated (no held batch, :func:`jobs.quality.gates.held_batches`),
limited to the consumer's granted fields, each masked or tokenised by its sensitivity. Every call:

1. checks names: the dataset must be a base database or a catalog resource, fields and filter
   fields plain names of that dataset. Nothing a consumer sends becomes a path or SQL;
2. finds the consumer's active grant at the settings' clock: an expired or revoked grant stops
   the very next call, whatever the share table still holds until the next refresh;
3. reads one page through delta-rs (no Spark): filters become a pyarrow expression, pushed down
   to the files' row-group statistics; at most ``settings.service_max_rows`` rows;
4. appends one audit entry (``read``) before anything is returned: a read whose audit append
   fails returns nothing (503, :func:`audited`). A refused read is audited as ``read_refused``.

Filters act on the values as served: on a tokenised column (an ID) they compare tokens, so a
filter never tells more than the rows it returns.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from jobs.audit import log as audit
from jobs.catalog import load_catalog
from jobs.lake.files import filesystem
from jobs.lake.kept import kept
from jobs.lake.registry import SHARE
from jobs.service import inputs
from jobs.service.errors import (
    AuditUnavailable,
    BadFilter,
    BadRequest,
    CursorExpired,
    NotGranted,
    ShareNotReady,
    UnknownDataset,
)
from jobs.service.ports import ReadRequest, Refusal
from jobs.settings import Settings
from jobs.share.grants import READ, Grant, is_active, read_grants, status_of
from jobs.share.policy import (
    BASE_DATASETS,
    Dataset,
    SharePolicyError,
    column_rules,
    load_masking,
    resolve_dataset,
)
from jobs.store.db import StoreCache

log = logging.getLogger(__name__)

_REQUEST_A_SHARE = "request a share (共享申请) naming the fields and the purpose"
_START_AGAIN = "start again from the first page (no cursor)"


@dataclass(frozen=True)
class Consumer:
    """Who reads: the account (a person, or a system client's token) and its department."""

    department: str
    account: str


@dataclass(frozen=True)
class Page:
    """One page of a governed read: the rows, how each field was treated, where to go on."""

    dataset: str
    grant_id: str
    fields: tuple[str, ...]
    treatments: dict[str, str]
    table: pa.Table
    next_cursor: str | None
    audit_seq: int


# --- names ----------------------------------------------------------------------------------


def shown(value: Any) -> str:
    """A value a consumer sent, safe to quote in a message or the audit log (short, escaped)."""
    return inputs.shown(value) if isinstance(value, str) else ascii(value)[:40]


def check_name(value: Any, what: str) -> str:
    """A plain lowercase ASCII name (no separator, quote or look-alike letter can pass)."""
    if not isinstance(value, str) or not inputs.FIELD_NAME.fullmatch(value):
        raise BadRequest(
            f"{what} {shown(value)} is not a name",
            "use the name as the catalog spells it: lower-case letters, digits and _",
        )
    return value


def resolve(settings: Settings, dataset_id: Any) -> Dataset:
    """The dataset a consumer names, checked against the catalog and the base databases.

    Raises:
        BadRequest: not shaped like a dataset name (``../``, quotes, look-alike letters …).
        UnknownDataset: shaped like one, but no base database or resource has that name.
    """
    bases = ", ".join(BASE_DATASETS)
    if not isinstance(dataset_id, str) or not inputs.DATASET_NAME.fullmatch(dataset_id):
        raise BadRequest(
            f"{shown(dataset_id)} is not a dataset name",
            f"use a base database ({bases}) or a catalog resource id such as rsj.insured",
        )
    key, now = (settings.schemas_root, dataset_id), time.monotonic()
    known = _resolved.get(key)
    if known is not None and now - known[0] < RESOLVED_FOR_SECONDS:
        return known[1]
    masking = load_masking(settings.schemas_root)
    try:
        dataset = resolve_dataset(
            dataset_id,
            load_catalog(settings.schemas_root, settings.catalog_revisions_root),
            settings,
            masking,
        )
    except SharePolicyError:
        raise UnknownDataset(
            f"no dataset {dataset_id!r}",
            f"use a base database ({bases}) or a resource id from the catalog (目录)",
        ) from None
    _resolved[key] = (now, dataset)
    return dataset


#: How long :func:`resolve` reuses a dataset it resolved: the base configuration it reads checks
#: its files' times whenever it is read (2 ms, a sixth of a 核验 call), so it is read at most
#: this often, and an edited file is seen within this time.
RESOLVED_FOR_SECONDS = 2.0
_resolved: dict[tuple[str, str], tuple[float, Dataset]] = {}


def check_department(settings: Settings, consumer: Consumer) -> None:
    """The consumer's department must be one the catalog knows (it names a share folder)."""
    check_name(consumer.department, "department")
    if (
        consumer.department
        not in load_catalog(settings.schemas_root, settings.catalog_revisions_root).departments
    ):
        raise NotGranted(
            f"department {consumer.department!r} is not in the catalog",
            "ask the bureau to register the department",
        )


def key_column(settings: Settings, dataset: Dataset) -> str:
    """The dataset's ID column: a base's key, or the first key field of a resource."""
    if dataset.id in BASE_DATASETS:
        return BASE_DATASETS[dataset.id]
    return (
        load_catalog(settings.schemas_root, settings.catalog_revisions_root)
        .resource(dataset.id)
        .key.fields[0]
    )


def check_fields(dataset: Dataset, names: Sequence[Any], what: str) -> list[str]:
    """Names of the dataset's fields, in order; :class:`BadFilter` names the fields it has."""
    for name in names:
        check_name(name, what)
        if name not in dataset.columns:
            raise BadFilter(
                f"{dataset.id} has no field {name!r}",
                f"use one of its fields: {', '.join(dataset.columns)}",
            )
    return list(names)


def check_ids(settings: Settings, ids: Sequence[Any], what: str = "ID") -> list[str]:
    """An ID list: texts, at most ``settings.service_max_batch`` of them."""
    if len(ids) > settings.service_max_batch:
        raise BadFilter(
            f"{len(ids)} IDs in one call",
            f"send at most {settings.service_max_batch} per call, in several calls",
        )
    return [check_value(value, what) for value in ids]


def check_value(value: Any, what: str) -> str:
    """A filter value or ID: plain text (:func:`jobs.service.inputs.value`), else BadFilter."""
    if not isinstance(value, str):
        raise BadFilter(f"the {what} {shown(value)} is not text", "send the value as text")
    try:
        return inputs.value(value, what)
    except Refusal as refused:
        raise BadFilter(refused.message, refused.what_to_do) from None


# --- grants ---------------------------------------------------------------------------------


def kind_of(grant: Grant) -> str:
    """What a grant allows; a grant recorded without a kind allows reads."""
    return grant.get("kind") or READ


def consumer_grants(settings: Settings, consumer: Consumer, dataset_id: str) -> Sequence[Grant]:
    """The consumer's grants (every state) for one dataset, as the workflow store holds them
    now: read again after any commit to the store (a grant decided or revoked), else kept
    (:class:`jobs.store.db.StoreCache`). Whether a grant is active today is judged per call."""
    key = (settings.database_url, consumer.department, dataset_id)
    filters = [("consumer", "=", consumer.department), ("dataset", "=", dataset_id)]
    return _grants.get(settings, key, lambda: tuple(read_grants(settings, filters)))


_grants = StoreCache()


def governing_grant(
    grants: Sequence[Grant],
    consumer: Consumer,
    dataset_id: str,
    fields: Sequence[str],
    today: dt.date,
    *,
    kinds: Sequence[str],
    grant_id: str | None = None,
) -> Grant:
    """The active grant a call runs under: of this consumer and dataset, of one of ``kinds``,
    covering ``fields``; the oldest such grant when several do.

    Raises:
        NotGranted: none, and the message says which condition failed.
    """
    department = consumer.department
    mine = [g for g in grants if g["consumer"] == department and g["dataset"] == dataset_id]
    if grant_id is not None:
        mine = [g for g in mine if g["request_id"] == grant_id]
    if not mine:
        which = f"grant {grant_id!r}" if grant_id else "grant"
        raise NotGranted(f"{department} holds no {which} for {dataset_id}", _REQUEST_A_SHARE)
    active = [g for g in mine if is_active(g, today)]
    if not active:
        states = ", ".join(sorted({status_of(g, today) for g in mine}))
        raise NotGranted(
            f"{department}'s grant for {dataset_id} is {states} on {today}", _REQUEST_A_SHARE
        )
    usable = [g for g in active if kind_of(g) in kinds]
    if not usable:
        held = ", ".join(sorted({kind_of(g) for g in active}))
        raise NotGranted(
            f"{department}'s grant for {dataset_id} allows {held} only, not {' or '.join(kinds)}",
            "request a share for that use",
        )
    covering = [g for g in usable if set(fields) <= set(g["fields"] or ())]
    if not covering:
        granted = sorted({f for g in usable for f in g["fields"] or ()})
        outside = sorted(set(fields) - set(granted))
        raise NotGranted(
            f"fields {outside} of {dataset_id} are outside {department}'s grant",
            f"ask only for granted fields ({', '.join(granted)}), or request a share for these",
        )
    return min(covering, key=lambda g: (g["requested_on"], g["request_id"]))


# --- filters --------------------------------------------------------------------------------


def _typed(value: str, type_: pa.DataType, what: str) -> pa.Scalar:
    """The filter value as a scalar of the column's type; refused when it does not convert."""
    if pa.types.is_nested(type_):
        raise BadFilter(f"{what}: a list or struct field", "filter on a plain field")
    try:
        return pa.array([value]).cast(type_)[0]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError):
        raise BadFilter(
            f"{what}: {shown(value)} is not a {type_} value", f"send a {type_} value"
        ) from None


def filter_expression(
    schema: pa.Schema, filters: Mapping[str, str], key: str | None, ids: Sequence[str]
) -> pc.Expression | None:
    """The rows wanted, as one pyarrow expression; None when nothing is filtered. Names are
    already checked; values are literals of the column's type, never parsed as an expression."""
    parts = [
        pc.field(name) == _typed(value, schema.field(name).type, f"filter {name}")
        for name, value in sorted(filters.items())
    ]
    if ids:
        parts.append(pc.field(key).isin(pa.array(list(ids)).cast(schema.field(key).type)))
    expression = None
    for part in parts:
        expression = part if expression is None else expression & part
    return expression


def query_digest(request: ReadRequest) -> str:
    """Which rows a query asks for (filters and ID list): a cursor is good for its query only."""
    content = [request.dataset, sorted(request.filters.items()), list(request.ids)]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()[:16]


def ids_digest(ids: Sequence[str]) -> str:
    """SHA-256 of an ID list: the audit entry records it, not the IDs themselves."""
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()


# --- pages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Position:
    """Where the next page starts: a row group of one table version and the rows of it read.

    Pinning the version keeps pages consistent while the share changes; the table id changes
    when a refresh rebuilds the share, which ends the cursor rather than skip or repeat rows.
    """

    table_id: str
    version: int
    query: str
    file: str
    skip: int

    def encode(self) -> str:
        text = json.dumps([self.table_id, self.version, self.query, self.file, self.skip])
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> _Position:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            table_id, version, query, file, skip = json.loads(base64.urlsafe_b64decode(padded))
            position = cls(str(table_id), int(version), str(query), str(file), int(skip))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise CursorExpired(
                "this cursor is not one the service gave out", _START_AGAIN
            ) from None
        if position.version < 0 or position.skip < 0:
            raise CursorExpired("this cursor is damaged", _START_AGAIN)
        return position


@dataclass(frozen=True)
class Snapshot:
    """One version of a share table as pages read it: the table's id, the version, its files."""

    table_id: str
    version: int
    files: pads.Dataset


_newest: dict[str, Snapshot] = {}


def newest_snapshot(uri: str) -> Snapshot | None:
    """The table at ``uri`` at its newest version (None when there is none).

    The table is kept open between calls (:mod:`jobs.lake.kept`): each call reads only the
    commits made since the last, and a share refresh that rebuilt the table is noticed.
    """
    keeper, lock = kept(uri)
    with lock:
        table = keeper.refreshed()
        if table is None:
            _newest.pop(uri, None)
            return None
        table_id, version = table.metadata().id, table.version()
        known = _newest.get(uri)
        if known is None or (known.table_id, known.version) != (table_id, version):
            known = _newest[uri] = Snapshot(table_id, version, table_files(table, uri))
        return known


def snapshot_at(uri: str, version: int) -> Snapshot:
    """An older version of the table at ``uri`` (a cursor's, while the share moved on)."""
    from deltalake import DeltaTable

    table = DeltaTable(uri, version=version)
    return Snapshot(table.metadata().id, table.version(), table_files(table, uri))


def table_files(table: Any, uri: str) -> pads.Dataset:
    """A pyarrow dataset of a Delta table's current files (``table`` opened at ``uri``).

    Built from the file list, not ``DeltaTable.to_pyarrow_dataset()``: that one turns each
    file's Delta statistics into a guarantee, and where the bridge leaves out the maximum of a
    long string (a 64-character token) the guarantee reads ``column <= null``, so any filter on
    that column matched nothing. Parquet's own row-group statistics still skip what they can.
    """
    if table.metadata().partition_columns:
        raise ShareNotReady(f"{uri} is partitioned", "rebuild it unpartitioned (refresh or build)")
    files = pa.table(table.get_add_actions(flatten=True)).column("path").to_pylist()
    fs, root = filesystem(uri)
    return pads.dataset(
        sorted(files),
        schema=pa.schema(table.schema().to_arrow()),
        format="parquet",
        filesystem=pafs.SubTreeFileSystem(root, fs),
    )


def row_groups(files: pads.Dataset, expression: pc.Expression | None) -> list[Any]:
    """The row groups of a table's files, in a fixed order, without those whose statistics
    rule out ``expression``: a page reads the row groups it returns rows from, and one more."""
    groups = []
    for fragment in sorted(files.get_fragments(), key=lambda f: f.path):
        groups += fragment.split_by_row_group(filter=expression, schema=files.schema)
    return groups


def _place(row_group: Any) -> str:
    """A row group's name in a cursor: its file and number."""
    return f"{row_group.path}#{row_group.row_groups[0].id}"


#: Bytes of decoded row groups a service process keeps: a page is cut from its row group in
#: memory, not decoded again with every call (a share written by Spark holds a row group of
#: 100,000 rows and more per file; decoding one costs far more than the page cut from it).
DECODED_ROW_GROUPS_BYTES = 256 * 1024 * 1024


class _DecodedRowGroups:
    """Row groups of share tables as Arrow tables, the least recently used dropped first.

    A Delta table's data files are never changed once written and their names are unique, so
    a row group is known by its table id, file and number: a new version never serves stale
    rows, and a rebuilt share has another table id.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._tables: OrderedDict[tuple[str, str], pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def rows(self, table_id: str, row_group: Any, schema: pa.Schema) -> pa.Table:
        key = (table_id, _place(row_group))
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        rows = row_group.to_table(schema=schema)
        with self._lock:
            if key not in self._tables:
                self._tables[key] = rows
                self._bytes += rows.nbytes
            while self._bytes > self.budget and len(self._tables) > 1:
                _, dropped = self._tables.popitem(last=False)
                self._bytes -= dropped.nbytes
        return rows


_decoded = _DecodedRowGroups(DECODED_ROW_GROUPS_BYTES)


def _scan(
    snapshot: Snapshot,
    fragments: Sequence[Any],
    start: int,
    skip: int,
    limit: int,
    columns: list[str],
    expression: pc.Expression | None,
) -> tuple[list[pa.Table], tuple[int, int] | None]:
    """Up to ``limit`` rows from row group ``start`` on (its first ``skip`` matching rows
    passed), and the (row group, rows passed) of the next row when there is one."""
    taken: list[pa.Table] = []
    count = 0
    for index in range(start, len(fragments)):
        rows = _decoded.rows(snapshot.table_id, fragments[index], snapshot.files.schema)
        if expression is not None:
            rows = rows.filter(expression)
        low = skip if index == start else 0
        if low >= rows.num_rows:
            continue
        if count == limit:  # a further row exists: the next page starts at it
            return taken, (index, low)
        take = min(rows.num_rows - low, limit - count)
        taken.append(rows.slice(low, take).select(columns))
        count += take
        if count == limit and low + take < rows.num_rows:
            return taken, (index, low + take)
    return taken, None


def _rows_in(row_group: Any, expression: pc.Expression | None, schema: pa.Schema) -> int:
    """Rows of one row group that match (its metadata when nothing is filtered: a row-group
    fragment's ``count_rows()`` answers for its whole file)."""
    if expression is None:
        return row_group.row_groups[0].num_rows
    batches = row_group.to_batches(schema=schema, columns=[], filter=expression)
    return sum(batch.num_rows for batch in batches)


def _start(
    fragments: Sequence[Any], offset: int, expression: pc.Expression | None, schema: pa.Schema
) -> tuple[int, int]:
    """The (row group, rows to pass) of row ``offset``; row groups before it are counted."""
    for index, fragment in enumerate(fragments):
        rows = _rows_in(fragment, expression, schema)
        if offset < rows:
            return index, offset
        offset -= rows
    return len(fragments), 0


# --- the read -------------------------------------------------------------------------------


def _check_page(settings: Settings, request: ReadRequest, offset: int) -> None:
    most = settings.service_max_rows
    if not isinstance(request.limit, int) or not 1 <= request.limit <= most:
        raise BadRequest(
            f"limit {shown(request.limit)} is not 1 to {most} rows",
            f"ask for at most {most} rows a page and follow next_cursor for more",
        )
    if not isinstance(offset, int) or offset < 0:
        raise BadRequest(f"offset {shown(offset)} is not a row number", "send 0 or more")
    if offset and request.cursor:
        raise BadRequest("both an offset and a cursor", "send offset on the first page only")


def read_page(
    settings: Settings,
    consumer: Consumer,
    request: ReadRequest,
    *,
    offset: int = 0,
    grant_id: str | None = None,
    grants: Sequence[Grant] | None = None,
) -> Page:
    """One page of a dataset the consumer holds an active grant for; audited exactly once.

    Args:
        offset: rows to skip on a first page (later pages pass ``request.cursor``).
        grant_id: the grant to read under; by default the oldest active one covering the fields.
        grants: the grants to check against (the service's store); by default the lake's
            ``governance/share_grants``. Checked at every call at ``settings.today()``.

    Raises:
        Refusal: a :mod:`jobs.service.errors` refusal, audited as ``read_refused``; nothing of
            the dataset is returned.
    """
    try:
        return _read_page(settings, consumer, request, offset, grant_id, grants)
    except AuditUnavailable:
        raise  # its refusal could not be recorded either
    except Refusal as refusal:
        record_refusal(settings, consumer, "read_refused", request.dataset, refusal)
        raise


def _read_page(
    settings: Settings,
    consumer: Consumer,
    request: ReadRequest,
    offset: int,
    grant_id: str | None,
    grants: Sequence[Grant] | None,
) -> Page:
    _check_page(settings, request, offset)
    check_department(settings, consumer)
    dataset = resolve(settings, request.dataset)
    fields = check_fields(dataset, request.fields, "field")
    filter_fields = check_fields(dataset, list(request.filters), "filter field")
    filters = {k: check_value(v, f"value of filter {k}") for k, v in request.filters.items()}
    ids = check_ids(settings, request.ids)
    key = key_column(settings, dataset) if ids else None
    needed = [*fields, *filter_fields, *([key] if key else [])]
    if grants is None:
        grants = consumer_grants(settings, consumer, dataset.id)
    grant = governing_grant(
        grants, consumer, dataset.id, needed, settings.today(), kinds=(READ,), grant_id=grant_id
    )
    fields = fields or [f for f in dataset.columns if f in grant["fields"]]
    rules = column_rules(dataset, fields, load_masking(settings.schemas_root), grant["fields"])
    withheld = [r.column for r in rules if r.treatment == "withhold"]
    if withheld:
        raise NotGranted(f"fields {withheld} of {dataset.id} never leave their pool", "drop them")

    uri = SHARE.uri(settings, consumer.department, dataset.id)
    snapshot = newest_snapshot(uri)
    if snapshot is None:
        raise ShareNotReady(
            f"{consumer.department}'s share of {dataset.id} has not been built since the grant",
            "try again after the next share refresh (share__refresh)",
        )
    position = _Position.decode(request.cursor) if request.cursor else None
    digest = query_digest(request)
    if position and position.version != snapshot.version:
        try:
            snapshot = snapshot_at(uri, position.version)
        except Exception:
            raise CursorExpired(
                f"{dataset.id} was rebuilt since this cursor", _START_AGAIN
            ) from None
    if position and (position.table_id != snapshot.table_id or position.query != digest):
        raise CursorExpired(
            "this cursor belongs to another query, or the share was rebuilt since", _START_AGAIN
        )
    files = snapshot.files
    missing = sorted(set(needed + fields) - set(files.schema.names))
    if missing:
        raise ShareNotReady(
            f"{consumer.department}'s share of {dataset.id} does not hold {missing} yet",
            "try again after the next share refresh (share__refresh)",
        )
    expression = filter_expression(files.schema, filters, key, ids)
    fragments = row_groups(files, expression)
    if position:
        paths = [_place(f) for f in fragments]
        if position.file not in paths:
            raise CursorExpired("this cursor points past the share's files", _START_AGAIN)
        start, skip = paths.index(position.file), position.skip
    else:
        start, skip = _start(fragments, offset, expression, files.schema)
    pieces, following = _scan(snapshot, fragments, start, skip, request.limit, fields, expression)
    schema = pa.schema([files.schema.field(f) for f in fields])
    rows = pa.concat_tables(pieces).combine_chunks() if pieces else schema.empty_table()
    next_cursor = None
    if following:
        index, passed = following
        next_cursor = _Position(
            snapshot.table_id, snapshot.version, digest, _place(fragments[index]), passed
        ).encode()
    entry = audited(
        settings,
        "read",
        actor=consumer.account,
        target=SHARE.relative_path(consumer.department, dataset.id),
        detail={
            "account": consumer.account,
            "department": consumer.department,
            "dataset": dataset.id,
            "fields": fields,
            "filter": filters,
            "ids": {"count": len(ids), "sha256": ids_digest(ids)} if ids else None,
            "page": {"offset": offset, "cursor": bool(position), "limit": request.limit},
            "rows": rows.num_rows,
            "grant": grant["request_id"],
            "purpose": grant["purpose"],
            "format": request.format,
            "table_version": snapshot.version,
        },
    )
    return Page(
        dataset=dataset.id,
        grant_id=grant["request_id"],
        fields=tuple(fields),
        treatments={r.column: r.treatment for r in rules},
        table=rows,
        next_cursor=next_cursor,
        audit_seq=int(entry["seq"]),
    )


def record_refusal(
    settings: Settings, consumer: Consumer, action: str, dataset: Any, refusal: Refusal
) -> None:
    """A refused call in the audit log: who, which dataset (as sent, escaped), why."""
    named = isinstance(dataset, str) and inputs.DATASET_NAME.fullmatch(dataset)
    audited(
        settings,
        action,
        actor=str(consumer.account),
        target=dataset if named else "",
        detail={
            "account": str(consumer.account),
            "department": str(consumer.department),
            "dataset": shown(dataset),
            "error": refusal.error,
            "status": refusal.status,
            "message": refusal.message,
        },
    )


def audited(
    settings: Settings, action: str, *, actor: str, target: str, detail: Mapping[str, Any]
) -> audit.Entry:
    """Appends a call's audit entry, returning once it is committed.

    Raises:
        AuditUnavailable: the entry could not be committed (503): the caller answers nothing,
            so that no read is ever served unaudited.
    """
    try:
        return audit.record(settings, action, actor=actor, target=target, detail=detail)
    except Exception as exc:
        # The type only: the message may name paths or values of the entry.
        log.error("audit append failed (%s): answering 503", type(exc).__name__)
        raise AuditUnavailable(
            "the audit log could not record this call, so nothing is returned",
            "try again in a minute; if it keeps failing, tell the bureau's operator",
        ) from None
