from __future__ import annotations

import ast
import copy
import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from jobs.policy.profiles import (
    NOT_YET_ENFORCED,
    NUMBER_FIELDS,
    PolicyProfile,
    PolicyProfileError,
    Retention,
    configured_profile,
    list_profiles,
    load_profile,
    load_profiles,
)
from jobs.settings import PROJECT_ROOT, Settings

SCHEMAS = PROJECT_ROOT / "schemas"
SHIPPED = SCHEMAS / "policy_profiles.yaml"
SEED_PREFIX = {"hebi": "000", "taizhou": "001", "zhenhai": "002", "yunyang": "003", "fushun": "004"}


def shipped_data() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


@pytest.fixture
def write_profiles(tmp_path):
    def write(data: object) -> Path:
        path = tmp_path / "policy_profiles.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    return write


def test_lists_the_five_profiles_in_file_order():
    assert list_profiles(SCHEMAS) == ["hebi", "taizhou", "zhenhai", "yunyang", "fushun"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "hebi",
            dict(
                verification_workdays=10,
                verification_max_extensions=1,
                verification_extension_max_workdays=10,
                conditional_share_answer_workdays=5,
                rectification_workdays=None,
                catalog_update_ask_workdays=10,
                catalog_update_review_workdays=5,
                open_request_answer_workdays=None,
            ),
        ),
        (
            "taizhou",
            dict(
                verification_workdays=10,
                verification_extension_max_workdays=None,
                conditional_share_answer_workdays=3,
                share_demand_answer_workdays=5,
                share_demand_deliver_workdays=5,
                rectification_workdays=7,
                catalog_update_ask_workdays=None,
            ),
        ),
        (
            "zhenhai",
            dict(
                verification_workdays=10,
                conditional_share_answer_workdays=None,
                rectification_workdays=5,
                catalog_update_ask_workdays=5,
            ),
        ),
        (
            "yunyang",
            dict(
                verification_workdays=10,
                verification_max_extensions=1,
                verification_extension_max_workdays=10,
                catalog_update_ask_workdays=10,
                catalog_update_review_workdays=5,
            ),
        ),
        (
            "fushun",
            dict(
                verification_workdays=10,
                open_request_answer_workdays=5,
                conditional_share_answer_workdays=None,
            ),
        ),
    ],
)
def test_numbers_match_the_design_table(name, expected):
    profile = load_profile(name, SCHEMAS)

    assert {field: getattr(profile, field) for field in expected} == expected


@pytest.mark.parametrize(
    ("name", "amount", "unit", "days"),
    [
        ("hebi", 3, "years", 1096),
        ("taizhou", 3, "years", 1096),
        ("zhenhai", 3, "years", 1096),
        ("yunyang", 6, "months", 184),
        ("fushun", 3, "years", 1096),
    ],
)
def test_log_retention_is_kept_exactly_and_in_covering_days(name, amount, unit, days):
    profile = load_profile(name, SCHEMAS)

    assert (profile.log_retention.amount, profile.log_retention.unit) == (amount, unit)
    assert profile.log_retention_days == days


def test_retention_end_never_falls_short_of_the_stated_period():
    three_years, six_months = Retention(3, "years"), Retention(6, "months")

    assert three_years.keep_until(dt.date(2024, 2, 29)) == dt.date(2027, 3, 1)
    assert three_years.keep_until(dt.date(2025, 9, 26)) == dt.date(2028, 9, 26)
    assert six_months.keep_until(dt.date(2025, 8, 31)) == dt.date(2026, 3, 1)
    assert Retention(30, "days").days == 30


def test_documented_defaults_are_marked_as_defaults_not_regulation():
    taizhou = load_profile("taizhou", SCHEMAS)

    assert taizhou.provision("verification_workdays").is_default
    assert taizhou.provision("log_retention").is_default
    assert taizhou.log_retention.is_default
    assert not taizhou.provision("rectification_workdays").is_default
    assert taizhou.provision("rectification_workdays").source == "001 §12"


@pytest.mark.parametrize("name", list(SEED_PREFIX))
def test_every_cited_article_is_from_the_profiles_own_regulation(name):
    profile = load_profile(name, SCHEMAS)

    sources = [p.source for p in profile.provisions if p.source]
    assert sources
    assert all(source.startswith(SEED_PREFIX[name] + " §") for source in sources)
    assert profile.jurisdiction.seed.startswith(SEED_PREFIX[name] + "_")


@pytest.mark.parametrize("name", list(SEED_PREFIX))
def test_every_number_has_an_article_or_is_a_default_or_null(name):
    profile = load_profile(name, SCHEMAS)

    for field in NUMBER_FIELDS:
        provision = profile.provision(field)
        value = getattr(profile, field)
        assert value is None or provision.source or provision.is_default, field


