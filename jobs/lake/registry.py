"""Every lake table, declared once: where it lives, what one row is, who writes it, its keys.

A reader who asks "where is table X written, and what is its grain?" finds the answer here (or
with ``govlake tables``). Every reader and writer takes a table's location from its entry
(``POPULATION.uri(settings)``, ``POOL.uri(settings, "gaj", "hukou")``), so no module spells a
table path; a test checks that each entry's writer exists and names its table, and that no
module outside :mod:`jobs.lake` lays out a table path itself.

Imports nothing heavy (no Spark, no delta-rs): DAG files and the catalog read it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jobs.lake.paths import layer_uri, table_uri
from jobs.settings import Settings


@dataclass(frozen=True)
class LakeTable:
    """One table, or one family of tables laid out alike (one per resource, per consumer …).

    Attributes:
        layer: the lake layer (:data:`jobs.lake.paths.LAYERS`).
        name: the folder below the layer; for a family, its parts in angle brackets
            (``<dept>/<resource>``).
        grain: what one row is ("one row per natural person").
        writer: the function that writes it, ``module.function``.
        keys: the columns that identify a row.
        database: the base database (基础数据库) a base table belongs to; catalog resources
            name it in ``feeds``.
    """

    layer: str
    name: str
    grain: str
    writer: str
    keys: tuple[str, ...]
    database: str | None = None

    @property
    def path(self) -> str:
        """The table's place relative to its root: ``governance/audit_log``."""
        return f"{self.layer}/{self.name}"

    @property
    def parts(self) -> tuple[str, ...]:
        """The folders below the layer; a family's are placeholders."""
        return tuple(self.name.split("/"))

    @property
    def is_family(self) -> bool:
        return self.name.startswith("<")

    def uri(self, settings: Settings, *parts: str) -> str:
        """The table's location; a family's members are named by their parts.

        Raises:
            ValueError: parts for a single table, or the wrong number for a family.
        """
        return table_uri(settings, self.layer, *self._member(parts))

    def relative_path(self, *parts: str) -> str:
        """The location relative to the lake root (``pool/gaj/hukou``), as backups name it."""
        return "/".join([self.layer, *self._member(parts)])

    def layer_uri(self, settings: Settings) -> str:
        """The folder of the table's layer (where a family's members are listed)."""
        return layer_uri(settings, self.layer)

    def _member(self, parts: Sequence[str]) -> tuple[str, ...]:
        if not self.is_family:
            if parts:
                raise ValueError(f"{self.path} is one table: it takes no parts, got {parts!r}")
            return self.parts
        if len(parts) != len(self.parts):
            raise ValueError(f"{self.path} takes {len(self.parts)} part(s), got {parts!r}")
        return tuple(parts)

    def matches(self, layer: str, parts: Sequence[str]) -> bool:
        """Whether ``layer/parts`` is this table, or a member of this family."""
        if layer != self.layer or len(parts) != len(self.parts):
            return False
        return self.is_family or tuple(parts) == self.parts


_INGEST = "jobs.ingest.pipeline"
_BUILD = "jobs.integrate.build.build_bases"
_ROW_LINEAGE = ("batch_id", "source_file", "row_number")
_FILE = ("department", "resource", "batch_id", "source_file")
_BATCH = ("department", "resource", "batch_id")

# --- department data (部门政务数据资源池) ------------------------------------------------------
BRONZE = LakeTable(
    "bronze",
    "<dept>/<resource>",
    "one row per delivered data row: raw strings and lineage, nothing parsed",
    f"{_INGEST}._land_files",
    _ROW_LINEAGE,
)
POOL = LakeTable(
    "pool",
    "<dept>/<resource>",
    "one row per accepted record per batch: typed, keyed by the catalog's key fields",
    "jobs.ingest.promote_arrow.promote",
    _ROW_LINEAGE,
)
QUARANTINE = LakeTable(
    "quarantine",
    "<dept>/<resource>",
    "one row per rejected row (reason codes), or per file rejected whole",
    "jobs.ingest.promote_arrow.promote",
    _ROW_LINEAGE,
)

