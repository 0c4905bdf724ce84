"""Quality rules (数据质量规则) as data: which checks a pool table gets, with what severity and
threshold, and where each came from.

``schemas/quality/rules.yaml`` holds every rule a quality team tunes: the checks every field
gets by its role (key, required, optional), identifier formats by element kind, checks per data
element (a birth date from 1900, coordinates inside China …), the batch checks (key unique per
batch, row-count change, freshness by update cycle) and per-resource overrides of all of them.
``expectations/cross_field.yaml`` holds the hand-written cross-field checks. Both are read with
:mod:`jobs.yamlconf`, so an unknown key or a wrong type is an error naming the file and line.

:func:`resource_checks` resolves them for one resource into :class:`Expectation` objects, in
suite order, each with where it came from: :mod:`jobs.quality.suites` writes them as GX suites,
``govlake quality show`` prints them with their sources.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs import yamlconf
from jobs.catalog.models import UPDATE_FREQUENCIES, Catalog, Field, Resource
from jobs.yamlconf import ANY, BOOL, INT, NUMBER, TEXT, Keys, ListOf, MapOf, OneOf

RULES_FILE = Path("quality") / "rules.yaml"

DIMENSIONS: tuple[str, ...] = (
    "completeness",  # 完整性
    "validity",  # 规范性 / 有效性
    "uniqueness",  # 唯一性
    "consistency",  # 一致性
    "timeliness",  # 时效性
    "accuracy",  # 准确性 (against the authoritative source)
)
SEVERITIES: tuple[str, ...] = ("critical", "warning")
ROLES: tuple[str, ...] = ("key", "required", "optional")

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
    "integer": "LongType",  # the pool widens integers to long (jobs.ingest.pool.pool_schema)
    "long": "LongType",
    "double": "DoubleType",
    "boolean": "BooleanType",
}

#: The checks derived from the catalog, in suite order (their rules: ``field_checks``).
FIELD_CHECKS: tuple[str, ...] = ("type", "not_null", "in_code_table", "format", "not_in_future")
#: What a check that overrides nothing must say.
_COMPLETE = ("type", "kwargs", "severity", "threshold", "dimension", "notes")


class RulesError(ValueError):
    """A rules file is malformed or names what the catalog does not have; the message names
    the file and line of every problem."""


# --- the shape of the files -------------------------------------------------------------------

_LEVEL = Keys({"severity": TEXT, "threshold": NUMBER}, required={"severity", "threshold"})
_FIELD_CHECK = Keys({"dimension": TEXT, **dict.fromkeys(ROLES, _LEVEL)}, required={"dimension"})
_RULE = Keys(
    {
        "type": TEXT,
        "kwargs": MapOf(ANY),
        "severity": TEXT,
        "threshold": NUMBER,
        "dimension": TEXT,
        "notes": TEXT,
    }
)
_RULE_OR_OFF = OneOf((BOOL, _RULE))
_BATCH = Keys(
    {
        "unique_in_batch": Keys({"severity": TEXT, "threshold": NUMBER, "dimension": TEXT}),
        "row_count_change": Keys(
            {"max_change": NUMBER, "severity": TEXT, "threshold": NUMBER, "dimension": TEXT}
        ),
        "freshness": Keys(
            {
                "workdays": MapOf(INT),
                "grace_workdays": INT,
                "severity": TEXT,
                "threshold": NUMBER,
                "dimension": TEXT,
            }
        ),
    }
)
_ACCURACY = Keys({"severity": TEXT, "threshold": NUMBER})
#: ``schemas/quality/rules.yaml``.
RULES_SHAPE = Keys(
    {
        "field_checks": Keys(dict.fromkeys(FIELD_CHECKS, _FIELD_CHECK)),
        "formats": MapOf(TEXT),
        "elements": MapOf(MapOf(_RULE_OR_OFF)),
        "batch": _BATCH,
        "accuracy": _ACCURACY,
        "resources": MapOf(
            Keys({"fields": MapOf(MapOf(_RULE_OR_OFF)), "batch": _BATCH, "accuracy": _ACCURACY})
        ),
    },
    required={"field_checks", "formats", "elements", "batch", "accuracy"},
)
#: ``expectations/cross_field.yaml``: resource id → its cross-field checks.
CROSS_FIELD_SHAPE = MapOf(
    ListOf(
        Keys(
            {"name": TEXT, **_RULE.fields, "ignore_when_missing": ANY},
            required={"name", "type", "kwargs", "severity", "dimension"},
        ),
        label="name",
    )
)


# --- the model --------------------------------------------------------------------------------


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
    #: Where the check and its numbers come from (``govlake quality show``; not in the suite):
    #: ``role default, required field (rules.yaml:30)``, ``element default, birth_date
    #: (rules.yaml:66)``, ``resource override (rules.yaml:140)`` …
    source: str = field(default="", compare=False)

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


def expectation(
    name: str,
    type_: str,
    kwargs: dict[str, Any],
    severity: str,
    threshold: float,
    dimension: str,
    notes: str,
    meta: dict[str, Any] | None = None,
    source: str = "",
) -> Expectation:
    """An expectation as the suite carries it: GX decides like govlake, passing while the
    passing fraction is at least ``1 - threshold`` (its ``mostly``)."""
    if threshold > 0 and type_ in ROW_LEVEL_TYPES:
        kwargs = {**kwargs, "mostly": round(1.0 - threshold, 6)}
    return Expectation(
        name, type_, kwargs, severity, threshold, dimension, notes, meta or {}, source
    )


@dataclass(frozen=True)
class Rules:
    """``schemas/quality/rules.yaml``, parsed and checked (see the file for its meaning)."""

    file: str
    raw: Mapping[str, Any]

    def where(self, node: Any, key: Any = None) -> str:
        line = yamlconf.line_of(node, key)
        name = Path(self.file).name
        return f"{name}:{line}" if line else name

    @property
    def formats(self) -> Mapping[str, str]:
        return self.raw["formats"]


# --- loading ----------------------------------------------------------------------------------


def rules_path(schemas_root: str | Path) -> Path:
    return Path(schemas_root) / RULES_FILE


@functools.lru_cache(maxsize=8)
def _load_rules(path: str, mtime_ns: int) -> Rules:
    raw = yamlconf.load(path, RULES_SHAPE, RulesError)
    problems: list[yamlconf.Problem] = []
    for where, node in _levels(raw):
        problems += _level_problems(path, node, where)
    for element_id, element_rules in raw["elements"].items():
        problems += _rule_problems(path, element_rules, f"elements.{element_id}")
    for resource_id, override in (raw.get("resources") or {}).items():
        for field_name, field_rules in (override.get("fields") or {}).items():
            where = f"resources.{resource_id}.fields.{field_name}"
            problems += _rule_problems(path, field_rules, where, complete=False)
    workdays = raw["batch"].get("freshness", {}).get("workdays", {})
    missing = [cycle for cycle in UPDATE_FREQUENCIES if cycle not in workdays]
    if missing:
        line = yamlconf.line_of(raw["batch"], "freshness")
        reason = f"freshness.workdays needs every update cycle; missing {', '.join(missing)}"
        problems.append(yamlconf.Problem(path, line, "batch", reason))
    if problems:
        raise RulesError(yamlconf.describe(problems))
    return Rules(path, raw)


def _levels(raw: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every mapping of the file that sets a severity, threshold or dimension."""
    for name, check in raw["field_checks"].items():
        yield f"field_checks.{name}", check
        for role in ROLES:
            if role in check:
                yield f"field_checks.{name}.{role}", check[role]
    yield "accuracy", raw["accuracy"]
    sources = [("batch", raw["batch"])]
    for rid, override in (raw.get("resources") or {}).items():
        if "batch" in override:
            sources.append((f"resources.{rid}.batch", override["batch"]))
        if "accuracy" in override:
            yield f"resources.{rid}.accuracy", override["accuracy"]
    for prefix, batch in sources:
        for name, check in batch.items():
            yield f"{prefix}.{name}", check


