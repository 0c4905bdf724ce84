"""Fixtures for integration tests: pool-shaped DataFrames from a few inline rows, valid keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping

import pytest

from jobs.synth import keys as synth_keys

FULL = "20250101T000000_full"
INCR = "20250108T000000_incr"
INGESTED = dt.datetime(2025, 2, 1, 9, 0, tzinfo=dt.UTC)


def pid(birth: str, sequence: int, region: str = "410622") -> str:
    """A valid citizen ID (GB 11643) born on ``birth`` (YYYY-MM-DD); odd sequence = male."""
    return synth_keys.citizen_id(region, dt.date.fromisoformat(birth), sequence)


def uscc(body: str, authority: str = "9", kind: str = "1") -> str:
    """A valid USCC (GB 32100) with an 8-character organisation-code body."""
    return synth_keys.uscc_code(authority, kind, "410622", body)


def survival(values: Iterable[Mapping]) -> set[tuple]:
    """Attribute values as what survived, from where, and why: Spark's rows (``asDict``) and the
    core SQL's (``to_pylist``) compare by it."""
    columns = ("key", "element", "value", "resource", "field", "batch_id", "row_number")
    columns += ("survived_by", "n_sources", "n_values")
    return {tuple(v[c] for c in columns) for v in values}


@pytest.fixture(scope="session")
def catalog():
    from jobs.catalog.loader import load_catalog
    from jobs.settings import Settings

    return load_catalog(Settings().schemas_root)


@pytest.fixture(scope="session")
def config():
    from jobs.integrate.config import load_integration_config
    from jobs.settings import Settings

    return load_integration_config(Settings())


@pytest.fixture
def pool(spark, catalog) -> Callable[..., object]:
    """``pool("gaj.hukou", [{...}, …], batch=FULL)`` → a DataFrame shaped like the pool table.

    Unset fields are NULL; derived citizen-ID columns and an owner's ``_kind`` are filled the
    way ingestion fills them; row numbers count from 1.
    """
    from jobs.integrate.pipeline import empty_pool

    def build(resource_id: str, rows: list[dict], batch: str = FULL, start_row: int = 1):
        schema = empty_pool(spark, catalog, resource_id).schema
        resource = catalog.resource(resource_id)
        filled = []
        for number, row in enumerate(rows, start=start_row):
            values = {
                "department": resource.department,
                "resource": resource.resource,
                "batch_id": batch,
                "source_file": f"{resource.resource}_{batch}.csv",
                "file_hash": "h",
                "row_number": number,
                "record_hash": f"r{number}",
                "ingested_at": INGESTED,
            }
            for f in resource.fields:
                value = row.get(f.name)
                if f.data_element.type == "date" and isinstance(value, str):
                    value = dt.date.fromisoformat(value)
                values[f.name] = value
                if f.data_element.kind == "citizen_id":
                    valid = isinstance(value, str) and len(value) == 18
                    values[f"{f.name}_birth_date"] = (
                        dt.datetime.strptime(value[6:14], "%Y%m%d").date() if valid else None
                    )
                    values[f"{f.name}_gender"] = (
                        ("1" if int(value[16]) % 2 else "2") if valid else None
                    )
                    values[f"{f.name}_region"] = value[:6] if valid else None
                if f.data_element.id == "owner_id":
                    values[f"{f.name}_kind"] = row.get(f"{f.name}_kind")
            filled.append(tuple(values.get(name) for name in schema.fieldNames()))
        return spark.createDataFrame(filled, schema)

    return build
