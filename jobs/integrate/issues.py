"""Issues for verification (校核): every conflict and anomaly a build finds, one row each.

Conflicts (:mod:`jobs.integrate.conflicts`): departments state different values of an element
checked for conflicts; marital status is compared with the marriage registry
(:mod:`jobs.integrate.population`). Anomalies (:mod:`jobs.integrate.anomalies`): rules across
the bases (a deceased person still insured, a licence held by a deregistered entity …). The
rows have :data:`~jobs.integrate.conflicts.ISSUE_COLUMNS`; the build turns them into
``governance/conflicts`` and verification tickets (:mod:`jobs.govern.tickets`).
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from jobs.frames import union_all
from jobs.integrate import anomalies
from jobs.integrate.config import IntegrationConfig
from jobs.integrate.conflicts import ISSUE_COLUMNS, value_conflicts, without_subsumed
from jobs.integrate.population import marital_status_attribute, marital_status_conflicts


def find_issues(
    values_df: DataFrame,
    config: IntegrationConfig,
    population_df: DataFrame,
    legal_entity_df: DataFrame,
    parcel_df: DataFrame,
    e_licence_df: DataFrame,
    insurance_df: DataFrame,
    marriage_parties_df: DataFrame,
    quarantined_df: DataFrame | None = None,
    observations_df: DataFrame | None = None,
) -> DataFrame:
    """Conflicts and anomalies, one row per issue (``governance/conflicts`` before tickets).

    ``quarantined_df``: identities in quarantined records (:mod:`jobs.integrate.quarantine`)
    that explain a key missing from a base. ``observations_df``: the attribute observations,
    for marital status statements compared with the marriage registry (a derived attribute).
    """
    must_be_alive = [t.type for t in config.licence_types.values() if t.holder_must_be_alive]
    id_anomalies = anomalies.id_mismatches(population_df)
    others = [
        anomalies.deceased_still_insured(population_df, insurance_df),
        anomalies.deceased_holds_valid_licence(e_licence_df, must_be_alive),
        anomalies.deceased_married(population_df, marriage_parties_df),
        anomalies.deregistered_but_active_at_tax(legal_entity_df),
        anomalies.legal_representative_not_in_population(legal_entity_df, quarantined_df),
        anomalies.holders_not_in_base(
            e_licence_df,
            population_df.select("person_id"),
            legal_entity_df.select("uscc"),
            quarantined_df,
        ),
        anomalies.licence_expired(e_licence_df),
        anomalies.parcel_anomalies(parcel_df),
    ]
    conflicts = without_subsumed(value_conflicts(values_df, config), id_anomalies)
    marital = marital_status_attribute(config)
    if marital is not None and marital.conflict and observations_df is not None:
        marital_conflicts = marital_status_conflicts(
            observations_df, population_df, marriage_parties_df, marital.authority
        )
        conflicts = conflicts.unionByName(marital_conflicts)
    return union_all([conflicts, id_anomalies, *others]).select(*[c for c, _ in ISSUE_COLUMNS])
