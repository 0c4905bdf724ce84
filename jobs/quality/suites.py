"""Expectation suites (期望套件): generated from the catalog, versioned as files, loaded for runs.

Each pool table ``pool/<dept>/<resource>`` has one suite, `expectations/<dept>.<resource>.json`,
written by :func:`write_suites` (``govlake quality suites``) and committed, so every change to a
check is a reviewed diff. A suite is Great Expectations' own JSON (``name``, ``expectations``
with ``type``/``kwargs``/``meta``/``notes``, ``meta``), loadable by GX as it is. What comes from
where:

* the catalog: column types, required fields not null, code sets (value in the code table),
  key and identifier formats (regular expressions), ranges (dates not in the future, birth
  dates from 1900, capital ≥ 0, areas > 0, coordinates inside China), key uniqueness per batch,
  row-count change against the previous batch and freshness against the update cycle;
* `expectations/cross_field.yaml`, written by hand: cross-field consistency (birth date equals
  the ID's birth date, licence valid_to ≥ valid_from, death date ≥ birth date …);
* accuracy against the authoritative source (一数一源) cannot be a GX expectation (it compares
  two tables), so those checks sit in the suite's ``meta.govlake.accuracy`` and are computed by
  :mod:`jobs.quality.metrics` only.

Every expectation's ``meta`` carries ``name`` (stable, unique in the suite, used in the failing
rows table and tasks), ``severity`` (``critical`` holds the batch, ``warning`` is recorded),
``threshold`` (the largest unexpected fraction that still passes; GX's ``mostly`` is set to
``1 - threshold`` so GX decides the same way) and ``dimension`` (one of :data:`DIMENSIONS`).
Values only known at run time (today, the previous batch's row count and delivery date) are GX
suite parameters (``{"$PARAMETER": name}``), supplied by the pipeline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobs.catalog.models import Catalog, Field, Resource
from jobs.ingest.pool import pool_schema
from jobs.settings import PROJECT_ROOT

#: Where the committed suite files live.
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
CROSS_FIELD_FILE = "cross_field.yaml"

DIMENSIONS: tuple[str, ...] = (
    "completeness",  # 完整性
    "validity",  # 规范性 / 有效性
    "uniqueness",  # 唯一性
    "consistency",  # 一致性
    "timeliness",  # 时效性
    "accuracy",  # 准确性 (against the authoritative source)
)
SEVERITIES: tuple[str, ...] = ("critical", "warning")

#: GX expectation types govlake can also compute itself in one Spark pass. Row-level types
#: flag individual rows; table-level types judge the batch as a whole.
ROW_LEVEL_TYPES: frozenset[str] = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_unique",
        "expect_compound_columns_to_be_unique",
        "expect_column_pair_values_to_be_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_in_set",
    }
)
TABLE_LEVEL_TYPES: frozenset[str] = frozenset(
    {
        "expect_column_values_to_be_of_type",
        "expect_table_row_count_to_be_between",
        "expect_column_min_to_be_between",
        "expect_column_max_to_be_between",
    }
)
SUPPORTED_TYPES = ROW_LEVEL_TYPES | TABLE_LEVEL_TYPES

#: Pool storage type (catalog) → the pyspark.sql.types class GX checks with isinstance.
SPARK_TYPE_NAMES: dict[str, str] = {
    "string": "StringType",
    "date": "DateType",
    "timestamp": "TimestampType",
    "integer": "LongType",  # the pool widens integers to long (jobs.ingest.pool._pool_type)
    "long": "LongType",
    "double": "DoubleType",
    "boolean": "BooleanType",
}

#: Formats of identifiers, as normalised in the pool (upper case, no spaces). Ingestion already
#: checks keys fully (check characters included); these catch anything that slips through and
#: the identifier fields that are not keys.
FORMAT_REGEX: dict[str, str] = {
    # GB 11643: 6-digit region, birth date 18xx-20xx, 3-digit sequence, check character.
    "citizen_id": r"^[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]$",
    # GB 32100: 18 characters of the 31-character alphabet (no I, O, Z, S, V).
    "uscc": r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
    # GB/T 37346: parcel code (19) and real-estate unit number (28).
    "parcel_code": r"^[0-9]{12}[A-Z]{2}[0-9]{5}$",
    "unit_number": r"^[0-9]{12}[A-Z]{2}[0-9]{5}[A-Z][0-9]{8}$",
    # GB/T 2260: six digits.
    "region_code": r"^[1-9][0-9]{5}$",
}
KEY_KINDS = frozenset({"citizen_id", "uscc", "parcel_code", "unit_number"})

#: Update cycle (更新周期) → working days a department may take between two deliveries, plus
#: one working day of grace. Counted on the official calendar, so a daily resource is not late
#: over a weekend or the National Day holiday.
FRESHNESS_WORKDAYS: dict[str, int] = {
    "realtime": 1,
    "daily": 1,
    "weekly": 5,
    "monthly": 23,
    "quarterly": 66,
    "yearly": 250,
}
FRESHNESS_GRACE_WORKDAYS = 1
#: Largest relative change of the row count against the previous batch before it warns.
ROW_COUNT_MAX_CHANGE = 0.5

EARLIEST_BIRTH_DATE = "1900-01-01"
#: CGCS2000 longitude and latitude of China's territory (with a margin).
LONGITUDE_RANGE = (73.0, 136.0)
LATITUDE_RANGE = (3.0, 54.0)
#: Date elements that may lie in the future (a licence's end of validity).
FUTURE_DATE_ELEMENTS = frozenset({"valid_to"})


class SuiteError(ValueError):
    """A suite or the cross-field file is malformed; the message names the file and the entry."""


# ================================================================================ the model


@dataclass(frozen=True)
class Expectation:
    """One expectation of a suite, as govlake reads it (GX's JSON plus govlake's meta)."""

    name: str
    type: str
    kwargs: dict[str, Any]
    severity: str
    threshold: float
    dimension: str
    notes: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_row_level(self) -> bool:
        return self.type in ROW_LEVEL_TYPES

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the suite parameters (``$PARAMETER``) this expectation needs at run time."""
        return tuple(
            value["$PARAMETER"]
            for value in self.kwargs.values()
            if isinstance(value, dict) and "$PARAMETER" in value
        )

    @property
    def mostly(self) -> float:
        """GX's ``mostly``: the smallest fraction of considered rows that must pass."""
        return float(self.kwargs.get("mostly", 1.0))

    @property
    def columns(self) -> tuple[str, ...]:
        """The pool columns the expectation reads (for the results table and docs)."""
        kw = self.kwargs
        if "column" in kw:
            return (kw["column"],)
        if "column_A" in kw:
            return (kw["column_A"], kw["column_B"])
        return tuple(kw.get("column_list", ()))

    def as_json(self) -> dict[str, Any]:
        """The expectation in GX's suite JSON."""
        meta = {
            "name": self.name,
            "severity": self.severity,
            "threshold": self.threshold,
            "dimension": self.dimension,
            **self.meta,
        }
        out: dict[str, Any] = {"type": self.type, "kwargs": dict(self.kwargs), "meta": meta}
        if self.notes:
            out["notes"] = self.notes
        return out