def _level_problems(file: str, node: Mapping[str, Any], where: str) -> list[yamlconf.Problem]:
    """Severity, threshold and dimension, where given, take one of their allowed values."""
    problems = []

    def bad(key: str, reason: str) -> None:
        problems.append(yamlconf.Problem(file, yamlconf.line_of(node, key), where, reason))

    if "severity" in node and node["severity"] not in SEVERITIES:
        bad("severity", f"severity {node['severity']!r} is not one of {', '.join(SEVERITIES)}")
    if "dimension" in node and node["dimension"] not in DIMENSIONS:
        bad("dimension", f"dimension {node['dimension']!r} is not one of {', '.join(DIMENSIONS)}")
    if "threshold" in node and not 0.0 <= node["threshold"] < 1.0:
        bad("threshold", f"threshold {node['threshold']!r} must be at least 0 and below 1")
    if "max_change" in node and not node["max_change"] > 0:
        bad("max_change", f"max_change {node['max_change']!r} must be above 0")
    if "type" in node and node["type"] not in SUPPORTED_TYPES:
        bad("type", f"type {node['type']!r} is not one govlake computes (jobs/quality/rules.py)")
    return problems


def _rule_problems(
    file: str, rules: Mapping[str, Any], where: str, *, complete: bool = True
) -> list[yamlconf.Problem]:
    """A rule is ``false`` (off), or a check: written in full unless it only overrides one."""
    problems = []
    for name, rule in rules.items():
        if rule is True:
            reason = "write the check, or false to turn it off (true means nothing here)"
            problems.append(yamlconf.Problem(file, yamlconf.line_of(rules, name), where, reason))
        if not isinstance(rule, dict):
            continue
        problems += _level_problems(file, rule, f"{where}.{name}")
        missing = [k for k in _COMPLETE if k not in rule]
        if complete and name not in FIELD_CHECKS and missing:
            line = yamlconf.line_of(rules, name)
            reason = f"a new check needs {', '.join(missing)}"
            problems.append(yamlconf.Problem(file, line, f"{where}.{name}", reason))
    return problems


