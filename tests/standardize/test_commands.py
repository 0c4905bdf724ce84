from __future__ import annotations

import io

import pytest

from jobs.cli import main

pytestmark = pytest.mark.spark


@pytest.fixture
def uses_test_spark(spark, monkeypatch):
    # The command asks jobs.spark for the process's session; in tests that is the fixture's.
    monkeypatch.setattr("jobs.spark.get_spark", lambda *args, **kwargs: spark)
    return spark


def test_checks_ids_one_answer_per_line_in_order(uses_test_spark, tmp_path, capsys):
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(
        "\n".join(
            [
                "110105199003070017",
                "11010519491231002x",
                "",
                "110105491231002",
                "4.10105E+17",
                "110105199003070018",
                " １１０１０５１９９００３０７００１７ ",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    assert main(["keys", "check", "--kind", "id", str(ids_file)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "110105199003070017",
        "11010519491231002X",
        "INVALID missing",
        "11010519491231002X",
        "INVALID excel_damaged",
        "INVALID bad_check_character",
        "110105199003070017",
    ]


def test_reads_stdin_with_dash(uses_test_spark, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("91110000600037341l\r\n91110000600037341X\r\n"))
    assert main(["keys", "check", "--kind", "uscc", "-"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "91110000600037341L",
        "INVALID bad_check_character",
    ]


def test_checks_parcels_and_units(uses_test_spark, tmp_path, capsys):
    keys_file = tmp_path / "units.txt"
    keys_file.write_text(
        "340123 002004 GB00011 F00010001\n340123002004GB00011K00010001\n", encoding="utf-8"
    )
    assert main(["keys", "check", "--kind", "unit", str(keys_file)]) == 0
    assert main(["keys", "check", "--kind", "parcel", str(keys_file)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "340123002004GB00011F00010001",
        "INVALID bad_fixture_code",
        "INVALID bad_length",
        "INVALID bad_length",
    ]


def test_empty_file_prints_nothing(tmp_path, capsys):
    empty_file = tmp_path / "empty.txt"
    empty_file.write_text("", encoding="utf-8")
    assert main(["keys", "check", "--kind", "id", str(empty_file)]) == 0
    assert capsys.readouterr().out == ""


def test_unknown_kind_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["keys", "check", "--kind", "passport", str(tmp_path / "x.txt")])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_missing_kind_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["keys", "check", str(tmp_path / "x.txt")])
    assert exit_info.value.code == 2


def test_unreadable_file_is_a_usage_error(tmp_path, capsys):
    assert main(["keys", "check", "--kind", "id", str(tmp_path / "absent.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_keys_without_subcommand_is_a_usage_error(capsys):
    assert main(["keys"]) == 2
    assert "check" in capsys.readouterr().err
