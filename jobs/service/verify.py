"""核验 (verification without disclosure): does what a citizen or company claims match the base?

For the population base (by citizen ID) and the legal-entity base (by USCC): each item names an
ID and claimed values (name, birth date, status …); the answer per claimed field is

* ``match`` / ``no_match``: the standardised claim equals the stored value, or does not;
* ``not_found``: no record for the ID, or the record holds no value for the field;
* ``invalid_claim``: the claim is not a value of the field (2021-02-30 for a date, an unknown
  status), so it cannot match.

An item whose record has a claimed field marked disputed (异议: an open verification ticket, the
live marks of ``governance/disputed_marks``) also lists it under ``disputed``: the value stays
usable while it is verified (000 §13), and the asker knows it is.

The stored values are never returned, nor anything computed from them beyond these answers
(000 §27, PIPL: the minimum necessary). This is how base data serves checks such as 低保核验
without handing out the population base.

A batch holds up to ``settings.service_max_batch`` items and is answered with one delta-rs read
of the base, filtered to the batch's IDs, and compared in Arrow; claims are standardised first
with the same rules as delivered data (:mod:`jobs.standardize.arrow`: full-width digits, dates in
several shapes, codes by name). Each ID may appear once per batch, so a batch cannot try many
values of one person's field. A grant of kind ``read`` or ``verify`` (核验 only) covering the
claimed fields is needed; every batch is one audit entry (``verify``), a refusal one
``verify_refused``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.catalog import load_catalog
from jobs.integrate.config import load_integration_config
from jobs.lake.kept import kept
from jobs.lake.registry import BASE_KEYS, table_at
from jobs.service.errors import AuditUnavailable, BadRequest, NotGranted, ShareNotReady
from jobs.service.ports import Refusal
from jobs.service.reads import (
    Consumer,
    audited,
    check_department,
    check_fields,
    consumer_grants,
    governing_grant,
    ids_digest,
    record_refusal,
    resolve,
    shown,
    table_files,
)
from jobs.settings import Settings
from jobs.share.grants import READ, VERIFY, Grant
from jobs.standardize import arrow as standard

MATCH, NO_MATCH, NOT_FOUND, INVALID_CLAIM = "match", "no_match", "not_found", "invalid_claim"
#: Bases that answer 核验, and how their key is standardised.
KEY_STANDARDS: dict[str, Callable[[pa.Array], pa.Array]] = {
    "population": standard.normalized_citizen_id,
    "legal_entity": standard.normalized_uscc,
}
#: The longest claimed value accepted.
MAX_CLAIM_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _standardiser(settings: Settings, dataset_id: str, column: str, kind: str) -> Callable:
    """The function that standardises claims of one base column (by its data element)."""
    if kind == "code":
        catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)
        base = load_integration_config(settings).bases.get(dataset_id)
        elements = {a.column: a.element for a in base.attributes} if base else {}
        table_id = catalog.element(elements.get(column, column)).code_table
        mapping: dict[str, str] = {}
        if table_id:
            table = catalog.code_table(table_id)
            mapping = {**{code: code for code in table.codes}, **table.name_to_code}
        return lambda values: standard.mapped_code(values, mapping)
    return {
        "name": standard.normalized_name,
        "date": standard.parsed_date,
        "citizen_id": standard.normalized_citizen_id,
        "uscc": standard.normalized_uscc,
        "phone": standard.normalized_phone,
        "boolean": standard.parsed_boolean,
    }.get(kind, standard.clean_text)


def _comparable(values: pa.ChunkedArray | pa.Array, kind: str, standardise: Callable) -> pa.Array:
    """Stored text goes through the same standardisation as claims (it is already standard, so
    this only guards against a stray space); typed values are compared as they are."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return standardise(values) if pa.types.is_string(values.type) and kind != "code" else values


def _claimed(value: Any, number: int, what: Any) -> str:
    """A claimed value or ID as sent: text, not too long, without control characters."""
    if isinstance(value, str) and len(value) <= MAX_CLAIM_CHARS and not _CONTROL.search(value):
        return value
    where = f"item {number}'s {shown(what)}"
    if isinstance(value, str) and len(value) <= MAX_CLAIM_CHARS:
        raise BadRequest(f"{where} holds a control character", "remove it")
    raise BadRequest(
        f"{where}: {shown(value)} is not text of at most {MAX_CLAIM_CHARS} characters",
        "send each claimed value as text",
    )