def test_share_type_names_per_profile():
    assert [n for _, n in load_profile("hebi", SCHEMAS).share_types.names] == [
        "无条件共享",
        "有条件共享",
        "不予共享",
    ]
    assert [n for _, n in load_profile("zhenhai", SCHEMAS).share_types.names] == [
        "无条件共享",
        "受限共享",
        "非共享",
    ]
    assert load_profile("fushun", SCHEMAS).share_types.is_default


def test_open_type_names_per_profile():
    assert load_profile("fushun", SCHEMAS).open_types.name("conditional") == "依申请开放"
    assert load_profile("hebi", SCHEMAS).open_types.name("not_open") == "不予开放"
    assert load_profile("yunyang", SCHEMAS).open_types.is_default


@pytest.mark.parametrize("label", ["受限共享", "受限共享类", "受限", "conditional", " 受限共享 "])
def test_share_type_key_from_the_names_departments_write(label):
    assert load_profile("zhenhai", SCHEMAS).share_types.key_of(label) == "conditional"


def test_unknown_share_type_name_lists_the_profiles_names():
    with pytest.raises(KeyError, match="受限共享"):
        load_profile("zhenhai", SCHEMAS).share_types.key_of("有条件共享")


def test_configured_profile_is_the_one_the_settings_name():
    assert configured_profile(Settings()).name == "hebi"
    assert configured_profile(Settings(policy_profile="yunyang")).name == "yunyang"


def test_unknown_configured_profile_names_the_variable_to_fix():
    with pytest.raises(PolicyProfileError, match=r"'beijing' \(GOVLAKE_POLICY_PROFILE\)"):
        configured_profile(Settings(policy_profile="beijing"))


def test_profile_is_frozen():
    profile = load_profile("hebi", SCHEMAS)

    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.verification_workdays = 3  # type: ignore[misc]


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(PolicyProfileError) as error:
        load_profile("beijing", SCHEMAS)

    message = str(error.value)
    assert "'beijing'" in message
    assert "hebi, taizhou, zhenhai, yunyang, fushun" in message


def test_profiles_load_from_another_schemas_root(write_profiles):
    data = shipped_data()
    data["profiles"] = {"testcity": data["profiles"]["hebi"]}
    path = write_profiles(data)

    assert list_profiles(schemas_root=str(path.parent)) == ["testcity"]
    assert load_profile("testcity", schemas_root=str(path.parent)).verification_workdays == 10


def broken(mutate) -> dict:
    data = copy.deepcopy(shipped_data())
    mutate(data["profiles"]["taizhou"])
    return data


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda p: p.pop("rectification_workdays"), "rectification_workdays", "is missing"),
        (
            lambda p: p["rectification_workdays"].update(value=-7),
            "rectification_workdays",
            "whole number of working days >= 0",
        ),
        (
            lambda p: p["verification_workdays"].update(value=None),
            "verification_workdays",
            "a number is required",
        ),
        (
            lambda p: p["rectification_workdays"].pop("source"),
            "rectification_workdays",
            "needs its 'source' article",
        ),
        (
            lambda p: p["rectification_workdays"].update(source="article 12"),
            "rectification_workdays",
            'read like "000 §13"',
        ),
        (
            lambda p: p["verification_workdays"].pop("note"),
            "verification_workdays",
            "a default needs a 'note'",
        ),
        (
            lambda p: p["log_retention"].update(unit="weeks"),
            "log_retention",
            "'unit' must be one of days, months, years",
        ),
        (
            lambda p: p["log_retention"].update(amount=-3),
            "log_retention",
            "'amount' must be a whole number >= 0",
        ),
        (
            lambda p: p["share_types"]["names"].pop("not_shared"),
            "share_types",
            "'names' is missing not_shared",
        ),
        (
            lambda p: p["verification_max_extensions"].update(value=1, source="001 §15"),
            "verification_extension_max_workdays",
            "its length is null",
        ),
        (
            lambda p: p["unconditional_share_reviewed_by"].update(value="city", source="002 §21"),
            "unconditional_share_reviewed_by",
            "must be null or one of bureau, provider, got 'city'",
        ),
    ],
)
def test_validation_errors_name_file_profile_and_field(write_profiles, mutate, field, message):
    path = write_profiles(broken(mutate))

    with pytest.raises(PolicyProfileError) as error:
        load_profile("hebi", schemas_root=str(path.parent))

    text = str(error.value)
    assert str(path) in text
    assert "profile 'taizhou'" in text
    if field:
        assert f"field {field!r}" in text
    assert message in text


