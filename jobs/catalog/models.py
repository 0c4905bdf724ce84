"""The resource catalog (目录) as frozen Python objects.

The catalog is configuration as data: `schemas/` holds departments, one YAML file per resource,
the standard data elements (数据元) and the code tables (码表). :mod:`jobs.catalog.loader`
validates those files and builds the objects below; everything else in govlake reads the
catalog through them, never through the YAML.

Attribute names mirror the YAML keys, so a reader of `schemas/README.md` can guess them. The
vocabularies (allowed values) and the allowed keys of every entry live here, in one place, so
that extending the format is a one-line change.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobs.lake.registry import BASE_DATABASES
from jobs.yamlconf import ANY, BOOL, TEXT, Keys, ListOf

# --- vocabularies ----------------------------------------------------------------------------

#: Delivery formats a department may use (DESIGN §4).
DELIVERY_FORMATS: tuple[str, ...] = ("csv", "jsonl", "xlsx", "geojson")
#: Encodings a department may declare; ingestion still detects, this is the declared one.
ENCODINGS: tuple[str, ...] = ("utf-8", "gbk", "gb18030")
#: Update cycle (更新周期 / 更新频度), 001 §8, 002 §10, 003 §15.
UPDATE_FREQUENCIES: tuple[str, ...] = (
    "realtime",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
)
#: Security levels (安全级别) 1 public · 2 internal · 3 sensitive · 4 core.
SECURITY_LEVELS: dict[int, str] = {1: "public", 2: "internal", 3: "sensitive", 4: "core"}
#: Share types (共享属性): 无条件共享 / 有条件共享 (镇海: 受限) / 不予共享 (000 §14, 002 §19).
SHARE_TYPES: tuple[str, ...] = ("unconditional", "conditional", "not_shared")
#: Open types (开放属性): 无条件开放 / 依申请开放 (有条件开放) / 不予开放 (000 §18, 004 §20).
OPEN_TYPES: tuple[str, ...] = ("unconditional", "on_request", "not_open")
#: The four base databases (基础数据库) a resource can feed (declared with the base tables in
#: the lake registry: spatial is the parcel, real-estate unit and standard address tables).
BASES: tuple[str, ...] = BASE_DATABASES
#: How sensitive one field is; drives masking and open-data suppression.
SENSITIVITIES: tuple[str, ...] = ("public", "internal", "personal", "identifier", "sensitive")
#: What a data element is, independent of how it is stored (DESIGN §5).
ELEMENT_KINDS: tuple[str, ...] = (
    "citizen_id",
    "uscc",
    "parcel_code",
    "unit_number",
    "code",
    "name",
    "date",
    "timestamp",
    "phone",
    "address",
    "text",
    "integer",
    "decimal",
    "geometry",
    "region_code",
    "boolean",
)
#: Pool storage types; ``decimal(p,s)`` is matched by :data:`DECIMAL_TYPE`.
STORAGE_TYPES: tuple[str, ...] = (
    "string",
    "date",
    "timestamp",
    "integer",
    "long",
    "decimal(p,s)",
    "double",
    "boolean",
)
DECIMAL_TYPE = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")

#: Storage types that can hold each element kind. Kinds not listed are stored as strings:
#: identifiers and codes keep their leading zeros and check characters only as text.
KIND_STORAGE: dict[str, tuple[str, ...]] = {
    "date": ("date",),
    "timestamp": ("timestamp",),
    "integer": ("integer", "long"),
    "decimal": ("decimal(p,s)", "double"),
    "boolean": ("boolean",),
}

#: Lowercase ASCII identifiers: they become lake paths, DAG ids and pool column names.
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
#: A delivery manifest or completion marker: one file name inside a batch folder.
COMPLETION_FILE_NAME = re.compile(r"^(?!.*\.\.)[0-9A-Za-z_][0-9A-Za-z_.\-]{0,99}$")

# --- the shape of each entry ------------------------------------------------------------------

_TEXTS = ListOf(TEXT)

#: Every entry of the catalog → its keys, their types and which are required (a
#: :class:`jobs.yamlconf.Keys`). The loader rejects any other key and any value of another type,
#: naming the file and line, so a typo (``secuirty_level``) fails loudly instead of being
#: ignored. To extend the format, add the key here (and, if it needs structure, a model
#: attribute). Nested entries (``ANY`` here) are checked with their own shape; the values whose
#: meaning needs more than a type (codes, code maps, the security level) by the loader.
SHAPES: dict[str, Keys] = {
    "departments_file": Keys({"departments": ListOf(ANY)}, required={"departments"}),
    "department": Keys(
        {"code": TEXT, "name": TEXT, "name_en": TEXT, "description": TEXT},
        required={"code", "name"},
    ),
    "data_elements_file": Keys({"elements": ListOf(ANY)}, required={"elements"}),
    "element": Keys(
        {
            "id": TEXT,
            "name": TEXT,
            "kind": TEXT,
            "type": TEXT,
            "code_table": TEXT,
            "authority": _TEXTS,
            "standard": TEXT,
            "description": TEXT,
            "name_en": TEXT,
        },
        required={"id", "name", "kind", "type"},
    ),
    "code_table": Keys(
        {
            "id": TEXT,
            "name": TEXT,
            "standard": TEXT,
            "codes": ListOf(ANY),
            "name_en": TEXT,
            "description": TEXT,
        },
        required={"id", "name", "standard", "codes"},
    ),
    "code": Keys(
        {
            "code": ANY,  # text, but a number gets its own message (quote it)
            "name": TEXT,
            "name_en": TEXT,
            "letter_code": TEXT,
            "aliases": _TEXTS,
            "description": TEXT,
        },
        required={"code", "name"},
    ),
    "resource": Keys(
        {
            "department": TEXT,
            "resource": TEXT,
            "title": TEXT,
            "title_en": TEXT,
            "grain": TEXT,
            "description": TEXT,
            "key": ANY,
            "delivery": ANY,
            "update_frequency": TEXT,
            "security_level": ANY,  # one of SECURITY_LEVELS, checked by the loader
            "share": ANY,
            "open": ANY,
            "feeds": _TEXTS,
            "fields": ListOf(ANY),
        },
        required={
            "department",
            "resource",
            "title",
            "grain",
            "key",
            "delivery",
            "update_frequency",
            "security_level",
            "share",
            "open",
            "feeds",
            "fields",
        },
    ),
    "key": Keys({"kind": TEXT, "fields": _TEXTS}, required={"kind", "fields"}),
    "delivery": Keys(
        {"format": TEXT, "encoding": TEXT, "manifest": TEXT, "marker": TEXT},
        required={"format", "encoding"},
    ),
    "share": Keys({"type": TEXT, "condition": TEXT, "legal_basis": TEXT}, required={"type"}),
    "open": Keys(
        {
            "type": TEXT,
            "domain": TEXT,
            "summary": TEXT,
            "condition": TEXT,
            "legal_basis": TEXT,
        },
        required={"type"},
    ),
    "field": Keys(
        {
            "name": TEXT,
            "element": TEXT,
            "source_columns": _TEXTS,
            "required": BOOL,
            "sensitivity": TEXT,
            "code_map": ANY,  # quoted text → code, checked by the loader
            "code_map_by_name": BOOL,
            "description": TEXT,
        },
        required={"name", "element", "source_columns", "required", "sensitivity"},
    ),
}

# --- model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Department:
    """A department (部门) that delivers data; ``code`` is its lake-path and DAG-id name."""

    code: str
    name: str
    name_en: str = ""
    description: str = ""


@dataclass(frozen=True)
class Code:
    """One value of a code table; ``aliases`` are other names departments write for it."""

    code: str
    name: str
    name_en: str = ""
    letter_code: str = ""
    aliases: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class CodeTable:
    """A code table (码表): the standard codes one coded data element may take."""

    id: str
    name: str
    standard: str
    entries: tuple[Code, ...]
    name_en: str = ""
    description: str = ""
    path: str = ""

    @property
    def codes(self) -> dict[str, str]:
        """Standard code → Chinese name, in the table's order."""
        return {entry.code: entry.name for entry in self.entries}

    @property
    def name_to_code(self) -> dict[str, str]:
        """Chinese name and every alias → standard code, for values delivered as names."""
        mapping: dict[str, str] = {}
        for entry in self.entries:
            mapping[entry.name] = entry.code
            for alias in entry.aliases:
                mapping[alias] = entry.code
        return mapping

    def __contains__(self, code: object) -> bool:
        return any(entry.code == code for entry in self.entries)


