from __future__ import annotations

from pathlib import Path

import pytest

from jobs.settings import PROJECT_ROOT
from jobs.share.policy import MASKING_FILE, SharePolicyError, load_masking

SHIPPED = (PROJECT_ROOT / "schemas" / MASKING_FILE).read_text(encoding="utf-8")


def write_masking(root: Path, text: str) -> str:
    path = root / MASKING_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(root)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_masking_file_loads():
    masking = load_masking(str(PROJECT_ROOT / "schemas"))
    assert masking.treatments["identifier"] == "token"


@pytest.mark.parametrize(
    ("old", "new", "needle", "reason"),
    [
        ("  name: first_character", "  name: 1", "name: 1", "masks.name: must be text, got int 1"),
        (
            "  is_deceased: {sensitivity: internal, kind: boolean}",
            "  is_deceased: {sensitivity: internal, knid: boolean}",
            "knid",
            "base_columns.is_deceased: unknown key 'knid' (allowed: sensitivity, kind)",
        ),
        (
            "open_sensitivities: [public]",
            "open_sensitivities: public",
            "open_sensitivities: public",
            "open_sensitivities: must be a list, got str 'public'",
        ),
        (
            "  personal: mask",
            "  personal: blur",
            "personal: blur",
            "treatments: unknown treatment 'blur'",
        ),
        ("\ntreatments:\n", "\ntreatment:\n", "treatment:", "unknown key 'treatment'"),
    ],
)
def test_a_malformed_masking_file_names_file_and_line(tmp_path, old, new, needle, reason):
    assert old in SHIPPED
    text = SHIPPED.replace(old, new, 1)
    root = write_masking(tmp_path / "schemas", text)
    with pytest.raises(SharePolicyError) as error:
        load_masking(root)
    masking = tmp_path / "schemas" / MASKING_FILE
    assert f"{masking}:{line_of(text, needle)}: {reason}" in str(error.value)
