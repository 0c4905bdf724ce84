from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.policy.workdays import (
    HOLIDAY,
    LIBRARY_YEARS,
    MAKEUP_WORKDAY,
    WEEKEND,
    WORKDAY,
    CalendarOverrideError,
    Deadline,
    WorkdayCalendar,
    add_workdays,
    answered_on_time,
    default_override_paths,
    get_calendar,
    is_official_year,
    is_overdue,
    is_workday,
    load_override_file,
    load_overrides,
    workdays_between,
)
from jobs.settings import PROJECT_ROOT, Settings

D = dt.date
CALENDAR_FOLDER = PROJECT_ROOT / "schemas" / "calendar"


def test_ten_workdays_from_friday_26_september_2025_is_16_october(library_calendar):
    deadline = library_calendar.add_workdays(D(2025, 9, 26), 10)

    assert deadline == Deadline(D(2025, 10, 16))
    assert not deadline.provisional
    assert str(deadline) == "2025-10-16"


def test_module_function_counts_on_the_calendar_of_the_settings():
    assert add_workdays(D(2025, 9, 26), 10, Settings()).date == D(2025, 10, 16)


def test_spring_festival_2025_span_is_skipped(library_calendar):
    assert library_calendar.add_workdays(D(2025, 1, 27), 1).date == D(2025, 2, 5)
    assert library_calendar.workdays_between(D(2025, 1, 27), D(2025, 2, 4)) == 0


def test_spring_festival_2025_make_up_sundays_and_saturdays_count(library_calendar):
    assert library_calendar.add_workdays(D(2025, 1, 24), 1).date == D(2025, 1, 26)
    assert library_calendar.add_workdays(D(2025, 2, 7), 1).date == D(2025, 2, 8)


def test_national_day_2024_span_is_skipped(library_calendar):
    assert library_calendar.add_workdays(D(2024, 9, 30), 1).date == D(2024, 10, 8)
    assert library_calendar.add_workdays(D(2024, 9, 27), 1).date == D(2024, 9, 29)


def test_make_up_saturday_is_counted(library_calendar):
    saturday = D(2025, 10, 11)

    assert saturday.weekday() == 5
    assert library_calendar.is_workday(saturday)
    assert library_calendar.day_kind(saturday) == MAKEUP_WORKDAY
    assert library_calendar.add_workdays(D(2025, 10, 10), 1).date == saturday


def test_day_kinds(library_calendar):
    assert library_calendar.day_kind(D(2025, 10, 1)) == HOLIDAY
    assert library_calendar.day_kind(D(2025, 10, 4)) == HOLIDAY
    assert library_calendar.day_kind(D(2025, 6, 7)) == WEEKEND
    assert library_calendar.day_kind(D(2025, 6, 9)) == WORKDAY
    assert library_calendar.day_kind(D(2027, 1, 1)) == WORKDAY


def test_receipt_day_does_not_count(library_calendar):
    assert library_calendar.add_workdays(D(2025, 6, 3), 1).date == D(2025, 6, 4)


def test_receipt_on_a_weekend_counts_from_the_next_working_day(library_calendar):
    assert library_calendar.add_workdays(D(2025, 6, 7), 1).date == D(2025, 6, 9)


def test_zero_workdays_is_the_receipt_day_itself(library_calendar):
    assert library_calendar.add_workdays(D(2025, 10, 1), 0) == Deadline(D(2025, 10, 1))
    assert library_calendar.add_workdays(D(2031, 3, 1), 0) == Deadline(D(2031, 3, 1))


@pytest.mark.parametrize("n", [-1, 1.5, True, "3"])
def test_rejects_a_negative_or_non_integer_count(library_calendar, n):
    with pytest.raises(ValueError, match="working days"):
        library_calendar.add_workdays(D(2025, 1, 2), n)


def test_accepts_a_datetime_as_the_receipt_moment(library_calendar):
    received_at = dt.datetime(2025, 9, 26, 17, 30)

    assert library_calendar.add_workdays(received_at, 10).date == D(2025, 10, 16)