@dataclass(frozen=True)
class AccuracyCheck:
    """Accuracy (准确性): a field compared with the authoritative resource's value by key."""

    name: str
    column: str
    authority: str
    authority_column: str
    key: tuple[str, ...]
    authority_key: tuple[str, ...]
    severity: str = "warning"
    threshold: float = 0.05
    dimension: str = "accuracy"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "column": self.column,
            "authority": self.authority,
            "authority_column": self.authority_column,
            "key": list(self.key),
            "authority_key": list(self.authority_key),
            "severity": self.severity,
            "threshold": self.threshold,
            "dimension": self.dimension,
        }


@dataclass(frozen=True)
class Suite:
    """A loaded suite: GX expectations plus govlake's accuracy checks, with its version."""

    name: str
    version: str
    expectations: tuple[Expectation, ...]
    accuracy: tuple[AccuracyCheck, ...] = ()
    key: tuple[str, ...] = ()
    path: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.expectations) + tuple(a.name for a in self.accuracy)

    def expectation(self, name: str) -> Expectation:
        for candidate in self.expectations:
            if candidate.name == name:
                return candidate
        raise KeyError(f"suite {self.name} has no expectation {name!r}")

    def as_json(self) -> dict[str, Any]:
        """GX suite JSON with govlake's meta; the version is a hash of everything else."""
        body = _suite_body(self.name, self.expectations, self.accuracy, self.key)
        body["meta"]["govlake"]["suite_version"] = self.version
        return body


