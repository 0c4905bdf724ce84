from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from jobs.catalog import (
    Catalog,
    CatalogError,
    Resource,
    clear_catalog_cache,
    load_catalog,
    read_catalog,
)
from jobs.settings import PROJECT_ROOT
from tests.catalog.fixtures import build_catalog

REAL_ROOT = PROJECT_ROOT / "schemas"

# DESIGN §4: the target catalog, resource id → bases it feeds.
DESIGN_RESOURCES = {
    "gaj.hukou": {"population"},
    "gaj.driving_licence": {"e_licence"},
    "wjw.birth_cert": {"population", "e_licence"},
    "wjw.death_cert": {"population"},
    "mzj.marriage": {"population", "e_licence"},
    "mzj.social_org": {"legal_entity"},
    "rsj.insured": {"population", "legal_entity"},
    "jyj.student": {"population"},
    "scjgj.enterprise": {"legal_entity"},
    "scjgj.business_licence": {"e_licence"},
    "swj.taxpayer": {"legal_entity"},
    "zrzyj.parcel": {"spatial"},
    "zrzyj.real_estate": {"spatial", "e_licence"},
    "zrzyj.address": {"spatial"},
}


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.delenv("GOVLAKE_SCHEMAS_ROOT", raising=False)
    clear_catalog_cache()
    yield
    clear_catalog_cache()


@pytest.fixture(scope="module")
def real() -> Catalog:
    return read_catalog(REAL_ROOT)


def problems_of(tmp_path: Path, overlay: str) -> list[str]:
    root = build_catalog(tmp_path / "schemas", overlay)
    with pytest.raises(CatalogError) as caught:
        read_catalog(root)
    lines = [str(problem) for problem in caught.value.problems]
    assert str(caught.value).count("\n") == len(lines)  # the message lists every problem
    return lines


def assert_problem(
    lines: list[str], file: str, entry: str, reason: str, line: int | None = None
) -> None:
    """A problem of ``file`` (at ``line`` if given, at some line or none otherwise)."""
    at = rf":{line}" if line else r"(:\d+)?"
    prefix = re.compile(rf"{re.escape(file)}{at}: {re.escape(entry)}: ")
    matching = [p for p in lines if prefix.match(p) and reason in p]
    assert matching, f"no problem {file}:{line or ''} {entry}: …{reason}… in:\n" + "\n".join(lines)


# --- the real catalog ------------------------------------------------------------------------


def test_real_catalog_has_every_resource_of_the_design(real):
    assert set(real.resources) == set(DESIGN_RESOURCES)


def test_real_catalog_resources_feed_the_design_bases(real):
    feeds = {resource_id: set(resource.feeds) for resource_id, resource in real.resources.items()}
    assert feeds == DESIGN_RESOURCES


def test_real_catalog_keys_persons_by_citizen_id_and_entities_by_uscc(real):
    assert real.resource("gaj.hukou").key.kind == "citizen_id"
    assert real.resource("scjgj.enterprise").key.kind == "uscc"
    assert real.resource("mzj.social_org").key.kind == "uscc"
    assert real.resource("zrzyj.parcel").key.kind == "parcel_code"
    assert real.resource("zrzyj.real_estate").key.kind == "unit_number"


@pytest.mark.parametrize(
    ("element_id", "resource_id"),
    [
        ("person_name", "gaj.hukou"),
        ("gender", "gaj.hukou"),
        ("birth_date", "gaj.hukou"),
        ("ethnicity", "gaj.hukou"),
        ("domicile_address", "gaj.hukou"),
        ("death_date", "wjw.death_cert"),
        ("marital_status", "mzj.marriage"),
        ("entity_name", "scjgj.enterprise"),
        ("legal_representative_name", "scjgj.enterprise"),
        ("registered_capital", "scjgj.enterprise"),
        ("entity_status", "scjgj.enterprise"),
        ("tax_status", "swj.taxpayer"),
    ],
)
def test_real_catalog_authority_follows_one_data_one_source(real, element_id, resource_id):
    assert resource_id in [r.id for r in real.authority_for(element_id)]


def test_gender_code_table_follows_gb_t_2261_1(real):
    table = real.code_table("gender")
    assert table.codes == {"0": "未知的性别", "1": "男", "2": "女", "9": "未说明的性别"}
    assert table.name_to_code["男性"] == "1"


def test_marital_status_code_table_follows_gb_t_2261_2(real):
    assert list(real.code_table("marital_status").codes) == [
        "10",
        "20",
        "21",
        "22",
        "23",
        "30",
        "40",
        "90",
    ]