def test_crossing_into_an_unknown_year_is_provisional_and_counts_monday_to_friday(
    library_calendar,
):
    deadline = library_calendar.add_workdays(D(2026, 12, 28), 10)

    assert deadline.date == D(2027, 1, 11)
    assert deadline.provisional
    assert deadline.provisional_years == (2027,)
    assert str(deadline) == "2027-01-11 (provisional)"


def test_deadline_inside_the_last_known_year_is_not_provisional(library_calendar):
    deadline = library_calendar.add_workdays(D(2026, 12, 21), 5)

    assert deadline.date == D(2026, 12, 28)
    assert not deadline.provisional


def test_every_unknown_year_crossed_is_listed(library_calendar):
    deadline = library_calendar.add_workdays(D(2026, 12, 30), 300)

    assert deadline.provisional_years == (2027, 2028)


def test_years_before_the_library_are_provisional(library_calendar):
    assert library_calendar.add_workdays(D(2003, 12, 1), 3).provisional_years == (2003,)
    assert not library_calendar.is_official(2003)


def test_official_years(library_calendar):
    assert library_calendar.is_official(2004)
    assert library_calendar.is_official(2026)
    assert not library_calendar.is_official(2027)
    assert is_official_year(2025, Settings())
    assert not is_official_year(2027, Settings())


def test_official_override_file_makes_the_year_official_and_changes_the_deadline(
    fictional_2027_official,
):
    deadline = add_workdays(D(2026, 12, 28), 10, overrides=fictional_2027_official)

    assert deadline == Deadline(D(2027, 1, 12))
    assert is_official_year(2027, overrides=fictional_2027_official)
    assert not is_workday(D(2027, 1, 1), overrides=fictional_2027_official)


def test_unofficial_override_is_used_but_stays_provisional(write_overrides):
    path = write_overrides(
        """
        years:
          2027:
            official: false   # planning guess, not announced
            holidays: [2027-01-01]
        """
    )

    deadline = add_workdays(D(2026, 12, 28), 10, overrides=path)

    assert deadline.date == D(2027, 1, 12)
    assert deadline.provisional_years == (2027,)


def test_override_replaces_a_year_the_library_knows(write_overrides):
    path = write_overrides(
        """
        years:
          2025:
            official: true
            holidays: []
        """
    )

    assert add_workdays(D(2025, 9, 26), 10, overrides=path) == Deadline(D(2025, 10, 10))


def test_override_ranges_and_make_up_weekend_days(write_overrides):
    path = write_overrides(
        """
        years:
          2030:
            official: true
            holidays: ["2030-10-01..2030-10-07"]
            workdays: [2030-09-29, "2030-10-12"]
        """
    )
    calendar = WorkdayCalendar(load_overrides([path]))

    assert [calendar.is_workday(D(2030, 10, d)) for d in range(1, 9)] == [False] * 7 + [True]
    assert calendar.day_kind(D(2030, 9, 29)) == MAKEUP_WORKDAY
    assert calendar.add_workdays(D(2030, 9, 27), 2) == Deadline(D(2030, 9, 30))
    assert calendar.add_workdays(D(2030, 9, 30), 1) == Deadline(D(2030, 10, 8))


def test_overrides_from_the_file_the_settings_name(fictional_2027_official):
    settings = Settings(calendar_overrides=str(fictional_2027_official))

    assert add_workdays(D(2026, 12, 28), 10, settings) == Deadline(D(2027, 1, 12))


def test_overrides_from_the_schemas_calendar_folder(tmp_path):
    folder = tmp_path / "schemas" / "calendar"
    folder.mkdir(parents=True)
    (folder / "2027.yaml").write_text(
        "years:\n  2027:\n    official: true\n    holidays: [2027-01-01]\n", encoding="utf-8"
    )
    (folder / "README.md").write_text("not read", encoding="utf-8")
    settings = Settings(schemas_root=str(tmp_path / "schemas"))

    assert is_official_year(2027, settings)
    assert add_workdays(D(2026, 12, 28), 10, settings).date == D(2027, 1, 12)


