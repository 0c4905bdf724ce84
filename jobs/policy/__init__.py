"""Policy profiles (政策配置) and the official working-day calendar (工作日).

Every deadline, retention period and category name in govlake comes from a jurisdiction's
policy profile (``schemas/policy_profiles.yaml``, see :mod:`jobs.policy.profiles`), and every
deadline is counted in working days on the official Chinese calendar
(:mod:`jobs.policy.workdays`). ``jobs.policy.commands`` adds ``govlake policy`` and
``govlake calendar``.
"""

from __future__ import annotations

from jobs.policy.profiles import (
    PolicyProfile,
    PolicyProfileError,
    Provision,
    Retention,
    Vocabulary,
    configured_profile,
    list_profiles,
    load_profile,
)
from jobs.policy.workdays import (
    CalendarOverrideError,
    Deadline,
    WorkdayCalendar,
    add_workdays,
    is_official_year,
    is_workday,
    workdays_between,
)

__all__ = [
    "CalendarOverrideError",
    "Deadline",
    "PolicyProfile",
    "PolicyProfileError",
    "Provision",
    "Retention",
    "Vocabulary",
    "WorkdayCalendar",
    "add_workdays",
    "configured_profile",
    "is_official_year",
    "is_workday",
    "list_profiles",
    "load_profile",
    "workdays_between",
]