@pytest.mark.parametrize(
    ("mutate", "where", "reason", "on_line"),
    [
        (
            lambda p: p["rectification_workdays"].pop("value"),
            "profiles.taizhou.rectification_workdays",
            "missing key 'value'",
            "rectification_workdays:",
        ),
        (
            lambda p: p["rectification_workdays"].update(value="7"),
            "profiles.taizhou.rectification_workdays.value",
            "must be a whole number or null, got str '7'",
            "value: '7'",
        ),
        (
            lambda p: p["rectification_workdays"].update(days=7),
            "profiles.taizhou.rectification_workdays",
            "unknown key 'days' (allowed: value, source, default, note)",
            "days: 7",
        ),
        (
            lambda p: p.update(retention_years=3),
            "profiles.taizhou",
            "unknown key 'retention_years'",
            "retention_years: 3",
        ),
        (
            lambda p: p["open_types"]["names"].update(restricted="受限开放"),
            "profiles.taizhou.open_types.names",
            "unknown key 'restricted'",
            "restricted: 受限开放",
        ),
        (
            lambda p: p["log_retention"].update(default="yes"),
            "profiles.taizhou.log_retention.default",
            "must be true or false, got str 'yes'",
            "default: 'yes'",
        ),
    ],
)
def test_shape_errors_name_file_line_and_key_path(write_profiles, mutate, where, reason, on_line):
    path = write_profiles(broken(mutate))

    with pytest.raises(PolicyProfileError) as error:
        load_profiles(schemas_root=str(path.parent))

    found = re.search(
        rf"{re.escape(str(path))}:(\d+): {re.escape(where)}: {re.escape(reason)}", str(error.value)
    )
    assert found, str(error.value)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert on_line in lines[int(found.group(1)) - 1]


def test_every_problem_is_reported_at_once(write_profiles):
    def mutate(p):
        p["rectification_workdays"]["value"] = -1
        p["catalog_update_ask_workdays"]["value"] = -2

    path = write_profiles(broken(mutate))

    with pytest.raises(PolicyProfileError) as error:
        load_profiles(schemas_root=str(path.parent))

    assert "rectification_workdays" in str(error.value)
    assert "catalog_update_ask_workdays" in str(error.value)


def test_uppercase_profile_name_is_rejected(write_profiles):
    data = shipped_data()
    data["profiles"]["Hebi"] = data["profiles"].pop("hebi")
    path = write_profiles(data)

    with pytest.raises(PolicyProfileError, match="profile 'Hebi'"):
        load_profiles(schemas_root=str(path.parent))


def test_unknown_top_level_key_is_rejected(write_profiles):
    data = shipped_data()
    data["profile"] = {}
    path = write_profiles(data)

    with pytest.raises(
        PolicyProfileError, match=r"policy_profiles.yaml:\d+: unknown key 'profile'"
    ):
        load_profiles(schemas_root=str(path.parent))


def test_missing_profiles_file_is_an_error(tmp_path):
    with pytest.raises(PolicyProfileError, match="cannot read policy profiles"):
        load_profile("hebi", schemas_root=str(tmp_path))


def test_invalid_yaml_is_an_error(tmp_path):
    (tmp_path / "policy_profiles.yaml").write_text("profiles: [hebi\n", encoding="utf-8")

    with pytest.raises(PolicyProfileError, match="not valid YAML"):
        load_profile("hebi", schemas_root=str(tmp_path))


def test_as_dict_carries_values_and_sources():
    data = load_profile("yunyang", SCHEMAS).as_dict()

    assert data["verification_workdays"] == {
        "value": 10,
        "source": "003 §23",
        "default": False,
        "enforced": True,
    }
    assert data["catalog_update_ask_workdays"]["enforced"] is True  # a catalog change counts it
    assert data["log_retention"]["days"] == 184
    assert data["share_types"]["names"]["not_shared"] == "不予共享"


def _names_read_in(path: Path) -> set[str]:
    """Attribute names and string keys a module uses (docstrings aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            names.add(node.value)
    return names


def test_every_profile_value_is_read_by_code_or_declared_not_yet_enforced():
    profile_fields = [
        f.name
        for f in dataclasses.fields(PolicyProfile)
        if f.name not in ("name", "jurisdiction", "provisions")
    ]
    # The profile module and its printing command show every value; they enforce none.
    readers = [
        path
        for folder in ("jobs", "dags")
        for path in (PROJECT_ROOT / folder).rglob("*.py")
        if path.parent != PROJECT_ROOT / "jobs" / "policy"
    ]
    read = set().union(*(_names_read_in(path) for path in readers))

    assert set(NOT_YET_ENFORCED) <= set(profile_fields)
    assert [f for f in profile_fields if f not in read and f not in NOT_YET_ENFORCED] == []
    assert [f for f in NOT_YET_ENFORCED if f in read] == []


def test_zhenhai_reviews_applications_for_unconditional_data_at_the_bureau():
    zhenhai = load_profile("zhenhai", SCHEMAS)

    assert zhenhai.unconditional_share_reviewed_by == "bureau"
    assert zhenhai.provision("unconditional_share_reviewed_by").source == "002 §21"
    assert load_profile("hebi", SCHEMAS).unconditional_share_reviewed_by is None
