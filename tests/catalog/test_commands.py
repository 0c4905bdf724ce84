from __future__ import annotations

import json
import re
import unicodedata

import pytest

from jobs.catalog import commands
from jobs.cli import main
from jobs.settings import PROJECT_ROOT, Settings
from tests.catalog.fixtures import build_catalog

REAL_ROOT = str(PROJECT_ROOT / "schemas")

ZHENHAI_LIKE = {
    "share": {"unconditional": "无条件共享", "conditional": "受限共享", "not_shared": "非共享"},
    "open": {"unconditional": "无条件开放", "on_request": "依申请开放", "not_open": "不予开放"},
}


@pytest.fixture(autouse=True)
def english_only(monkeypatch):
    # The policy profile module belongs to another area; these tests do not depend on it.
    monkeypatch.setattr(commands, "policy_vocabulary", lambda _settings: None)
    monkeypatch.delenv("GOVLAKE_SCHEMAS_ROOT", raising=False)


@pytest.fixture
def small_root(tmp_path):
    return str(build_catalog(tmp_path / "schemas"))


def test_list_prints_one_row_per_real_resource(capsys):
    assert main(["catalog", "list", "--root", REAL_ROOT]) == 0
    out = capsys.readouterr().out
    rows = out.splitlines()[2:]
    assert len(rows) == 14
    hukou = next(row for row in rows if row.startswith("gaj.hukou "))
    assert hukou.split() == [
        "gaj.hukou",
        "户籍人口信息",
        "citizen_id",
        "csv",
        "daily",
        "unconditional",
        "not_open",
        "3",
        "population",
    ]


def test_list_header_names_the_catalog_items(small_root, capsys):
    main(["catalog", "list", "--root", small_root])
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == [
        "id",
        "title",
        "key",
        "format",
        "frequency",
        "share",
        "open",
        "level",
        "feeds",
    ]