def test_shipped_calendar_folder_is_read_by_default_and_every_file_in_it_loads():
    paths = default_override_paths(Settings())
    shipped = sorted([*CALENDAR_FOLDER.glob("*.yaml"), *CALENDAR_FOLDER.glob("*.yml")])

    assert paths == [CALENDAR_FOLDER]
    assert set(get_calendar(paths).overrides) == {
        year for path in shipped for year in load_override_file(path)
    }


def test_calendar_readme_example_is_a_valid_override_file(tmp_path):
    readme = (CALENDAR_FOLDER / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    path = tmp_path / "2027.yaml"
    path.write_text(example, encoding="utf-8")

    schedule = load_override_file(path)[2027]

    assert schedule.official
    assert {D(2027, 1, 1), D(2027, 2, 6), D(2027, 2, 12)} <= schedule.holidays
    assert schedule.workdays == {D(2027, 2, 13)}
    calendar = WorkdayCalendar.from_files([path])
    assert calendar.day_kind(D(2027, 2, 13)) == MAKEUP_WORKDAY
    assert calendar.day_kind(D(2027, 2, 8)) == HOLIDAY


def test_edited_override_file_is_read_again(write_overrides):
    path = write_overrides("years:\n  2027:\n    official: false\n")
    assert not is_official_year(2027, overrides=path)

    path.write_text("years:\n  2027:\n    official: true\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert is_official_year(2027, overrides=path)


def test_a_ready_calendar_is_used_as_given(library_calendar):
    assert get_calendar(library_calendar) is library_calendar


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("years:\n  2027:\n    holidays: []\n", ":2: years.2027: missing key 'official'"),
        (
            "years:\n  2027:\n    official: yes please\n",
            ":3: years.2027.official: must be true or false, got str 'yes please'",
        ),
        ("years:\n  2027:\n    official: true\n    holidays: [2026-12-31]\n", "not in 2027"),
        ("years:\n  2027:\n    official: true\n    holidays: [2027-02-30]\n", "impossible date"),
        ("years:\n  2027:\n    official: true\n    holidays: [tomorrow]\n", "not a date"),
        (
            "years:\n  2027:\n    official: true\n    holidays: ['2027-01-07..2027-01-01']\n",
            "ends before it starts",
        ),
        ("years:\n  2027:\n    official: true\n    workdays: [2027-01-04]\n", "Monday"),
        (
            "years:\n  2027:\n    official: true\n    holidays: [2027-01-02]\n"
            "    workdays: [2027-01-02]\n",
            "both holiday and workday",
        ),
        (
            "years:\n  2027:\n    official: true\n    holiday: []\n",
            ":4: years.2027: unknown key 'holiday'",
        ),
        (
            "years:\n  2027:\n    official: true\n    holidays: 2027-01-01\n",
            ":4: years.2027.holidays: must be a list or null, got date",
        ),
        ("years:\n  next: {official: true}\n", ":2: years: key 'next': must be a year like 2027"),
        ("2027:\n  official: true\n", ":1: unknown key 2027"),
        ("2027:\n  official: true\n", ":1: missing key 'years'"),
        ("years: {}\n", "at least one year"),
        ("years: {2027: {official: true}}\nextra: 1\n", ":2: unknown key 'extra'"),
        (
            "years:\n  2027:\n    official: true\n  2027:\n    official: false\n",
            ":4: not valid YAML: found duplicate key 2027",
        ),
        ("years: [2027\n", "not valid YAML"),
    ],
)
def test_override_file_errors_name_the_file_and_the_problem(write_overrides, text, message):
    path = write_overrides(text, name="broken.yaml")

    with pytest.raises(CalendarOverrideError) as error:
        add_workdays(D(2026, 12, 28), 10, overrides=path)

    assert message in str(error.value)
    assert "broken.yaml" in str(error.value)