def _suite_body(
    name: str,
    expectations: Iterable[Expectation],
    accuracy: Iterable[AccuracyCheck],
    key: Iterable[str],
) -> dict[str, Any]:
    return {
        "name": name,
        "expectations": [e.as_json() for e in expectations],
        "meta": {
            "govlake": {
                "generated_by": "govlake quality suites",
                "source": "schemas/ (catalog) + expectations/cross_field.yaml",
                "key": list(key),
                "accuracy": [a.as_json() for a in accuracy],
            }
        },
    }


def suite_version(body: Mapping[str, Any]) -> str:
    """Content hash of a suite body (without its own version): results name the version that
    checked them, so a changed check is never confused with a changed batch."""
    payload = json.loads(json.dumps(body, sort_keys=True, ensure_ascii=False))
    payload.get("meta", {}).get("govlake", {}).pop("suite_version", None)
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ============================================================================ generation


def _exp(
    name: str,
    type_: str,
    kwargs: dict[str, Any],
    severity: str,
    threshold: float,
    dimension: str,
    notes: str,
    **meta: Any,
) -> Expectation:
    if threshold > 0 and type_ in ROW_LEVEL_TYPES:
        # GX decides like govlake: pass while the passing fraction is at least 1 - threshold.
        kwargs = {**kwargs, "mostly": round(1.0 - threshold, 6)}
    return Expectation(name, type_, kwargs, severity, threshold, dimension, notes, dict(meta))


def _spark_type_name(storage_type: str) -> str:
    if storage_type.startswith("decimal"):
        return "DecimalType"
    return SPARK_TYPE_NAMES[storage_type]


def _field_expectations(resource: Resource, f: Field, catalog: Catalog) -> list[Expectation]:
    element = f.data_element
    kind = element.kind
    is_key = f.name in resource.key.fields
    label = f"{f.name} ({element.name})"
    out = [
        _exp(
            f"{f.name}.type",
            "expect_column_values_to_be_of_type",
            {"column": f.name, "type_": _spark_type_name(element.type)},
            "critical",
            0.0,
            "validity",
            f"{label} is stored as {element.type}.",
        )
    ]
    if is_key:
        out.append(
            _exp(
                f"{f.name}.not_null",
                "expect_column_values_to_not_be_null",
                {"column": f.name},
                "critical",
                0.0,
                "completeness",
                f"Key {label} is present in every row.",
            )
        )
    elif f.required:
        out.append(
            _exp(
                f"{f.name}.not_null",
                "expect_column_values_to_not_be_null",
                {"column": f.name},
                "critical",
                0.01,
                "completeness",
                f"Required {label} is present; the batch is held above 1% missing.",
            )
        )
    if kind == "code" and element.code_table:
        table = catalog.code_table(element.code_table)
        severity, threshold = ("critical", 0.01) if f.required or is_key else ("warning", 0.0)
        out.append(
            _exp(
                f"{f.name}.in_code_table",
                "expect_column_values_to_be_in_set",
                {"column": f.name, "value_set": list(table.codes)},
                severity,
                threshold,
                "validity",
                f"{label} is a code of {table.id} ({table.name}, {table.standard}).",
                code_table=table.id,
            )
        )
    if kind in FORMAT_REGEX:
        severity = "critical" if is_key else "warning"
        out.append(
            _exp(
                f"{f.name}.format",
                "expect_column_values_to_match_regex",
                {"column": f.name, "regex": FORMAT_REGEX[kind]},
                severity,
                0.0,
                "validity",
                f"{label} has the {element.standard or kind} format.",
            )
        )
    if kind in {"date", "timestamp"} and element.id not in FUTURE_DATE_ELEMENTS:
        param = "today" if kind == "date" else "now"
        out.append(
            _exp(
                f"{f.name}.not_in_future",
                "expect_column_values_to_be_between",
                {"column": f.name, "max_value": {"$PARAMETER": param}},
                "warning",
                0.0,
                "validity",
                f"{label} is not later than the day of validation.",
            )
        )
    if element.id == "birth_date":
        out.append(
            _exp(
                f"{f.name}.from_1900",
                "expect_column_values_to_be_between",
                {"column": f.name, "min_value": EARLIEST_BIRTH_DATE},
                "warning",
                0.0,
                "validity",
                f"{label} is on or after {EARLIEST_BIRTH_DATE}.",
            )
        )
    if element.id == "registered_capital":
        out.append(
            _exp(
                f"{f.name}.non_negative",
                "expect_column_values_to_be_between",
                {"column": f.name, "min_value": 0},
                "warning",
                0.0,
                "validity",
                f"{label} is zero or more.",
            )
        )
    if element.id in {"land_area", "floor_area"}:
        out.append(
            _exp(
                f"{f.name}.positive",
                "expect_column_values_to_be_between",
                {"column": f.name, "min_value": 0, "strict_min": True},
                "warning",
                0.0,
                "validity",
                f"{label} is greater than zero.",
            )
        )
    for element_id, (low, high) in (("longitude", LONGITUDE_RANGE), ("latitude", LATITUDE_RANGE)):
        if element.id == element_id:
            out.append(
                _exp(
                    f"{f.name}.in_china",
                    "expect_column_values_to_be_between",
                    {"column": f.name, "min_value": low, "max_value": high},
                    "warning",
                    0.0,
                    "validity",
                    f"{label} lies between {low} and {high} (CGCS2000, China).",
                )
            )
    return out


