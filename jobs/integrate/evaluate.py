"""The integration measured against a synthetic city's ground truth (``govlake synth``).

The generator writes, next to the departments' files, a manifest (``_manifest/``): every
injected conflict (element, key) and anomaly (rule, key), and the true persons and entities.
This module compares a build's ``governance/conflicts`` and base tables with it:

* precision and recall of conflicts, matched on (element, key), and of anomalies, matched on
  (rule, key), overall and per element or rule, with the misses and false alarms listed;
* false merges: base rows that two true persons (or entities) would share; and splits: one true
  person under two base rows (both must be zero: keys are never guessed);
* survivorship accuracy: how often the surviving name, gender and birth date of a person, and
  the name of an entity, equal the truth.

A defect whose record a later delivery of the same resource replaced is *superseded*: the
department corrected it before the build, so no issue is expected; such defects are counted
apart and left out of recall.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from jobs.catalog.loader import load_catalog
from jobs.catalog.models import Catalog
from jobs.integrate.config import KEY_KINDS, PARTY_ELEMENTS
from jobs.lake import ledger
from jobs.lake.registry import CONFLICTS, LEGAL_ENTITY, POOL, POPULATION
from jobs.settings import Settings

Topic = tuple[str, str, str]  # (issue type, element or rule, key)


@dataclass(frozen=True)
class Score:
    """Precision and recall of one set of findings against the expected set."""

    expected: int
    found: int
    matched: int
    missed: tuple[Topic, ...]
    false_alarms: tuple[Topic, ...]

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0

    def as_dict(self, limit: int = 20) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "found": self.found,
            "matched": self.matched,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "missed": [list(t) for t in self.missed[:limit]],
            "false_alarms": [list(t) for t in self.false_alarms[:limit]],
        }


def score(expected: Iterable[Topic], found: Iterable[Topic]) -> Score:
    """Precision and recall of ``found`` against ``expected`` (sets of topics)."""
    expected, found = set(expected), set(found)
    matched = expected & found
    return Score(
        expected=len(expected),
        found=len(found),
        matched=len(matched),
        missed=tuple(sorted(expected - found)),
        false_alarms=tuple(sorted(found - expected)),
    )


def read_defects(manifest_dir: str | Path) -> pd.DataFrame:
    """The manifest's defects (``defects.parquet``)."""
    return pd.read_parquet(Path(manifest_dir) / "defects.parquet")


def expected_topics(
    defects: pd.DataFrame, superseded: set[tuple[str, str]] | None = None
) -> tuple[set[Topic], set[Topic]]:
    """Conflicts and anomalies the build should find, and the superseded ones.

    Args:
        superseded: (resource id, key) of records a later delivery replaced.
    """
    superseded = superseded or set()
    rows = defects[defects["outcome"].isin(["conflict", "anomaly"])]
    expected: set[Topic] = set()
    gone: set[Topic] = set()
    for row in rows.itertuples(index=False):
        topic = row.element if row.outcome == "conflict" else row.rule
        item = (row.outcome, str(topic), str(row.key))
        if (row.resource, str(row.key)) in superseded:
            gone.add(item)
        else:
            expected.add(item)
    return expected - gone, gone - expected


def found_topics(issues: Iterable[Mapping[str, Any]]) -> set[Topic]:
    """(issue type, element or rule, key) of a build's issues."""
    return {(i["issue_type"], i["rule"] or i["element"], i["key"]) for i in issues}