def test_year_errors_name_the_year(write_overrides):
    path = write_overrides("years:\n  2027:\n    official: 1\n")

    with pytest.raises(CalendarOverrideError, match=r"overrides.yaml:3: years\.2027\.official"):
        load_overrides([path])


def test_missing_override_file_is_an_error(tmp_path):
    with pytest.raises(CalendarOverrideError, match="does not exist"):
        get_calendar(tmp_path / "nowhere.yaml")


def test_missing_file_named_by_the_settings_is_an_error(tmp_path):
    settings = Settings(calendar_overrides=str(tmp_path / "nowhere.yaml"))

    with pytest.raises(CalendarOverrideError, match=r"nowhere\.yaml"):
        is_workday(D(2025, 1, 2), settings)


def test_a_year_in_two_files_is_an_error(write_overrides):
    first = write_overrides("years:\n  2027:\n    official: false\n", name="a.yaml")
    second = write_overrides("years:\n  2027:\n    official: true\n", name="b.yaml")

    with pytest.raises(CalendarOverrideError, match="also defined in"):
        load_overrides([first, second])


def test_workdays_between_counts_days_after_start_up_to_end(library_calendar):
    assert library_calendar.workdays_between(D(2025, 9, 26), D(2025, 10, 16)) == 10
    assert library_calendar.workdays_between(D(2025, 9, 26), D(2025, 9, 26)) == 0
    assert library_calendar.workdays_between(D(2025, 10, 16), D(2025, 9, 26)) == -10
    assert workdays_between(D(2025, 9, 30), D(2025, 10, 8), Settings()) == 0


def test_answer_on_the_deadline_is_on_time_and_the_weekend_after_is_late():
    received = D(2025, 6, 6)  # Friday; 5 working days later is Friday 2025-06-13

    assert answered_on_time(received, D(2025, 6, 13), 5, Settings())
    assert not answered_on_time(received, D(2025, 6, 14), 5, Settings())
    assert not is_overdue(received, 5, D(2025, 6, 13), Settings())
    assert is_overdue(received, 5, D(2025, 6, 14), Settings())


def test_days_lists_every_day_with_its_kind(library_calendar):
    days = library_calendar.days(D(2025, 9, 30), D(2025, 10, 1))

    assert [(d.date, d.is_workday, d.kind, d.official) for d in days] == [
        (D(2025, 9, 30), True, WORKDAY, True),
        (D(2025, 10, 1), False, HOLIDAY, True),
    ]


# Dates from before the library's first year to past its last, so fallback years are included.
any_day = st.dates(min_value=D(2002, 1, 1), max_value=D(2029, 12, 31))
counts = st.integers(min_value=0, max_value=40)


@settings(max_examples=200, deadline=None)
@given(start=any_day, a=counts, b=counts)
def test_adding_in_two_steps_equals_adding_at_once(start, a, b):
    calendar = WorkdayCalendar()
    first = calendar.add_workdays(start, a)

    assert calendar.add_workdays(first.date, b).date == calendar.add_workdays(start, a + b).date


@settings(max_examples=200, deadline=None)
@given(start=any_day, n=st.integers(min_value=1, max_value=40))
def test_result_is_the_earliest_working_day_with_n_counted(start, n):
    calendar = WorkdayCalendar()
    deadline = calendar.add_workdays(start, n)

    assert calendar.is_workday(deadline.date)
    assert calendar.workdays_between(start, deadline.date) == n
    assert calendar.workdays_between(start, deadline.date - dt.timedelta(days=1)) == n - 1


@settings(max_examples=200, deadline=None)
@given(start=any_day, n=st.integers(min_value=1, max_value=40))
def test_provisional_exactly_when_a_counted_day_falls_outside_the_library_years(start, n):
    deadline = WorkdayCalendar().add_workdays(start, n)
    counted_days = [
        start + dt.timedelta(days=i) for i in range(1, (deadline.date - start).days + 1)
    ]
    unknown_years = {d.year for d in counted_days if d.year not in LIBRARY_YEARS}

    assert set(deadline.provisional_years) == unknown_years
