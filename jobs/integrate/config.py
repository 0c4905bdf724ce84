"""Integration configuration: who a pool row speaks about, what each base table holds, the
licence types of the e-licence base and the jurisdiction.

The resource catalog already says which data element every pool field holds, which bases a
resource feeds and which resource is authoritative for an element (一数一源). The files read here
(``schemas/bases/*.yaml`` and ``schemas/jurisdiction.yaml``, format in ``schemas/bases/README.md``)
add what the catalog cannot say: that a marriage registration names two persons, which subjects
make a row of a base, which attributes a base keeps and which of them are checked for conflicts.
Everything is validated against the catalog when loaded, so a typo fails here, not in a Spark job.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs import yamlconf
from jobs.catalog.loader import load_catalog
from jobs.catalog.models import Catalog, Field, Resource
from jobs.catalog.revisions import signature as revision_signature
from jobs.lake.registry import BASE_TABLES, E_LICENCE
from jobs.settings import Settings
from jobs.yamlconf import ANY, BOOL, NUMBER, TEXT, Keys, ListOf, MapOf

#: Element kinds that are keys of their own (DESIGN §5); other subject keys are named by their
#: element id (``address_code``).
KEY_KINDS: tuple[str, ...] = ("citizen_id", "uscc", "parcel_code", "unit_number")
#: Elements holding either a citizen ID or a USCC; the pool says which in ``<field>_kind``.
PARTY_ELEMENTS: frozenset[str] = frozenset({"owner_id"})
#: Base tables built from attribute observations, in build order (e-licence is built from the
#: issuing pools directly: one issuer per licence).
ATTRIBUTE_BASES: tuple[str, ...] = tuple(t.name for t in BASE_TABLES if t is not E_LICENCE)


class IntegrationConfigError(ValueError):
    """A base configuration file is missing, malformed or disagrees with the catalog."""


def key_kind_of(f: Field) -> str:
    """The key kind of a subject key field: a key standard, ``party`` (citizen ID or USCC, per
    row) or the element id for other identifiers (``address_code``)."""
    if f.data_element.id in PARTY_ELEMENTS:
        return "party"
    if f.data_element.kind in KEY_KINDS:
        return f.data_element.kind
    return f.data_element.id


@dataclass(frozen=True)
class Subject:
    """One subject a pool row speaks about: its key field and the fields describing it."""

    resource_id: str
    key_field: str
    key_kind: str
    fields: tuple[Field, ...]

    @property
    def id(self) -> str:
        """``"wjw.birth_cert.mother_id"``: how base ``members`` name it."""
        return f"{self.resource_id}.{self.key_field}"


@dataclass(frozen=True)
class Attribute:
    """One attribute of a base table: a data element with survivorship and provenance."""

    element: str
    column: str
    type: str
    conflict: bool
    authority: tuple[str, ...]
    #: The base's own module derives the column (marital status from marriage registrations);
    #: observations and survivorship still run, and conflicts are the module's own comparison.
    derived: bool = False


@dataclass(frozen=True)
class BaseSpec:
    """One base table built from attribute observations. Grain: one row per ``key_kind`` key."""

    name: str
    table: str
    grain: str
    key_kind: str
    members: tuple[str, ...]
    attributes: tuple[Attribute, ...]

    def attribute(self, element: str) -> Attribute:
        for attribute in self.attributes:
            if attribute.element == element:
                return attribute
        raise KeyError(f"base {self.name} has no attribute {element!r}")

    @property
    def elements(self) -> tuple[str, ...]:
        return tuple(a.element for a in self.attributes)


@dataclass(frozen=True)
class LicenceType:
    """One licence type of the e-licence base and the pool fields it is read from."""

    type: str
    name: str
    resource_id: str
    number: str
    holders: tuple[str, ...]
    holder_name: str | None = None
    issued_on: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    status: str | None = None
    status_map: Mapping[str, str] = field(default_factory=dict)
    category: str | None = None
    holder_must_be_alive: bool = False


@dataclass(frozen=True)
class Jurisdiction:
    """The jurisdiction (辖区): region code, address prefixes and boundary (GeoJSON, EPSG:4490)."""

    region_code: str
    name: str
    address_prefixes: tuple[str, ...]
    boundary: Mapping[str, Any]
    crs: str = "EPSG:4490"
    overlap_tolerance_m2: float = 0.5

    @property
    def boundary_json(self) -> str:
        return json.dumps(self.boundary, separators=(",", ":"))


@dataclass(frozen=True)
class IntegrationConfig:
    """Everything the integration reads from configuration, validated against the catalog."""

    catalog: Catalog
    subjects: Mapping[str, tuple[Subject, ...]]
    bases: Mapping[str, BaseSpec]
    licence_types: Mapping[str, LicenceType]
    jurisdiction: Jurisdiction
    fingerprint: str = ""

    def base_for_key_kind(self, key_kind: str) -> BaseSpec | None:
        """The base keyed by ``key_kind`` (``citizen_id`` → population), if any."""
        for spec in self.bases.values():
            if spec.key_kind == key_kind:
                return spec
        return None

    def verification_subject(self, base: str, element: str) -> tuple[str, tuple[str, ...]]:
        """The key kind of base table ``base`` and the resources authoritative for its
        attribute ``element`` (一数一源): whom a verification request about it goes to.

        Raises:
            KeyError: no such base table, or no such attribute of it (the message lists them).
        """
        specs = {spec.table: spec for spec in self.bases.values()}
        if base not in specs:
            raise KeyError(f"no base table {base!r}; known: {', '.join(sorted(specs))}")
        spec = specs[base]
        if element not in spec.elements:
            raise KeyError(
                f"base {base} has no attribute {element!r}; known: {', '.join(spec.elements)}"
            )
        return spec.key_kind, spec.attribute(element).authority

    def subject(self, subject_id: str) -> Subject:
        resource_id, _, key_field = subject_id.rpartition(".")
        for subject in self.subjects.get(resource_id, ()):
            if subject.key_field == key_field:
                return subject
        raise KeyError(f"unknown subject {subject_id!r}")


# --- loading --------------------------------------------------------------------------------


_LICENCE_FIELDS = (
    "number",
    "holder_name",
    "issued_on",
    "valid_from",
    "valid_to",
    "status",
    "category",
)

# The files' shapes: an unknown key or a wrong type is an error naming the file and line.
_SUBJECTS = Keys(
    {
        "subjects": MapOf(
            ListOf(Keys({"key": TEXT, "fields": ListOf(TEXT)}, required={"key"}), label="key")
        )
    },
    required={"subjects"},
)
_ATTRIBUTE = Keys(
    {
        "element": TEXT,
        "column": TEXT,
        "conflict": BOOL,
        "authority": ListOf(TEXT),
        "derived": BOOL,
    },
    required={"element"},
)
_BASE = Keys(
    {
        "table": TEXT,
        "grain": TEXT,
        "key_kind": TEXT,
        "members": ListOf(TEXT),
        "attributes": ListOf(_ATTRIBUTE, label="element"),
    },
    required={"table", "grain", "key_kind", "members", "attributes"},
)
_LICENCE_TYPE = Keys(
    {
        "name": TEXT,
        "resource": TEXT,
        **dict.fromkeys(_LICENCE_FIELDS, TEXT),
        "holders": ListOf(TEXT),
        "status_map": MapOf(TEXT),
        "holder_must_be_alive": BOOL,
    },
    required={"resource", "number", "holders"},
)
_E_LICENCE = Keys(
    {"table": TEXT, "grain": TEXT, "licence_types": MapOf(_LICENCE_TYPE)},
    required={"licence_types"},
)
_JURISDICTION = Keys(
    {
        "region_code": TEXT,
        "name": TEXT,
        "address_prefixes": ListOf(TEXT),
        "crs": TEXT,
        "boundary": MapOf(ANY),
        "boundary_file": TEXT,
        "overlap_tolerance_m2": NUMBER,
    },
    required={"region_code"},
)


def _read_yaml(path: Path, shape: Keys) -> Any:
    """The parsed file, checked against ``shape`` (unknown keys and wrong types, with lines)."""
    return yamlconf.load(path, shape, IntegrationConfigError)


def _default_subject(resource: Resource) -> Subject:
    key = resource.key_fields[0]
    others = tuple(f for f in resource.fields if f.name not in resource.key.fields)
    return Subject(resource.id, key.name, key_kind_of(key), others)


def _subjects(catalog: Catalog, raw: Any, problems: list[str]) -> dict[str, tuple[Subject, ...]]:
    listed = (raw or {}).get("subjects") or {}
    out: dict[str, tuple[Subject, ...]] = {}
    for resource in catalog.resources.values():
        entries = listed.get(resource.id)
        if entries is None:
            out[resource.id] = (_default_subject(resource),)
            continue
        subject_keys = {e.get("key") for e in entries if isinstance(e, dict)}
        subjects = []
        for entry in entries:
            if not isinstance(entry, dict) or "key" not in entry:
                problems.append(f"subjects.yaml: {resource.id}: each entry needs a 'key'")
                continue
            try:
                key = resource.field(entry["key"])
                names = entry.get("fields")
                if names is None:
                    names = [
                        f.name
                        for f in resource.fields
                        if f.name not in subject_keys and f.name not in resource.key.fields
                    ]
                fields = tuple(resource.field(n) for n in names)
            except KeyError as exc:
                problems.append(f"subjects.yaml: {exc.args[0]}")
                continue
            subjects.append(Subject(resource.id, key.name, key_kind_of(key), fields))
        out[resource.id] = tuple(subjects)
    for resource_id in listed:
        if resource_id not in catalog.resources:
            problems.append(f"subjects.yaml: unknown resource {resource_id!r}")
    return out


def _base(
    catalog: Catalog,
    subjects: Mapping[str, tuple[Subject, ...]],
    name: str,
    raw: Any,
    problems: list[str],
) -> BaseSpec | None:
    where = f"bases/{name}.yaml"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    missing = [k for k in ("table", "grain", "key_kind", "members", "attributes") if k not in raw]
    if missing:
        problems.append(f"{where}: missing {', '.join(missing)}")
        return None
    known_subjects = {s.id: s for group in subjects.values() for s in group}
    for member in raw["members"]:
        subject = known_subjects.get(member)
        if subject is None:
            problems.append(f"{where}: member {member!r} is not a subject (resource.key_field)")
        elif subject.key_kind not in (raw["key_kind"], "party"):
            problems.append(
                f"{where}: member {member!r} is keyed by {subject.key_kind}, not {raw['key_kind']}"
            )
    attributes = []
    for entry in raw["attributes"]:
        element_id = entry.get("element") if isinstance(entry, dict) else None
        if element_id not in catalog.elements:
            problems.append(f"{where}: unknown data element {element_id!r}")
            continue
        element = catalog.element(element_id)
        authority = tuple(entry.get("authority", element.authority))
        for resource_id in authority:
            if resource_id not in catalog.resources:
                problems.append(f"{where}: {element_id}: unknown authority {resource_id!r}")
        attributes.append(
            Attribute(
                element=element_id,
                column=entry.get("column", element_id),
                type=element.type,
                conflict=bool(entry.get("conflict", False)),
                authority=authority,
                derived=bool(entry.get("derived", False)),
            )
        )
    return BaseSpec(
        name=name,
        table=raw["table"],
        grain=raw["grain"],
        key_kind=raw["key_kind"],
        members=tuple(raw["members"]),
        attributes=tuple(attributes),
    )


def _licence_types(catalog: Catalog, raw: Any, problems: list[str]) -> dict[str, LicenceType]:
    out: dict[str, LicenceType] = {}
    for type_id, entry in ((raw or {}).get("licence_types") or {}).items():
        where = f"bases/e_licence.yaml: {type_id}"
        resource_id = entry.get("resource")
        if resource_id not in catalog.resources:
            problems.append(f"{where}: unknown resource {resource_id!r}")
            continue
        resource = catalog.resource(resource_id)
        names = [entry.get(k) for k in _LICENCE_FIELDS] + list(entry.get("holders", []))
        for name in filter(None, names):
            if name not in resource.field_names:
                problems.append(f"{where}: {resource_id} has no field {name!r}")
        if not entry.get("number") or not entry.get("holders"):
            problems.append(f"{where}: 'number' and 'holders' are required")
            continue
        out[type_id] = LicenceType(
            type=type_id,
            name=entry.get("name", type_id),
            resource_id=resource_id,
            number=entry["number"],
            holders=tuple(entry["holders"]),
            holder_name=entry.get("holder_name"),
            issued_on=entry.get("issued_on"),
            valid_from=entry.get("valid_from"),
            valid_to=entry.get("valid_to"),
            status=entry.get("status"),
            status_map=dict(entry.get("status_map") or {}),
            category=entry.get("category"),
            holder_must_be_alive=bool(entry.get("holder_must_be_alive", False)),
        )
    return out


def load_jurisdiction(schemas_root: str | Path) -> Jurisdiction:
    """The jurisdiction from ``<schemas_root>/jurisdiction.yaml`` (boundary inline or as a file)."""
    root = Path(schemas_root)
    path = root / "jurisdiction.yaml"
    raw = _read_yaml(path, _JURISDICTION)
    boundary = raw.get("boundary")
    if raw.get("boundary_file"):
        boundary = _boundary_from_file(root / raw["boundary_file"])
    if not isinstance(boundary, dict) or boundary.get("type") not in ("Polygon", "MultiPolygon"):
        raise IntegrationConfigError(f"{path}: the boundary must be a GeoJSON (Multi)Polygon")
    return Jurisdiction(
        region_code=str(raw["region_code"]),
        name=str(raw.get("name", "")),
        address_prefixes=tuple(raw.get("address_prefixes") or ()),
        boundary=boundary,
        crs=str(raw.get("crs", "EPSG:4490")),
        overlap_tolerance_m2=float(raw.get("overlap_tolerance_m2", 0.5)),
    )


def _boundary_from_file(path: Path) -> dict[str, Any]:
    """The first (Multi)Polygon of a GeoJSON file: a geometry, a Feature or a FeatureCollection."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IntegrationConfigError(
            f"cannot read the jurisdiction boundary {path}: {exc}"
        ) from exc
    if data.get("type") == "FeatureCollection":
        data = data["features"][0]
    if data.get("type") == "Feature":
        data = data["geometry"]
    return data


