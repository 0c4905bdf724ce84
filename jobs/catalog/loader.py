"""Reads and validates the resource catalog in `schemas/`.

Layout (see `schemas/README.md`)::

    schemas/departments.yaml                      departments (部门)
    schemas/data_elements.yaml                    standard data elements (数据元)
    schemas/code_tables/<id>.yaml                 code tables (码表)
    schemas/resources/<department>/<resource>.yaml  one catalog entry (目录) per resource

Over it, approved revisions (目录更新, :mod:`jobs.catalog.revisions`): given a revisions root, a
resource's entry is the one of its newest revision there, not its file in `schemas/`. A
proposed entry is checked the same way before anyone reviews it (:func:`check_proposal`).

A catalog with mistakes must not half-load: a typo in one resource would silently drop a column
from a pool. So the loader reads everything, collects every problem as ``file: entry: reason``
and raises one :class:`CatalogError` listing them all; only a clean catalog becomes a
:class:`~jobs.catalog.models.Catalog`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from jobs import yamlconf
from jobs.catalog import revisions
from jobs.catalog.models import (
    BASES,
    COMPLETION_FILE_NAME,
    DECIMAL_TYPE,
    DELIVERY_FORMATS,
    ELEMENT_KINDS,
    ENCODINGS,
    IDENTIFIER,
    KIND_STORAGE,
    OPEN_TYPES,
    SECURITY_LEVELS,
    SENSITIVITIES,
    SHAPES,
    SHARE_TYPES,
    STORAGE_TYPES,
    UPDATE_FREQUENCIES,
    Catalog,
    Code,
    CodeTable,
    DataElement,
    Delivery,
    Department,
    Field,
    KeySpec,
    OpenSpec,
    Resource,
    ShareSpec,
)

DEPARTMENTS_FILE = "departments.yaml"
DATA_ELEMENTS_FILE = "data_elements.yaml"
CODE_TABLES_DIR = "code_tables"
RESOURCES_DIR = "resources"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the catalog: which file (and line), which entry in it, and why."""

    file: str
    entry: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        return f"{place}: {self.entry}: {self.reason}"


class CatalogError(ValueError):
    """The catalog is invalid; ``problems`` lists every problem found, not just the first."""

    def __init__(self, root: str, problems: Iterable[Problem]) -> None:
        self.root = root
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} {noun} in the catalog at {root}:\n{lines}")


def load_catalog(schemas_root: str | Path, revisions_root: str | Path | None = None) -> Catalog:
    """The validated catalog under ``schemas_root`` with the approved revisions of
    ``revisions_root`` over it; read once and cached until a revision is added.

    Args:
        schemas_root: the `schemas/` folder (``settings.schemas_root``).
        revisions_root: the approved revisions (``settings.catalog_revisions_root``); None for
            `schemas/` alone.

    Raises:
        CatalogError: listing every problem in the catalog.
    """
    overlay = str(_resolve_root(revisions_root)) if revisions_root is not None else ""
    return _load_cached(
        str(_resolve_root(schemas_root)), overlay, revisions.signature(overlay or None)
    )


def read_catalog(schemas_root: str | Path, revisions_root: str | Path | None = None) -> Catalog:
    """Like :func:`load_catalog` but always reads the files (for ``govlake catalog validate``)."""
    overlay = _resolve_root(revisions_root) if revisions_root is not None else None
    return _read(_resolve_root(schemas_root), overlay)


def check_proposal(
    schemas_root: str | Path,
    revisions_root: str | Path | None,
    resource_id: str,
    entry: Any,
    label: str = "proposal",
) -> Catalog:
    """The catalog as it would be with ``entry`` as the entry of ``resource_id``: a proposed
    change (目录更新) is checked by the same rules as the files, before anyone reviews it.

    Args:
        entry: the proposed entry, parsed (a mapping, as a resource file holds it).
        label: how problems name the proposal (instead of a file name).

    Raises:
        CatalogError: listing every problem, the proposal's named by ``label``.
    """
    overlay = _resolve_root(revisions_root) if revisions_root is not None else None
    return _read(_resolve_root(schemas_root), overlay, {resource_id: (label, entry, None)})


def clear_catalog_cache() -> None:
    """Forget cached catalogs, e.g. after editing `schemas/` in a long-lived process."""
    _load_cached.cache_clear()


def _resolve_root(schemas_root: str | Path) -> Path:
    return Path(schemas_root).expanduser().resolve()