def load_rules(schemas_root: str | Path) -> Rules:
    """The quality rules under ``schemas_root`` (checked; cached until the file changes).

    Raises:
        RulesError: listing every problem with its file and line.
    """
    path = rules_path(schemas_root)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the quality rules: {exc}") from exc
    return _load_rules(str(path), mtime)


def check_rules_against(rules: Rules, catalog: Catalog) -> None:
    """The elements, resources and fields the rules name exist in the catalog.

    Raises:
        RulesError: naming the file and line of each unknown name.
    """
    problems = []
    raw = rules.raw
    for element_id in raw["elements"]:
        if element_id not in catalog.elements:
            line = yamlconf.line_of(raw["elements"], element_id)
            reason = f"unknown data element {element_id!r}"
            problems.append(yamlconf.Problem(rules.file, line, "elements", reason))
    resources = raw.get("resources") or {}
    for resource_id, override in resources.items():
        if resource_id not in catalog.resources:
            line = yamlconf.line_of(resources, resource_id)
            reason = f"unknown resource {resource_id!r}"
            problems.append(yamlconf.Problem(rules.file, line, "resources", reason))
            continue
        fields = override.get("fields") or {}
        names = catalog.resource(resource_id).field_names
        for field_name in fields:
            if field_name not in names:
                line = yamlconf.line_of(fields, field_name)
                reason = f"{resource_id} has no field {field_name!r}"
                problems.append(yamlconf.Problem(rules.file, line, "resources", reason))
    if problems:
        raise RulesError(yamlconf.describe(problems))


def load_cross_field(path: Path | str) -> dict[str, list[Expectation]]:
    """The hand-written cross-field checks: resource id → checks (none without the file).

    Raises:
        RulesError: unknown keys, a missing name/type/kwargs, a wrong type, an unsupported
            GX type, a bad severity, threshold or dimension; each with file and line.
    """
    path = Path(path)
    if not path.exists():
        return {}
    data = yamlconf.load(path, yamlconf.optional(CROSS_FIELD_SHAPE), RulesError) or {}
    problems = []
    out: dict[str, list[Expectation]] = {}
    for resource_id, entries in data.items():
        for index, entry in enumerate(entries):
            problems += _level_problems(str(path), entry, f"{resource_id}[{entry['name']}]")
            where = f"cross_field.yaml:{yamlconf.line_of(entries, index)}"
            out.setdefault(resource_id, []).append(
                expectation(
                    entry["name"],
                    entry["type"],
                    dict(entry["kwargs"]),
                    entry["severity"],
                    float(entry.get("threshold", 0.0)),
                    entry["dimension"],
                    entry.get("notes", ""),
                    {"source": "cross_field"},
                    f"cross-field ({where})",
                )
            )
    if problems:
        raise RulesError(yamlconf.describe(problems))
    return out


