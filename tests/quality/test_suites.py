from __future__ import annotations

import json

import pytest

from jobs.catalog.loader import load_catalog
from jobs.quality import rules, suites
from jobs.settings import Settings


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(Settings().schemas_root)


def test_committed_suites_match_what_the_catalog_generates(catalog):
    assert suites.stale_suites(catalog) == []


def test_every_pool_table_has_a_suite_file(catalog):
    for rid in catalog.resources:
        assert suites.suite_path(rid).exists(), rid


def test_every_expectation_carries_severity_threshold_and_dimension(catalog):
    for rid in catalog.resources:
        suite = suites.load_suite(rid)
        assert suite.expectations
        for exp in suite.expectations:
            assert exp.severity in rules.SEVERITIES, exp.name
            assert exp.dimension in rules.DIMENSIONS, exp.name
            assert 0.0 <= exp.threshold < 1.0, exp.name
            assert exp.type in rules.SUPPORTED_TYPES, exp.name
            if exp.threshold > 0 and exp.is_row_level:
                assert exp.mostly == pytest.approx(1 - exp.threshold)


def test_hukou_suite_has_catalog_and_cross_field_checks():
    suite = suites.load_suite("gaj.hukou")
    by_name = {e.name: e for e in suite.expectations}
    assert by_name["person_id.not_null"].severity == "critical"
    assert by_name["person_id.format"].type == "expect_column_values_to_match_regex"
    assert by_name["gender.in_code_table"].kwargs["value_set"] == ["0", "1", "2", "9"]
    assert by_name["birth_date.from_1900"].kwargs["min_value"] == "1900-01-01"
    assert by_name["birth_date.not_in_future"].parameters == ("today",)
    assert by_name["person_id.unique_in_batch"].dimension == "uniqueness"
    assert by_name["batch.row_count_change"].parameters == ("row_count_min", "row_count_max")
    assert by_name["batch.freshness"].dimension == "timeliness"
    assert by_name["birth_date.matches_id"].kwargs["column_B"] == "person_id_birth_date"
    assert by_name["birth_date.matches_id"].meta["source"] == "cross_field"


def test_licence_and_death_cross_field_checks_are_merged():
    licence = {e.name: e for e in suites.load_suite("gaj.driving_licence").expectations}
    assert licence["valid_to.not_before_valid_from"].kwargs == {
        "column_A": "valid_to",
        "column_B": "valid_from",
        "or_equal": True,
        "ignore_row_if": "either_value_is_missing",
        "mostly": 0.99,
    }
    assert "valid_to.not_in_future" not in licence
    death = {e.name for e in suites.load_suite("wjw.death_cert").expectations}
    assert "death_date.not_before_birth_date" in death


def test_ranges_for_capital_and_areas():
    enterprise = {e.name: e for e in suites.load_suite("scjgj.enterprise").expectations}
    assert enterprise["registered_capital.non_negative"].kwargs == {
        "column": "registered_capital",
        "min_value": 0,
    }
    parcel = {e.name: e for e in suites.load_suite("zrzyj.parcel").expectations}
    assert parcel["land_area.positive"].kwargs["strict_min"] is True


def test_compound_key_uses_compound_uniqueness():
    insured = {e.name: e for e in suites.load_suite("rsj.insured").expectations}
    exp = insured["person_id+insurance_type.unique_in_batch"]
    assert exp.type == "expect_compound_columns_to_be_unique"
    assert exp.kwargs["column_list"] == ["person_id", "insurance_type"]


def test_accuracy_compares_student_with_the_authoritative_hukou_by_id():
    suite = suites.load_suite("jyj.student")
    checks = {a.name: a for a in suite.accuracy}
    birth = checks["birth_date.matches_gaj_hukou"]
    assert (birth.authority, birth.authority_column, birth.key) == (
        "gaj.hukou",
        "birth_date",
        ("person_id",),
    )
    assert suites.load_suite("gaj.hukou").accuracy == ()


def test_hand_edited_suite_without_regeneration_is_refused(tmp_path):
    data = json.loads(suites.suite_path("gaj.hukou").read_text(encoding="utf-8"))
    data["expectations"][0]["meta"]["threshold"] = 0.5
    with pytest.raises(suites.SuiteError, match="regenerate"):
        suites.parse_suite(data)


def test_version_changes_with_content(catalog):
    resource = catalog.resource("gaj.hukou")
    base = suites.generate_suite(resource, catalog, {})
    with_cross = suites.generate_suite(resource, catalog, suites.load_cross_field())
    assert base.version != with_cross.version
    assert with_cross.version == suites.load_suite("gaj.hukou").version


def test_cross_field_file_rejects_unknown_dimension_naming_file_and_line(tmp_path):
    bad = tmp_path / "cross_field.yaml"
    bad.write_text(
        "gaj.hukou:\n  - {name: x, type: expect_column_values_to_not_be_null, "
        "kwargs: {column: full_name}, severity: warning, dimension: beauty}\n",
        encoding="utf-8",
    )
    with pytest.raises(rules.RulesError, match=f"{bad}:2: gaj.hukou\\[x\\]: dimension 'beauty'"):
        rules.load_cross_field(bad)


def test_cross_field_expectation_on_unknown_column_is_refused(catalog, tmp_path):
    bad = tmp_path / "cross_field.yaml"
    bad.write_text(
        "gaj.hukou:\n  - {name: x, type: expect_column_pair_values_to_be_equal, "
        "kwargs: {column_A: birth_date, column_B: nope}, severity: warning, dimension: consistency}\n",
        encoding="utf-8",
    )
    with pytest.raises(suites.SuiteError, match="nope"):
        suites.generate_suite(catalog.resource("gaj.hukou"), catalog, rules.load_cross_field(bad))
