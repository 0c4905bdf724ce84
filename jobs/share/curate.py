"""Curated share tables: a source DataFrame → masked/tokenised columns, and the tokens' originals.

Pure DataFrame → DataFrame transforms; :mod:`jobs.share.refresh` does the reads and writes.

* ``share/<consumer>/<dataset>``: grain of the source (one row per source row), only the
  columns the grant names and the sensitivity allows, each cleared, masked or tokenised.
* re-identification table (under ``settings.reid_root``, outside the lake): one row per
  (column, token) with the original value encrypted (:mod:`jobs.share.reident`), so that an
  authorised steward can resolve a token (000 §27(四): re-identification data stored apart and
  encrypted).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.frames import union_all
from jobs.share.masking import MASKS, hmac_sha256_hex
from jobs.share.policy import ColumnRule
from jobs.share.reident import ReidentKey, sealed


def shared_value(column: Column, rule: ColumnRule, token_key: bytes) -> Column | None:
    """The value a consumer sees for one column, or None when it is withheld."""
    if rule.treatment == "clear":
        return column
    if rule.treatment == "token":
        return hmac_sha256_hex(column, token_key)
    if rule.treatment == "mask" and rule.mask:
        return MASKS[rule.mask](column)
    return None


def curated_df(source_df: DataFrame, rules: Sequence[ColumnRule], token_key: bytes) -> DataFrame:
    """The consumer's rows: withheld columns dropped, the others by their rule."""
    columns = []
    for rule in rules:
        value = shared_value(F.col(f"`{rule.column}`"), rule, token_key)
        if value is not None:
            columns.append(value.alias(rule.column))
    return source_df.select(*columns)


def reidentification_df(
    source_df: DataFrame,
    rules: Sequence[ColumnRule],
    token_key: bytes,
    *,
    reident_key: ReidentKey,
    consumer: str,
    dataset: str,
) -> DataFrame:
    """One row per (column, token): ``column``, ``token``, ``sealed`` (the original, encrypted).

    Grain: one row per distinct non-null tokenised value of each tokenised column.
    """
    parts = [
        source_df.where(F.col(f"`{r.column}`").isNotNull())
        .select(
            F.lit(r.column).alias("column"),
            hmac_sha256_hex(F.col(f"`{r.column}`"), token_key).alias("token"),
            F.col(f"`{r.column}`").cast("string").alias("original"),
        )
        .distinct()
        for r in rules
        if r.treatment == "token"
    ]
    if not parts:
        return source_df.sparkSession.createDataFrame(
            [], "column string, token string, sealed binary"
        )
    return union_all(parts).select(
        "column",
        "token",
        sealed(
            F.col("original"),
            F.col("token"),
            F.col("column"),
            key=reident_key,
            consumer=consumer,
            dataset=dataset,
        ).alias("sealed"),
    )
