from __future__ import annotations

import pytest

from jobs import yamlconf
from jobs.catalog import revisions
from jobs.catalog.loader import CatalogError, check_proposal, load_catalog, read_catalog
from jobs.quality import suites
from jobs.settings import Settings

SCHEMAS = Settings().schemas_root


def marriage_entry() -> dict:
    return revisions.plain(yamlconf.read(f"{SCHEMAS}/resources/mzj/marriage.yaml"))


def approve(root, number: int, entry: dict, resource: str = "mzj.marriage") -> revisions.Revision:
    """Writes revision ``number`` as an approval would (jobs.govern.catalog_change)."""
    revision = revisions.Revision(
        number=number,
        resource=resource,
        entry=entry,
        proposed_by="mzj_officer",
        approved_by="steward",
        approved_on="2026-12-04",
        reason="职能调整",
        changes=tuple(revisions.diff_entries(marriage_entry(), entry)),
    )
    revisions.write_revision(root, revision)
    return revision


def test_the_newest_approved_revision_is_the_entry_the_loader_returns(tmp_path):
    weekly, monthly = marriage_entry(), marriage_entry()
    weekly["update_frequency"] = "weekly"
    monthly["update_frequency"] = "monthly"
    approve(tmp_path, 1, weekly)
    approve(tmp_path, 2, monthly)

    catalog = read_catalog(SCHEMAS, tmp_path)

    marriage = catalog.resource("mzj.marriage")
    assert (marriage.update_frequency, marriage.revision) == ("monthly", 2)
    assert marriage.path == str(tmp_path / "0002.mzj.marriage.yaml")
    assert catalog.resource("gaj.hukou").revision == 0
    assert read_catalog(SCHEMAS).resource("mzj.marriage").update_frequency == "daily"


def test_a_cached_catalog_is_read_again_once_a_revision_is_added(tmp_path):
    before = load_catalog(SCHEMAS, tmp_path)
    weekly = marriage_entry()
    weekly["update_frequency"] = "weekly"
    approve(tmp_path, 1, weekly)

    after = load_catalog(SCHEMAS, tmp_path)

    assert before.resource("mzj.marriage").update_frequency == "daily"
    assert after.resource("mzj.marriage").update_frequency == "weekly"
    assert load_catalog(SCHEMAS, tmp_path) is after


def test_the_quality_suite_of_a_revised_resource_follows_the_revision(tmp_path):
    entry = marriage_entry()
    birth = next(f for f in entry["fields"] if f["name"] == "male_birth_date")
    birth["required"] = True
    approve(tmp_path, 1, entry)
    catalog = read_catalog(SCHEMAS, tmp_path)

    revised = suites.suite_for(catalog.resource("mzj.marriage"), catalog)
    committed = suites.suite_for(read_catalog(SCHEMAS).resource("mzj.marriage"), catalog)

    assert "male_birth_date.not_null" in revised.names
    assert "male_birth_date.not_null" not in committed.names
    assert committed.version == suites.load_suite("mzj.marriage").version


def test_a_revision_file_that_is_not_a_revision_is_a_catalog_problem(tmp_path):
    (tmp_path / "0001.mzj.marriage.yaml").write_text(
        "revision: 2\nresource: mzj.marriage\n", encoding="utf-8"
    )

    with pytest.raises(CatalogError) as error:
        read_catalog(SCHEMAS, tmp_path)

    assert "0001.mzj.marriage.yaml:1: (file): missing key 'proposed_by'" in str(error.value)


def test_a_revision_whose_entry_is_invalid_stops_the_catalog_naming_the_revision(tmp_path):
    entry = marriage_entry()
    entry["share"] = {"type": "sometimes"}
    approve(tmp_path, 1, entry)

    with pytest.raises(CatalogError) as error:
        read_catalog(SCHEMAS, tmp_path)

    assert f"{tmp_path / '0001.mzj.marriage.yaml'}:" in str(error.value)
    assert "share.type: 'sometimes' is not one of unconditional" in str(error.value)


def test_a_revision_file_named_for_another_resource_or_number_is_refused(tmp_path):
    weekly = marriage_entry()
    weekly["update_frequency"] = "weekly"
    approve(tmp_path, 1, weekly)
    (tmp_path / "0001.mzj.marriage.yaml").rename(tmp_path / "0002.gaj.hukou.yaml")

    with pytest.raises(CatalogError) as error:
        read_catalog(SCHEMAS, tmp_path)

    assert "revision: 1 does not match the file name 0002.gaj.hukou.yaml" in str(error.value)
    assert "resource: mzj.marriage does not match the file name" in str(error.value)