@functools.lru_cache(maxsize=8)
def _load_cached(root: str, revisions_root: str, _revision_files: tuple[str, ...]) -> Catalog:
    # lru_cache does not keep exceptions, so a broken catalog is re-read on the next call. The
    # revision files' names are part of the key: an approved revision is read at the next load.
    return _read(Path(root), Path(revisions_root) if revisions_root else None)


# --- YAML ------------------------------------------------------------------------------------


class _Reader:
    """Collects problems while the catalog is read; one per root and run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        # Parts that could not be read at all. Checks that refer to them are skipped, so one
        # broken file yields one problem, not one per reference to its contents.
        self.unreadable: set[str] = set()

    def add(self, file: str, entry: str, reason: str, line: int | None = None) -> None:
        self.problems.append(Problem(file, entry, reason, line))

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def read_yaml(self, path: Path) -> Any:
        """The parsed file, or None after recording why it could not be parsed."""
        file = self.rel(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.add(file, "(file)", f"not UTF-8 text: {exc.reason} at byte {exc.start}")
            return None
        except OSError as exc:
            self.add(file, "(file)", f"cannot read: {exc.strerror or exc}")
            return None
        try:
            data = yamlconf.parse(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
            self.add(file, where, f"YAML syntax error: {exc.problem or exc}")
            return None
        except yaml.YAMLError as exc:
            self.add(file, "(file)", f"YAML syntax error: {exc}")
            return None
        if data is None:
            self.add(file, "(file)", "the file is empty")
        return data


# --- typed access with problem collection ----------------------------------------------------


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class _Entry:
    """One mapping of the catalog: checks its keys and their types against its shape
    (:data:`jobs.catalog.models.SHAPES`) and reads values, noting problems with their line."""

    def __init__(
        self,
        reader: _Reader,
        file: str,
        entry: str,
        raw: Any,
        spec: str,
        *,
        is_top: bool = False,
        line: int | None = None,
    ) -> None:
        self.reader = reader
        self.file = file
        self.entry = entry
        #: True for the file's top-level mapping, whose nested entries are named without a prefix.
        self.is_top = is_top
        self.line = yamlconf.line_of(raw) or line
        self.ok = isinstance(raw, dict)
        self.raw: dict[Any, Any] = raw if isinstance(raw, dict) else {}
        if not self.ok:
            self.problem(f"must be a mapping of keys, got {_type_name(raw)}")
            return
        # Unknown keys, missing keys and values of the wrong type; what the values mean is
        # read (and reported) by the accessors below, which stay quiet about types.
        for found in yamlconf.check(raw, SHAPES[spec], file):
            self.problem(found.reason, found.where or None, found.line)

    def problem(self, reason: str, key: str | None = None, line: int | None = None) -> None:
        # Keys of a file's top-level mapping are named alone: the file already says which.
        entry = self.entry
        if key:
            entry = key if self.is_top else f"{self.entry}.{key}"
        if line is None:
            line = (yamlconf.line_of(self.raw, key) if key else None) or self.line
        self.reader.add(self.file, entry, reason, line)

    def text(self, key: str) -> str:
        """A non-empty string (required keys) or "" (absent optional keys, or not text)."""
        value = self.raw.get(key)
        if not isinstance(value, str):
            return ""
        if not value.strip():
            self.problem("must not be empty", key)
        return value.strip()

    def choice(self, key: str, allowed: Iterable[str]) -> str:
        value = self.text(key)
        allowed = tuple(allowed)
        if value and value not in allowed:
            self.problem(f"{value!r} is not one of {', '.join(allowed)}", key)
            return ""  # checks that depend on this value are skipped, not reported twice
        return value

    def identifier(self, key: str) -> str:
        value = self.text(key)
        if value and not IDENTIFIER.match(value):
            self.problem(f"{value!r} must be lowercase ASCII letters, digits and _", key)
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.raw.get(key)
        return value if isinstance(value, bool) else default

    def text_list(self, key: str, *, allow_empty: bool = False) -> tuple[str, ...]:
        value = self.raw.get(key)
        if not isinstance(value, list):
            return ()
        if not value and not allow_empty:
            self.problem("must not be an empty list", key)
        items: list[str] = []
        for item in value:
            if not isinstance(item, str):
                continue
            if not item.strip():
                self.problem(f"items must be non-empty text, got {item!r}", key)
                continue
            if item.strip() in items:
                self.problem(f"{item.strip()!r} is listed twice", key)
                continue
            items.append(item.strip())
        return tuple(items)

    def entries(self, key: str) -> list[Any]:
        value = self.raw.get(key)
        if not isinstance(value, list):
            return []
        if not value:
            self.problem("must be a non-empty list, got list []", key)
        return value

    def sub(self, key: str, spec: str) -> _Entry:
        """The nested mapping under ``key``; named by its key path below the top entry."""
        entry = key if self.is_top else f"{self.entry}.{key}"
        if key not in self.raw:
            return _Entry.absent(self.reader, self.file, entry)  # missing key already reported
        line = yamlconf.line_of(self.raw, key)
        return _Entry(self.reader, self.file, entry, self.raw[key], spec, line=line)

    @classmethod
    def absent(cls, reader: _Reader, file: str, entry: str) -> _Entry:
        """A stand-in for a missing nested mapping: reads as empty, reports nothing."""
        blank = cls.__new__(cls)
        blank.reader, blank.file, blank.entry, blank.ok, blank.raw = reader, file, entry, False, {}
        blank.is_top, blank.line = False, None
        return blank


def _top(reader: _Reader, file: str, entry: str, raw: Any, spec: str) -> _Entry:
    return _Entry(reader, file, entry, raw, spec, is_top=True)


# --- the four parts of the catalog -----------------------------------------------------------


def _read_departments(reader: _Reader) -> dict[str, Department]:
    path = reader.root / DEPARTMENTS_FILE
    if not path.is_file():
        reader.add(DEPARTMENTS_FILE, "(file)", "missing: the catalog needs its departments")
        reader.unreadable.add(DEPARTMENTS_FILE)
        return {}
    data = reader.read_yaml(path)
    if data is None:
        reader.unreadable.add(DEPARTMENTS_FILE)
        return {}
    top = _top(reader, DEPARTMENTS_FILE, "(top level)", data, "departments_file")
    departments: dict[str, Department] = {}
    for index, raw in enumerate(top.entries("departments")):
        label = raw.get("code") if isinstance(raw, dict) else None
        entry = _Entry(
            reader,
            DEPARTMENTS_FILE,
            f"departments[{label if isinstance(label, str) else index}]",
            raw,
            "department",
        )
        code = entry.identifier("code")
        department = Department(
            code=code,
            name=entry.text("name"),
            name_en=entry.text("name_en"),
            description=entry.text("description"),
        )
        if not code:
            continue
        if code in departments:
            entry.problem(f"duplicate department code {code!r}")
            continue
        departments[code] = department
    return departments


def _read_code_tables(reader: _Reader) -> dict[str, CodeTable]:
    folder = reader.root / CODE_TABLES_DIR
    tables: dict[str, CodeTable] = {}
    if not folder.is_dir():
        return tables  # elements naming a table report it as unknown
    for path in _yaml_files(reader, folder):
        file = reader.rel(path)
        if path.parent != folder:
            reader.add(file, "(file)", f"code tables live directly in {CODE_TABLES_DIR}/")
            continue
        data = reader.read_yaml(path)
        if data is None:
            reader.unreadable.add(f"{CODE_TABLES_DIR}/{path.stem}")
            continue
        label = data.get("id") if isinstance(data, dict) else None
        top = _top(reader, file, label if isinstance(label, str) else path.stem, data, "code_table")
        table_id = top.identifier("id")
        if table_id and table_id != path.stem:
            top.problem(f"id {table_id!r} does not match the file name {path.name!r}", "id")
        codes: list[Code] = []
        names: dict[str, str] = {}
        for index, raw in enumerate(top.entries("codes")):
            raw_code = raw.get("code") if isinstance(raw, dict) else None
            label = raw_code if isinstance(raw_code, str) else index
            entry = _Entry(reader, file, f"codes[{label}]", raw, "code")
            if isinstance(raw, dict) and "code" in raw and not isinstance(raw_code, str):
                entry.problem(
                    f"code must be quoted text (YAML reads {raw_code!r} as "
                    f"{_type_name(raw_code)}, which loses leading zeros)",
                    "code",
                )
                continue
            code = Code(
                code=entry.text("code"),
                name=entry.text("name"),
                name_en=entry.text("name_en"),
                letter_code=entry.text("letter_code"),
                aliases=entry.text_list("aliases"),
                description=entry.text("description"),
            )
            if not code.code:
                continue
            if any(existing.code == code.code for existing in codes):
                entry.problem(f"duplicate code {code.code!r}")
                continue
            # A name or alias pointing at two codes would make by-name mapping ambiguous.
            for name in (code.name, *code.aliases):
                if name and names.get(name, code.code) != code.code:
                    entry.problem(f"name {name!r} is already used by code {names[name]!r}")
                elif name:
                    names[name] = code.code
            codes.append(code)
        if not table_id:
            continue
        if table_id in tables:
            top.problem(f"duplicate code table id {table_id!r}", "id")
            continue
        tables[table_id] = CodeTable(
            id=table_id,
            name=top.text("name"),
            standard=top.text("standard"),
            entries=tuple(codes),
            name_en=top.text("name_en"),
            description=top.text("description"),
            path=file,
        )
    return tables


def _storage_type_ok(storage: str) -> bool:
    return (storage in STORAGE_TYPES and storage != "decimal(p,s)") or _decimal_ok(storage)


def _decimal_ok(storage: str) -> bool:
    match = DECIMAL_TYPE.match(storage)
    if not match:
        return False
    precision, scale = int(match.group(1)), int(match.group(2))
    return 1 <= precision <= 38 and scale <= precision  # Spark's DecimalType limits


def _read_elements(
    reader: _Reader, code_tables: dict[str, CodeTable]
) -> tuple[dict[str, DataElement], list[tuple[_Entry, DataElement]]]:
    path = reader.root / DATA_ELEMENTS_FILE
    elements: dict[str, DataElement] = {}
    entries: list[tuple[_Entry, DataElement]] = []
    if not path.is_file():
        reader.add(DATA_ELEMENTS_FILE, "(file)", "missing: fields need their data elements")
        reader.unreadable.add(DATA_ELEMENTS_FILE)
        return elements, entries
    data = reader.read_yaml(path)
    if data is None:
        reader.unreadable.add(DATA_ELEMENTS_FILE)
        return elements, entries
    top = _top(reader, DATA_ELEMENTS_FILE, "(top level)", data, "data_elements_file")
    for index, raw in enumerate(top.entries("elements")):
        label = raw.get("id") if isinstance(raw, dict) else None
        entry = _Entry(
            reader,
            DATA_ELEMENTS_FILE,
            f"elements[{label if isinstance(label, str) else index}]",
            raw,
            "element",
        )
        element_id = entry.identifier("id")
        kind = entry.choice("kind", ELEMENT_KINDS)
        storage = entry.text("type")
        if storage and not _storage_type_ok(storage):
            entry.problem(
                f"{storage!r} is not a storage type ({', '.join(STORAGE_TYPES)}; "
                "decimal precision 1–38, scale ≤ precision)",
                "type",
            )
        elif storage and kind:
            allowed = KIND_STORAGE.get(kind, ("string",))
            generic = "decimal(p,s)" if DECIMAL_TYPE.match(storage) else storage
            if generic not in allowed:
                entry.problem(
                    f"type {storage!r} cannot hold kind {kind!r} (use {' or '.join(allowed)})",
                    "type",
                )
        table_id = entry.text("code_table") or None
        if kind == "code" and "code_table" not in entry.raw:
            entry.problem("kind 'code' needs a code_table")
        if table_id and kind and kind != "code":
            entry.problem(f"only kind 'code' takes a code table, this is {kind!r}", "code_table")
        readable = f"{CODE_TABLES_DIR}/{table_id}" not in reader.unreadable
        if table_id and table_id not in code_tables and readable:
            known = ", ".join(sorted(code_tables)) or "none"
            entry.problem(f"unknown code table {table_id!r} (known: {known})", "code_table")
        element = DataElement(
            id=element_id,
            name=entry.text("name"),
            kind=kind,
            type=storage,
            code_table=table_id,
            authority=entry.text_list("authority"),
            standard=entry.text("standard"),
            description=entry.text("description"),
            name_en=entry.text("name_en"),
        )
        if not element_id:
            continue
        if element_id in elements:
            entry.problem(f"duplicate data element id {element_id!r}")
            continue
        elements[element_id] = element
        entries.append((entry, element))
    return elements, entries


def _yaml_files(reader: _Reader, folder: Path) -> list[Path]:
    """YAML files under ``folder``, sorted; a ``.yml`` file is reported, not silently skipped."""
    files: list[Path] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".yaml":
            files.append(path)
        elif path.suffix == ".yml":
            reader.add(reader.rel(path), "(file)", "catalog files end in .yaml, not .yml")
    return files


#: Entries read instead of a resource's file: resource id → (how problems name it, the parsed
#: entry, its revision number or None for a proposal).
Overlay = dict[str, tuple[str, Any, int | None]]


def _read_overlay(reader: _Reader, revisions_root: Path | None) -> Overlay:
    """The newest approved revision of each resource, as entries to read over `schemas/`."""
    found, problems = revisions.read_revisions(revisions_root, newest_only=True)
    for problem in problems:
        reader.add(problem.file, problem.where or "(file)", problem.reason, problem.line)
    return {
        resource_id: (revision.file, revision.entry, revision.number)
        for resource_id, revision in revisions.newest_by_resource(found).items()
    }


def _read_resources(
    reader: _Reader,
    departments: dict[str, Department],
    elements: dict[str, DataElement],
    code_tables: dict[str, CodeTable],
    overlay: Overlay | None = None,
) -> dict[str, Resource]:
    folder = reader.root / RESOURCES_DIR
    if not folder.is_dir():
        reader.add(RESOURCES_DIR + "/", "(folder)", "missing: the catalog has no resources")
        return {}
    overlay = overlay or {}
    found: list[Resource] = []
    first_file: dict[str, str] = {}
    for path in _yaml_files(reader, folder):
        file = reader.rel(path)
        resource_id = _resource_id_of_path(path.relative_to(folder))
        if resource_id in overlay:
            # a revision (or a proposal) replaces the whole entry; the file's path still says
            # which resource it must declare
            label, data, number = overlay[resource_id]
            resource = _read_resource(
                reader, path, data, departments, elements, code_tables, file=label
            )
            if resource is not None:
                resource = dataclasses.replace(resource, revision=number or 0)
        else:
            data = reader.read_yaml(path)
            if data is None:
                reader.unreadable.add(resource_id)
                continue
            resource = _read_resource(reader, path, data, departments, elements, code_tables)
        if resource is None:
            continue
        if resource.id in first_file:
            reader.add(
                file,
                resource.id,
                f"duplicate resource id {resource.id!r} (also in {first_file[resource.id]})",
            )
            continue
        first_file[resource.id] = file
        found.append(resource)
    for resource_id, (label, _data, _number) in overlay.items():
        if resource_id not in first_file and resource_id not in reader.unreadable:
            reader.add(
                label,
                resource_id,
                f"no resource {resource_id!r} in {RESOURCES_DIR}/ to revise "
                "(a revision changes an existing entry)",
            )
    # Catalog order: departments as listed in departments.yaml, then resource name.
    order = {code: index for index, code in enumerate(departments)}
    found.sort(key=lambda r: (order.get(r.department, len(order)), r.resource))
    return {resource.id: resource for resource in found}


def _resource_id_of_path(relative: Path) -> str:
    return ".".join((*relative.parent.parts, relative.stem))


def _read_resource(
    reader: _Reader,
    path: Path,
    data: Any,
    departments: dict[str, Department],
    elements: dict[str, DataElement],
    code_tables: dict[str, CodeTable],
    *,
    file: str | None = None,
) -> Resource | None:
    file = file or reader.rel(path)
    raw_dept = data.get("department") if isinstance(data, dict) else None
    raw_name = data.get("resource") if isinstance(data, dict) else None
    label = (
        f"{raw_dept}.{raw_name}"
        if isinstance(raw_dept, str) and isinstance(raw_name, str)
        else _resource_id_of_path(path.relative_to(reader.root / RESOURCES_DIR))
    )
    top = _top(reader, file, label, data, "resource")
    department = top.identifier("department")
    name = top.identifier("resource")

    # The path is how people and DAGs find a resource, so it must agree with what it declares.
    parts = path.relative_to(reader.root / RESOURCES_DIR).parts
    if len(parts) != 2:
        top.problem(f"resource files live at {RESOURCES_DIR}/<department>/<resource>.yaml")
    elif department and name and (parts[0], Path(parts[1]).stem) != (department, name):
        top.problem(
            f"path does not match department {department!r} and resource {name!r} "
            f"(expected {RESOURCES_DIR}/{department}/{name}.yaml)"
        )
    if department and department not in departments and DEPARTMENTS_FILE not in reader.unreadable:
        known = ", ".join(departments) or "none"
        top.problem(f"unknown department {department!r} (known: {known})", "department")

    key_entry = top.sub("key", "key")
    key = KeySpec(
        kind=key_entry.choice("kind", ELEMENT_KINDS),
        fields=key_entry.text_list("fields", allow_empty=True),
    )
    delivery_entry = top.sub("delivery", "delivery")
    delivery = Delivery(
        format=delivery_entry.choice("format", DELIVERY_FORMATS),
        encoding=delivery_entry.choice("encoding", ENCODINGS),
        manifest=_completion_file_name(delivery_entry, "manifest"),
        marker=_completion_file_name(delivery_entry, "marker"),
    )
    if delivery.manifest and delivery.marker:
        delivery_entry.problem("declare a manifest or a marker, not both", "marker")
    share = _read_share(top.sub("share", "share"))
    open_spec = _read_open(top.sub("open", "open"))

    security_level = top.raw.get("security_level", 0)
    if "security_level" in top.raw and (
        isinstance(security_level, bool) or security_level not in SECURITY_LEVELS
    ):
        levels = ", ".join(f"{level} {meaning}" for level, meaning in SECURITY_LEVELS.items())
        top.problem(f"{security_level!r} is not one of {levels}", "security_level")
        security_level = 0

    fields = _read_fields(top, elements, code_tables)
    _check_key(top, key, fields)

    resource = Resource(
        department=department,
        resource=name,
        title=top.text("title"),
        title_en=top.text("title_en"),
        grain=top.text("grain"),
        description=top.text("description"),
        key=key,
        delivery=delivery,
        update_frequency=top.choice("update_frequency", UPDATE_FREQUENCIES),
        security_level=security_level,
        share=share,
        open=open_spec,
        feeds=_read_feeds(top),
        fields=tuple(fields),
        path=file,
    )
    return resource if department and name else None


def _completion_file_name(entry: _Entry, key: str) -> str:
    """A manifest or marker file name: one plain name inside the batch folder."""
    name = entry.text(key)
    if name and not COMPLETION_FILE_NAME.match(name):
        entry.problem(f"{name!r} must be one file name (letters, digits, '_', '-', '.')", key)
        return ""
    return name


def _read_share(entry: _Entry) -> ShareSpec:
    share = ShareSpec(
        type=entry.choice("type", SHARE_TYPES),
        condition=entry.text("condition"),
        legal_basis=entry.text("legal_basis"),
    )
    # 001 §14: conditional and not-shared entries state their reason and legal basis.
    if share.type in ("conditional", "not_shared") and not share.legal_basis:
        entry.problem(f"share type {share.type!r} needs a legal_basis (001 §14)")
    if share.type == "conditional" and not share.condition:
        entry.problem("share type 'conditional' needs a condition")
    return share


def _read_open(entry: _Entry) -> OpenSpec:
    spec = OpenSpec(
        type=entry.choice("type", OPEN_TYPES),
        domain=entry.text("domain"),
        summary=entry.text("summary"),
        condition=entry.text("condition"),
        legal_basis=entry.text("legal_basis"),
    )
    # 000 §19: the open list names each dataset's domain (数据领域) and summary (数据摘要).
    if spec.type == "unconditional":
        for key in ("domain", "summary"):
            if not getattr(spec, key):
                entry.problem(f"open type 'unconditional' needs a {key} for the open list")
    return spec


def _read_feeds(top: _Entry) -> tuple[str, ...]:
    feeds = top.text_list("feeds", allow_empty=True)
    for base in feeds:
        if base not in BASES:
            top.problem(f"{base!r} is not one of {', '.join(BASES)}", "feeds")
    return tuple(base for base in feeds if base in BASES)


def _read_fields(
    top: _Entry, elements: dict[str, DataElement], code_tables: dict[str, CodeTable]
) -> list[Field]:
    fields: list[Field] = []
    owner_of_column: dict[str, str] = {}
    for index, raw in enumerate(top.entries("fields")):
        label = raw.get("name") if isinstance(raw, dict) else None
        entry = _Entry(
            top.reader,
            top.file,
            f"fields[{label if isinstance(label, str) else index}]",
            raw,
            "field",
        )
        name = entry.identifier("name")
        element_id = entry.text("element")
        element = elements.get(element_id)
        if element_id and element is None and DATA_ELEMENTS_FILE not in top.reader.unreadable:
            entry.problem(f"unknown data element {element_id!r}", "element")
        columns = entry.text_list("source_columns")
        required = entry.boolean("required")
        sensitivity = entry.choice("sensitivity", SENSITIVITIES)
        by_name = entry.boolean("code_map_by_name")
        table = code_tables.get(element.code_table) if element and element.code_table else None
        if by_name and element is not None and element.code_table is None:
            entry.problem(
                f"code_map_by_name needs an element with a code table; {element_id!r} has none",
                "code_map_by_name",
            )
        code_map = _read_code_map(entry, table)

        if name and any(existing.name == name for existing in fields):
            entry.problem(f"duplicate field name {name!r}")
            continue
        for column in columns:
            if column in owner_of_column:
                entry.problem(
                    f"source column {column!r} is also listed by field {owner_of_column[column]!r}",
                    "source_columns",
                )
            else:
                owner_of_column[column] = name
        fields.append(
            Field(
                name=name,
                element=element_id,
                source_columns=columns,
                required=required,
                sensitivity=sensitivity,
                data_element=element or DataElement(id=element_id, name="", kind="", type=""),
                code_map=code_map,
                code_map_by_name=by_name,
                description=entry.text("description"),
            )
        )
    return fields


def _read_code_map(entry: _Entry, table: CodeTable | None) -> dict[str, str]:
    if "code_map" not in entry.raw:
        return {}
    raw = entry.raw["code_map"]
    if not isinstance(raw, dict) or not raw:
        entry.problem(f"must be a non-empty mapping, got {_type_name(raw)} {raw!r}", "code_map")
        return {}
    code_map: dict[str, str] = {}
    for source, code in raw.items():
        # YAML turns 1 into an int and 01 into 1: demand quotes rather than guess.
        if not isinstance(source, str) or not isinstance(code, str):
            entry.problem(
                f"{source!r}: {code!r}: department values and codes must be quoted text",
                "code_map",
            )
            continue
        if table is not None and code not in table:
            entry.problem(
                f"value {code!r} for {source!r} is not a code of table {table.id!r} "
                f"({', '.join(table.codes)})",
                "code_map",
            )
        code_map[source] = code
    return code_map


def _check_key(top: _Entry, key: KeySpec, fields: list[Field]) -> None:
    if "key" not in top.raw or not isinstance(top.raw["key"], dict):
        return
    by_name = {f.name: f for f in fields}
    if not key.fields:
        top.problem("the resource has no key field", "key.fields")
        return
    for name in key.fields:
        if name not in by_name:
            top.problem(f"key field {name!r} is not among the fields", "key.fields")
    first = by_name.get(key.fields[0])
    # The first key field carries the key standard; the others only qualify it.
    kind = first.data_element.kind if first is not None else ""
    if first is not None and key.kind and kind and kind != key.kind:
        top.problem(
            f"key kind {key.kind!r} does not match the kind {kind!r} "
            f"of key field {first.name!r} (element {first.element!r})",
            "key.kind",
        )


def _check_authority(
    reader: _Reader,
    element_entries: list[tuple[_Entry, DataElement]],
    resources: dict[str, Resource],
) -> None:
    for entry, element in element_entries:
        for resource_id in element.authority:
            # Authority may be derived (marital status from marriage registrations), so the
            # resource need not carry a field of the element; it must exist.
            if resource_id not in resources and resource_id not in reader.unreadable:
                entry.problem(f"unknown resource {resource_id!r}", "authority")


def _read(
    root: Path, revisions_root: Path | None = None, proposal: Overlay | None = None
) -> Catalog:
    reader = _Reader(root)
    if not root.is_dir():
        raise CatalogError(str(root), [Problem(str(root), "(folder)", "not a folder")])
    overlay = {**_read_overlay(reader, revisions_root), **(proposal or {})}
    departments = _read_departments(reader)
    code_tables = _read_code_tables(reader)
    elements, element_entries = _read_elements(reader, code_tables)
    resources = _read_resources(reader, departments, elements, code_tables, overlay)
    _check_authority(reader, element_entries, resources)
    if reader.problems:
        raise CatalogError(str(root), reader.problems)
    return Catalog(
        root=str(root),
        departments=departments,
        resources=resources,
        elements=elements,
        code_tables=code_tables,
    )