# --- resolution -------------------------------------------------------------------------------


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def role_of(resource: Resource, f: Field) -> str:
    """``key``, ``required`` or ``optional``: what the field checks' rules are chosen by."""
    if f.name in resource.key.fields:
        return "key"
    return "required" if f.required else "optional"


def _spark_type_name(storage_type: str) -> str:
    if storage_type.startswith("decimal"):
        return "DecimalType"
    return SPARK_TYPE_NAMES[storage_type]


def _field_check_specs(
    resource: Resource, f: Field, catalog: Catalog, rules: Rules
) -> dict[str, tuple[dict[str, Any], str]]:
    """The catalog-derived checks that apply to the field: name → (rule, source)."""
    element = f.data_element
    role = role_of(resource, f)
    label = f"{f.name} ({element.name})"
    derived: dict[str, dict[str, Any]] = {
        "type": {
            "type": "expect_column_values_to_be_of_type",
            "kwargs": {"type_": _spark_type_name(element.type)},
            "notes": f"{label} is stored as {element.type}.",
        },
        # notes follow the severity and threshold, whichever rule sets them (see below)
        "not_null": {"type": "expect_column_values_to_not_be_null", "kwargs": {}, "notes": None},
    }
    if element.kind == "code" and element.code_table:
        table = catalog.code_table(element.code_table)
        derived["in_code_table"] = {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"value_set": list(table.codes)},
            "notes": f"{label} is a code of {table.id} ({table.name}, {table.standard}).",
            "meta": {"code_table": table.id},
        }
    if element.kind in rules.formats:
        derived["format"] = {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"regex": rules.formats[element.kind]},
            "notes": f"{label} has the {element.standard or element.kind} format.",
        }
    if element.kind in {"date", "timestamp"}:
        today = "today" if element.kind == "date" else "now"
        derived["not_in_future"] = {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"max_value": {"$PARAMETER": today}},
            "notes": f"{label} is not later than the day of validation.",
        }
    out = {}
    checks = rules.raw["field_checks"]
    for name, spec in derived.items():
        levels = checks[name]
        if role not in levels:
            continue
        rule = {**spec, **levels[role], "dimension": levels["dimension"]}
        out[name] = (rule, f"role default, {role} field ({rules.where(levels, role)})")
    return out


def _presence_notes(role: str, label: str, severity: str, threshold: float) -> str:
    if role == "key" and threshold == 0:
        return f"Key {label} is present in every row."
    what = {"key": "Key", "required": "Required", "optional": "Optional"}[role]
    outcome = "the batch is held" if severity == "critical" else "a warning"
    return f"{what} {label} is present; {outcome} above {threshold:.0%} missing."


def field_checks(resource: Resource, f: Field, catalog: Catalog, rules: Rules) -> list[Expectation]:
    """The checks of one field: derived from the catalog by its role, then its element's
    checks, then the resource's overrides (a check set to ``false`` is dropped)."""
    element = f.data_element
    specs = _field_check_specs(resource, f, catalog, rules)
    element_rules = rules.raw["elements"].get(element.id, {})
    for name, rule in element_rules.items():
        where = f"element default, {element.id} ({rules.where(element_rules, name)})"
        if rule is False:
            specs.pop(name, None)
        elif name in specs:
            specs[name] = (_merged(specs[name][0], rule), where)
        else:
            specs[name] = (dict(rule), where)
    overrides = ((rules.raw.get("resources") or {}).get(resource.id) or {}).get("fields") or {}
    field_overrides = overrides.get(f.name) or {}
    for name, rule in field_overrides.items():
        where = f"resource override ({rules.where(field_overrides, name)})"
        if rule is False:
            specs.pop(name, None)
            continue
        missing = [k for k in _COMPLETE if k not in rule]
        if name not in specs and missing:
            line = yamlconf.line_of(field_overrides, name)
            reason = f"{f.name} has no check {name!r} to override; a new check needs {', '.join(missing)}"
            problem = yamlconf.Problem(rules.file, line, f"resources.{resource.id}", reason)
            raise RulesError(str(problem))
        specs[name] = (_merged(specs.get(name, ({}, ""))[0], rule), where)
    label = f"{f.name} ({element.name})"
    role = role_of(resource, f)
    checks = []
    for name, (rule, source) in specs.items():
        kwargs = {"column": f.name, **rule["kwargs"]}
        notes = rule["notes"]
        if notes is None:  # not_null
            notes = _presence_notes(role, label, rule["severity"], rule["threshold"])
        checks.append(
            expectation(
                f"{f.name}.{name}",
                rule["type"],
                kwargs,
                rule["severity"],
                float(rule["threshold"]),
                rule["dimension"],
                notes.format(label=label, **rule["kwargs"]),
                dict(rule.get("meta", {})),
                source,
            )
        )
    return checks