def test_ethnicity_code_table_lists_56_groups_in_standard_order(real):
    table = real.code_table("ethnicity")
    assert list(table.codes) == [f"{n:02d}" for n in range(1, 57)]
    assert table.codes["01"] == "汉族"
    assert table.codes["15"] == "土家族"
    assert table.codes["30"] == "土族"
    assert table.codes["56"] == "基诺族"
    assert all(name.endswith("族") for name in table.codes.values())
    assert len(set(table.codes.values())) == 56


def test_ethnicity_names_and_short_forms_map_to_codes(real):
    table = real.code_table("ethnicity")
    assert table.name_to_code["汉族"] == "01"
    assert table.name_to_code["汉"] == "01"
    assert table.name_to_code["土"] == "30"
    assert table.name_to_code["土家"] == "15"
    assert table.name_to_code["乌兹别克族"] == "43"
    assert [entry.letter_code for entry in table.entries][:3] == ["HA", "MG", "HU"]


def test_every_real_coded_field_maps_to_codes_of_its_table(real):
    for resource in real.resources.values():
        for field in resource.fields:
            table_id = field.data_element.code_table
            if table_id:
                codes = real.code_table(table_id).codes
                mapped = set(real.value_map(resource.id, field.name).values())
                assert mapped <= set(codes), (resource.id, field.name)


# --- the model -------------------------------------------------------------------------------


def test_load_catalog_reads_the_root_it_is_given(tmp_path):
    root = build_catalog(tmp_path / "schemas")
    assert set(load_catalog(root).resources) == {"gaj.hukou", "mzj.marriage"}


def test_load_catalog_is_cached_per_root(tmp_path):
    first_root = build_catalog(tmp_path / "a" / "schemas")
    second_root = build_catalog(tmp_path / "b" / "schemas")
    first = load_catalog(first_root)
    assert load_catalog(str(first_root)) is first
    assert load_catalog(second_root) is not first


def test_clear_catalog_cache_rereads_the_files(tmp_path):
    root = build_catalog(tmp_path / "schemas")
    first = load_catalog(root)
    (root / "resources" / "mzj" / "marriage.yaml").unlink()
    assert load_catalog(root) is first
    clear_catalog_cache()
    assert set(load_catalog(root).resources) == {"gaj.hukou"}


def test_resource_exposes_id_fields_keys_and_policies(tmp_path):
    catalog = read_catalog(build_catalog(tmp_path / "schemas"))
    hukou = catalog.resource("gaj.hukou")
    assert isinstance(hukou, Resource)
    assert hukou.id == "gaj.hukou"
    assert hukou.field("gender").data_element.code_table == "gender"
    assert [f.name for f in hukou.key_fields] == ["person_id"]
    assert [f.name for f in hukou.required_fields] == ["person_id", "full_name", "gender"]
    assert hukou.share.type == "unconditional"
    assert hukou.open.type == "not_open"
    assert hukou.feeds == ("population",)
    assert hukou.delivery.encoding == "gbk"


def test_resource_is_frozen(tmp_path):
    hukou = read_catalog(build_catalog(tmp_path / "schemas")).resource("gaj.hukou")
    with pytest.raises(dataclasses.FrozenInstanceError):
        hukou.title = "changed"  # type: ignore[misc]


def test_source_column_index_maps_every_synonym_to_its_field(tmp_path):
    hukou = read_catalog(build_catalog(tmp_path / "schemas")).resource("gaj.hukou")
    assert hukou.source_column_index() == {
        "公民身份号码": "person_id",
        "身份证号": "person_id",
        "姓名": "full_name",
        "性别": "gender",
        "出生日期": "birth_date",
    }


def test_unknown_field_raises_key_error_naming_the_resource(tmp_path):
    hukou = read_catalog(build_catalog(tmp_path / "schemas")).resource("gaj.hukou")
    with pytest.raises(KeyError, match=r"gaj\.hukou has no field 'nickname'"):
        hukou.field("nickname")


def test_catalog_lookups_by_department_base_and_authority(tmp_path):
    catalog = read_catalog(build_catalog(tmp_path / "schemas"))
    assert [r.id for r in catalog.resources_of("mzj")] == ["mzj.marriage"]
    assert [r.id for r in catalog.feeding("population")] == ["gaj.hukou", "mzj.marriage"]
    assert [r.id for r in catalog.feeding("e_licence")] == ["mzj.marriage"]
    assert [r.id for r in catalog.authority_for("gender")] == ["gaj.hukou"]
    assert catalog.authority_for("citizen_id") == ()