@dataclass(frozen=True)
class _Base:
    """A base table's columns in memory, sorted by its key, the keys also as a sorted numpy
    array of bytes: the rows of a batch's IDs are found by binary search, not a scan."""

    stamp: tuple[str, int]
    rows: pa.Table
    keys: np.ndarray

    @classmethod
    def read(cls, stamp: tuple[str, int], files: Any, key: str, columns: list[str]) -> _Base:
        rows = files.to_table(columns=columns, filter=pc.field(key).is_valid())
        rows = rows.take(pc.sort_indices(rows, [(key, "ascending")]))
        keys = rows.column(key).cast(pa.binary()).to_numpy(zero_copy_only=False)
        return cls(stamp, rows, keys.astype(bytes))

    def rows_at(self, keys: pa.Array) -> pa.Table:
        """One row per key, in the keys' order: the row with that key, or a row of nulls where
        there is none (or the key is null)."""
        given = pc.fill_null(keys, "").cast(pa.binary()).to_numpy(zero_copy_only=False)
        wanted = given.astype(self.keys.dtype) if len(given) else np.array([], self.keys.dtype)
        at = np.minimum(np.searchsorted(self.keys, wanted), max(len(self.keys) - 1, 0))
        if not len(self.keys):
            return self.rows.take(pa.nulls(len(keys), pa.int64()))
        found = (self.keys[at] == wanted) & keys.is_valid().to_numpy(zero_copy_only=False)
        return self.rows.take(pa.array(at, pa.int64(), mask=~found))


_bases: dict[str, _Base] = {}
_bases_lock = threading.Lock()


def _base_rows(uri: str, key: str, columns: Sequence[str], keys: pa.Array) -> pa.Table:
    """The rows of a base table of ``keys``, one per key in order (nulls where the base holds
    none): ``key`` and ``columns`` (and the columns read before), from memory, kept per table
    version.

    A base is not sorted by its key, so row-group statistics skip nothing for a list of IDs,
    and a scan of a million persons per 100-ID call would be most of the call: the key and the
    claimed columns are read once per version of the base and searched in memory. A new build
    (another table version or table id) is read afresh on the next call. The table itself is
    kept open (:mod:`jobs.lake.kept`), so a call costs no log replay either.
    """
    keeper, lock = kept(uri)
    with lock:
        table = keeper.refreshed()
        if table is None:
            raise ShareNotReady(
                f"the base at {uri} has not been built", "try again after the build"
            )
        stamp = (table.metadata().id, table.version())
        with _bases_lock:
            cached = _bases.get(uri)
            known = set(cached.rows.column_names) if cached and cached.stamp == stamp else set()
            if not (cached and {key, *columns} <= known):
                files = table_files(table, uri)
                missing = sorted({key, *columns} - set(files.schema.names))
                if missing:
                    raise NotGranted(f"the base at {uri} holds no {missing}", "claim other fields")
                cached = _bases[uri] = _Base.read(
                    stamp, files, key, sorted(known | {key, *columns})
                )
    return cached.rows_at(keys)


def _as_type(values: pa.Array, type_: pa.DataType) -> pa.Array:
    """Standardised claims as the stored column's type; a claim that is no such value → NULL."""
    if values.type == type_:
        return values
    if pa.types.is_string(values.type) and (
        pa.types.is_integer(type_) or pa.types.is_decimal(type_) or pa.types.is_floating(type_)
    ):
        values = pc.if_else(
            pc.fill_null(pc.match_substring_regex(values, r"^[+-]?\d+(\.\d+)?$"), False),
            values,
            pa.scalar(None, pa.string()),
        )
    try:
        return values.cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Rare (a claim with more decimals than the column): such claims cannot match.
        return pa.array([_cast_or_none(v, type_) for v in values.to_pylist()], type_)


def _cast_or_none(value: Any, type_: pa.DataType) -> Any:
    try:
        return pa.array([value]).cast(type_)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _items(settings: Settings, items: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict]]:
    if not 1 <= len(items) <= settings.service_max_batch:
        raise BadRequest(
            f"{len(items)} items in one 核验 batch",
            f"send 1 to {settings.service_max_batch} items per call, in several calls",
        )
    checked = []
    for number, item in enumerate(items, start=1):
        claims = item.get("claims") if isinstance(item, Mapping) else None
        if not isinstance(claims, Mapping) or not claims:
            raise BadRequest(
                f"item {number} has no claims", 'send {"id": …, "claims": {field: value, …}}'
            )
        key = _claimed(item.get("id"), number, "id")
        checked.append((key, {f: _claimed(v, number, f) for f, v in claims.items()}))
    return checked


def _statuses(
    found: pa.Array, claims: pa.Array, standard_claims: pa.Array, stored: pa.Array
) -> pa.Array:
    """One answer per item for one field (null where the item did not claim it)."""
    equal = pc.equal(standard_claims, stored)
    answer = pc.if_else(pc.fill_null(equal, False), MATCH, NO_MATCH)
    answer = pc.if_else(pc.is_null(stored), NOT_FOUND, answer)
    answer = pc.if_else(pc.is_null(standard_claims), INVALID_CLAIM, answer)
    answer = pc.if_else(found, answer, NOT_FOUND)
    return pc.if_else(pc.is_null(claims), pa.scalar(None, pa.string()), answer)