def batch_checks(resource: Resource, rules: Rules) -> list[Expectation]:
    """Key uniqueness within the batch, row-count change and freshness, for one resource."""
    defaults = rules.raw["batch"]
    override = ((rules.raw.get("resources") or {}).get(resource.id) or {}).get("batch") or {}
    batch = _merged(defaults, override)

    def source(name: str) -> str:
        if name in override:
            return f"resource override ({rules.where(override, name)})"
        return f"batch default ({rules.where(defaults, name)})"

    key = list(resource.key.fields)
    unique = batch["unique_in_batch"]
    if len(key) == 1:
        unique_check = expectation(
            f"{key[0]}.unique_in_batch",
            "expect_column_values_to_be_unique",
            {"column": key[0]},
            unique["severity"],
            float(unique["threshold"]),
            unique["dimension"],
            f"Key {key[0]} appears once per batch; every row sharing a key counts as unexpected.",
            source=source("unique_in_batch"),
        )
    else:
        unique_check = expectation(
            "+".join(key) + ".unique_in_batch",
            "expect_compound_columns_to_be_unique",
            {"column_list": key, "ignore_row_if": "any_value_is_missing"},
            unique["severity"],
            float(unique["threshold"]),
            unique["dimension"],
            f"Key ({', '.join(key)}) appears once per batch.",
            source=source("unique_in_batch"),
        )
    count = batch["row_count_change"]
    fresh = batch["freshness"]
    workdays = fresh["workdays"][resource.update_frequency] + fresh["grace_workdays"]
    return [
        unique_check,
        expectation(
            "batch.row_count_change",
            "expect_table_row_count_to_be_between",
            {
                "min_value": {"$PARAMETER": "row_count_min"},
                "max_value": {"$PARAMETER": "row_count_max"},
            },
            count["severity"],
            float(count["threshold"]),
            count["dimension"],
            f"Row count within ±{count['max_change']:.0%} of the previous batch "
            "(skipped for the first batch).",
            {"max_change": count["max_change"]},
            source("row_count_change"),
        ),
        expectation(
            "batch.freshness",
            "expect_column_min_to_be_between",
            {"column": "ingested_at", "max_value": {"$PARAMETER": "delivered_by"}},
            fresh["severity"],
            float(fresh["threshold"]),
            fresh["dimension"],
            f"Delivered within {workdays} working days of the previous batch "
            f"(update cycle {resource.update_frequency}; skipped for the first batch).",
            {"freshness_workdays": workdays},
            source("freshness"),
        ),
    ]


def accuracy_level(resource: Resource, rules: Rules) -> tuple[dict[str, Any], str]:
    """Severity and threshold of the resource's accuracy checks, and where they come from."""
    override = ((rules.raw.get("resources") or {}).get(resource.id) or {}).get("accuracy")
    if override:
        resources = rules.raw["resources"]
        where = rules.where(resources[resource.id], "accuracy")
        return _merged(rules.raw["accuracy"], override), f"resource override ({where})"
    return dict(rules.raw["accuracy"]), f"accuracy default ({rules.where(rules.raw, 'accuracy')})"


def resource_checks(resource: Resource, catalog: Catalog, rules: Rules) -> list[Expectation]:
    """Every field's checks (in catalog order), then the batch checks."""
    checks = []
    for f in resource.fields:
        checks += field_checks(resource, f, catalog, rules)
    return checks + batch_checks(resource, rules)