def test_catalog_lookups_reject_unknown_names(tmp_path):
    catalog = read_catalog(build_catalog(tmp_path / "schemas"))
    with pytest.raises(KeyError, match=r"unknown resource 'gaj\.nothing'"):
        catalog.resource("gaj.nothing")
    with pytest.raises(KeyError, match="unknown department 'xyz'"):
        catalog.resources_of("xyz")
    with pytest.raises(KeyError, match="unknown base database 'economy'"):
        catalog.feeding("economy")


def test_value_map_combines_codes_names_and_code_map_with_code_map_winning(tmp_path):
    catalog = read_catalog(build_catalog(tmp_path / "schemas"))
    mapping = catalog.value_map("gaj.hukou", "gender")
    assert mapping["1"] == "1"
    assert mapping["男"] == "1"
    assert mapping["女性"] == "2"
    assert mapping["M"] == "1"
    assert mapping["F"] == "2"


def test_value_map_is_empty_for_a_field_without_codes(tmp_path):
    catalog = read_catalog(build_catalog(tmp_path / "schemas"))
    assert catalog.value_map("gaj.hukou", "full_name") == {}


def test_resources_are_in_department_order(tmp_path):
    catalog = read_catalog(build_catalog(tmp_path / "schemas"))
    assert list(catalog.resources) == ["gaj.hukou", "mzj.marriage"]


# --- every validation reason -----------------------------------------------------------------


def test_broken_catalog_raises_one_catalog_error_listing_every_problem(tmp_path):
    lines = problems_of(tmp_path, "bad_enums")
    assert len(lines) >= 15


def test_catalog_error_is_a_value_error(tmp_path):
    root = build_catalog(tmp_path / "schemas", "keys")
    with pytest.raises(ValueError, match="problems in the catalog at"):
        load_catalog(root)


def test_reports_yaml_syntax_error_with_its_line(tmp_path):
    lines = problems_of(tmp_path, "yaml_syntax")
    assert_problem(lines, "resources/gaj/hukou.yaml", "line 5, column 6", "YAML syntax error")


def test_unreadable_resource_is_not_echoed_as_unknown_authority(tmp_path):
    lines = problems_of(tmp_path, "yaml_syntax")
    assert len(lines) == 1


def test_reports_duplicate_yaml_key_with_its_line(tmp_path):
    lines = problems_of(tmp_path, "duplicate_yaml_key")
    assert lines == [
        "departments.yaml: line 4, column 5: YAML syntax error: found duplicate key 'name'"
    ]


def test_reports_unknown_keys_at_every_level_with_their_line(tmp_path):
    lines = problems_of(tmp_path, "unknown_keys")
    file = "resources/gaj/hukou.yaml"
    assert_problem(lines, file, "gaj.hukou", "unknown key 'secuirty_level'", line=7)
    assert_problem(lines, file, "delivery", "unknown key 'delimiter'", line=5)
    assert_problem(lines, file, "fields[person_id]", "unknown key 'nullable'", line=12)
    assert_problem(lines, file, "fields[full_name]", "missing key 'required'", line=13)


def test_reports_a_wrong_type_with_its_line(tmp_path):
    lines = problems_of(tmp_path, "bad_enums")
    file = "resources/gaj/hukou.yaml"
    reason = "must be true or false, got str 'yes'"
    assert_problem(lines, file, "fields[person_id].required", reason, line=13)


def test_reports_missing_keys(tmp_path):
    lines = problems_of(tmp_path, "unknown_keys")
    assert_problem(lines, "resources/gaj/hukou.yaml", "gaj.hukou", "missing key 'grain'")
    assert_problem(lines, "resources/gaj/hukou.yaml", "gaj.hukou", "missing key 'security_level'")
    assert_problem(lines, "resources/gaj/hukou.yaml", "fields[full_name]", "missing key 'required'")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("delivery.format", "'xls' is not one of csv, jsonl, xlsx, geojson"),
        ("delivery.encoding", "'latin-1' is not one of utf-8, gbk, gb18030"),
        ("update_frequency", "'hourly' is not one of realtime"),
        ("security_level", "5 is not one of 1 public"),
        ("share.type", "'public' is not one of unconditional, conditional, not_shared"),
        ("open.type", "'open' is not one of unconditional, on_request, not_open"),
        ("feeds", "'economy' is not one of population"),
        ("key.kind", "'passport' is not one of citizen_id"),
        ("fields[person_id].sensitivity", "'secret' is not one of public"),
        ("fields[person_id].required", "must be true or false, got str 'yes'"),
        ("fields[Full-Name].name", "must be lowercase ASCII letters"),
    ],
)
def test_reports_bad_enum_values_in_a_resource(tmp_path, entry, reason):
    assert_problem(problems_of(tmp_path, "bad_enums"), "resources/gaj/hukou.yaml", entry, reason)


