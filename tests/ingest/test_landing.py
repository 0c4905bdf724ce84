from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pytest

from jobs.ingest import landing

NOW = dt.datetime(2025, 1, 8, 2, 0, tzinfo=dt.UTC)


def _file(folder: Path, name: str, data: bytes, seconds_old: float) -> landing.LandedFile:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    stamp = (NOW - dt.timedelta(seconds=seconds_old)).timestamp()
    os.utime(path, (stamp, stamp))
    return landing.LandedFile("gaj", "hukou", folder.name, path)


def _manifest(folder: Path, *entries: dict) -> None:
    (folder / "MANIFEST.json").write_text(json.dumps({"files": list(entries)}))


def _entry(landed: landing.LandedFile, **changes) -> dict:
    data = landed.path.read_bytes()
    return {
        "name": landed.name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        **changes,
    }


def _check(folder: Path, files, manifest: str = "", marker: str = "", quiet: int = 0):
    return landing.check_batch(
        folder, folder.name, files, manifest=manifest, marker=marker, now=NOW, quiet_seconds=quiet
    )


def test_file_modified_within_the_quiet_period_makes_the_batch_wait(tmp_path):
    old = _file(tmp_path / "b1", "a.csv", b"x\n", seconds_old=3600)
    fresh = _file(tmp_path / "b1", "b.csv", b"y\n", seconds_old=30)

    check = _check(tmp_path / "b1", [old, fresh], quiet=120)

    assert check.files == [] and check.waiting.reason == landing.NOT_QUIET
    assert "b1/b.csv was modified 30 s before this run" in check.waiting.message
    assert _check(tmp_path / "b1", [old], quiet=120).files == [old]


def test_file_modified_after_the_clock_waits(tmp_path):
    ahead = _file(tmp_path / "b1", "a.csv", b"x\n", seconds_old=-600)
    assert _check(tmp_path / "b1", [ahead], quiet=120).waiting.reason == landing.NOT_QUIET


def test_no_quiet_period_reads_a_fresh_file(tmp_path):
    fresh = _file(tmp_path / "b1", "a.csv", b"x\n", seconds_old=0)
    assert _check(tmp_path / "b1", [fresh]).files == [fresh]


def test_marker_releases_the_batch_whatever_the_mtimes(tmp_path):
    fresh = _file(tmp_path / "b1", "a.csv", b"x\n", seconds_old=0)

    waiting = _check(tmp_path / "b1", [fresh], marker="_SUCCESS", quiet=120).waiting
    assert waiting.reason == landing.MARKER_MISSING and "_SUCCESS" in waiting.message

    (tmp_path / "b1" / "_SUCCESS").touch()
    assert _check(tmp_path / "b1", [fresh], marker="_SUCCESS", quiet=120).files == [fresh]


def test_manifest_that_matches_releases_its_files_with_their_hashes(tmp_path):
    folder = tmp_path / "b1"
    listed = _file(folder, "a.csv", b"x\n", seconds_old=0)
    stray = _file(folder, "tmp.csv", b"y\n", seconds_old=0)
    _manifest(folder, _entry(listed))

    check = _check(folder, [listed, stray], manifest="MANIFEST.json", quiet=120)

    assert check.waiting is None and check.files == [listed]
    assert check.hashes == {"a.csv": hashlib.sha256(b"x\n").hexdigest()}
    assert check.unlisted == ("tmp.csv",)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no manifest", "has no manifest 'MANIFEST.json' yet"),
        ("size", "b1/a.csv has 2 bytes, the manifest lists 3"),
        ("hash", "b1/a.csv does not match its SHA-256 in the manifest"),
        ("missing file", "b1/b.csv is listed but not delivered"),
        ("not json", "not a manifest of files, sizes and SHA-256"),
    ],
)
def test_manifest_that_does_not_match_makes_the_batch_wait(tmp_path, case, expected):
    folder = tmp_path / "b1"
    landed = _file(folder, "a.csv", b"x\n", seconds_old=3600)
    if case == "size":
        _manifest(folder, _entry(landed, size=3))
    elif case == "hash":
        _manifest(folder, _entry(landed, sha256="0" * 64))
    elif case == "missing file":
        _manifest(folder, _entry(landed), {**_entry(landed), "name": "b.csv"})
    elif case == "not json":
        (folder / "MANIFEST.json").write_text('{"files": [{"name": "a.c')

    check = _check(folder, [landed], manifest="MANIFEST.json")

    assert check.files == [] and check.rejected is None
    assert check.waiting.reason.startswith("manifest_")
    assert expected in check.waiting.message


def test_manifest_naming_a_file_outside_the_batch_rejects_the_batch(tmp_path):
    folder = tmp_path / "b1"
    landed = _file(folder, "a.csv", b"x\n", seconds_old=3600)
    _manifest(folder, _entry(landed), {**_entry(landed), "name": "../../etc/passwd"})

    check = _check(folder, [landed], manifest="MANIFEST.json")

    assert check.files == [] and check.waiting is None
    assert (check.rejected.batch_id, check.rejected.file_name, check.rejected.reason) == (
        "b1",
        "MANIFEST.json",
        landing.UNSAFE_MANIFEST,
    )


def test_batch_files_leaves_out_the_manifest(tmp_path):
    folder = tmp_path / "gaj" / "hukou" / "b1"
    _file(folder, "a.csv", b"x\n", seconds_old=0)
    _manifest(folder)

    files, _ = landing.batch_files(tmp_path, "gaj", "hukou", "b1", not_data=["MANIFEST.json"])

    assert [f.name for f in files] == ["a.csv"]
