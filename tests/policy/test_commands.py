from __future__ import annotations

import json

import pytest

from jobs.cli import main
from jobs.policy.profiles import NOT_YET_ENFORCED, NUMBER_FIELDS


def test_add_workdays_prints_the_deadline(capsys):
    assert main(["calendar", "add-workdays", "2025-09-26", "10"]) == 0

    out, err = capsys.readouterr()
    assert out == "2025-10-16\n"
    assert err == ""


def test_add_workdays_into_an_unknown_year_warns_provisional_on_stderr(capsys):
    assert main(["calendar", "add-workdays", "2026-12-28", "10"]) == 0

    out, err = capsys.readouterr()
    assert out == "2027-01-11\n"
    assert "provisional" in err
    assert "2027" in err


def test_add_workdays_with_an_official_override_file(capsys, fictional_2027_official):
    argv = ["calendar", "add-workdays", "2026-12-28", "10", "--overrides"]

    assert main([*argv, str(fictional_2027_official)]) == 0

    out, err = capsys.readouterr()
    assert out == "2027-01-12\n"
    assert err == ""


def test_add_workdays_as_json(capsys):
    assert main(["calendar", "add-workdays", "2026-12-28", "10", "--json"]) == 0

    payload = json.loads(capsys.readouterr().out)
    assert payload == {
        "start": "2026-12-28",
        "workdays": 10,
        "date": "2027-01-11",
        "provisional": True,
        "provisional_years": [2027],
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["2025-13-01", "3"], "invalid date '2025-13-01'"),
        (["26/09/2025", "3"], "expected YYYY-MM-DD"),
        (["2025-09-26", "-3"], "must be >= 0, got -3"),
        (["2025-09-26", "ten"], "expected a whole number >= 0"),
    ],
)
def test_add_workdays_rejects_a_bad_date_or_count_with_exit_code_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["calendar", "add-workdays", *argv])

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_broken_override_file_exits_1_naming_the_file(capsys, write_overrides):
    path = write_overrides("years:\n  2027:\n    holidays: []\n", name="broken.yaml")

    assert main(["calendar", "add-workdays", "2026-12-28", "10", "--overrides", str(path)]) == 1

    err = capsys.readouterr().err
    assert "broken.yaml" in err
    assert "broken.yaml:2: years.2027: missing key 'official'" in err


@pytest.mark.parametrize(
    ("day", "answer"),
    [
        ("2025-10-11", "yes (make-up workday)"),
        ("2025-10-01", "no (holiday)"),
        ("2025-06-07", "no (weekend)"),
        ("2025-06-09", "yes (workday)"),
    ],
)
def test_is_workday(capsys, day, answer):
    assert main(["calendar", "is-workday", day]) == 0

    out, err = capsys.readouterr()
    assert out == answer + "\n"
    assert err == ""


def test_is_workday_in_an_unknown_year_warns_provisional(capsys):
    assert main(["calendar", "is-workday", "2027-01-01"]) == 0

    out, err = capsys.readouterr()
    assert out == "yes (workday)\n"
    assert "provisional" in err


def test_is_workday_rejects_a_bad_date(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["calendar", "is-workday", "tomorrow"])

    assert exit_info.value.code == 2
    assert "invalid date 'tomorrow'" in capsys.readouterr().err


def test_calendar_years_shows_where_each_year_comes_from(capsys, fictional_2027_official):
    assert main(["calendar", "years", "--overrides", str(fictional_2027_official)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2004  official")
    assert any(
        line.startswith("2027  official") and "fictional_2027.yaml" in line for line in lines
    )
    assert lines[-1].startswith("other years: provisional")


def test_calendar_without_a_subcommand_prints_help_and_exits_2(capsys):
    assert main(["calendar"]) == 2

    assert "add-workdays" in capsys.readouterr().out


def test_policy_list_marks_the_configured_profile(capsys, monkeypatch):
    monkeypatch.setenv("GOVLAKE_POLICY_PROFILE", "zhenhai")

    assert main(["policy", "list"]) == 0

    lines = capsys.readouterr().out.splitlines()
    names = [line[2:].split()[0] for line in lines]
    assert names == ["hebi", "taizhou", "zhenhai", "yunyang", "fushun"]
    assert [line[:1] for line in lines] == [" ", " ", "*", " ", " "]


def test_policy_show_defaults_to_the_configured_profile(capsys, monkeypatch):
    monkeypatch.setenv("GOVLAKE_POLICY_PROFILE", "yunyang")

    assert main(["policy", "show"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("profile   yunyang")
    assert "6 months" in out
    assert "003 §27" in out


def test_policy_show_names_a_profile(capsys):
    assert main(["policy", "show", "zhenhai"]) == 0

    out = capsys.readouterr().out
    assert "无条件共享 / 受限共享 / 非共享" in out
    assert "002 §18" in out


def test_policy_show_as_json(capsys):
    assert main(["policy", "show", "fushun", "--json"]) == 0

    data = json.loads(capsys.readouterr().out)
    assert data["open_request_answer_workdays"]["value"] == 5
    assert data["open_types"]["names"]["conditional"] == "依申请开放"


def test_policy_show_unknown_profile_exits_2_listing_known_ones(capsys):
    assert main(["policy", "show", "beijing"]) == 2

    err = capsys.readouterr().err
    assert "unknown policy profile 'beijing'" in err
    assert "hebi, taizhou, zhenhai, yunyang, fushun" in err


def test_unknown_configured_profile_is_a_configuration_error(capsys, monkeypatch):
    monkeypatch.setenv("GOVLAKE_POLICY_PROFILE", "beijing")

    assert main(["policy", "show"]) == 1

    err = capsys.readouterr().err
    assert "unknown policy profile 'beijing' (GOVLAKE_POLICY_PROFILE)" in err
    assert "known profiles: hebi, taizhou, zhenhai, yunyang, fushun" in err


def test_policy_show_says_which_numbers_no_procedure_enforces_yet(capsys):
    assert main(["policy", "show", "taizhou"]) == 0

    lines = capsys.readouterr().out.splitlines()
    unenforced = {line.split()[0] for line in lines if "not yet enforced by any procedure" in line}
    assert unenforced == set(NOT_YET_ENFORCED)
    rectification = next(line for line in lines if line.startswith("rectification_workdays"))
    assert "7 wd" in rectification and "not yet enforced" not in rectification


def test_policy_show_as_json_marks_the_numbers_not_yet_enforced(capsys):
    assert main(["policy", "show", "hebi", "--json"]) == 0

    data = json.loads(capsys.readouterr().out)
    assert [name for name in NUMBER_FIELDS if not data[name]["enforced"]] == list(NOT_YET_ENFORCED)
