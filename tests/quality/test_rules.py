from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from jobs.catalog.loader import load_catalog
from jobs.cli import main
from jobs.quality import rules, suites
from jobs.settings import Settings

SHIPPED = Path(rules.__file__).resolve().parents[2] / "schemas" / rules.RULES_FILE


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(Settings().schemas_root)


@pytest.fixture
def write_rules(tmp_path):
    """Writes a rules file under ``tmp_path`` (the shipped text, edited) and loads it."""

    def write(text: str) -> rules.Rules:
        path = tmp_path / rules.RULES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return rules.load_rules(tmp_path)

    return write


def shipped_text() -> str:
    return SHIPPED.read_text(encoding="utf-8")


def with_resources(overrides: str) -> str:
    text = shipped_text()
    assert "\nresources: {}\n" in text
    return text.replace("\nresources: {}\n", "\nresources:\n" + overrides)


def checks_of(catalog, quality_rules, resource_id: str) -> dict[str, rules.Expectation]:
    resource = catalog.resource(resource_id)
    return {c.name: c for c in rules.resource_checks(resource, catalog, quality_rules)}


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_rules_generate_the_committed_suites(catalog):
    assert suites.stale_suites(catalog) == []


def test_an_element_threshold_is_tuned_in_the_rules_file(catalog, write_rules):
    text = shipped_text()
    tuned = text.replace(
        "      kwargs: {min_value: 0}\n      severity: warning\n      threshold: 0.0",
        "      kwargs: {min_value: 0}\n      severity: warning\n      threshold: 0.02",
    )
    assert tuned != text
    quality_rules = write_rules(tuned)
    suite = suites.generate_suite(catalog.resource("scjgj.enterprise"), catalog, {}, quality_rules)
    capital = suite.expectation("registered_capital.non_negative")
    assert (capital.threshold, capital.mostly) == (0.02, 0.98)
    check = checks_of(catalog, quality_rules, "scjgj.enterprise")["registered_capital.non_negative"]
    assert (
        check.source
        == f"element default, registered_capital (rules.yaml:{line_of(text, 'non_negative:')})"
    )


def test_a_resource_override_changes_that_resource_only(catalog, write_rules):
    text = with_resources(
        "  gaj.hukou:\n"
        "    fields:\n"
        "      birth_date: {from_1900: {severity: critical}, not_in_future: false}\n"
        "      household_id: {not_null: {threshold: 0.05}}\n"
        "    batch:\n"
        "      row_count_change: {max_change: 0.2}\n"
        "      freshness: {workdays: {daily: 3}}\n"
    )
    quality_rules = write_rules(text)
    hukou = checks_of(catalog, quality_rules, "gaj.hukou")
    student = checks_of(catalog, quality_rules, "jyj.student")

    assert hukou["birth_date.from_1900"].severity == "critical"
    assert hukou["birth_date.from_1900"].kwargs == {
        "column": "birth_date",
        "min_value": "1900-01-01",
    }
    assert hukou["birth_date.from_1900"].source.startswith("resource override (rules.yaml:")
    assert "birth_date.not_in_future" not in hukou
    assert hukou["household_id.not_null"].threshold == 0.05
    assert "held above 5% missing" in hukou["household_id.not_null"].notes
    assert hukou["batch.row_count_change"].meta == {"max_change": 0.2}
    assert hukou["batch.freshness"].meta == {"freshness_workdays": 4}
    assert student["birth_date.from_1900"].severity == "warning"
    assert "birth_date.not_in_future" in student
    assert student["batch.row_count_change"].meta == {"max_change": 0.5}


def test_a_resource_adds_a_check_written_in_full(catalog, write_rules):
    quality_rules = write_rules(
        with_resources(
            "  gaj.hukou:\n"
            "    fields:\n"
            "      registered_on:\n"
            "        from_1949:\n"
            "          type: expect_column_values_to_be_between\n"
            "          kwargs: {min_value: '1949-10-01'}\n"
            "          severity: warning\n"
            "          threshold: 0.0\n"
            "          dimension: validity\n"
            "          notes: '{label} is on or after {min_value}.'\n"
        )
    )
    check = checks_of(catalog, quality_rules, "gaj.hukou")["registered_on.from_1949"]
    assert check.kwargs == {"column": "registered_on", "min_value": "1949-10-01"}
    assert check.notes == "registered_on (登记日期) is on or after 1949-10-01."


def test_a_new_check_that_is_not_written_in_full_names_its_line(catalog, write_rules):
    text = with_resources(
        "  gaj.hukou:\n    fields:\n      full_name: {max_length: {severity: critical}}\n"
    )
    quality_rules = write_rules(text)
    with pytest.raises(
        rules.RulesError, match=rf"rules.yaml:{line_of(text, 'max_length')}: .*needs type, kwargs"
    ):
        checks_of(catalog, quality_rules, "gaj.hukou")