def _table_expectations(resource: Resource) -> list[Expectation]:
    key = list(resource.key.fields)
    if len(key) == 1:
        unique = _exp(
            f"{key[0]}.unique_in_batch",
            "expect_column_values_to_be_unique",
            {"column": key[0]},
            "critical",
            0.01,
            "uniqueness",
            f"Key {key[0]} appears once per batch; every row sharing a key counts as unexpected.",
        )
    else:
        unique = _exp(
            "+".join(key) + ".unique_in_batch",
            "expect_compound_columns_to_be_unique",
            {"column_list": key, "ignore_row_if": "any_value_is_missing"},
            "critical",
            0.01,
            "uniqueness",
            f"Key ({', '.join(key)}) appears once per batch.",
        )
    workdays = FRESHNESS_WORKDAYS[resource.update_frequency] + FRESHNESS_GRACE_WORKDAYS
    return [
        unique,
        _exp(
            "batch.row_count_change",
            "expect_table_row_count_to_be_between",
            {
                "min_value": {"$PARAMETER": "row_count_min"},
                "max_value": {"$PARAMETER": "row_count_max"},
            },
            "warning",
            0.0,
            "completeness",
            f"Row count within ±{ROW_COUNT_MAX_CHANGE:.0%} of the previous batch "
            "(skipped for the first batch).",
            max_change=ROW_COUNT_MAX_CHANGE,
        ),
        _exp(
            "batch.freshness",
            "expect_column_min_to_be_between",
            {"column": "ingested_at", "max_value": {"$PARAMETER": "delivered_by"}},
            "warning",
            0.0,
            "timeliness",
            f"Delivered within {workdays} working days of the previous batch "
            f"(update cycle {resource.update_frequency}; skipped for the first batch).",
            freshness_workdays=workdays,
        ),
    ]


def _accuracy_checks(resource: Resource, catalog: Catalog) -> list[AccuracyCheck]:
    """Fields whose element names another resource as authority (一数一源), compared by key.

    Only resources keyed by one citizen ID or USCC can be matched to the authority's records;
    certificates keyed by their own number (marriage, birth certificate) are left out.
    """
    if len(resource.key.fields) != 1:
        return []
    key_field = resource.key_fields[0]
    checks = []
    for f in resource.fields:
        if f.name == key_field.name:
            continue
        authorities = [a for a in f.data_element.authority if a != resource.id]
        if not authorities or resource.id in f.data_element.authority:
            continue
        for authority_id in authorities:
            authority = catalog.resource(authority_id)
            if len(authority.key.fields) != 1:
                continue
            authority_key = authority.key_fields[0]
            if authority_key.data_element.kind != key_field.data_element.kind:
                continue
            matches = authority.fields_of_element(f.element)
            if not matches:
                continue
            checks.append(
                AccuracyCheck(
                    name=f"{f.name}.matches_{authority_id.replace('.', '_')}",
                    column=f.name,
                    authority=authority_id,
                    authority_column=matches[0].name,
                    key=(key_field.name,),
                    authority_key=(authority_key.name,),
                )
            )
            break  # the first authority with a matching key wins, as in survivorship
    return checks