def test_invalid_key_kind_is_not_also_reported_as_a_mismatch(tmp_path):
    lines = problems_of(tmp_path, "bad_enums")
    assert not [line for line in lines if "does not match the kind" in line]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("elements[person_name].kind", "'nickname' is not one of citizen_id"),
        ("elements[person_name].type", "'varchar' is not a storage type"),
        ("elements[capital].type", "'decimal(40,2)' is not a storage type"),
        ("elements[birth_date].type", "type 'string' cannot hold kind 'date'"),
    ],
)
def test_reports_bad_data_element_kind_and_type(tmp_path, entry, reason):
    assert_problem(problems_of(tmp_path, "bad_enums"), "data_elements.yaml", entry, reason)


def test_reports_unquoted_duplicate_and_ambiguous_codes(tmp_path):
    lines = problems_of(tmp_path, "bad_enums")
    file = "code_tables/gender.yaml"
    assert_problem(lines, file, "codes[0].code", "code must be quoted text")
    assert_problem(lines, file, "codes[1]", "duplicate code '1'")
    assert_problem(lines, file, "codes[2]", "name '男' is already used by code '1'")


def test_reports_unknown_department(tmp_path):
    lines = problems_of(tmp_path, "unknown_references")
    assert_problem(
        lines,
        "resources/xyz/thing.yaml",
        "department",
        "unknown department 'xyz' (known: gaj, mzj)",
    )


def test_reports_unknown_data_element(tmp_path):
    lines = problems_of(tmp_path, "unknown_references")
    assert_problem(
        lines, "resources/xyz/thing.yaml", "fields[nickname].element", "unknown data element"
    )


def test_reports_unknown_code_table(tmp_path):
    lines = problems_of(tmp_path, "unknown_references")
    assert_problem(
        lines, "data_elements.yaml", "elements[colour].code_table", "unknown code table 'colour'"
    )


def test_reports_code_element_without_code_table(tmp_path):
    lines = problems_of(tmp_path, "unknown_references")
    assert_problem(
        lines, "data_elements.yaml", "elements[status_text]", "kind 'code' needs a code_table"
    )


def test_reports_authority_naming_an_unknown_resource(tmp_path):
    lines = problems_of(tmp_path, "unknown_references")
    assert_problem(
        lines,
        "data_elements.yaml",
        "elements[person_name].authority",
        "unknown resource 'gaj.nothing'",
    )


def test_reports_code_map_value_not_in_the_code_table(tmp_path):
    lines = problems_of(tmp_path, "code_maps")
    assert_problem(
        lines,
        "resources/gaj/hukou.yaml",
        "fields[gender].code_map",
        "value '3' for '女' is not a code of table 'gender'",
    )


def test_reports_unquoted_code_map_entries(tmp_path):
    lines = problems_of(tmp_path, "code_maps")
    assert_problem(
        lines, "resources/gaj/hukou.yaml", "fields[gender].code_map", "must be quoted text"
    )


def test_reports_code_map_by_name_without_a_code_table(tmp_path):
    lines = problems_of(tmp_path, "code_maps")
    assert_problem(
        lines,
        "resources/gaj/hukou.yaml",
        "fields[full_name].code_map_by_name",
        "needs an element with a code table",
    )


def test_reports_duplicate_resource_id(tmp_path):
    lines = problems_of(tmp_path, "duplicates")
    assert_problem(
        lines,
        "resources/gaj/hukou_copy.yaml",
        "gaj.hukou",
        "duplicate resource id 'gaj.hukou' (also in resources/gaj/hukou.yaml)",
    )


def test_reports_duplicate_field_name(tmp_path):
    lines = problems_of(tmp_path, "duplicates")
    assert_problem(
        lines, "resources/gaj/hukou.yaml", "fields[full_name]", "duplicate field name 'full_name'"
    )


def test_reports_source_column_shared_by_two_fields(tmp_path):
    lines = problems_of(tmp_path, "duplicates")
    assert_problem(
        lines,
        "resources/gaj/hukou.yaml",
        "fields[holder_id].source_columns",
        "source column '身份证号' is also listed by field 'person_id'",
    )


def test_reports_duplicate_data_element(tmp_path):
    lines = problems_of(tmp_path, "duplicates")
    assert_problem(
        lines, "data_elements.yaml", "elements[person_name]", "duplicate data element id"
    )


