from __future__ import annotations

from jobs.demo import format_summary


def _summary(held_rows: int) -> dict:
    entry = {
        "files": 2,
        "file_rows": 10,
        "bronze": 10,
        "pool": 7 - held_rows,
        "quarantined": 2,
        "duplicates": 1,
        "held": held_rows,
        "balanced": True,
    }
    return {
        "resources": {"scjgj.enterprise": entry, "gaj.hukou": {**entry, "held": 0, "pool": 7}},
        "files": {"quarantined": 0, "skipped_duplicate": 0, "rejected": 0},
        "outputs": {"lake": "/lake"},
        "stage_seconds": {"ingestion": 1.0},
        "seconds": 1.0,
        "held_dags": [],
        "failed_dags": [],
    }


def test_summary_names_the_resources_whose_batches_were_held_before_the_pool():
    lines = format_summary(_summary(held_rows=3)).splitlines()

    assert (
        "held: rows of batches kept in bronze because a required column is missing "
        "(scjgj.enterprise); the quality gate's decisions follow"
    ) in lines


def test_summary_says_nothing_of_holds_when_no_batch_was_held():
    assert not any(line.startswith("held:") for line in format_summary(_summary(0)).splitlines())
