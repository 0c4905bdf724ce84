"""What may leave a pool, and how: datasets, their share type and a rule per column.

A dataset is what a consumer asks for:

* a base database (``population``, ``legal_entity`` …, :data:`BASE_DATASETS`): always shared
  unconditionally (000 §14, 003 §30);
* a department resource by its catalog id (``rsj.insured``): shared as its catalog entry's
  ``share.type`` says — ``unconditional``, ``conditional`` (有条件/受限共享: needs a granted
  request) or ``not_shared`` (不予/非共享: never leaves its pool).

Each column gets a :class:`ColumnRule` from its catalog ``sensitivity`` and element kind through
``schemas/share/masking.yaml``. Base columns take the strictest sensitivity of the catalog
fields holding the same data element; a column nothing describes is withheld.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs import yamlconf
from jobs.catalog.models import SENSITIVITIES, Catalog
from jobs.lake.registry import BASE_KEYS
from jobs.settings import Settings
from jobs.yamlconf import TEXT, Keys, ListOf, MapOf

MASKING_FILE = Path("share") / "masking.yaml"
TREATMENTS = ("clear", "mask", "token", "withhold")
UNCONDITIONAL, CONDITIONAL, NOT_SHARED = "unconditional", "conditional", "not_shared"

#: Base tables → key column (the lake registry's; importing it pulls in no Spark).
BASE_DATASETS: dict[str, str] = BASE_KEYS
_KEY_ELEMENTS = {"person_id": "citizen_id", "uscc": "uscc"}


class SharePolicyError(ValueError):
    """An unknown dataset or field, or an invalid masking or open data configuration."""


@dataclass(frozen=True)
class MaskingConfig:
    treatments: dict[str, str]
    masks: dict[str, str]
    base_columns: dict[str, tuple[str, str]]  # column → (sensitivity, kind)
    open_sensitivities: tuple[str, ...]


#: ``schemas/share/masking.yaml``.
MASKING_SHAPE = Keys(
    {
        "treatments": MapOf(TEXT),
        "masks": MapOf(TEXT),
        "base_columns": MapOf(Keys({"sensitivity": TEXT, "kind": TEXT}, required={"sensitivity"})),
        "open_sensitivities": ListOf(TEXT),
    },
    required={"treatments", "masks", "base_columns"},
)


@functools.lru_cache(maxsize=8)
def load_masking(schemas_root: str) -> MaskingConfig:
    """Reads and checks ``schemas/share/masking.yaml``.

    Raises:
        SharePolicyError: naming the file and line of every problem.
    """
    from jobs.share.masking import MASKS

    path = Path(schemas_root) / MASKING_FILE
    raw = yamlconf.load(path, MASKING_SHAPE, SharePolicyError)
    problems = []

    def bad(node: Any, key: Any, where: str, reason: str) -> None:
        problems.append(yamlconf.Problem(str(path), yamlconf.line_of(node, key), where, reason))

    treatments = raw["treatments"]
    if set(treatments) != set(SENSITIVITIES):
        bad(raw, "treatments", "treatments", f"must name each of {', '.join(SENSITIVITIES)}")
    for sensitivity, treatment in treatments.items():
        if treatment not in TREATMENTS:
            bad(treatments, sensitivity, "treatments", f"unknown treatment {treatment!r}")
    masks = raw["masks"]
    for kind, mask in masks.items():
        if mask not in MASKS:
            bad(masks, kind, "masks", f"unknown mask {mask!r}")
    base_columns = {}
    for column, spec in raw["base_columns"].items():
        if spec["sensitivity"] not in SENSITIVITIES:
            bad(raw["base_columns"], column, f"base_columns.{column}", "unknown sensitivity")
        base_columns[column] = (spec["sensitivity"], spec.get("kind", "text"))
    if problems:
        raise SharePolicyError(yamlconf.describe(problems))
    return MaskingConfig(
        dict(treatments),
        dict(masks),
        base_columns,
        tuple(raw.get("open_sensitivities") or ("public",)),
    )


@dataclass(frozen=True)
class ColumnRule:
    """How one column leaves the pool: ``treatment`` and, for ``mask``, which mask."""

    column: str
    sensitivity: str
    kind: str
    treatment: str
    mask: str | None = None


@dataclass(frozen=True)
class Dataset:
    """A shareable table: where it lives and what its columns are (column → sensitivity, kind)."""

    id: str
    layer: tuple[str, ...]  # ("base", "population") or ("pool", "rsj", "insured")
    share_type: str
    title: str
    columns: dict[str, tuple[str, str]]
    legal_basis: str = ""
    condition: str = ""


_STRICTNESS = {s: i for i, s in enumerate(SENSITIVITIES)}


def _element_sensitivity(catalog: Catalog) -> dict[str, str]:
    """Data element → the strictest sensitivity any catalog field gives it."""
    out: dict[str, str] = {}
    for resource in catalog.resources.values():
        for f in resource.fields:
            current = out.get(f.element)
            if current is None or _STRICTNESS[f.sensitivity] > _STRICTNESS[current]:
                out[f.element] = f.sensitivity
    return out


def resolve_dataset(
    dataset_id: str, catalog: Catalog, settings: Settings, masking: MaskingConfig
) -> Dataset:
    """The dataset called ``dataset_id`` (a base name or a resource id ``dept.resource``)."""
    if dataset_id in BASE_DATASETS:
        return _base_dataset(dataset_id, catalog, settings, masking)
    if dataset_id not in catalog.resources:
        known = ", ".join([*BASE_DATASETS, *catalog.resources])
        raise SharePolicyError(f"unknown dataset {dataset_id!r}; known: {known}")
    resource = catalog.resource(dataset_id)
    columns = {f.name: (f.sensitivity, f.data_element.kind) for f in resource.fields}
    return Dataset(
        id=dataset_id,
        layer=("pool", resource.department, resource.resource),
        share_type=resource.share.type,
        title=resource.title,
        columns=columns,
        legal_basis=resource.share.legal_basis,
        condition=resource.share.condition,
    )


def _base_dataset(
    name: str, catalog: Catalog, settings: Settings, masking: MaskingConfig
) -> Dataset:
    from jobs.integrate.config import load_integration_config

    by_element = _element_sensitivity(catalog)
    key = BASE_DATASETS[name]
    columns: dict[str, tuple[str, str]] = {}
    key_element = _KEY_ELEMENTS.get(key)
    if key_element:
        columns[key] = (
            by_element.get(key_element, "identifier"),
            catalog.element(key_element).kind,
        )
    spec = load_integration_config(settings).bases.get(name)
    title = name
    if spec is not None:
        title = spec.grain
        for attribute in spec.attributes:
            element = catalog.element(attribute.element)
            if attribute.element in by_element:
                columns[attribute.column] = (by_element[attribute.element], element.kind)
    for column, described in masking.base_columns.items():
        columns.setdefault(column, described)
    return Dataset(
        id=name,
        layer=("base", name),
        share_type=UNCONDITIONAL,
        title=title,
        columns=columns,
        legal_basis="000 §14, 003 §30: base databases are shared unconditionally",
    )


def column_rules(
    dataset: Dataset,
    table_columns: list[str],
    masking: MaskingConfig,
    fields: list[str] | None = None,
) -> list[ColumnRule]:
    """A rule for every column of the stored table, in table order.

    Columns the dataset does not describe, and described ones not in ``fields`` (when given),
    are withheld. A ``mask`` for a kind without a mask is withheld too.
    """
    rules = []
    for column in table_columns:
        sensitivity, kind = dataset.columns.get(column, ("sensitive", "text"))
        treatment = masking.treatments[sensitivity] if column in dataset.columns else "withhold"
        if fields is not None and column not in fields:
            treatment = "withhold"
        mask = masking.masks.get(kind) if treatment == "mask" else None
        if treatment == "mask" and mask is None:
            treatment = "withhold"
        rules.append(ColumnRule(column, sensitivity, kind, treatment, mask))
    return rules


def shareable_fields(dataset: Dataset, masking: MaskingConfig) -> list[str]:
    """Fields a consumer may ask for (those not withheld by their sensitivity)."""
    rules = column_rules(dataset, list(dataset.columns), masking)
    return [r.column for r in rules if r.treatment != "withhold"]
