from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from jobs.demo import DEMO_DRIVER_JAVA_OPTIONS, format_summary


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


def test_demo_jvm_options_start_a_jvm_with_the_parallel_collector_and_a_full_code_cache():
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java on PATH")

    flags = subprocess.run(
        [java, *DEMO_DRIVER_JAVA_OPTIONS.split(), "-XX:+PrintFlagsFinal", "-version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert re.search(r"\bUseParallelGC\s*=\s*true\b", flags)
    assert re.search(r"\bUseG1GC\s*=\s*false\b", flags)
    # With the quick compiler only, the JVM's default code cache is 48 MB: a whole county
    # pipeline in one JVM filled it and died ("Out of space in CodeCache for adapters").
    code_cache = re.search(r"\bReservedCodeCacheSize\s*=\s*(\d+)", flags)
    assert code_cache and int(code_cache.group(1)) >= 240 * 1024 * 1024
