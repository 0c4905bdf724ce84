"""``govlake calendar …`` and ``govlake policy …``: working days and policy profiles.

    govlake calendar add-workdays 2025-09-26 10      → 2025-10-16
    govlake calendar is-workday 2025-09-28           → yes (make-up workday)
    govlake calendar years                           → where each year's schedule comes from
    govlake policy list
    govlake policy show [NAME] [--json]

Dates are ISO (YYYY-MM-DD). A deadline counted over a year without an official schedule is
printed as usual and a warning goes to stderr, so scripts can keep reading stdout. Exit codes:
0 done, 1 a configuration file is invalid, 2 a bad argument.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from jobs.policy.profiles import (
    NOT_YET_ENFORCED,
    NUMBER_FIELDS,
    PolicyProfile,
    PolicyProfileError,
    configured_profile,
    load_profile,
    load_profiles,
)
from jobs.policy.workdays import (
    LIBRARY_YEARS,
    CalendarOverrideError,
    WorkdayCalendar,
    get_calendar,
    iter_years,
)
from jobs.settings import Settings

EXIT_CONFIG = 1
EXIT_USAGE = 2
NOT_ENFORCED_TEXT = "not yet enforced by any procedure"


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid date {text!r}: expected YYYY-MM-DD, e.g. 2025-09-26"
        ) from None


def _workday_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid number of working days {text!r}: expected a whole number >= 0"
        ) from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"number of working days must be >= 0, got {n}")
    return n


def _error(message: str, code: int) -> int:
    print(f"govlake: error: {message}", file=sys.stderr)
    return code


def _calendar(args: argparse.Namespace) -> WorkdayCalendar:
    return get_calendar(args.overrides or Settings.from_env())


def _warn_provisional(years: tuple[int, ...] | list[int], calendar: WorkdayCalendar) -> None:
    if not years:
        return
    listed = ", ".join(str(y) for y in years)
    print(
        f"govlake: warning: provisional: no official working-day calendar for {listed} "
        f"(counted with {calendar.source_of(years[0])}); add an override file with "
        "'official: true' once the State Council announces the schedule",
        file=sys.stderr,
    )


# -- calendar ---------------------------------------------------------------------------------


def _add_workdays(args: argparse.Namespace) -> int:
    try:
        calendar = _calendar(args)
        deadline = calendar.add_workdays(args.date, args.n)
    except CalendarOverrideError as exc:
        return _error(str(exc), EXIT_CONFIG)
    except ValueError as exc:
        return _error(str(exc), EXIT_USAGE)
    if args.json:
        payload = {
            "start": args.date.isoformat(),
            "workdays": args.n,
            "date": deadline.date.isoformat(),
            "provisional": deadline.provisional,
            "provisional_years": list(deadline.provisional_years),
        }
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(deadline.date.isoformat())
    _warn_provisional(deadline.provisional_years, calendar)
    return 0


def _is_workday(args: argparse.Namespace) -> int:
    try:
        calendar = _calendar(args)
        working = calendar.is_workday(args.date)
        kind = calendar.day_kind(args.date)
    except CalendarOverrideError as exc:
        return _error(str(exc), EXIT_CONFIG)
    print(f"{'yes' if working else 'no'} ({kind})")
    if not calendar.is_official(args.date.year):
        _warn_provisional([args.date.year], calendar)
    return 0


def _years(args: argparse.Namespace) -> int:
    try:
        calendar = _calendar(args)
    except CalendarOverrideError as exc:
        return _error(str(exc), EXIT_CONFIG)
    for year, official, source in iter_years(calendar):
        print(f"{year}  {'official   ' if official else 'provisional'}  {source}")
    print(
        f"other years: provisional, Monday–Friday (chinese_calendar knows "
        f"{LIBRARY_YEARS.start}–{LIBRARY_YEARS.stop - 1})"
    )
    return 0


def _help(parser: argparse.ArgumentParser):
    def show(_args: argparse.Namespace) -> int:
        parser.print_help()
        return EXIT_USAGE

    return show


# -- policy -----------------------------------------------------------------------------------


def _list(_args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        profiles = load_profiles(settings.schemas_root)
    except PolicyProfileError as exc:
        return _error(str(exc), EXIT_CONFIG)
    for name, profile in profiles.items():
        mark = "*" if name == settings.policy_profile else " "
        j = profile.jurisdiction
        print(f"{mark} {name:<10} {j.name}  {j.regulation}  [{j.status}]")
    return 0


def _value_text(value: Any) -> str:
    return "—" if value is None else f"{value} wd"


def _show_text(profile: PolicyProfile) -> list[str]:
    j = profile.jurisdiction
    lines = [
        f"profile   {profile.name}",
        f"          {j.name} ({j.name_en}), {j.province} — {j.level}",
        f"          {j.regulation} {j.document or ''}".rstrip(),
        f"          {j.status}; seed {j.seed}",
        "",
    ]
    width = max(len(name) for name in (*NUMBER_FIELDS, "log_retention"))
    for name in NUMBER_FIELDS:
        value = getattr(profile, name)
        text = str(value) if name == "verification_max_extensions" else _value_text(value)
        source = profile.provision(name).describe()
        if name in NOT_YET_ENFORCED:
            source += f"  [{NOT_ENFORCED_TEXT}]"
        lines.append(f"{name:<{width}}  {text:<6}  {source}")
    reviewer = profile.unconditional_share_reviewed_by
    lines.append(
        f"{'unconditional_share_reviewed_by':<{width}}  {reviewer or '—':<6}  "
        f"{profile.provision('unconditional_share_reviewed_by').describe()}"
    )
    retention = profile.log_retention
    lines.append(
        f"{'log_retention':<{width}}  {retention!s:<6}  "
        f"{profile.provision('log_retention').describe()} ({retention.days} days)"
    )
    for name in ("share_types", "open_types"):
        vocabulary = getattr(profile, name)
        names = " / ".join(label for _, label in vocabulary.names)
        lines.append(f"{name:<{width}}  {names}  {profile.provision(name).describe()}")
    return lines


def _show(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        if args.name:
            profile = load_profile(args.name, settings.schemas_root)
        else:
            profile = configured_profile(settings)
    except PolicyProfileError as exc:
        unknown = str(exc).startswith("unknown policy profile")
        return _error(str(exc), EXIT_USAGE if unknown and args.name else EXIT_CONFIG)
    if args.json:
        print(json.dumps(profile.as_dict(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(_show_text(profile)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``calendar`` and ``policy`` to the ``govlake`` command."""
    calendar = subparsers.add_parser(
        "calendar", help="official working-day calendar (工作日): deadlines and days"
    )
    calendar.set_defaults(func=_help(calendar))
    calendar_cmds = calendar.add_subparsers(dest="calendar_command", metavar="SUBCOMMAND")

    overrides_help = (
        "calendar override file or folder, used instead of GOVLAKE_CALENDAR_OVERRIDES / "
        "schemas/calendar (format: schemas/calendar/README.md)"
    )
    add = calendar_cmds.add_parser(
        "add-workdays",
        help="the date N working days after DATE (the day of receipt does not count)",
    )
    add.add_argument("date", type=_iso_date, metavar="DATE", help="day of receipt, YYYY-MM-DD")
    add.add_argument("n", type=_workday_count, metavar="N", help="working days, >= 0")
    add.add_argument("--overrides", metavar="FILE", help=overrides_help)
    add.add_argument(
        "--json", action="store_true", help="print date and provisional status as JSON"
    )
    add.set_defaults(func=_add_workdays)

    day = calendar_cmds.add_parser("is-workday", help="is DATE a working day? (yes/no and why)")
    day.add_argument("date", type=_iso_date, metavar="DATE", help="YYYY-MM-DD")
    day.add_argument("--overrides", metavar="FILE", help=overrides_help)
    day.set_defaults(func=_is_workday)

    years = calendar_cmds.add_parser("years", help="where each year's schedule comes from")
    years.add_argument("--overrides", metavar="FILE", help=overrides_help)
    years.set_defaults(func=_years)

    policy = subparsers.add_parser("policy", help="jurisdiction policy profiles (政策配置)")
    policy.set_defaults(func=_help(policy))
    policy_cmds = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND")
    listing = policy_cmds.add_parser("list", help="the profiles; * marks the configured one")
    listing.set_defaults(func=_list)
    show = policy_cmds.add_parser("show", help="a profile's numbers with their articles")
    show.add_argument("name", nargs="?", help="profile name (default: GOVLAKE_POLICY_PROFILE)")
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(func=_show)