def test_the_loader_reads_only_the_newest_revision_of_each_resource(tmp_path):
    weekly = marriage_entry()
    weekly["update_frequency"] = "weekly"
    approve(tmp_path, 1, weekly)
    (tmp_path / "0001.mzj.marriage.yaml").write_text("not: [a revision", encoding="utf-8")
    approve(tmp_path, 2, weekly)

    assert read_catalog(SCHEMAS, tmp_path).resource("mzj.marriage").revision == 2


def test_a_revision_of_a_resource_schemas_lacks_is_refused(tmp_path):
    entry = marriage_entry()
    entry["resource"] = "adoption"
    approve(tmp_path, 1, entry, resource="mzj.adoption")

    with pytest.raises(CatalogError, match=r"no resource .mzj\.adoption. in resources/ to revise"):
        read_catalog(SCHEMAS, tmp_path)


def test_a_revision_number_is_never_written_twice(tmp_path):
    entry = marriage_entry()
    entry["update_frequency"] = "weekly"
    revision = approve(tmp_path, 1, entry)
    revisions.write_revision(tmp_path, revision)  # the same again: nothing to do
    other = revisions.Revision(**{**revision.__dict__, "approved_by": "someone_else"})

    with pytest.raises(FileExistsError, match="revision 1 already exists"):
        revisions.write_revision(tmp_path, other)
    assert revisions.signature(tmp_path) == ("0001.mzj.marriage.yaml",)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda e: e["fields"][0].update(element="no_such_element"), "unknown data element"),
        (lambda e: e["fields"].append(dict(e["fields"][0])), "duplicate field name"),
        (lambda e: e["share"].update(type="sometimes"), "'sometimes' is not one of"),
        (lambda e: e.update(update_frequency="hourly"), "'hourly' is not one of"),
        (lambda e: e.update(security_level=9), "9 is not one of 1 public"),
        (lambda e: e.update(resource="wedding"), "path does not match"),
    ],
    ids=["unknown-element", "duplicate-field", "share-type", "cycle", "security", "rename"],
)
def test_an_invalid_proposal_is_refused_with_the_loaders_message(edit, message):
    entry = marriage_entry()
    edit(entry)

    with pytest.raises(CatalogError) as error:
        check_proposal(SCHEMAS, None, "mzj.marriage", entry)

    assert any(p.file == "proposal" and message in str(p) for p in error.value.problems)


def test_a_diff_matches_fields_by_name():
    before = marriage_entry()
    after = marriage_entry()
    after["update_frequency"] = "weekly"
    after["fields"][2]["required"] = False
    after["fields"].insert(0, after["fields"].pop())
    del after["fields"][1]

    changes = revisions.diff_entries(before, after)

    assert [c["path"] for c in changes] == [
        "update_frequency",
        "fields[registration_number]",
        "fields[registered_on].required",
        "fields (order)",
    ]
    assert changes[1]["after"] is None
    assert changes[2] == {
        "path": "fields[registered_on].required",
        "before": True,
        "after": False,
    }


def test_the_cli_lists_revisions_and_shows_one_with_its_diff(tmp_path, monkeypatch, capsys):
    from jobs.cli import main

    weekly, monthly = marriage_entry(), marriage_entry()
    weekly["update_frequency"] = "weekly"
    monthly["update_frequency"] = "monthly"
    approve(tmp_path, 1, weekly)
    approve(tmp_path, 2, monthly)
    monkeypatch.setenv("GOVLAKE_CATALOG_REVISIONS_ROOT", str(tmp_path))

    assert main(["catalog", "revisions", "--resource", "mzj.marriage"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert main(["catalog", "revisions", "2"]) == 0
    shown = capsys.readouterr().out.splitlines()

    assert [line.split()[:5] for line in listed[2:]] == [
        ["1", "mzj.marriage", "2026-12-04", "steward", "mzj_officer"],
        ["2", "mzj.marriage", "2026-12-04", "steward", "mzj_officer"],
    ]
    assert shown[0] == "revision 2: mzj.marriage"
    assert shown[-1] == '    update_frequency: "daily" → "monthly"'
    assert main(["catalog", "revisions", "3"]) == 1