def load_integration_config(
    settings: Settings,
    *,
    jurisdiction: Jurisdiction | None = None,
) -> IntegrationConfig:
    """Reads and validates ``schemas/bases/`` and ``schemas/jurisdiction.yaml``.

    Args:
        settings: effective settings (``schemas_root``).
        jurisdiction: use this jurisdiction instead of ``schemas/jurisdiction.yaml`` (tests and
            evaluation of a generated city with its own boundary).

    Raises:
        IntegrationConfigError: listing every problem found.
    """
    root = Path(settings.schemas_root)
    revisions = settings.catalog_revisions_root
    config = _load_cached(str(root), _mtimes(root), revisions, revision_signature(revisions))
    if jurisdiction is not None:
        config = IntegrationConfig(
            config.catalog,
            config.subjects,
            config.bases,
            config.licence_types,
            jurisdiction,
            config.fingerprint + "|" + jurisdiction.boundary_json,
        )
    return config


def _mtimes(root: Path) -> tuple[tuple[str, int], ...]:
    files = [*sorted((root / "bases").glob("*.yaml")), root / "jurisdiction.yaml"]
    return tuple((str(f), f.stat().st_mtime_ns) for f in files if f.exists())


@functools.lru_cache(maxsize=8)
def _load_cached(
    root_text: str,
    mtimes: tuple[tuple[str, int], ...],
    revisions_root: str,
    _revision_files: tuple[str, ...],
) -> IntegrationConfig:
    root = Path(root_text)
    catalog = load_catalog(root, revisions_root)
    problems: list[str] = []
    bases_dir = root / "bases"
    subjects = _subjects(catalog, _read_yaml(bases_dir / "subjects.yaml", _SUBJECTS), problems)
    bases: dict[str, BaseSpec] = {}
    for name in ATTRIBUTE_BASES:
        raw = _read_yaml(bases_dir / f"{name}.yaml", _BASE)
        spec = _base(catalog, subjects, name, raw, problems)
        if spec is not None:
            bases[name] = spec
    licence_types = _licence_types(
        catalog, _read_yaml(bases_dir / "e_licence.yaml", _E_LICENCE), problems
    )
    if problems:
        raise IntegrationConfigError(
            "invalid base configuration:\n  " + "\n  ".join(sorted(set(problems)))
        )
    jurisdiction = load_jurisdiction(root)
    # What the configuration says, not when it was saved: part of the build's idempotency key.
    digest = hashlib.sha256()
    for path, _ in mtimes:
        digest.update(Path(path).read_bytes())
    fingerprint = digest.hexdigest()[:16]
    return IntegrationConfig(
        catalog,
        subjects,
        bases,
        licence_types,
        jurisdiction,
        fingerprint,
    )