def load_cross_field(path: Path | str) -> dict[str, list[Expectation]]:
    """Reads the hand-written cross-field file: resource id → expectations.

    Raises:
        SuiteError: unknown keys, a missing name/type/kwargs, an unsupported type, a bad
            severity, threshold or dimension.
    """
    path = Path(path)
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: expected a mapping of resource id → list of expectations")
    allowed = {
        "name",
        "type",
        "kwargs",
        "severity",
        "threshold",
        "dimension",
        "notes",
        "ignore_when_missing",
    }
    out: dict[str, list[Expectation]] = {}
    for resource_id, entries in data.items():
        if not isinstance(entries, list):
            raise SuiteError(f"{path}: {resource_id}: expected a list")
        for i, entry in enumerate(entries):
            where = f"{path}: {resource_id}[{i}]"
            if not isinstance(entry, dict):
                raise SuiteError(f"{where}: expected a mapping")
            unknown = set(entry) - allowed
            if unknown:
                raise SuiteError(f"{where}: unknown key(s) {sorted(unknown)}")
            for required in ("name", "type", "kwargs", "severity", "dimension"):
                if required not in entry:
                    raise SuiteError(f"{where}: missing {required!r}")
            if entry["type"] not in SUPPORTED_TYPES:
                raise SuiteError(f"{where}: unsupported type {entry['type']!r}")
            if entry["severity"] not in SEVERITIES:
                raise SuiteError(f"{where}: severity must be one of {SEVERITIES}")
            if entry["dimension"] not in DIMENSIONS:
                raise SuiteError(f"{where}: dimension must be one of {DIMENSIONS}")
            threshold = float(entry.get("threshold", 0.0))
            if not 0.0 <= threshold < 1.0:
                raise SuiteError(f"{where}: threshold must be in [0, 1)")
            out.setdefault(resource_id, []).append(
                _exp(
                    entry["name"],
                    entry["type"],
                    dict(entry["kwargs"]),
                    entry["severity"],
                    threshold,
                    entry["dimension"],
                    entry.get("notes", ""),
                    source="cross_field",
                )
            )
    return out


def generate_suite(
    resource: Resource, catalog: Catalog, cross_field: Mapping[str, list[Expectation]]
) -> Suite:
    """The suite of one pool table: catalog-derived expectations, then the cross-field ones.

    Raises:
        SuiteError: two expectations share a name, or a cross-field expectation names a column
            the pool table does not have.
    """
    expectations: list[Expectation] = []
    for f in resource.fields:
        expectations.extend(_field_expectations(resource, f, catalog))
    expectations.extend(_table_expectations(resource))
    columns = set(pool_schema(resource).fieldNames())
    for exp in cross_field.get(resource.id, []):
        missing = [c for c in exp.columns if c not in columns]
        if missing:
            raise SuiteError(f"cross-field {resource.id} {exp.name}: unknown column(s) {missing}")
        expectations.append(exp)
    accuracy = _accuracy_checks(resource, catalog)
    names = [e.name for e in expectations] + [a.name for a in accuracy]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SuiteError(f"suite {resource.id}: duplicate expectation names {duplicates}")
    body = _suite_body(resource.id, expectations, accuracy, resource.key.fields)
    return Suite(
        resource.id,
        suite_version(body),
        tuple(expectations),
        tuple(accuracy),
        tuple(resource.key.fields),
    )


def suite_path(resource_id: str, expectations_dir: Path | str | None = None) -> Path:
    return Path(expectations_dir or EXPECTATIONS_DIR) / f"{resource_id}.json"


def render_suite(suite: Suite) -> str:
    """The file text of a suite: stable key order, UTF-8, one trailing newline."""
    return json.dumps(suite.as_json(), indent=2, ensure_ascii=False) + "\n"


def generate_suites(
    catalog: Catalog, expectations_dir: Path | str | None = None
) -> dict[str, Suite]:
    """Every pool table's suite, generated from the catalog and the cross-field file."""
    folder = Path(expectations_dir or EXPECTATIONS_DIR)
    cross_field = load_cross_field(folder / CROSS_FIELD_FILE)
    unknown = sorted(set(cross_field) - set(catalog.resources))
    if unknown:
        raise SuiteError(f"{folder / CROSS_FIELD_FILE}: unknown resource(s) {unknown}")
    return {
        rid: generate_suite(resource, catalog, cross_field)
        for rid, resource in catalog.resources.items()
    }


