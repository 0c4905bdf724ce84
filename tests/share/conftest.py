"""Tiny base and pool tables for the share tests, written under each test's lake."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.lake import tables

#: One row per person; includes a null row and a short (bad) ID.
POPULATION_ROWS = [
    (
        "11010119900307002X",
        "张三",
        "1",
        dt.date(1990, 3, 7),
        "13812341234",
        "北京市东城区某街1号",
        "110101",
        ["person_name"],
    ),
    ("110101198512120017", "欧阳娜娜", "2", dt.date(1985, 12, 12), None, None, "110102", []),
    ("1101", None, None, None, "12345", "短", None, []),
]
POPULATION_SCHEMA = (
    "person_id string, person_name string, gender string, birth_date date, phone_number string, "
    "domicile_address string, domicile_region string, disputed_elements array<string>"
)
INSURED_ROWS = [
    ("11010119900307002X", "张三", "pension", "active", "13812341234", "91110000100000000A"),
    ("110101198512120017", "欧阳娜娜", "medical", "terminated", None, None),
]
INSURED_SCHEMA = (
    "person_id string, full_name string, insurance_type string, insurance_status string, "
    "phone string, employer_uscc string"
)


@pytest.fixture
def shared_lake(spark, lake_settings):
    """A lake with base/population, pool/rsj/insured (conditional) and pool/wjw/death_cert
    (not shared), each with a provenance column that no rule describes."""
    population = spark.createDataFrame(POPULATION_ROWS, POPULATION_SCHEMA).selectExpr(
        "*", "named_struct('department', 'gaj', 'batch_id', 'b1') AS person_name_provenance"
    )
    tables.write_table(population, tables.table_uri(lake_settings, "base", "population"))
    insured = spark.createDataFrame(INSURED_ROWS, INSURED_SCHEMA)
    tables.write_table(insured, tables.table_uri(lake_settings, "pool", "rsj", "insured"))
    death = spark.createDataFrame(
        [("11010119900307002X", "张三")], "person_id string, full_name string"
    )
    tables.write_table(death, tables.table_uri(lake_settings, "pool", "wjw", "death_cert"))
    return lake_settings


@pytest.fixture
def lake_settings(lake_settings, tmp_path):
    """The shared lake settings with the re-identification and backup roots under tmp_path too
    (their defaults are project folders, which tests must never touch)."""
    import dataclasses

    return dataclasses.replace(
        lake_settings, reid_root=str(tmp_path / "reid"), backup_root=str(tmp_path / "backups")
    )