def test_list_aligns_columns_by_display_width_of_chinese_titles(capsys):
    main(["catalog", "list", "--root", REAL_ROOT])
    rows = capsys.readouterr().out.splitlines()[2:]
    # Where the key column starts, counting a Chinese character as two terminal columns.
    key_at = [row.index(f" {row.split()[2]} ") + 1 for row in rows]
    assert len({display_width(row[:at]) for row, at in zip(rows, key_at, strict=True)}) == 1
    assert len(set(key_at)) > 1


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_list_json_gives_machine_readable_rows(small_root, capsys):
    assert main(["catalog", "list", "--root", small_root, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == ["gaj.hukou", "mzj.marriage"]
    assert rows[1]["share_type"] == "conditional"
    assert rows[1]["share_type_name"] is None
    assert rows[1]["feeds"] == ["population", "e_licence"]


def test_list_shows_the_profile_vocabulary_next_to_the_types(small_root, monkeypatch, capsys):
    monkeypatch.setattr(commands, "policy_vocabulary", lambda _settings: ZHENHAI_LIKE)
    main(["catalog", "list", "--root", small_root])
    out = capsys.readouterr().out
    assert "conditional (受限共享)" in out
    assert "unconditional (无条件开放)" in out


def test_show_prints_fields_with_source_columns_elements_and_authority(capsys):
    assert main(["catalog", "show", "gaj.hukou", "--root", REAL_ROOT]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gaj.hukou  户籍人口信息")
    assert "key               citizen_id: person_id" in out
    assert "share             unconditional" in out
    person_id = next(line for line in out.splitlines() if line.startswith("person_id (key)"))
    assert "citizen_id 公民身份号码" in person_id
    assert "公民身份号码, 身份证号, 身份证号码" in person_id
    gender = next(line for line in out.splitlines() if line.startswith("gender "))
    assert "string [gender]" in gender
    assert "男→1" in gender
    assert gender.rstrip().endswith("gaj.hukou *")


def test_show_lists_what_the_resource_is_authoritative_for(capsys):
    main(["catalog", "show", "wjw.death_cert", "--root", REAL_ROOT])
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "authoritative for" in line)
    assert "death_date" in line


def test_show_json_has_every_field_with_element_and_authority(capsys):
    assert main(["catalog", "show", "gaj.hukou", "--root", REAL_ROOT, "--json"]) == 0
    details = json.loads(capsys.readouterr().out)
    assert details["id"] == "gaj.hukou"
    assert details["department"] == {"code": "gaj", "name": "公安局"}
    assert details["key"] == {"kind": "citizen_id", "fields": ["person_id"]}
    gender = next(f for f in details["fields"] if f["name"] == "gender")
    assert gender["element"] == "gender"
    assert gender["code_table"] == "gender"
    assert gender["authority"] == ["gaj.hukou"]
    assert gender["is_authoritative"] is True
    assert gender["source_columns"] == ["性别"]
    assert "birth_date" in details["authoritative_for"]


def test_show_json_shows_conditional_share_condition_and_legal_basis(small_root, capsys):
    main(["catalog", "show", "mzj.marriage", "--root", small_root, "--json"])
    share = json.loads(capsys.readouterr().out)["share"]
    assert share == {
        "type": "conditional",
        "type_name": None,
        "condition": "依法履职需核验婚姻状况的部门",
        "legal_basis": "000 §14–15",
    }


def test_show_unknown_resource_exits_1_listing_known_ones(small_root, capsys):
    assert main(["catalog", "show", "gaj.nothing", "--root", small_root]) == 1
    err = capsys.readouterr().err
    assert "unknown resource 'gaj.nothing'" in err
    assert "gaj.hukou, mzj.marriage" in err


def test_validate_real_catalog_exits_0_with_a_summary(capsys):
    assert main(["catalog", "validate", "--root", REAL_ROOT]) == 0
    out = capsys.readouterr().out
    assert out.startswith("catalog OK at ")
    assert "14 resources" in out


def test_validate_uses_the_settings_root_by_default(small_root, monkeypatch, capsys):
    monkeypatch.setenv("GOVLAKE_SCHEMAS_ROOT", small_root)
    assert main(["catalog", "validate"]) == 0
    assert "2 departments, 2 resources (7 fields)" in capsys.readouterr().out


def test_validate_broken_catalog_exits_1_listing_every_problem(tmp_path, capsys):
    root = build_catalog(tmp_path / "schemas", "keys")
    assert main(["catalog", "validate", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "3 problems in the catalog at" in err
    assert "resources/mzj/marriage.yaml:1: key.fields: the resource has no key field" in err
    assert re.search(r"resources/gaj/hukou.yaml:\d+: key.kind: key kind 'uscc' does not match", err)


def test_list_on_broken_catalog_exits_1(tmp_path, capsys):
    root = build_catalog(tmp_path / "schemas", "yaml_syntax")
    assert main(["catalog", "list", "--root", str(root)]) == 1
    assert "YAML syntax error" in capsys.readouterr().err


def test_catalog_without_action_prints_help_and_exits_2(capsys):
    assert main(["catalog"]) == 2
    assert "validate" in capsys.readouterr().out


def test_policy_vocabulary_maps_on_request_to_the_profile_conditional_open_name(monkeypatch):
    monkeypatch.undo()  # the real function, not the english_only stand-in
    vocabulary = commands.policy_vocabulary(Settings(schemas_root=REAL_ROOT))
    if vocabulary is None:
        pytest.skip("no policy profile module in this checkout")
    assert vocabulary["open"]["on_request"] == vocabulary["open"]["conditional"]
    assert set(vocabulary["share"]) >= {"unconditional", "conditional", "not_shared"}


def test_policy_vocabulary_falls_back_to_none_when_the_profile_fails(monkeypatch):
    monkeypatch.undo()
    settings = Settings(schemas_root=REAL_ROOT, policy_profile="no_such_profile")
    assert commands.policy_vocabulary(settings) is None
