from __future__ import annotations

import json

from jobs.cli import main


def test_synth_command_writes_a_city_and_prints_a_summary(tmp_path, capsys):
    code = main(
        [
            "synth",
            "--persons",
            "200",
            "--seed",
            "4",
            "--out",
            str(tmp_path),
            "--batches",
            "2",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["persons"] == 200 and len(summary["batches"]) == 2
    assert (tmp_path / "_manifest" / "defects.jsonl").exists()
    assert (tmp_path / "gaj" / "hukou" / summary["batches"][0]).is_dir()


def test_synth_command_reads_a_config_file(tmp_path, capsys):
    config = tmp_path / "city.yaml"
    config.write_text("persons: 150\nbatches: 1\nstart: 2024-06-01\nrates: {missing_key: 0.05}\n")
    assert (
        main(["synth", "--config", str(config), "--seed", "2", "--out", str(tmp_path / "out")]) == 0
    )
    assert (tmp_path / "out" / "gaj" / "hukou" / "20240601T000000_full").is_dir()
    assert "wrote" in capsys.readouterr().out


def test_synth_command_rejects_an_unknown_config_key(tmp_path, capsys):
    config = tmp_path / "city.yaml"
    config.write_text("people: 150\n")
    assert main(["synth", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    assert "unknown keys" in capsys.readouterr().err