# --- base databases (基础数据库) ------------------------------------------------------------
ATTRIBUTE_OBSERVATIONS = LakeTable(
    "base",
    "attribute_observations",
    "one row per (pool row, subject, data element): every department's value, kept",
    _BUILD,
    ("key_kind", "key", "element", "resource", *_ROW_LINEAGE),
)
ATTRIBUTE_VALUES = LakeTable(
    "base",
    "attribute_values",
    "one row per (key kind, key, element): the surviving value and its provenance",
    _BUILD,
    ("key_kind", "key", "element"),
)
POPULATION = LakeTable(
    "base", "population", "one row per natural person", _BUILD, ("person_id",), "population"
)
LEGAL_ENTITY = LakeTable(
    "base", "legal_entity", "one row per legal entity", _BUILD, ("uscc",), "legal_entity"
)
PARCEL = LakeTable("base", "parcel", "one row per parcel", _BUILD, ("parcel_code",), "spatial")
REAL_ESTATE_UNIT = LakeTable(
    "base", "real_estate_unit", "one row per real-estate unit", _BUILD, ("unit_number",), "spatial"
)
STANDARD_ADDRESS = LakeTable(
    "base",
    "standard_address",
    "one row per standard address",
    _BUILD,
    ("address_code",),
    "spatial",
)
E_LICENCE = LakeTable(
    "base",
    "e_licence",
    "one row per electronic licence (licence type, licence number)",
    _BUILD,
    ("licence_id",),
    "e_licence",
)
LINKS = LakeTable(
    "base",
    "links",
    "one row per cross-link between base records (relation, from key, to key)",
    _BUILD,
    ("relation", "from_key", "to_key"),
)

# --- governance ----------------------------------------------------------------------------
INGEST_FILES = LakeTable(
    "governance",
    "ingest_files",
    "one row per landed file (or rejected batch): what happened to it",
    f"{_INGEST}._append_file_log",
    _FILE,
)
POOL_BATCHES = LakeTable(
    "governance",
    "pool_batches",
    "one row per promotion outcome of a (batch, file)",
    "jobs.ingest.promote._append_outcomes",
    (*_FILE, "decided_at"),
)
ROW_ACCOUNTING = LakeTable(
    "governance",
    "row_accounting",
    "one row per (resource, batch, file): its row counts, checked to balance",
    f"{_INGEST}.check_row_accounting",
    _FILE,
)
QUALITY_BATCHES = LakeTable(
    "governance",
    "quality_batches",
    "one row per quality decision about a batch (the latest row is the batch's status)",
    "jobs.quality.gates.append_decisions",
    (*_BATCH, "decided_at"),
)
QUALITY_RESULTS = LakeTable(
    "governance",
    "quality_results",
    "one row per (batch, suite version, expectation or accuracy check)",
    "jobs.quality.results.append_results",
    (*_BATCH, "suite_version", "expectation"),
)
QUALITY_SCORECARDS = LakeTable(
    "governance",
    "quality_scorecards",
    "one row per scoring of a (department, resource, batch) on six dimensions",
    "jobs.quality.scorecards.append_scorecards",
    (*_BATCH, "scored_at"),
)
QUALITY_FAILING_ROWS = LakeTable(
    "governance",
    "quality_failing_rows",
    "one row per (batch, pool row) that failed at least one expectation",
    "jobs.quality.failing_rows.append_failing_rows",
    (*_BATCH, "source_file", "row_number", "suite_version"),
)
RECTIFICATION_TASKS = LakeTable(
    "governance",
    "rectification_tasks",
    "one row per rectification task (整改任务): one open per (resource, expectation)",
    "jobs.quality.rectification.write_tasks",
    ("task_id",),
)
CONFLICTS = LakeTable(
    "governance",
    "conflicts",
    "one row per conflict or anomaly the latest base build found",
    "jobs.integrate.build._write_conflicts",
    ("issue_id",),
)
BASE_BUILDS = LakeTable(
    "governance",
    "base_builds",
    "one row per base build: its inputs, counts and times",
    _BUILD,
    ("build_id", "started_at"),
)
VERIFICATION_TICKETS = LakeTable(
    "governance",
    "verification_tickets",
    "one row per verification ticket (校核工单), following its issue from build to build: a "
    "snapshot of the workflow store",
    "jobs.govern.ticket_snapshot.write_snapshot",
    ("ticket_id",),
)
TICKET_EVENTS = LakeTable(
    "governance",
    "ticket_events",
    "one row per thing that happened to a ticket, with who and why (append-only): a snapshot "
    "of the workflow store",
    "jobs.govern.ticket_snapshot._append_events",
    ("event_id",),
)
DISPUTED_MARKS = LakeTable(
    "governance",
    "disputed_marks",
    "one row per (open verification ticket, base key): the 异议 marks as they are now, "
    "following every ticket change (the base tables' disputed_elements follow at the next build)",
    "jobs.govern.ticket_snapshot.write_marks",
    ("ticket_id", "base_key"),
)
VERIFICATION_CORRECTIONS = LakeTable(
    "governance",
    "verification_corrections",
    "one row per correction a department made answering a verification ticket: its observation "
    "in every later base build",
    "jobs.govern.ticket_snapshot.write_corrections",
    ("ticket_id", "department", "corrected_at"),
)
SHARE_GRANTS = LakeTable(
    "governance",
    "share_grants",
    "one row per share request (共享申请), with who and why on every decision: a snapshot of the workflow store",
    "jobs.share.grants.write_snapshot",
    ("request_id",),
)
AUDIT_LOG = LakeTable(
    "governance",
    "audit_log",
    "one row per recorded action: append-only, hash-chained",
    "jobs.audit.log.record_many",
    ("seq",),
)