@dataclass(frozen=True)
class DataElement:
    """A standard data element (数据元): what a value means and how the pool stores it.

    ``authority`` lists the resource ids that are authoritative for the element under one data,
    one source (一数一源); survivorship in the base databases prefers them.
    """

    id: str
    name: str
    kind: str
    type: str
    code_table: str | None = None
    authority: tuple[str, ...] = ()
    standard: str = ""
    description: str = ""
    name_en: str = ""


@dataclass(frozen=True)
class Field:
    """One pool column of a resource and the department columns it is read from.

    ``code_map`` maps department values to standard codes; with ``code_map_by_name`` the values
    are names looked up in the element's code table. ``data_element`` is the resolved element.
    """

    name: str
    element: str
    source_columns: tuple[str, ...]
    required: bool
    sensitivity: str
    data_element: DataElement
    code_map: dict[str, str] = dataclasses.field(default_factory=dict)
    code_map_by_name: bool = False
    description: str = ""


@dataclass(frozen=True)
class KeySpec:
    """How a record is keyed: the key standard (``kind``) and the pool columns that form it.

    The first field carries the key standard (citizen ID, USCC …); further fields qualify it
    (an insured person per insurance type).
    """

    kind: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Delivery:
    """How the department delivers files: format, declared encoding, and how a batch says it is
    complete. ``manifest``: the name of a JSON file the department writes last in each batch,
    listing every file with its size and SHA-256; ``marker``: the name of a file written last
    (often empty). Neither: a file is complete once unchanged for the landing quiet period."""

    format: str
    encoding: str
    manifest: str = ""
    marker: str = ""