def evaluate_issues(
    issues: Iterable[Mapping[str, Any]],
    defects: pd.DataFrame,
    superseded: set[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Precision and recall of conflicts and anomalies, overall and per element / rule."""
    expected, gone = expected_topics(defects, superseded)
    found = found_topics(issues)
    # A superseded defect that is still found is neither a hit nor a false alarm.
    found -= gone
    out: dict[str, Any] = {"superseded": len(gone)}
    for kind in ("conflict", "anomaly"):
        mine_expected = {t for t in expected if t[0] == kind}
        mine_found = {t for t in found if t[0] == kind}
        out[kind] = score(mine_expected, mine_found).as_dict()
        topics = sorted({t[1] for t in mine_expected | mine_found})
        out[kind]["by_topic"] = {
            topic: {
                k: v
                for k, v in score(
                    {t for t in mine_expected if t[1] == topic},
                    {t for t in mine_found if t[1] == topic},
                )
                .as_dict()
                .items()
                if k in ("expected", "found", "matched", "precision", "recall")
            }
            for topic in topics
        }
    return out


def merge_report(
    base_keys: Iterable[str], truth_keys: Iterable[str], what: str = "persons"
) -> dict[str, int]:
    """False merges and splits of one base against the truth, by key.

    A base row is one key, so a false merge is a key two true records share, and a split a true
    record found under a key that is not its own (a 15-digit ID left un-upgraded, say).
    """
    truth = pd.Series(list(truth_keys), dtype="string")
    base = set(base_keys)
    counts = truth.value_counts()
    shared = set(counts[counts > 1].index)
    return {
        f"truth_{what}": int(truth.nunique()),
        "base_rows": len(base),
        "base_rows_matched": len(base & set(truth)),
        "false_merges": len(base & shared),
        "base_rows_not_in_truth": len(base - set(truth)),
    }


def accuracy(
    base: pd.DataFrame, truth: pd.DataFrame, key: str, pairs: Mapping[str, str]
) -> dict[str, float]:
    """Share of base rows (present in the truth) whose attribute equals the true value."""
    joined = base.merge(truth, left_on=key, right_on=key, suffixes=("", "__true"))
    out: dict[str, float] = {}
    for base_column, truth_column in pairs.items():
        left = joined[base_column].astype("string")
        right = joined[truth_column if truth_column != base_column else base_column + "__true"]
        out[base_column] = (
            round(float((left == right.astype("string")).mean()), 4) if len(joined) else 1.0
        )
    return out


def key_columns(catalog: Catalog, resource_id: str) -> list[str]:
    """Pool columns of a resource that hold a key a manifest defect can name."""
    return [
        f.name
        for f in catalog.resource(resource_id).fields
        if f.data_element.kind in KEY_KINDS or f.data_element.id in PARTY_ELEMENTS
    ]


def superseded_records(
    pools: Mapping[str, pd.DataFrame], defects: pd.DataFrame, catalog: Catalog
) -> set[tuple[str, str]]:
    """(resource, key) of defect records that a later batch of the same resource delivered again.

    Args:
        pools: resource id → pool rows (``batch_id`` and the key columns are enough).
    """
    out: set[tuple[str, str]] = set()
    rows = defects[defects["outcome"].isin(["conflict", "anomaly"])]
    for resource_id, group in rows.groupby("resource"):
        pool = pools.get(resource_id)
        if pool is None or pool.empty or resource_id not in catalog.resources:
            continue
        columns = [c for c in key_columns(catalog, resource_id) if c in pool.columns]
        for row in group.itertuples(index=False):
            later = pool[pool["batch_id"] > row.batch]
            if any((later[c] == row.key).any() for c in columns):
                out.add((resource_id, str(row.key)))
    return out


def evaluate_build(
    issues: Iterable[Mapping[str, Any]],
    population: pd.DataFrame,
    legal_entity: pd.DataFrame,
    manifest_dir: str | Path,
    pools: Mapping[str, pd.DataFrame] | None = None,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    """The full report: issues, merges and survivorship accuracy (JSON-serialisable).

    Args:
        issues: rows of ``governance/conflicts``.
        population: ``base/population`` with ``person_id, person_name, gender, birth_date``.
        legal_entity: ``base/legal_entity`` with ``uscc, entity_name``.
        pools: optional pool rows per resource, to recognise superseded defects.
        catalog: the catalog naming the pools' key columns (needed with ``pools``).
    """
    manifest = Path(manifest_dir)
    defects = read_defects(manifest)
    superseded = superseded_records(pools, defects, catalog) if pools and catalog else set()
    persons = pd.read_parquet(manifest / "truth" / "persons.parquet")
    entities = pd.read_parquet(manifest / "truth" / "entities.parquet")
    population = population.copy()
    population["birth_date"] = population["birth_date"].astype("string")
    truth_persons = persons.rename(columns={"name": "person_name__true"}).assign(
        birth_date__true=persons["birth_date"].astype("string"), gender__true=persons["gender"]
    )[["person_id", "person_name__true", "gender__true", "birth_date__true"]]
    truth_entities = entities.rename(columns={"name": "entity_name__true"})[
        ["uscc", "entity_name__true"]
    ]
    return {
        "issues": evaluate_issues(issues, defects, superseded),
        "population": merge_report(population["person_id"], persons["person_id"], "persons"),
        "legal_entity": merge_report(legal_entity["uscc"], entities["uscc"], "entities"),
        "accuracy": {
            "population": accuracy(
                population,
                truth_persons,
                "person_id",
                {
                    "person_name": "person_name__true",
                    "gender": "gender__true",
                    "birth_date": "birth_date__true",
                },
            ),
            "legal_entity": accuracy(
                legal_entity, truth_entities, "uscc", {"entity_name": "entity_name__true"}
            ),
        },
    }


def evaluate_lake(settings: Settings, manifest_dir: str | Path) -> dict[str, Any]:
    """:func:`evaluate_build` on what a build left in the lake of ``settings`` (the conflicts
    table, the population and legal-entity bases, the pools' keys), against a synthetic city's
    manifest: the figures the demo prints and the county test asserts on.

    Read with delta-rs, only the columns compared: no Spark job (a county's are a few MB).
    """
    catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)

    def read(uri: str, columns: Sequence[str]) -> pa.Table | None:
        return ledger.read_arrow(uri, columns=columns)

    issues = read(CONFLICTS.uri(settings), ("issue_type", "rule", "element", "key"))
    pool_keys = {}
    for rid, resource in catalog.resources.items():
        keys = read(
            POOL.uri(settings, resource.department, resource.resource),
            ("batch_id", *key_columns(catalog, rid)),
        )
        if keys is not None:
            pool_keys[rid] = keys.to_pandas()
    return evaluate_build(
        issues.to_pylist() if issues is not None else [],
        read(
            POPULATION.uri(settings), ("person_id", "person_name", "gender", "birth_date")
        ).to_pandas(),
        read(LEGAL_ENTITY.uri(settings), ("uscc", "entity_name")).to_pandas(),
        manifest_dir,
        pool_keys,
        catalog,
    )
