"""The date and instant rules of :mod:`jobs.standardize.values` over Arrow arrays, result for
result (:mod:`jobs.standardize.arrow_values` says how the twins are kept exact).

Dates and instants are proleptic Gregorian day numbers computed in numpy, checked as strictly as
Spark's parser checks them (2021-02-30 is no date; year 0 is, and is then not storable); the
common shapes (``yyyyMMdd``, ``yyyy-MM-dd``, ``yyyy-MM-dd HH:mm:ss``) are read from their bytes,
the others by regular expression. Wall-clock times are resolved in a time zone as Java resolves
them (a gap moves later, an overlap takes the earlier instant).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.standardize.arrow_values import (
    _FINAL_TERMINATOR,
    _MICROS_PER_DAY,
    JAVA_DOT,
    JAVA_END,
    _digits,
    _is_digit,
    _is_token,
    _mask,
    byte_lengths,
    fixed_width_bytes,
)
from jobs.standardize.values import NO_END_DATE_TOKENS


def _days_of(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Proleptic Gregorian day numbers (days since 1970-01-01) and whether each y-m-d is a real
    day (months 1-12, days within the month, leap years by the Gregorian rule)."""
    year, month, day = (np.asarray(x, np.int64) for x in (year, month, day))
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    limit = month_days[np.clip(month, 0, 12)] + ((month == 2) & leap)
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (day <= limit)
    # days_from_civil (H. Hinnant)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468, valid


