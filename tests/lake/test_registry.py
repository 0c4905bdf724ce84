from __future__ import annotations

import ast
import importlib
import inspect
import json

import pytest

from jobs.lake import registry
from jobs.lake.paths import LAYERS
from jobs.lake.registry import (
    BASE_TABLES,
    OPEN_DATASET,
    OPEN_LIST,
    POOL,
    POPULATION,
    REIDENTIFICATION,
    TABLES,
)
from jobs.settings import PROJECT_ROOT, Settings

#: Modules that handle the lake as a whole (every table, whatever it is) or print where it is.
WHOLE_LAKE_MODULES = {
    "jobs/audit/hook.py",  # names a write's target relative to the roots
    "jobs/audit/log.py",  # keeps the audit log's anchor next to the lake root, outside it
    "jobs/backup/backup.py",  # copies, restores and destroys tables by their relative paths
    "jobs/backup/drill.py",  # compares every table of the lake with its restored copy
    "jobs/backup/workflow.py",  # restores the store into the live one only for the live lake
    "jobs/demo.py",  # prints the roots
    "jobs/ingest/lock.py",  # keeps the writers' lock files in the lake root (not tables)
    "jobs/reports/build.py",  # prints the lake root on the pages
    "jobs/settings.py",  # owns the roots: checks the backup root is outside the lake
}


def _product_modules():
    for folder in ("jobs", "dags"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT).as_posix()
            yield relative, ast.parse(path.read_text(encoding="utf-8"), relative)


def _constant_name(table):
    return next(name for name, value in vars(registry).items() if value is table)


def test_every_entry_has_a_known_layer_a_grain_and_a_distinct_path():
    assert {t.layer for t in TABLES} <= set(LAYERS)
    assert all(t.grain and t.writer for t in TABLES)
    assert len({t.path for t in TABLES}) == len(TABLES)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.path)
def test_the_writer_of_every_table_exists_and_names_the_table(table):
    module_name, _, function_name = table.writer.rpartition(".")
    writer = getattr(importlib.import_module(module_name), function_name)
    source = inspect.getsource(writer)
    names = {_constant_name(table)} | ({"BASE_TABLES"} if table in BASE_TABLES else set())
    assert any(name in source for name in names), f"{table.writer} does not name {names}"


def test_no_module_outside_the_lake_lays_out_a_table_path():
    offenders = []
    for relative, tree in _product_modules():
        if relative.startswith("jobs/lake/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "jobs.lake.paths":
                offenders += [
                    f"{relative}:{node.lineno} imports {a.name}"
                    for a in node.names
                    if a.name != "join_uri"
                ]
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("lake_root", "reid_root")
                and relative not in WHOLE_LAKE_MODULES
            ):
                offenders.append(f"{relative}:{node.lineno} reads settings.{node.attr}")
    assert offenders == []


def test_a_family_member_is_named_by_its_parts(tmp_path):
    settings = Settings(lake_root=str(tmp_path / "lake"), reid_root=str(tmp_path / "reid"))
    assert POOL.uri(settings, "gaj", "hukou") == str(tmp_path / "lake" / "pool" / "gaj" / "hukou")
    assert REIDENTIFICATION.uri(settings, "mzj", "population") == str(
        tmp_path / "reid" / "mzj" / "population"
    )
    assert POPULATION.uri(settings) == str(tmp_path / "lake" / "base" / "population")
    assert POOL.relative_path("gaj", "hukou") == "pool/gaj/hukou"
    with pytest.raises(ValueError, match="takes 2 part"):
        POOL.uri(settings, "gaj")
    with pytest.raises(ValueError, match="one table"):
        POPULATION.uri(settings, "x")


def test_a_path_given_as_data_finds_its_entry_a_single_table_first(tmp_path):
    settings = Settings(lake_root=str(tmp_path / "lake"))
    assert registry.table_at("base", "population") is POPULATION
    assert registry.table_at("open", "open_list") is OPEN_LIST
    assert registry.table_at("open", "gaj.hukou") is OPEN_DATASET
    assert registry.uri_at(settings, "pool", "gaj", "hukou") == POOL.uri(settings, "gaj", "hukou")
    with pytest.raises(KeyError, match="base/nothing is not a lake table"):
        registry.table_at("base", "nothing")


def test_base_tables_give_the_keys_and_the_four_base_databases():
    assert registry.BASE_KEYS == {
        "population": "person_id",
        "legal_entity": "uscc",
        "parcel": "parcel_code",
        "real_estate_unit": "unit_number",
        "standard_address": "address_code",
        "e_licence": "licence_id",
    }
    assert registry.BASE_DATABASES == ("population", "legal_entity", "spatial", "e_licence")


def test_govlake_tables_lists_every_table(capsys):
    from jobs.cli import main

    assert main(["tables"]) == 0
    out = capsys.readouterr().out
    assert all(t.path in out and t.writer in out for t in TABLES)
    assert main(["tables", "--layer", "base", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["path"] for t in listed] == [t.path for t in TABLES if t.layer == "base"]
    assert listed[2] == {
        "path": "base/population",
        "layer": "base",
        "name": "population",
        "grain": "one row per natural person",
        "writer": "jobs.integrate.build.build_bases",
        "keys": ["person_id"],
        "database": "population",
    }
