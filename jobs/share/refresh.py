"""Refresh of the curated share tables from the grants (the ``share__refresh`` DAG runs it).

For every consumer and dataset with an active grant (granted, not revoked, not expired) it
rebuilds ``share/<consumer>/<dataset>`` from the source table (base or pool; of a pool, only the
batches the quality gate does not hold, :func:`jobs.quality.gates.held_batches`), with the union
of the granted fields, masked and tokenised by sensitivity, and the consumer's
re-identification table under ``settings.reid_root`` (outside the lake, owner-only permissions
on a local root, original values encrypted: :mod:`jobs.share.reident`).
Every share table without an active grant is removed, old versions included: a revoked or
expired grant leaves the consumer nothing. A not-shared resource can never be granted
(:mod:`jobs.share.grants`), so its data never reaches ``share/``.

A refreshed table is rewritten from scratch (folder removed, then written): its Delta history
would otherwise keep columns or rows the consumer is no longer granted.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import defaultdict
from typing import Any

from pyspark.sql import SparkSession

from jobs.audit import log as audit
from jobs.catalog import load_catalog
from jobs.lake import tables
from jobs.lake.files import list_tables, remove_tree
from jobs.lake.registry import REIDENTIFICATION, SHARE, uri_at
from jobs.quality.gates import held_batches, without_held_batches
from jobs.settings import Settings
from jobs.share.curate import curated_df, reidentification_df
from jobs.share.grants import is_active, read_grants, write_snapshot
from jobs.share.keys import ShareKey, load_share_key
from jobs.share.policy import column_rules, load_masking, resolve_dataset
from jobs.share.reident import ReidentKey, load_reident_key

log = logging.getLogger(__name__)


def _restrict(path: str) -> None:
    if "://" not in path and os.path.isdir(path):
        os.chmod(path, 0o700)


def granted_fields(grants: list[dict[str, Any]], today: dt.date) -> dict[tuple[str, str], dict]:
    """(consumer, dataset) → the union of fields and the request ids of its active grants."""
    out: dict[tuple[str, str], dict] = defaultdict(lambda: {"fields": set(), "grants": []})
    for grant in grants:
        if is_active(grant, today):
            entry = out[(grant["consumer"], grant["dataset"])]
            entry["fields"].update(grant["fields"] or [])
            entry["grants"].append(grant["request_id"])
    return dict(out)


def refresh_shares(
    spark: SparkSession,
    settings: Settings,
    *,
    today: dt.date,
    key: ShareKey | None = None,
    reident_key: ReidentKey | None = None,
    actor: str = "system",
) -> dict[str, Any]:
    """Rebuilds every granted share table and removes the ones no longer granted; first brings
    the lake's ``governance/share_grants`` in line with the store (a decision whose snapshot
    write failed is written here, daily at the latest).

    Raises:
        jobs.secrets.SecretError: a key is missing or the public development key in production
            (before anything is read or written; the message names the variable).
    """
    key = key or load_share_key(settings)
    reident_key = reident_key or load_reident_key(settings)
    masking = load_masking(settings.schemas_root)
    catalog = load_catalog(settings.schemas_root, settings.catalog_revisions_root)
    write_snapshot(settings)
    wanted = granted_fields(read_grants(settings), today)
    held = held_batches(settings)
    refreshed, missing_sources = [], []
    for (consumer, dataset_id), grant in sorted(wanted.items()):
        dataset = resolve_dataset(dataset_id, catalog, settings, masking)
        source = uri_at(settings, *dataset.layer)
        if not tables.table_exists(source):
            missing_sources.append(f"{consumer}/{dataset_id}")
            continue
        source_df = without_held_batches(tables.read_table(spark, source), dataset.layer, held)
        rules = column_rules(dataset, source_df.columns, masking, sorted(grant["fields"]))
        token_key = key.for_consumer(consumer)
        target = SHARE.uri(settings, consumer, dataset_id)
        remove_tree(target)
        result = tables.write_table(curated_df(source_df, rules, token_key), target, "overwrite")
        reid = REIDENTIFICATION.uri(settings, consumer, dataset_id)
        remove_tree(reid)
        reid_df = reidentification_df(
            source_df,
            rules,
            token_key,
            reident_key=reident_key,
            consumer=consumer,
            dataset=dataset_id,
        )
        tables.write_table(reid_df, reid, "overwrite")
        _restrict(REIDENTIFICATION.layer_uri(settings))
        summary = {
            "consumer": consumer,
            "dataset": dataset_id,
            "rows": result.rows,
            "grants": grant["grants"],
            "columns": {r.column: r.treatment for r in rules},
            "key": key.fingerprint,
        }
        audit.record(
            settings,
            "share_refreshed",
            actor=actor,
            target=SHARE.relative_path(consumer, dataset_id),
            detail=summary,
        )
        refreshed.append(summary)
    withdrawn = []
    for path in list_tables(SHARE.layer_uri(settings)):
        consumer, _, dataset_id = path.partition("/")
        if (consumer, dataset_id) in wanted:
            continue
        remove_tree(SHARE.uri(settings, consumer, dataset_id))
        remove_tree(REIDENTIFICATION.uri(settings, consumer, dataset_id))
        audit.record(
            settings,
            "share_withdrawn",
            actor=actor,
            target=SHARE.relative_path(consumer, dataset_id),
            detail={"why": "no active grant (revoked, expired or never granted)"},
        )
        withdrawn.append(path)
    if key.is_development:
        log.warning("shares were tokenised with the development key (%s)", key)
    return {
        "today": today.isoformat(),
        "refreshed": [f"{r['consumer']}/{r['dataset']}" for r in refreshed],
        "rows": {f"{r['consumer']}/{r['dataset']}": r["rows"] for r in refreshed},
        "withdrawn": withdrawn,
        "missing_sources": missing_sources,
    }