def civil_of(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of proleptic Gregorian day numbers (the inverse of ``_days_of``)."""
    z = np.asarray(days, np.int64) + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def _integers(text: pa.Array) -> np.ndarray:
    """Digit strings as int64 (NULL and non-digits as -1)."""
    digits = pc.if_else(
        pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{1,9}$"), False), text, "-1"
    )
    return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)


def _date_array(days: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(days.astype(np.int32), pa.date32(), mask=~valid)


def date_text(clean: pa.Array) -> pa.Array:
    """:func:`values.date_text`: 2021年12月13日, 2021/12/13, 2021.12.13 → 2021-12-13, a time
    part dropped."""
    text = pc.replace_substring_regex(clean, r"[年月/.]", "-")
    text = pc.replace_substring(text, "日", "")
    return pc.replace_substring_regex(
        text,
        rf"^([0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}})[T ]{JAVA_DOT}*({_FINAL_TERMINATOR})$",
        r"\1\2",
    )


def _day_numbers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers of :func:`date_text` values (``yyyyMMdd`` or ``yyyy-M-d``) and which are
    dates (Spark's strict parser: a text that only matches Java's ``$`` before a final line
    terminator fails to parse)."""
    compact = pc.extract_regex(text, r"^(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})$")
    dashed = pc.extract_regex(text, r"^(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})$")
    parts = pc.if_else(pc.is_valid(compact), compact, dashed)
    found = _mask(pc.is_valid(parts))
    year, month, day = (_integers(pc.struct_field(parts, k)) for k in "ymd")
    days, real = _days_of(year, month, day)
    return days, found & real


def is_no_end_date(clean: pa.Array) -> pa.Array:
    """长期 and its kin: a valid empty end date, not an error."""
    return _is_token(clean, NO_END_DATE_TOKENS)


def _fixed_shape(
    clean: pa.Array, pattern: str, also: Mapping[str, str] | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The rows whose text has exactly the layout of ``pattern`` (letters y M d H m s: digits of
    that field; any other character itself, or one ``also`` gives for it), and each field's
    numbers on those rows: the common shapes of dates and instants read straight from the
    bytes, without a regex a row."""
    rows = np.flatnonzero(byte_lengths(clean) == len(pattern))
    if not len(rows):
        return rows, {}
    matrix = fixed_width_bytes(clean, rows, len(pattern))
    shaped = np.ones(len(rows), bool)
    fields = {}
    for letter, group in itertools.groupby(range(len(pattern)), key=pattern.__getitem__):
        columns = matrix[:, list(group)]
        if letter in "yMdHms":
            shaped &= _is_digit(columns)
            fields[letter] = _digits(columns)
        else:
            accepted = letter + (also or {}).get(letter, "")
            shaped &= np.isin(columns, [ord(c) for c in accepted]).all(axis=1)
    return rows[shaped], {letter: numbers[shaped] for letter, numbers in fields.items()}


def _fast_day_numbers(
    clean: pa.Array, days: np.ndarray, valid: np.ndarray, handled: np.ndarray
) -> None:
    """Day numbers of ``yyyyMMdd`` and ``yyyy-MM-dd`` (what :func:`date_text` and the parser
    make of them) from the bytes."""
    for pattern in ("yyyyMMdd", "yyyy-MM-dd"):
        rows, fields = _fixed_shape(clean, pattern)
        if len(rows):
            days[rows], valid[rows] = _days_of(fields["y"], fields["M"], fields["d"])
            handled[rows] = True


def _parsed_days(clean: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    n = len(clean)
    days, valid, handled = np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool)
    _fast_day_numbers(clean, days, valid, handled)
    rest = ~handled & _mask(pc.is_valid(clean))
    if rest.any():
        days[rest], valid[rest] = _day_numbers(date_text(clean.filter(pa.array(rest))))
    return days, valid


def parsed_date(clean: pa.Array) -> pa.Array:
    """:func:`values.parsed_date` of clean text: a date32, NULL when absent, 长期-like or not
    a date. Year 0 is a date here as in Spark (:func:`is_storable` then refuses it)."""
    days, valid = _parsed_days(clean)
    return _date_array(days, valid & ~_mask(is_no_end_date(clean)))


def utc_micros_of_local(local_micros: np.ndarray, valid: np.ndarray, timezone: str) -> np.ndarray:
    """Instants (µs since the epoch, UTC) of wall-clock times in ``timezone`` as Java resolves
    them: a time in a gap (summer time starting) is moved later by the gap's length, a time in
    an overlap takes the earlier instant."""
    local = pa.array(np.where(valid, local_micros, 0), pa.timestamp("us"))
    earliest = pc.assume_timezone(local, timezone, ambiguous="earliest", nonexistent="earliest")
    wall = pc.local_timestamp(earliest).cast(pa.int64()).to_numpy()
    instant = earliest.cast(pa.int64()).to_numpy()
    # In a gap, "earliest" is the last instant before it: its offset is the one Java applies.
    return np.asarray(local_micros, np.int64) - (wall - instant)


def _timestamp_array(micros: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(np.where(valid, micros, 0), pa.timestamp("us", tz="UTC"), mask=~valid)


def timestamp_text(clean: pa.Array) -> pa.Array:
    """:func:`values.timestamp_text`: '2021年12月13日 08:30' → '2021-12-13 08:30'."""
    text = pc.replace_substring_regex(clean, r"[年月/.]", "-")
    text = pc.replace_substring(pc.replace_substring(text, "日", " "), "T", " ")
    return pc.utf8_trim(text, " ")


_TIMESTAMP_SHAPES = (
    (
        r"^[0-9]{14}",
        r"^(?P<y>[0-9]{4})(?P<mo>[0-9]{2})(?P<d>[0-9]{2})(?P<h>[0-9]{2})(?P<mi>[0-9]{2})(?P<s>[0-9]{2})$",
    ),
    (
        r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{2}:[0-9]{2}",
        r"^(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2}) (?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})$",
    ),
    (
        r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{2}",
        r"^(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2}) (?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})(?P<s>)$",
    ),
)


def _clock_micros(hour, minute, second) -> tuple[np.ndarray, np.ndarray]:
    valid = (hour >= 0) & (hour <= 23) & (minute >= 0) & (minute <= 59)
    valid &= (second >= 0) & (second <= 59)
    return ((hour * 60 + minute) * 60 + second) * 1_000_000, valid


def _fast_local_micros(
    clean: pa.Array, local: np.ndarray, valid: np.ndarray, handled: np.ndarray
) -> None:
    """Wall-clock µs of ``yyyy-MM-dd HH:mm:ss`` (or with T) and ``yyyyMMddHHmmss`` from the
    bytes."""
    for pattern, also in (("yyyy-MM-dd HH:mm:ss", {" ": "T"}), ("yyyyMMddHHmmss", None)):
        rows, fields = _fixed_shape(clean, pattern, also)
        if len(rows):
            days, real = _days_of(fields["y"], fields["M"], fields["d"])
            clock, clock_ok = _clock_micros(fields["H"], fields["m"], fields["s"])
            local[rows] = days * _MICROS_PER_DAY + clock
            valid[rows], handled[rows] = real & clock_ok, True


def _local_micros(clean: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock µs and validity of :func:`values.parsed_timestamp`'s shapes, by regex."""
    text = timestamp_text(clean)
    n = len(clean)
    local, valid, decided = np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool)
    for shape, parts_pattern in _TIMESTAMP_SHAPES:
        # The first shape the text has decides, as Spark's CASE WHEN: a shape that does not
        # parse (25:00) is NULL, not a date.
        matches = _mask(pc.match_substring_regex(text, shape + JAVA_END)) & ~decided
        if not matches.any():
            continue
        parts = pc.extract_regex(text, parts_pattern)
        number = {k: _integers(pc.struct_field(parts, k)) for k in ("y", "mo", "d", "h", "mi")}
        seconds_text = pc.struct_field(parts, "s")
        seconds = _integers(pc.if_else(pc.equal(seconds_text, ""), "0", seconds_text))
        days, real = _days_of(number["y"], number["mo"], number["d"])
        clock, clock_ok = _clock_micros(number["h"], number["mi"], seconds)
        parsed = _mask(pc.is_valid(parts)) & real & clock_ok
        local = np.where(matches, days * _MICROS_PER_DAY + clock, local)
        valid = np.where(matches, parsed, valid)
        decided |= matches
    date = parsed_date(clean)
    date_days = date.fill_null(0).cast(pa.int32()).to_numpy().astype(np.int64)
    by_date = ~decided & _mask(pc.is_valid(date))
    local = np.where(by_date, date_days * _MICROS_PER_DAY, local)
    return local, valid | by_date


def parsed_timestamp(clean: pa.Array, timezone: str) -> pa.Array:
    """:func:`values.parsed_timestamp` of clean text, wall-clock times read in ``timezone``
    (Spark's session time zone): a timestamp[us, UTC]; a bare date is its midnight."""
    n = len(clean)
    local, valid, handled = np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool)
    _fast_local_micros(clean, local, valid, handled)
    rest = ~handled & _mask(pc.is_valid(clean))
    if rest.any():
        local[rest], valid[rest] = _local_micros(clean.filter(pa.array(rest)))
    return _timestamp_array(utc_micros_of_local(local, valid, timezone), valid)