def write_suites(catalog: Catalog, expectations_dir: Path | str | None = None) -> list[Path]:
    """Writes every suite file whose content changed; returns the paths written."""
    written = []
    for rid, suite in generate_suites(catalog, expectations_dir).items():
        path = suite_path(rid, expectations_dir)
        text = render_suite(suite)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def stale_suites(catalog: Catalog, expectations_dir: Path | str | None = None) -> list[str]:
    """Resource ids whose committed suite file differs from what the catalog generates."""
    stale = []
    for rid, suite in generate_suites(catalog, expectations_dir).items():
        path = suite_path(rid, expectations_dir)
        if not path.exists() or path.read_text(encoding="utf-8") != render_suite(suite):
            stale.append(rid)
    return stale


# =============================================================================== loading


def parse_suite(data: Mapping[str, Any], path: str = "") -> Suite:
    """A :class:`Suite` from GX suite JSON with govlake meta.

    Raises:
        SuiteError: an expectation without govlake meta, an unsupported type, or a version that
            does not match the content (the file was edited by hand without regenerating).
    """
    where = path or data.get("name", "suite")
    expectations = []
    for i, raw in enumerate(data.get("expectations", [])):
        meta = dict(raw.get("meta") or {})
        try:
            name = meta.pop("name")
            severity = meta.pop("severity")
            threshold = float(meta.pop("threshold"))
            dimension = meta.pop("dimension")
        except KeyError as missing:
            raise SuiteError(f"{where}: expectation {i} has no meta {missing}") from None
        if raw["type"] not in SUPPORTED_TYPES:
            raise SuiteError(f"{where}: {name}: unsupported type {raw['type']!r}")
        expectations.append(
            Expectation(
                name,
                raw["type"],
                dict(raw.get("kwargs") or {}),
                severity,
                threshold,
                dimension,
                raw.get("notes") or "",
                meta,
            )
        )
    govlake = (data.get("meta") or {}).get("govlake") or {}
    accuracy = tuple(
        AccuracyCheck(
            name=a["name"],
            column=a["column"],
            authority=a["authority"],
            authority_column=a["authority_column"],
            key=tuple(a["key"]),
            authority_key=tuple(a["authority_key"]),
            severity=a.get("severity", "warning"),
            threshold=float(a.get("threshold", 0.05)),
            dimension=a.get("dimension", "accuracy"),
        )
        for a in govlake.get("accuracy", [])
    )
    version = govlake.get("suite_version") or suite_version(data)
    if govlake.get("suite_version") and version != suite_version(data):
        raise SuiteError(
            f"{where}: suite_version {version} does not match its content; "
            "regenerate it with `govlake quality suites`"
        )
    return Suite(
        data["name"],
        version,
        tuple(expectations),
        accuracy,
        tuple(govlake.get("key", ())),
        path,
    )


def load_suite(resource_id: str, expectations_dir: Path | str | None = None) -> Suite:
    """The committed suite of one pool table.

    Raises:
        SuiteError: no suite file (run ``govlake quality suites``) or a malformed one.
    """
    path = suite_path(resource_id, expectations_dir)
    if not path.exists():
        raise SuiteError(f"no suite for {resource_id} at {path}; run `govlake quality suites`")
    return parse_suite(json.loads(path.read_text(encoding="utf-8")), str(path))


def to_gx_suite(suite: Suite, expectations: Iterable[Expectation] | None = None) -> Any:
    """The suite as a GX ``ExpectationSuite`` (only ``expectations`` if given, e.g. without the
    ones skipped for a first batch)."""
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    chosen = suite.expectations if expectations is None else tuple(expectations)
    gx_expectations = []
    for exp in chosen:
        body = exp.as_json()
        config = ExpectationConfiguration(
            type=body["type"], kwargs=body["kwargs"], meta=body["meta"], notes=exp.notes or None
        )
        gx_expectations.append(config.to_domain_obj())
    return ExpectationSuite(
        name=suite.name,
        expectations=gx_expectations,
        meta={"govlake": {"suite_version": suite.version}},
    )