@pytest.mark.parametrize(
    ("old", "new", "needle", "reason"),
    [
        (
            "  unique_in_batch: {",
            "  unique_in_batch: {severty: critical, ",
            "unique_in_batch",
            "unknown key 'severty'",
        ),
        (
            "row_count_change: {max_change: 0.5",
            "row_count_change: {max_change: half",
            "row_count_change",
            "batch.row_count_change.max_change: must be a number, got str 'half'",
        ),
        (
            "    grace_workdays: 1",
            "    grace_workdays: 1.5",
            "grace_workdays",
            "must be a whole number, got float 1.5",
        ),
        (
            "accuracy: {severity: warning",
            "accuracy: {severity: fatal",
            "accuracy: {",
            "severity 'fatal' is not one of",
        ),
        (
            "    required: {severity: critical, threshold: 0.01}",
            "    required: {severity: critical, threshold: 1.5}",
            "threshold: 1.5",
            "at least 0 and below 1",
        ),
        (
            "    not_in_future: false",
            "    not_in_future: true",
            "not_in_future: true",
            "true means nothing",
        ),
        (
            "workdays: {realtime: 1, ",
            "workdays: {",
            "freshness:",
            "needs every update cycle; missing realtime",
        ),
    ],
)
def test_a_malformed_rules_file_names_file_and_line(write_rules, old, new, needle, reason):
    text = shipped_text()
    assert old in text
    broken = text.replace(old, new, 1)
    with pytest.raises(rules.RulesError) as error:
        write_rules(broken)
    message = str(error.value)
    assert re.search(rf"rules.yaml:{line_of(broken, needle)}: .*{re.escape(reason)}", message), (
        message
    )


def test_rules_naming_what_the_catalog_lacks_name_file_and_line(catalog, write_rules):
    text = with_resources(
        "  gaj.nothing:\n    batch: {}\n  gaj.hukou:\n    fields: {nickname: {type: false}}\n"
    )
    quality_rules = write_rules(text)
    with pytest.raises(rules.RulesError) as error:
        rules.check_rules_against(quality_rules, catalog)
    message = str(error.value)
    assert (
        f"rules.yaml:{line_of(text, 'gaj.nothing')}: resources: unknown resource 'gaj.nothing'"
        in message
    )
    assert (
        f"rules.yaml:{line_of(text, 'nickname')}: resources: gaj.hukou has no field 'nickname'"
        in message
    )


def test_cross_field_file_with_a_wrong_type_names_file_and_line(tmp_path):
    bad = tmp_path / "cross_field.yaml"
    bad.write_text(
        "gaj.hukou:\n"
        "  - name: x\n"
        "    type: expect_column_values_to_not_be_null\n"
        "    kwargs: [full_name]\n"
        "    severity: warning\n"
        "    dimension: completeness\n"
        "    colour: red\n",
        encoding="utf-8",
    )
    with pytest.raises(rules.RulesError) as error:
        rules.load_cross_field(bad)
    message = str(error.value)
    assert f"{bad}:4: gaj.hukou[x].kwargs: must be a mapping, got list" in message
    assert f"{bad}:7: gaj.hukou[x]: unknown key 'colour'" in message


def test_show_lists_every_check_of_a_resource_and_where_it_comes_from(capsys):
    assert main(["quality", "show", "gaj.hukou"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    suite = suites.load_suite("gaj.hukou")
    assert set(lines) == set(suite.names)
    assert re.search(
        r"birth_date\.from_1900 +warning +0 +validity +element default, birth_date \(rules\.yaml:\d+\)",
        out,
    )
    assert re.search(
        r"person_id\.not_null +critical +0 +completeness +role default, key field", out
    )
    assert re.search(r"batch\.freshness .*batch default .*Delivered within 2 working days", out)
    assert re.search(r"batch\.row_count_change .*within ±50% of the previous batch", out)
    assert re.search(r"gender\.matches_id .*cross-field \(cross_field\.yaml:\d+\)", out)


def test_show_as_json_carries_kwargs_and_accuracy(capsys):
    assert main(["quality", "show", "jyj.student", "--json"]) == 0
    rows = {r["check"]: r for r in json.loads(capsys.readouterr().out)}
    accuracy = rows["birth_date.matches_gaj_hukou"]
    assert (accuracy["threshold"], accuracy["source"].split(" (")[0]) == (0.05, "accuracy default")
    assert rows["birth_date.from_1900"]["kwargs"] == {
        "column": "birth_date",
        "min_value": "1900-01-01",
    }


def test_show_of_an_unknown_resource_is_a_usage_error(capsys):
    assert main(["quality", "show", "gaj.nothing"]) == 2
    assert "unknown resource" in capsys.readouterr().err


def test_the_rules_file_dumps_back_to_the_same_data():
    data = rules.load_rules(SHIPPED.parents[1]).raw
    assert yaml.safe_load(yaml.safe_dump(data)) == data
