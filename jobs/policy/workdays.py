"""The official Chinese working-day calendar (工作日) and deadlines counted on it.

Every deadline in the regulations is "N working days from receipt": statutory holidays
(法定节假日) are off, the announced make-up weekend days (调休) are working days, and the day of
receipt does not count. The State Council announces each coming year's schedule late in the
year, so a year's schedule comes from, in order:

1. an override file (``schemas/calendar/*.yaml``, or the file or folder named by
   ``GOVLAKE_CALENDAR_OVERRIDES``): it replaces the whole year and says whether it is official;
2. the ``chinese_calendar`` package, for the years it knows (1.11: 2004–2026), official;
3. otherwise Monday–Friday, and anything counted over that year is *provisional*.

The override format is described in ``schemas/calendar/README.md``.

For one-off calls use the module functions (:func:`add_workdays`, :func:`is_workday`,
:func:`workdays_between`); code that counts many deadlines builds one :class:`WorkdayCalendar`
(:func:`get_calendar`) and calls its methods, so the override files are read once. Which
overrides to read is always the caller's to say (its :class:`~jobs.settings.Settings`, a file or
folder, or a ready calendar): this module never reads the environment.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import chinese_calendar
from chinese_calendar.constants import holidays as _LIB_HOLIDAYS
from chinese_calendar.constants import workdays as _LIB_WORKDAYS

from jobs import yamlconf
from jobs.settings import PROJECT_ROOT, Settings
from jobs.yamlconf import BOOL, DATE, TEXT, Keys, ListOf, MapOf, OneOf, Scalar, optional

#: Years the chinese_calendar package has an official schedule for.
LIBRARY_YEARS = range(min(_LIB_HOLIDAYS).year, max(_LIB_HOLIDAYS).year + 1)
LIBRARY_NAME = f"chinese_calendar {getattr(chinese_calendar, '__version__', '')}".strip()

# Kinds of day, as reported by WorkdayCalendar.day_kind.
WORKDAY = "workday"
MAKEUP_WORKDAY = "make-up workday"  # 调休上班
HOLIDAY = "holiday"  # 法定节假日 (including the weekend days inside a holiday span)
WEEKEND = "weekend"

#: A day in ``holidays`` / ``workdays``: a date, or an inclusive range "YYYY-MM-DD..YYYY-MM-DD".
_DAYS = optional(ListOf(OneOf((DATE, TEXT))))
_YEAR = Keys(
    {"official": BOOL, "holidays": _DAYS, "workdays": _DAYS, "note": TEXT, "source": TEXT},
    required={"official"},
)
_YEAR_KEY = Scalar(
    "must be a year like 2027",
    lambda k: (
        (isinstance(k, int) and not isinstance(k, bool)) or (isinstance(k, str) and k.isdigit())
    ),
)
#: An override file (``schemas/calendar/*.yaml``).
OVERRIDE_FILE_SHAPE = Keys(
    {"years": MapOf(_YEAR, key=_YEAR_KEY), "description": TEXT}, required={"years"}
)


class CalendarOverrideError(ValueError):
    """An override file is missing, unreadable or does not follow the documented format."""


@dataclass(frozen=True)
class YearSchedule:
    """One year's schedule from an override file.

    A weekday is a working day unless listed in ``holidays``; a weekend day is a rest day unless
    listed in ``workdays`` (make-up working days, 调休).
    """

    year: int
    official: bool
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str
    note: str = ""

    def is_workday(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


@dataclass(frozen=True)
class Deadline:
    """A date N working days after a start date, and whether it rests on a provisional year.

    ``provisional_years`` lists the years crossed while counting that have no official schedule
    (neither an ``official: true`` override nor chinese_calendar): there the count used
    Monday–Friday or an unofficial override, and the date may move once the year is announced.
    """

    date: dt.date
    provisional_years: tuple[int, ...] = ()

    @property
    def provisional(self) -> bool:
        return bool(self.provisional_years)

    def __str__(self) -> str:
        return self.date.isoformat() + (" (provisional)" if self.provisional else "")


class CalendarDay(NamedTuple):
    """One calendar day (for building a calendar table, e.g. a Spark DataFrame to join on)."""

    date: dt.date
    is_workday: bool
    kind: str
    official: bool


def _as_date(value: dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if not isinstance(value, dt.date):
        raise TypeError(f"expected a date, got {type(value).__name__}: {value!r}")
    return value


class WorkdayCalendar:
    """The working-day calendar: override years first, then chinese_calendar, then Mon–Fri.

    Args:
        overrides: year → schedule, usually from :func:`load_overrides`. A year listed here
            replaces chinese_calendar's schedule for that year entirely.
    """

    def __init__(self, overrides: Mapping[int, YearSchedule] | None = None) -> None:
        self.overrides: dict[int, YearSchedule] = dict(overrides or {})

    @classmethod
    def from_files(cls, paths: Iterable[str | os.PathLike[str]]) -> WorkdayCalendar:
        """Builds a calendar from override files or folders (see :func:`load_overrides`)."""
        return cls(load_overrides(paths))

    def __repr__(self) -> str:
        return f"WorkdayCalendar(override_years={sorted(self.overrides)})"

    # -- what is known about a year ----------------------------------------------------------

    def is_official(self, year: int) -> bool:
        """True when the year's schedule is the announced one (an official override or the
        chinese_calendar package); False when counting over it would be provisional."""
        schedule = self.overrides.get(year)
        if schedule is not None:
            return schedule.official
        return year in LIBRARY_YEARS

    def source_of(self, year: int) -> str:
        """Where the year's schedule comes from, for messages: a file, the library, or Mon–Fri."""
        schedule = self.overrides.get(year)
        if schedule is not None:
            status = "official" if schedule.official else "not official"
            return f"{schedule.source} ({status})"
        if year in LIBRARY_YEARS:
            return LIBRARY_NAME
        return "Monday–Friday fallback (no schedule)"

    # -- days ------------------------------------------------------------------------------------

    def is_workday(self, day: dt.date) -> bool:
        """True if the day is a working day (make-up weekend days count, holidays do not)."""
        day = _as_date(day)
        schedule = self.overrides.get(day.year)
        if schedule is not None:
            return schedule.is_workday(day)
        if day.year in LIBRARY_YEARS:
            return chinese_calendar.is_workday(day)
        return day.weekday() < 5

    def day_kind(self, day: dt.date) -> str:
        """One of ``workday``, ``make-up workday`` (调休), ``holiday``, ``weekend``."""
        day = _as_date(day)
        schedule = self.overrides.get(day.year)
        if schedule is not None:
            makeup, holiday = day in schedule.workdays, day in schedule.holidays
        elif day.year in LIBRARY_YEARS:
            makeup, holiday = day in _LIB_WORKDAYS, day in _LIB_HOLIDAYS
        else:
            makeup = holiday = False
        if makeup:
            return MAKEUP_WORKDAY
        if holiday:
            return HOLIDAY
        return WORKDAY if day.weekday() < 5 else WEEKEND

    def days(self, first: dt.date, last: dt.date) -> list[CalendarDay]:
        """Every day from ``first`` to ``last`` inclusive, with its kind and official status."""
        first, last = _as_date(first), _as_date(last)
        out: list[CalendarDay] = []
        day = first
        while day <= last:
            out.append(
                CalendarDay(
                    day, self.is_workday(day), self.day_kind(day), self.is_official(day.year)
                )
            )
            day += dt.timedelta(days=1)
        return out

    # -- counting -------------------------------------------------------------------------------

    def add_workdays(self, start: dt.date, n: int) -> Deadline:
        """The N-th working day after ``start`` (the day of receipt does not count).

        ``n == 0`` returns ``start`` itself (nothing is counted, so nothing is provisional).
        For ``n >= 1`` the result is always a working day, and
        ``add_workdays(d, a + b) == add_workdays(add_workdays(d, a).date, b)``.

        Raises:
            ValueError: ``n`` is negative or not an integer.
        """
        start = _as_date(start)
        if isinstance(n, bool) or not isinstance(n, int):
            raise ValueError(f"the number of working days must be an integer, got {n!r}")
        if n < 0:
            raise ValueError(f"the number of working days must be >= 0, got {n}")
        day, counted = start, 0
        one = dt.timedelta(days=1)
        try:
            while counted < n:
                day += one
                if self.is_workday(day):
                    counted += 1
        except OverflowError as exc:
            raise ValueError(
                f"{start} + {n} working days is past the last representable date"
            ) from exc
        return Deadline(day, self.provisional_years(start, day) if n else ())

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start).

        The count that :meth:`add_workdays` uses: ``workdays_between(d, add_workdays(d, n).date)
        == n``. Use it to say how many working days an answer took; to decide "on time", compare
        dates with :meth:`answered_on_time` (an answer on the weekend after a Friday deadline is
        late even though no working day passed).
        """
        start, end = _as_date(start), _as_date(end)
        if end < start:
            return -self.workdays_between(end, start)
        count, day, one = 0, start, dt.timedelta(days=1)
        while day < end:
            day += one
            if self.is_workday(day):
                count += 1
        return count

    def provisional_years(self, start: dt.date, end: dt.date) -> tuple[int, ...]:
        """Years in which days after ``start`` up to ``end`` fall that have no official schedule."""
        start, end = _as_date(start), _as_date(end)
        if end < start:
            start, end = end, start
        if end == start:
            return ()
        first_year = (start + dt.timedelta(days=1)).year
        return tuple(y for y in range(first_year, end.year + 1) if not self.is_official(y))

    def deadline(self, received_on: dt.date, n: int) -> Deadline:
        """Alias of :meth:`add_workdays` that reads well at call sites about requests."""
        return self.add_workdays(received_on, n)

    def answered_on_time(self, received_on: dt.date, answered_on: dt.date, n: int) -> bool:
        """True if an answer given on ``answered_on`` meets an N-working-day deadline."""
        return _as_date(answered_on) <= self.add_workdays(received_on, n).date

    def is_overdue(self, received_on: dt.date, n: int, today: dt.date) -> bool:
        """True once ``today`` is past the N-working-day deadline (for a request still unanswered)."""
        return _as_date(today) > self.add_workdays(received_on, n).date


# -- override files --------------------------------------------------------------------------------


def _parse_day(value: Any, where: str) -> list[dt.date]:
    """A date, an ISO date string, or an inclusive range ``"YYYY-MM-DD..YYYY-MM-DD"``."""
    if isinstance(value, dt.datetime):
        raise CalendarOverrideError(f"{where}: {value!r} has a time; give a date")
    if isinstance(value, dt.date):
        return [value]
    if not isinstance(value, str):
        raise CalendarOverrideError(f"{where}: expected a date YYYY-MM-DD, got {value!r}")
    text = value.strip()
    try:
        if ".." in text:
            first_text, last_text = (part.strip() for part in text.split("..", 1))
            first, last = dt.date.fromisoformat(first_text), dt.date.fromisoformat(last_text)
            if last < first:
                raise CalendarOverrideError(f"{where}: range {text!r} ends before it starts")
            return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        return [dt.date.fromisoformat(text)]
    except ValueError as exc:
        if isinstance(exc, CalendarOverrideError):
            raise
        raise CalendarOverrideError(
            f"{where}: {value!r} is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD"
        ) from exc


def _parse_days(raw: Any, year: int, where: str) -> frozenset[dt.date]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise CalendarOverrideError(f"{where}: expected a list of dates, got {raw!r}")
    out: set[dt.date] = set()
    for item in raw:
        for day in _parse_day(item, where):
            if day.year != year:
                raise CalendarOverrideError(f"{where}: {day} is not in {year}")
            out.add(day)
    return frozenset(out)


def _parse_year(path: Path, key: Any, raw: Any, line: int | None) -> YearSchedule:
    # The shape (OVERRIDE_FILE_SHAPE) is checked: here only what the days mean.
    year = int(key)
    where = f"{path}:{line}: year {key}" if line else f"{path}: year {key}"
    official = raw["official"]
    holidays = _parse_days(raw.get("holidays"), year, f"{where}: holidays")
    workdays = _parse_days(raw.get("workdays"), year, f"{where}: workdays")
    both = sorted(holidays & workdays)
    if both:
        listed = ", ".join(d.isoformat() for d in both)
        raise CalendarOverrideError(f"{where}: listed as both holiday and workday: {listed}")
    weekdays = sorted(d for d in workdays if d.weekday() < 5)
    if weekdays:
        listed = ", ".join(f"{d} ({d:%A})" for d in weekdays)
        raise CalendarOverrideError(
            f"{where}: workdays lists make-up working days (调休), which fall on weekends; "
            f"these are already weekdays: {listed}"
        )
    note = raw.get("note") or raw.get("source") or ""
    return YearSchedule(year, official, holidays, workdays, str(path), str(note))


def load_override_file(path: str | os.PathLike[str]) -> dict[int, YearSchedule]:
    """Reads one override file; raises :class:`CalendarOverrideError` naming file, line and
    year."""
    data = yamlconf.load(path, OVERRIDE_FILE_SHAPE, CalendarOverrideError)
    if not data["years"]:
        raise CalendarOverrideError(f"{path}: 'years' must map at least one year to its schedule")
    years = data["years"]
    schedules = [
        _parse_year(Path(path), key, raw, yamlconf.line_of(years, key))
        for key, raw in years.items()
    ]
    return {s.year: s for s in schedules}


def _override_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            files.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        elif path.is_file():
            files.append(path)
        else:
            raise CalendarOverrideError(f"{path}: calendar override file or folder does not exist")
    return files


def load_overrides(paths: Iterable[str | os.PathLike[str]]) -> dict[int, YearSchedule]:
    """Reads override files (a folder contributes its ``*.yaml``/``*.yml``, in name order).

    A year defined in two files is an error: which one should win is a decision for a person.
    """
    merged: dict[int, YearSchedule] = {}
    for file in _override_files(paths):
        for year, schedule in load_override_file(file).items():
            if year in merged:
                raise CalendarOverrideError(
                    f"{file}: year {year} is also defined in {merged[year].source}; "
                    "keep one schedule per year"
                )
            merged[year] = schedule
    return merged


# -- the configured calendar -----------------------------------------------------------------------


def default_override_paths(settings: Settings) -> list[Path]:
    """Where the overrides of ``settings`` come from: ``calendar_overrides`` if set (relative
    paths are taken from the project folder, like other settings), else ``<schemas_root>/calendar``."""
    if settings.calendar_overrides:
        path = Path(settings.calendar_overrides)
        return [path if path.is_absolute() else PROJECT_ROOT / path]
    folder = Path(settings.schemas_root) / "calendar"
    return [folder] if folder.is_dir() else []


@functools.lru_cache(maxsize=16)
def _cached_calendar(key: tuple[tuple[str, int], ...]) -> WorkdayCalendar:
    return WorkdayCalendar.from_files(path for path, _ in key)


def _calendar_from_paths(paths: Sequence[str | os.PathLike[str]]) -> WorkdayCalendar:
    files = _override_files(paths)
    try:
        key = tuple((str(f), f.stat().st_mtime_ns) for f in files)
    except OSError as exc:
        raise CalendarOverrideError(f"cannot read calendar override file: {exc}") from exc
    return _cached_calendar(key)


CalendarLike: TypeAlias = (
    "WorkdayCalendar | Settings | str | os.PathLike[str] | Sequence[str | os.PathLike[str]]"
)


def get_calendar(overrides: CalendarLike) -> WorkdayCalendar:
    """The calendar to count on.

    Args:
        overrides: the settings, for their overrides (``calendar_overrides``, else
            ``<schemas_root>/calendar``); a file or folder path, or a list of them; or a ready
            :class:`WorkdayCalendar`, returned as is.
    """
    if isinstance(overrides, WorkdayCalendar):
        return overrides
    if isinstance(overrides, Settings):
        return _calendar_from_paths(default_override_paths(overrides))
    if isinstance(overrides, str | os.PathLike):
        return _calendar_from_paths([overrides])
    return _calendar_from_paths(list(overrides))


def add_workdays(start: dt.date, n: int, overrides: CalendarLike) -> Deadline:
    """The deadline N working days after ``start``; see :meth:`WorkdayCalendar.add_workdays`.

    Example: received Friday 2025-09-26, 10 working days → 2025-10-16 (Sunday 09-28 and
    Saturday 10-11 are make-up working days; 10-01 to 10-08 is the National Day holiday).
    """
    return get_calendar(overrides).add_workdays(start, n)


def is_workday(day: dt.date, overrides: CalendarLike) -> bool:
    """True if ``day`` is a working day on the official calendar (Mon–Fri if unknown)."""
    return get_calendar(overrides).is_workday(day)


def workdays_between(start: dt.date, end: dt.date, overrides: CalendarLike) -> int:
    """Working days after ``start`` up to and including ``end``; see
    :meth:`WorkdayCalendar.workdays_between`."""
    return get_calendar(overrides).workdays_between(start, end)


def is_official_year(year: int, overrides: CalendarLike) -> bool:
    """True if the year's schedule is the announced one; deadlines over other years are
    provisional."""
    return get_calendar(overrides).is_official(year)


def answered_on_time(
    received_on: dt.date, answered_on: dt.date, n: int, overrides: CalendarLike
) -> bool:
    """True if an answer on ``answered_on`` meets an N-working-day deadline from receipt."""
    return get_calendar(overrides).answered_on_time(received_on, answered_on, n)


def is_overdue(received_on: dt.date, n: int, today: dt.date, overrides: CalendarLike) -> bool:
    """True once ``today`` is past the N-working-day deadline counted from receipt."""
    return get_calendar(overrides).is_overdue(received_on, n, today)


def iter_years(calendar: WorkdayCalendar) -> Iterator[tuple[int, bool, str]]:
    """(year, official, source) for every year the calendar has a schedule for, ascending."""
    for year in sorted(set(LIBRARY_YEARS) | set(calendar.overrides)):
        yield year, calendar.is_official(year), calendar.source_of(year)
