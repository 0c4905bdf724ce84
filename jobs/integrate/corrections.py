"""Corrections (更正) made answering verification tickets (校核), as department observations.

When a department answers a ticket by correcting its value (:func:`jobs.govern.tickets.
correct_ticket`), the correction is kept in ``governance/verification_corrections`` (one row per
correction: key, element, value, department, when). Every later build reads it as that
department's statement of the element, dated when it was corrected: it replaces the department's
current statement in each record that states the element for the key (survivorship keeps a
source's latest statement per record), so a corrected value clears the conflict; a later delivery
that states the old value again wins over it, as any later observation does.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.integrate.observations import OBSERVATION_COLUMNS, statement_rows_of

_SUBJECT = ("key_kind", "key", "element", "department")
#: ``source_file`` of a correction's observations: its provenance says where it came from.
CORRECTION_SOURCE = "verification"


def correction_observations(observations_df: DataFrame, corrections_df: DataFrame) -> DataFrame:
    """One observation per correction and per record of the department that states the
    corrected element for the key (or one under the correction's own resource when none does).

    Args:
        observations_df: ``base/attribute_observations`` rows (:data:`OBSERVATION_COLUMNS`).
        corrections_df: ``governance/verification_corrections`` rows.

    Grain: one row per (correction, resource, record key).
    """
    corrected = corrections_df.select(*_SUBJECT).distinct()
    records = (
        observations_df.join(corrected, list(_SUBJECT), "left_semi")
        .select(*_SUBJECT, F.col("resource").alias("_resource"), "field", "record_key")
        .distinct()
    )
    return corrections_df.join(records, list(_SUBJECT), "left").select(
        "key_kind",
        "key",
        "element",
        "value",
        "department",
        F.coalesce(F.col("_resource"), F.col("resource")).alias("resource"),
        F.coalesce(F.col("field"), F.col("element")).alias("field"),
        F.coalesce(F.col("record_key"), F.col("key")).alias("record_key"),
        F.concat(F.lit("verification/"), F.col("ticket_id")).alias("batch_id"),
        F.col("corrected_at").cast("timestamp").alias("observed_at"),
        F.lit(CORRECTION_SOURCE).alias("source_file"),
        F.lit(0).cast("long").alias("row_number"),
    )


def with_corrections(observations_df: DataFrame, corrections_df: DataFrame | None) -> DataFrame:
    """The observations and, after them, the corrections' (:func:`correction_observations`)."""
    if corrections_df is None:
        return observations_df
    corrected = correction_observations(observations_df, corrections_df)
    return observations_df.select(*OBSERVATION_COLUMNS).unionByName(corrected)


def correction_statement_rows(corrections_df: DataFrame) -> DataFrame:
    """Corrections as statement rows for the core's SQL (``core_sql``), one statement each; the
    SQL files each under its department's records of the key, as :func:`correction_observations`
    does (no field or record key of their own)."""
    return statement_rows_of(
        corrections_df.select(
            "key_kind",
            "key",
            "element",
            "value",
            "department",
            "resource",
            F.lit(None).cast("string").alias("field"),
            F.lit(None).cast("string").alias("record_key"),
            F.concat(F.lit("verification/"), F.col("ticket_id")).alias("batch_id"),
            F.col("corrected_at").cast("timestamp").alias("observed_at"),
            F.lit(CORRECTION_SOURCE).alias("source_file"),
            F.lit(0).cast("long").alias("row_number"),
        )
    )
