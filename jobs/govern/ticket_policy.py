"""What a verification ticket (校核工单) lives by, handed to the lifecycle as one value.

The deadlines come from the policy profile (``verification_workdays``,
``verification_max_extensions``, ``verification_extension_max_workdays``, counted on the
official calendar); who an overdue ticket is escalated to, and when, from
``schemas/bases/verification.yaml``. :class:`TicketPolicy` holds the numbers and does no I/O;
:func:`load_ticket_policy` reads the three sources at an edge (a command, a task, the build).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobs import yamlconf
from jobs.policy import PolicyProfile, WorkdayCalendar, load_profile
from jobs.policy.workdays import default_override_paths, get_calendar
from jobs.settings import Settings
from jobs.yamlconf import INT, TEXT, Keys, OneOf

#: Where the escalation settings live, under the schemas root.
VERIFICATION_FILE = Path("bases") / "verification.yaml"

# The file's shape: an unknown key or a wrong type is an error naming the file and line.
_VERIFICATION = Keys(
    {
        "escalate_to": TEXT,
        "escalate_after_overdue_workdays": INT,
        "extension_workdays_when_unset": OneOf((INT, TEXT)),
    }
)


class VerificationConfigError(ValueError):
    """``verification.yaml`` is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class VerificationSettings:
    """Escalation of overdue verification tickets (the deadlines are the policy profile's)."""

    escalate_to: str = "data_authority"
    escalate_after_overdue_workdays: int = 0
    extension_workdays_when_unset: str | int = "verification_workdays"


def load_verification_settings(schemas_root: str | Path) -> VerificationSettings:
    """``<schemas_root>/bases/verification.yaml``; a key it leaves out keeps its default.

    Raises:
        VerificationConfigError: the file cannot be read, is not YAML, or has an unknown key or
            a value of the wrong type (each named with its line).
    """
    path = Path(schemas_root) / VERIFICATION_FILE
    raw = yamlconf.load(path, _VERIFICATION, VerificationConfigError) or {}
    return VerificationSettings(
        escalate_to=str(raw.get("escalate_to", "data_authority")),
        escalate_after_overdue_workdays=int(raw.get("escalate_after_overdue_workdays", 0)),
        extension_workdays_when_unset=raw.get(
            "extension_workdays_when_unset", "verification_workdays"
        ),
    )


@dataclass(frozen=True)
class TicketPolicy:
    """The numbers a ticket lives by: from the policy profile and ``verification.yaml``."""

    profile: str
    verification_workdays: int
    max_extensions: int
    extension_max_workdays: int
    escalate_to: str
    escalate_after_overdue_workdays: int
    calendar: WorkdayCalendar
    extension_note: str = ""

    @classmethod
    def from_config(
        cls,
        profile: PolicyProfile,
        verification: VerificationSettings,
        calendar: WorkdayCalendar,
    ) -> TicketPolicy:
        """The policy of ``profile``, with the escalation of ``verification``."""
        length = profile.verification_extension_max_workdays
        note = ""
        if length is None:
            fallback = verification.extension_workdays_when_unset
            length = (
                profile.verification_workdays
                if fallback == "verification_workdays"
                else int(fallback)
            )
            note = "extension length unset in the profile: " + str(fallback)
        if not profile.verification_max_extensions:
            note = (
                f"profile {profile.name!r} allows no extension: "
                + profile.provision("verification_max_extensions").describe()
            )
        return cls(
            profile=profile.name,
            verification_workdays=profile.verification_workdays,
            max_extensions=profile.verification_max_extensions,
            extension_max_workdays=length,
            escalate_to=verification.escalate_to,
            escalate_after_overdue_workdays=verification.escalate_after_overdue_workdays,
            calendar=calendar,
            extension_note=note,
        )


def load_ticket_policy(settings: Settings) -> TicketPolicy:
    """The policy of ``settings.policy_profile``, its escalation and the configured calendar."""
    return TicketPolicy.from_config(
        load_profile(settings.policy_profile, settings.schemas_root),
        load_verification_settings(settings.schemas_root),
        get_calendar(default_override_paths(settings)),
    )
