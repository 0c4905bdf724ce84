from __future__ import annotations

import shutil

import pytest

from jobs.govern.ticket_policy import (
    VerificationConfigError,
    load_ticket_policy,
    load_verification_settings,
)
from jobs.settings import PROJECT_ROOT, Settings


def test_policy_takes_deadlines_from_the_profile_and_escalation_from_verification_yaml():
    loaded = load_ticket_policy(Settings(policy_profile="hebi"))

    assert (loaded.profile, loaded.verification_workdays, loaded.max_extensions) == ("hebi", 10, 1)
    assert (loaded.escalate_to, loaded.escalate_after_overdue_workdays) == ("data_authority", 0)
    assert loaded.extension_max_workdays == 10


def test_a_profile_without_extensions_says_why_in_the_policy():
    loaded = load_ticket_policy(Settings(policy_profile="taizhou"))

    assert loaded.max_extensions == 0
    assert "allows no extension" in loaded.extension_note


def test_misspelt_key_in_verification_yaml_is_refused_with_its_line(tmp_path):
    shutil.copytree(PROJECT_ROOT / "schemas" / "bases", tmp_path / "bases")
    (tmp_path / "bases" / "verification.yaml").write_text(
        "escalate_to: data_authority\nescalate_after_overdue_days: 2\n", encoding="utf-8"
    )

    with pytest.raises(VerificationConfigError, match=r"verification.yaml:2.*escalate_after"):
        load_verification_settings(tmp_path)