def test_reports_resource_without_key_field(tmp_path):
    lines = problems_of(tmp_path, "keys")
    assert_problem(lines, "resources/mzj/marriage.yaml", "key.fields", "no key field")


def test_reports_key_field_not_among_fields(tmp_path):
    lines = problems_of(tmp_path, "keys")
    assert_problem(
        lines,
        "resources/gaj/hukou.yaml",
        "key.fields",
        "key field 'household_id' is not among the fields",
    )


def test_reports_key_kind_not_matching_the_key_field_element(tmp_path):
    lines = problems_of(tmp_path, "keys")
    assert_problem(
        lines,
        "resources/gaj/hukou.yaml",
        "key.kind",
        "key kind 'uscc' does not match the kind 'citizen_id' of key field 'person_id'",
    )


def test_reports_path_not_matching_department_and_resource(tmp_path):
    lines = problems_of(tmp_path, "path_mismatch")
    assert_problem(
        lines,
        "resources/mzj/hukou.yaml",
        "gaj.residents",
        "path does not match department 'gaj' and resource 'residents' "
        "(expected resources/gaj/residents.yaml)",
    )


def test_reports_missing_data_elements_file_once(tmp_path):
    lines = problems_of(tmp_path, "missing_files")
    assert lines == ["data_elements.yaml: (file): missing: fields need their data elements"]


def test_reports_conditional_share_without_condition_or_legal_basis(tmp_path):
    lines = problems_of(tmp_path, "policies")
    file = "resources/mzj/marriage.yaml"
    assert_problem(lines, file, "share", "share type 'conditional' needs a legal_basis")
    assert_problem(lines, file, "share", "share type 'conditional' needs a condition")


def test_reports_open_resource_without_domain_or_summary(tmp_path):
    lines = problems_of(tmp_path, "policies")
    file = "resources/mzj/marriage.yaml"
    assert_problem(lines, file, "open", "needs a domain for the open list")
    assert_problem(lines, file, "open", "needs a summary for the open list")


def test_reports_yml_extension(tmp_path):
    root = build_catalog(tmp_path / "schemas")
    (root / "resources" / "gaj" / "hukou.yaml").rename(root / "resources" / "gaj" / "hukou.yml")
    with pytest.raises(CatalogError) as caught:
        read_catalog(root)
    assert "resources/gaj/hukou.yml: (file): catalog files end in .yaml, not .yml" in [
        str(problem) for problem in caught.value.problems
    ]


def test_missing_root_is_a_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match="not a folder"):
        read_catalog(tmp_path / "nowhere")


# --- the format documentation ----------------------------------------------------------------


def test_schemas_readme_documents_every_allowed_key_and_value():
    from jobs.catalog import models

    readme = (REAL_ROOT / "README.md").read_text(encoding="utf-8")
    keys = {key for shape in models.SHAPES.values() for key in shape.fields}
    values = {
        *models.DELIVERY_FORMATS,
        *models.ENCODINGS,
        *models.UPDATE_FREQUENCIES,
        *models.SHARE_TYPES,
        *models.OPEN_TYPES,
        *models.BASES,
        *models.SENSITIVITIES,
        *models.ELEMENT_KINDS,
        *models.STORAGE_TYPES,
    }
    missing = sorted(word for word in keys | values if f"`{word}`" not in readme)
    assert missing == []


def _with_delivery(tmp_path: Path, lines: str) -> Path:
    root = build_catalog(tmp_path / "schemas")
    entry = root / "resources" / "gaj" / "hukou.yaml"
    entry.write_text(
        entry.read_text(encoding="utf-8").replace("  encoding: gbk\n", f"  encoding: gbk\n{lines}"),
        encoding="utf-8",
    )
    return root


def test_delivery_declares_a_manifest_or_a_marker(tmp_path):
    root = _with_delivery(tmp_path, "  manifest: MANIFEST.json\n")
    delivery = read_catalog(root).resource("gaj.hukou").delivery
    assert (delivery.manifest, delivery.marker) == ("MANIFEST.json", "")


@pytest.mark.parametrize(
    ("lines", "entry", "reason"),
    [
        ("  marker: ../done\n", "delivery.marker", "must be one file name"),
        ("  manifest: M.json\n  marker: _SUCCESS\n", "delivery.marker", "not both"),
    ],
)
def test_delivery_completion_file_must_be_one_name_and_one_kind(tmp_path, lines, entry, reason):
    with pytest.raises(CatalogError) as caught:
        read_catalog(_with_delivery(tmp_path, lines))
    lines_found = [str(problem) for problem in caught.value.problems]
    assert_problem(lines_found, "resources/gaj/hukou.yaml", entry, reason)