def verify_batch(
    settings: Settings,
    consumer: Consumer,
    dataset_id: str,
    items: Sequence[Mapping[str, Any]],
    *,
    grants: Sequence[Grant] | None = None,
) -> list[dict[str, Any]]:
    """Answers a 核验 batch: per item ``{"id", "found", "fields": {field: answer}}``, in order.

    ``id`` is the ID as the caller sent it; ``found`` says whether the base holds a record for
    it (False also for an ID that is not a valid citizen ID or USCC, with ``"invalid_id": true``).

    Raises:
        Refusal: a :mod:`jobs.service.errors` refusal, audited as ``verify_refused``.
    """
    try:
        return _verify(settings, consumer, dataset_id, items, grants)
    except AuditUnavailable:
        raise  # its refusal could not be recorded either
    except Refusal as refusal:
        record_refusal(settings, consumer, "verify_refused", dataset_id, refusal)
        raise


def _disputed_fields(
    settings: Settings, dataset_id: str, keys: Sequence[str], fields: Sequence[str]
) -> dict[str, set[str]]:
    """Key → the claimed fields whose element is marked disputed (异议) now: the live marks of
    open verification tickets (``governance/disputed_marks``, one small delta-rs read). A
    disputed value stays usable (000 §13): the answer says so, it does not withhold it."""
    from jobs.govern.ticket_snapshot import disputed_elements

    if not keys:
        return {}
    base = load_integration_config(settings).bases.get(dataset_id)
    column_of = {a.element: a.column for a in base.attributes} if base else {}
    return {
        key: {column_of.get(e, e) for e in elements} & set(fields)
        for key, elements in disputed_elements(settings, dataset_id, keys).items()
    }


def _verify(
    settings: Settings,
    consumer: Consumer,
    dataset_id: str,
    items: Sequence[Mapping[str, Any]],
    grants: Sequence[Grant] | None,
) -> list[dict[str, Any]]:
    check_department(settings, consumer)
    dataset = resolve(settings, dataset_id)
    if dataset.id not in KEY_STANDARDS:
        raise BadRequest(
            f"{dataset.id} does not answer 核验",
            f"verify against {' or '.join(KEY_STANDARDS)}",
        )
    checked = _items(settings, items)
    key = BASE_KEYS[dataset.id]
    fields = sorted({f for _, claims in checked for f in claims})
    check_fields(dataset, fields, "claimed field")
    if key in fields:
        raise BadRequest(f"{key} is the ID, not a claim", "send it as the item's id")
    if grants is None:
        grants = consumer_grants(settings, consumer, dataset.id)
    grant = governing_grant(
        grants, consumer, dataset.id, fields, settings.today(), kinds=(READ, VERIFY)
    )

    given = pa.array([k for k, _ in checked], pa.string())
    keys = KEY_STANDARDS[dataset.id](given)
    valid_keys = pc.drop_null(keys)
    if len(pc.unique(valid_keys)) != len(valid_keys):
        raise BadRequest(
            "an ID appears more than once in the batch",
            "send each ID once per batch, with all its claims in one item",
        )
    # Stored values beside the claims: one row per item, in the batch's order.
    stored = _base_rows(table_at(*dataset.layer).uri(settings), key, fields, keys)
    found = stored.column(key).combine_chunks().is_valid()
    answers: dict[str, list] = {}
    for field in fields:
        kind = dataset.columns[field][1]
        standardise = _standardiser(settings, dataset.id, field, kind)
        claims = pa.array([c.get(field) for _, c in checked], pa.string())
        stored_values = _comparable(stored.column(field), kind, standardise)
        standard_claims = _as_type(standardise(claims), stored_values.type)
        answers[field] = _statuses(found, claims, standard_claims, stored_values)
    counts: dict[str, int] = {}
    for statuses in answers.values():
        for entry in pc.value_counts(pc.drop_null(statuses)).to_pylist():
            counts[entry["values"]] = counts.get(entry["values"], 0) + entry["counts"]
    disputed = _disputed_fields(settings, dataset.id, valid_keys.to_pylist(), fields)
    # The answer as the API returns it: one dict per item (the only per-item Python here).
    found_list = found.to_pylist()
    invalid = pc.is_null(keys).to_pylist()
    by_field = {f: a.to_pylist() for f, a in answers.items()}
    results = []
    for index, (given_id, claims) in enumerate(checked):
        result = {
            "id": given_id,
            "found": found_list[index],
            "fields": {f: by_field[f][index] for f in claims},
        }
        if invalid[index]:
            result["invalid_id"] = True
        marked = [f for f in claims if f in disputed.get(keys[index].as_py(), ())]
        if marked:
            result["disputed"] = marked
        results.append(result)
    audited(
        settings,
        "verify",
        actor=consumer.account,
        target=table_at(*dataset.layer).relative_path(),
        detail={
            "account": consumer.account,
            "department": consumer.department,
            "dataset": dataset.id,
            "fields": fields,
            "ids": {"count": len(checked), "sha256": ids_digest([k for k, _ in checked])},
            "found": sum(found_list),
            "answers": counts,
            "grant": grant["request_id"],
            "purpose": grant["purpose"],
        },
    )
    return results