# --- sharing and open data ------------------------------------------------------------------
SHARE = LakeTable(
    "share",
    "<consumer>/<dataset>",
    "the source dataset's grain, with only the granted fields, masked or tokenised",
    "jobs.share.refresh.refresh_shares",
    (),
)
REIDENTIFICATION = LakeTable(
    "reid",
    "<consumer>/<dataset>",
    "one row per (column, token) of a consumer's share: the value the token stands for",
    "jobs.share.refresh.refresh_shares",
    ("column", "token"),
)
OPEN_LIST = LakeTable(
    "open",
    "open_list",
    "one row per open dataset (开放清单): domain, summary, items, format, update cycle",
    "jobs.share.open_data.publish_open_data",
    ("dataset",),
)
OPEN_DATASET = LakeTable(
    "open",
    "<dataset>",
    "an open resource: its pool's grain, public fields only; an aggregate: one row per cell "
    "plus one total row per group, small cells suppressed",
    "jobs.share.open_data.publish_open_data",
    (),
)

#: Every table, in the order ``govlake tables`` lists them.
TABLES: tuple[LakeTable, ...] = (
    BRONZE,
    POOL,
    QUARANTINE,
    ATTRIBUTE_OBSERVATIONS,
    ATTRIBUTE_VALUES,
    POPULATION,
    LEGAL_ENTITY,
    PARCEL,
    REAL_ESTATE_UNIT,
    STANDARD_ADDRESS,
    E_LICENCE,
    LINKS,
    INGEST_FILES,
    POOL_BATCHES,
    ROW_ACCOUNTING,
    QUALITY_BATCHES,
    QUALITY_RESULTS,
    QUALITY_SCORECARDS,
    QUALITY_FAILING_ROWS,
    RECTIFICATION_TASKS,
    CONFLICTS,
    BASE_BUILDS,
    VERIFICATION_TICKETS,
    TICKET_EVENTS,
    DISPUTED_MARKS,
    VERIFICATION_CORRECTIONS,
    SHARE_GRANTS,
    AUDIT_LOG,
    SHARE,
    REIDENTIFICATION,
    OPEN_LIST,
    OPEN_DATASET,
)

#: The base tables a build writes, each with its own key (the shareable base datasets).
BASE_TABLES: tuple[LakeTable, ...] = tuple(t for t in TABLES if t.database is not None)
#: Base table name → its key column.
BASE_KEYS: dict[str, str] = {t.name: t.keys[0] for t in BASE_TABLES}
#: The base databases (基础数据库) a catalog resource can feed, in order.
BASE_DATABASES: tuple[str, ...] = tuple(
    dict.fromkeys(t.database for t in BASE_TABLES if t.database)
)


def table_at(layer: str, *parts: str) -> LakeTable:
    """The entry for a table path given as data (``("base", "population")`` from a config).

    A single table is preferred over a family (``open/open_list`` is not an open dataset).

    Raises:
        KeyError: no entry lays out that path.
    """
    matching = [t for t in TABLES if t.matches(layer, parts)]
    if not matching:
        raise KeyError(f"{'/'.join([layer, *parts])} is not a lake table (jobs.lake.registry)")
    return min(matching, key=lambda t: t.is_family)


def uri_at(settings: Settings, layer: str, *parts: str) -> str:
    """The location of a registered table given by its path (see :func:`table_at`)."""
    table = table_at(layer, *parts)
    return table.uri(settings, *(parts if table.is_family else ()))