@dataclass(frozen=True)
class ShareSpec:
    """Share type (共享属性) with its condition and legal basis (001 §14 asks for one)."""

    type: str
    condition: str = ""
    legal_basis: str = ""


@dataclass(frozen=True)
class OpenSpec:
    """Open type (开放属性); open resources name a domain and summary for the open list."""

    type: str
    domain: str = ""
    summary: str = ""
    condition: str = ""
    legal_basis: str = ""


@dataclass(frozen=True)
class Resource:
    """One catalog entry: a data resource of one department, its fields and its policies.

    Grain of the pool table is ``grain``; ``id`` is ``"<department>.<resource>"``.
    """

    department: str
    resource: str
    title: str
    grain: str
    key: KeySpec
    delivery: Delivery
    update_frequency: str
    security_level: int
    share: ShareSpec
    open: OpenSpec
    feeds: tuple[str, ...]
    fields: tuple[Field, ...]
    title_en: str = ""
    description: str = ""
    path: str = ""
    #: The approved catalog revision (目录更新) this entry comes from; 0: its file in `schemas/`.
    revision: int = 0

    @property
    def id(self) -> str:
        return f"{self.department}.{self.resource}"

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        """The field called ``name``; KeyError naming the resource if there is none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(f"{self.id} has no field {name!r}; fields: {', '.join(self.field_names)}")

    @property
    def key_fields(self) -> tuple[Field, ...]:
        return tuple(self.field(name) for name in self.key.fields)

    @property
    def required_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.required)

    def source_column_index(self) -> dict[str, str]:
        """Every department column name (synonyms included) → the pool field it fills.

        Ingestion uses it to rename delivered columns; the loader guarantees a column name
        belongs to one field only.
        """
        return {column: f.name for f in self.fields for column in f.source_columns}

    def fields_of_element(self, element_id: str) -> tuple[Field, ...]:
        """Fields holding ``element_id`` (a marriage has two citizen IDs)."""
        return tuple(f for f in self.fields if f.element == element_id)


@dataclass(frozen=True)
class Catalog:
    """The whole validated catalog. Build it with :func:`jobs.catalog.loader.load_catalog`."""

    root: str
    departments: dict[str, Department]
    resources: dict[str, Resource]
    elements: dict[str, DataElement]
    code_tables: dict[str, CodeTable]

    def department(self, code: str) -> Department:
        return _lookup(self.departments, code, "department")

    def resource(self, resource_id: str) -> Resource:
        """The resource ``"<department>.<resource>"``, e.g. ``"gaj.hukou"``."""
        return _lookup(self.resources, resource_id, "resource")

    def element(self, element_id: str) -> DataElement:
        return _lookup(self.elements, element_id, "data element")

    def code_table(self, table_id: str) -> CodeTable:
        return _lookup(self.code_tables, table_id, "code table")

    def resources_of(self, department: str) -> tuple[Resource, ...]:
        """Resources of one department, in catalog order; KeyError for an unknown department."""
        self.department(department)
        return tuple(r for r in self.resources.values() if r.department == department)

    def feeding(self, base: str) -> tuple[Resource, ...]:
        """Resources that feed one base database (``population``, ``legal_entity`` …)."""
        if base not in BASES:
            raise KeyError(f"unknown base database {base!r}; known: {', '.join(BASES)}")
        return tuple(r for r in self.resources.values() if base in r.feeds)

    def authority_for(self, element_id: str) -> tuple[Resource, ...]:
        """Resources authoritative for a data element (一数一源); empty when none is named."""
        return tuple(self.resources[rid] for rid in self.element(element_id).authority)

    def value_map(self, resource_id: str, field_name: str) -> dict[str, str]:
        """Department value → standard code for one coded field, for standardisation.

        Built from, in increasing precedence: the standard codes themselves (a department that
        already sends ``1``/``2`` needs no map), the code table's names and aliases when the
        field sets ``code_map_by_name``, and the field's own ``code_map``. Empty for a field
        whose element has no code table and no ``code_map``.
        """
        target = self.resource(resource_id).field(field_name)
        mapping: dict[str, str] = {}
        table_id = target.data_element.code_table
        if table_id:
            table = self.code_table(table_id)
            mapping.update({code: code for code in table.codes})
            if target.code_map_by_name:
                mapping.update(table.name_to_code)
        mapping.update(target.code_map)
        return mapping


def _lookup(items: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return items[key]
    except KeyError:
        known = ", ".join(items) or "none"
        raise KeyError(f"unknown {what} {key!r}; known: {known}") from None
