from __future__ import annotations

import pytest

from jobs.orchestrate import selfcheck


@pytest.fixture
def roots(tmp_path, monkeypatch):
    for name in ("LAKE_ROOT", "LANDING_ROOT", "REPORTS_ROOT"):
        monkeypatch.setenv(f"GOVLAKE_{name}", str(tmp_path / name.lower()))
    return tmp_path


def test_reports_catalog_profile_roots_and_java_of_a_sound_worker(roots):
    found = selfcheck.run_selfcheck()

    assert found["resources"] >= 14 and found["departments"] >= 8
    assert found["policy_profile"] == "hebi"
    assert (found["lake_root"], found["landing_root"], found["reports_root"]) == ("writable",) * 3
    assert found["java"] >= selfcheck.MIN_JAVA_MAJOR
    assert list((roots / "lake_root").iterdir()) == []  # the probe file is gone


def test_fails_naming_every_problem(roots, monkeypatch):
    (roots / "blocked").write_text("a file, not a folder")
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(roots / "blocked" / "lake"))
    monkeypatch.setenv("JAVA_HOME", str(roots / "no-java"))

    with pytest.raises(selfcheck.SelfCheckFailed) as failed:
        selfcheck.run_selfcheck()

    assert "lake_root" in str(failed.value) and "no java" in str(failed.value)


def test_object_store_roots_are_not_probed():
    assert selfcheck._check_writable("s3://bucket/lake") == "object store (not checked here)"
