"""Expectation suites (期望套件): generated from the catalog, versioned as files, loaded for runs.

Each pool table ``pool/<dept>/<resource>`` has one suite, `expectations/<dept>.<resource>.json`,
written by :func:`write_suites` (``govlake quality suites``) and committed, so every change to a
check is a reviewed diff. A suite is Great Expectations' own JSON (``name``, ``expectations``
with ``type``/``kwargs``/``meta``/``notes``, ``meta``), loadable by GX as it is. What comes from
where:

* the catalog, through the quality rules (``schemas/quality/rules.yaml``, resolved by
  :mod:`jobs.quality.rules`, which hold every severity and threshold): column types, required
  fields not null, code sets (value in the code table), key and identifier formats (regular
  expressions), ranges (dates not in the future, birth dates from 1900, capital ≥ 0, areas > 0,
  coordinates inside China), key uniqueness per batch, row-count change against the previous
  batch and freshness against the update cycle;
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.catalog.models import Catalog, Resource
from jobs.ingest.pool import pool_schema
from jobs.quality import rules
from jobs.quality.rules import SUPPORTED_TYPES, Expectation
from jobs.settings import PROJECT_ROOT

#: Where the committed suite files live.
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
CROSS_FIELD_FILE = "cross_field.yaml"


class SuiteError(ValueError):
    """A suite or the cross-field file is malformed; the message names the file and the entry."""


# ================================================================================ the model


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


def accuracy_checks(
    resource: Resource, catalog: Catalog, quality_rules: rules.Rules
) -> list[AccuracyCheck]:
    """Fields whose element names another resource as authority (一数一源), compared by key.

    Only resources keyed by one citizen ID or USCC can be matched to the authority's records;
    certificates keyed by their own number (marriage, birth certificate) are left out.
    """
    if len(resource.key.fields) != 1:
        return []
    key_field = resource.key_fields[0]
    level, _source = rules.accuracy_level(resource, quality_rules)
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
                    severity=level["severity"],
                    threshold=float(level["threshold"]),
                )
            )
            break  # the first authority with a matching key wins, as in survivorship
    return checks


def suite_checks(
    resource: Resource,
    catalog: Catalog,
    cross_field: Mapping[str, list[Expectation]],
    quality_rules: rules.Rules,
) -> list[Expectation]:
    """Every expectation of one pool table, in suite order, with where it came from: the
    checks the quality rules give it, then its cross-field checks.

    Raises:
        SuiteError: a cross-field check names a column the pool table does not have.
    """
    checks = rules.resource_checks(resource, catalog, quality_rules)
    columns = set(pool_schema(resource).fieldNames())
    for check in cross_field.get(resource.id, []):
        missing = [c for c in check.columns if c not in columns]
        if missing:
            raise SuiteError(f"cross-field {resource.id} {check.name}: unknown column(s) {missing}")
        checks.append(check)
    return checks


def generate_suite(
    resource: Resource,
    catalog: Catalog,
    cross_field: Mapping[str, list[Expectation]],
    quality_rules: rules.Rules | None = None,
) -> Suite:
    """The suite of one pool table: the checks of the quality rules, then the cross-field ones,
    then accuracy against the authoritative resources.

    Args:
        quality_rules: the rules to apply; by default ``schemas/quality/rules.yaml`` of the
            catalog's own folder.

    Raises:
        SuiteError: two expectations share a name, or a cross-field expectation names a column
            the pool table does not have.
    """
    quality_rules = quality_rules or rules.load_rules(catalog.root)
    expectations = suite_checks(resource, catalog, cross_field, quality_rules)
    accuracy = accuracy_checks(resource, catalog, quality_rules)
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
    cross_field = load_cross_field(folder)
    unknown = sorted(set(cross_field) - set(catalog.resources))
    if unknown:
        raise SuiteError(f"{folder / CROSS_FIELD_FILE}: unknown resource(s) {unknown}")
    quality_rules = rules.load_rules(catalog.root)
    rules.check_rules_against(quality_rules, catalog)
    return {
        rid: generate_suite(resource, catalog, cross_field, quality_rules)
        for rid, resource in catalog.resources.items()
    }


def load_cross_field(expectations_dir: Path | str | None = None) -> dict[str, list[Expectation]]:
    """The cross-field checks of ``expectations/cross_field.yaml``, by resource id.

    Raises:
        RulesError: the file is malformed (naming file and line).
    """
    folder = Path(expectations_dir or EXPECTATIONS_DIR)
    return rules.load_cross_field(folder / CROSS_FIELD_FILE)


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


def suite_for(
    resource: Resource, catalog: Catalog, expectations_dir: Path | str | None = None
) -> Suite:
    """The suite a batch of ``resource`` is validated with: the committed file, or, for an entry
    changed by an approved catalog revision (目录更新), the suite generated from that entry (the
    committed file follows `schemas/`; the revision must take effect without a commit).

    Raises:
        SuiteError: as :func:`load_suite` and :func:`generate_suite`.
    """
    if not resource.revision:
        return load_suite(resource.id, expectations_dir)
    return generate_suite(resource, catalog, load_cross_field(expectations_dir))


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
