"""Open data (开放数据): open resources, de-identified aggregates and the open list (开放清单).

Published under ``open/<dataset>``:

* every resource whose catalog ``open.type`` is ``unconditional`` (无条件开放), with only the
  fields whose sensitivity ``schemas/share/masking.yaml`` opens (``public``), and only the
  batches the quality gate does not hold (:func:`jobs.quality.gates.held_batches`); grain: the
  pool's. Resources open on request (``on_request``, 依申请开放) are published alike but kept
  off the open list: they are served only to granted applications (jobs.govern.open_requests);
* the aggregates of ``schemas/share/open_data.yaml``; grain: one row per cell (dimension
  values) plus one total row per group (``is_total``, last dimension ``total``);
* ``open/open_list``: one row per open dataset with domain, summary, items, format, update
  cycle and open type (000 §19, 004 §21).

Small cells: a cell counting fewer than k subjects (``settings.open_min_cell_count``) is
suppressed (count NULL). Because each group's total is published, one suppressed cell in a
group could be recovered as total − the visible cells, and two suppressed cells summing to
less than k narrow each other down; so complementary cells (the smallest visible ones) are
suppressed until each group has none, or at least two suppressed cells summing to k or more. A
group whose total is below k is suppressed whole. Only one margin (the group totals) is
published, so one direction of complementary suppression is enough; publishing other margins
would need the same treatment across them.

The aggregation runs in Spark; suppression runs on the driver over the aggregated cells (at
most districts × bands × sexes rows), where an iterative rule reads plainly.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import yamlconf
from jobs.audit import log as audit
from jobs.catalog import load_catalog
from jobs.catalog.models import Catalog
from jobs.lake import ledger, tables
from jobs.lake.files import remove_tree
from jobs.lake.registry import OPEN_DATASET, OPEN_LIST, POOL, uri_at
from jobs.policy import load_profile
from jobs.quality.gates import held_batches, without_held_batches
from jobs.settings import Settings
from jobs.share.policy import SharePolicyError, load_masking
from jobs.yamlconf import INT, TEXT, Keys, ListOf

OPEN_DATA_FILE = Path("share") / "open_data.yaml"
TOTAL = "total"
#: Catalog open types whose resources are published under open/<dataset>.
PUBLISHED_OPEN_TYPES = ("unconditional", "on_request")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Dimension:
    name: str
    column: str | None = None
    prefix: int | None = None
    age_from: str | None = None
    bands: tuple[int, ...] = ()


@dataclass(frozen=True)
class Aggregate:
    dataset: str
    title: str
    domain: str
    summary: str
    update_frequency: str
    source: tuple[str, ...]
    subject: str
    dimensions: tuple[Dimension, ...]


_DIMENSION = Keys(
    {"name": TEXT, "column": TEXT, "prefix": INT, "age_from": TEXT, "bands": ListOf(INT)},
    required={"name"},
)
_AGGREGATE = Keys(
    {
        "dataset": TEXT,
        "title": TEXT,
        "domain": TEXT,
        "summary": TEXT,
        "update_frequency": TEXT,
        "source": ListOf(TEXT),
        "subject": TEXT,
        "dimensions": ListOf(_DIMENSION, label="name"),
    },
    required={
        "dataset",
        "title",
        "domain",
        "summary",
        "update_frequency",
        "source",
        "subject",
        "dimensions",
    },
)
#: ``schemas/share/open_data.yaml``.
OPEN_DATA_SHAPE = Keys(
    {"aggregates": ListOf(_AGGREGATE, label="dataset"), "format": TEXT}, required={"aggregates"}
)


@functools.lru_cache(maxsize=4)
def load_open_config(schemas_root: str) -> tuple[tuple[Aggregate, ...], str]:
    """The aggregates and the format text of ``schemas/share/open_data.yaml``.

    Raises:
        SharePolicyError: naming the file and line of an unknown key or a wrong type.
    """
    raw = yamlconf.load(Path(schemas_root) / OPEN_DATA_FILE, OPEN_DATA_SHAPE, SharePolicyError)
    aggregates = []
    for item in raw["aggregates"]:
        dims = tuple(
            Dimension(
                name=d["name"],
                column=d.get("column"),
                prefix=d.get("prefix"),
                age_from=d.get("age_from"),
                bands=tuple(d.get("bands") or ()),
            )
            for d in item["dimensions"]
        )
        aggregates.append(
            Aggregate(
                dataset=item["dataset"],
                title=item["title"],
                domain=item["domain"],
                summary=item["summary"],
                update_frequency=item["update_frequency"],
                source=tuple(item["source"]),
                subject=item["subject"],
                dimensions=dims,
            )
        )
    return tuple(aggregates), str(raw.get("format", "Delta Lake"))


# --- transforms -----------------------------------------------------------------------------


def age_band_of(birth_date: Column, as_of: dt.date, bands: Sequence[int]) -> Column:
    """Age in whole years on ``as_of`` → its band label (``0-14``, ``65+``)."""
    age = F.floor(F.months_between(F.lit(as_of), birth_date) / 12)
    label: Column = F.lit(UNKNOWN)
    ordered = sorted(bands)
    for i, low in enumerate(ordered):
        high = ordered[i + 1] if i + 1 < len(ordered) else None
        text = f"{low}+" if high is None else f"{low}-{high - 1}"
        inside = age >= low if high is None else (age >= low) & (age < high)
        label = F.when(birth_date.isNotNull() & inside, F.lit(text)).otherwise(label)
    return label


def dimension_value(dimension: Dimension, as_of: dt.date) -> Column:
    if dimension.age_from:
        value = age_band_of(F.col(dimension.age_from), as_of, dimension.bands)
    else:
        value = F.col(dimension.column).cast("string")
        if dimension.prefix:
            value = F.substring(value, 1, dimension.prefix)
    return F.coalesce(F.when(F.length(value) > 0, value), F.lit(UNKNOWN)).alias(dimension.name)


def cell_counts(source_df: DataFrame, aggregate: Aggregate, as_of: dt.date) -> DataFrame:
    """One row per combination of dimension values present: ``count`` distinct subjects."""
    return (
        source_df.where(F.col(aggregate.subject).isNotNull())
        .select(
            F.col(aggregate.subject),
            *[dimension_value(d, as_of) for d in aggregate.dimensions],
        )
        .groupBy(*[d.name for d in aggregate.dimensions])
        .agg(F.countDistinct(aggregate.subject).alias("count"))
    )


def suppress_small_cells(
    cells: Sequence[Mapping[str, Any]], dimensions: Sequence[str], k: int
) -> list[dict[str, Any]]:
    """Cells plus group totals, small and complementary cells suppressed (see module doc).

    Args:
        cells: ``{<dimension>: value, "count": n}`` with n ≥ 1.
        dimensions: names; totals run over the last one, per value of the others.
    Returns:
        rows with the dimensions, ``count`` (None when suppressed), ``is_suppressed``,
        ``is_total``; cells of a group first, then its total.
    """
    group_of = dimensions[:-1]
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for cell in cells:
        groups[tuple(cell[d] for d in group_of)].append(dict(cell))
    out: list[dict[str, Any]] = []
    for key in sorted(groups, key=lambda g: tuple(str(v) for v in g)):
        members = sorted(groups[key], key=lambda c: str(c[dimensions[-1]]))
        total = sum(int(c["count"]) for c in members)
        hidden = {id(c) for c in members if int(c["count"]) < k or total < k}
        while True:
            hidden_sum = sum(int(c["count"]) for c in members if id(c) in hidden)
            visible = [c for c in members if id(c) not in hidden]
            at_risk = hidden and (len(hidden) == 1 or hidden_sum < k)
            if not at_risk or not visible:
                break
            hidden.add(id(min(visible, key=lambda c: (int(c["count"]), str(c[dimensions[-1]])))))
        for c in members:
            out.append(
                {
                    **{d: c[d] for d in dimensions},
                    "count": None if id(c) in hidden else int(c["count"]),
                    "is_suppressed": id(c) in hidden,
                    "is_total": False,
                }
            )
        out.append(
            {
                **dict(zip(group_of, key, strict=True)),
                dimensions[-1]: TOTAL,
                "count": None if total < k else total,
                "is_suppressed": total < k,
                "is_total": True,
            }
        )
    return out


def open_columns(
    catalog: Catalog, resource_id: str, open_sensitivities: Sequence[str]
) -> list[str]:
    """Fields of an open resource that may be published (by sensitivity)."""
    resource = catalog.resource(resource_id)
    return [f.name for f in resource.fields if f.sensitivity in open_sensitivities]


# --- publication (lake edges) ---------------------------------------------------------------


def _aggregate_schema(dimensions: Sequence[str]) -> pa.Schema:
    return pa.schema(
        [
            *[(d, pa.string()) for d in dimensions],
            ("count", pa.int64()),
            ("is_suppressed", pa.bool_()),
            ("is_total", pa.bool_()),
        ]
    )


OPEN_LIST_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("title", pa.string()),
        ("domain", pa.string()),
        ("summary", pa.string()),
        ("items", pa.list_(pa.string())),
        ("format", pa.string()),
        ("update_frequency", pa.string()),
        ("open_type", pa.string()),
        ("source", pa.string()),
        ("published_on", pa.date32()),
    ]
)


def _replace_small_table(uri: str, table: pa.Table, write_id: str) -> None:
    remove_tree(uri)
    ledger.append_arrow(uri, table, write_id=write_id)


def publish_open_data(
    spark: SparkSession, settings: Settings, *, as_of: dt.date, actor: str = "system"
) -> dict[str, Any]:
    """Publishes the open resources, the aggregates and the open list; audits each."""
    catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)
    masking = load_masking(settings.schemas_root)
    profile = load_profile(settings.policy_profile, settings.schemas_root)
    open_name = profile.open_types.name("unconditional")
    aggregates, format_text = load_open_config(settings.schemas_root)
    k = settings.open_min_cell_count
    held = held_batches(settings)
    listing: list[dict[str, Any]] = []
    published: dict[str, int] = {}
    missing: list[str] = []

    for resource in catalog.resources.values():
        if resource.open.type not in PUBLISHED_OPEN_TYPES:
            continue
        source = POOL.uri(settings, resource.department, resource.resource)
        if not tables.table_exists(source):
            missing.append(resource.id)
            continue
        columns = open_columns(catalog, resource.id, masking.open_sensitivities)
        source_df = without_held_batches(
            tables.read_table(spark, source), ("pool", resource.department, resource.resource), held
        )
        target = OPEN_DATASET.uri(settings, resource.id)
        remove_tree(target)
        result = tables.write_table(
            source_df.select(*[c for c in columns if c in source_df.columns]), target, "overwrite"
        )
        published[resource.id] = result.rows
        if resource.open.type != "unconditional":
            continue  # served to granted applications only (依申请开放), not listed
        listing.append(
            {
                "dataset": resource.id,
                "title": resource.title,
                "domain": resource.open.domain,
                "summary": resource.open.summary,
                "items": [f"{c}({resource.field(c).data_element.name})" for c in columns],
                "format": format_text,
                "update_frequency": resource.update_frequency,
                "open_type": open_name,
                "source": POOL.relative_path(resource.department, resource.resource),
                "published_on": as_of,
            }
        )

    for aggregate in aggregates:
        source = uri_at(settings, *aggregate.source)
        if not tables.table_exists(source):
            missing.append(aggregate.dataset)
            continue
        dims = [d.name for d in aggregate.dimensions]
        source_df = without_held_batches(tables.read_table(spark, source), aggregate.source, held)
        cells = [row.asDict() for row in cell_counts(source_df, aggregate, as_of).collect()]
        rows = suppress_small_cells(cells, dims, k)
        _replace_small_table(
            OPEN_DATASET.uri(settings, aggregate.dataset),
            pa.Table.from_pylist(rows, schema=_aggregate_schema(dims)),
            write_id=f"open/{aggregate.dataset}/{as_of.isoformat()}",
        )
        published[aggregate.dataset] = len(rows)
        listing.append(
            {
                "dataset": aggregate.dataset,
                "title": aggregate.title,
                "domain": aggregate.domain,
                "summary": aggregate.summary,
                "items": [*dims, "count", "is_suppressed", "is_total"],
                "format": format_text,
                "update_frequency": aggregate.update_frequency,
                "open_type": open_name,
                "source": "/".join(aggregate.source) + f" (k={k})",
                "published_on": as_of,
            }
        )

    _replace_small_table(
        OPEN_LIST.uri(settings),
        pa.Table.from_pylist(listing, schema=OPEN_LIST_SCHEMA),
        write_id=f"open_list/{as_of.isoformat()}",
    )
    audit.record(
        settings,
        "open_published",
        actor=actor,
        target="open",
        detail=json.dumps({"rows": published, "missing_sources": missing, "k": k}, sort_keys=True),
    )
    return {"published": published, "missing_sources": missing, "k": k}
