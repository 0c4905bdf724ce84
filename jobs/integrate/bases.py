"""The base tables a build writes and their key columns: one list, importable without Spark
(the share commands and the DAG files read it too)."""

from __future__ import annotations

#: Base tables written by a build, in order; each has a key column and ``disputed_elements``.
BASE_TABLES: dict[str, str] = {
    "population": "person_id",
    "legal_entity": "uscc",
    "parcel": "parcel_code",
    "real_estate_unit": "unit_number",
    "standard_address": "address_code",
    "e_licence": "licence_id",
}
