"""The value rules of :mod:`jobs.standardize.values` over Arrow arrays, result for result.

Each function takes and returns ``pa.Array`` and computes exactly what its Spark twin computes
on the same text (``tests/standardize/test_arrow_values.py`` compares them), so the same batch
standardised in-process and by Spark gives the same pool. The work is pyarrow.compute kernels
and numpy over whole arrays; no per-row Python.

Spark's rules are Java regular expressions; pyarrow's are RE2. Where the two read a pattern
differently the patterns here spell out Java's meaning:

* Java's ``\\s`` is ``[ \\t\\n\\x0B\\f\\r]`` (RE2's lacks ``\\x0B``);
* Java's ``$`` also matches before one final line terminator (``\\n``, ``\\r\\n``, ``\\r``,
  ``\\x85``, ``\\u2028``, ``\\u2029``) and its ``.`` matches none of them: :data:`JAVA_END`,
  :data:`JAVA_DOT`. After :func:`clean_text` only ``\\x85`` can still be there;
* no look-behind in RE2: the rules that use one are rewritten (:func:`normalized_name`).

Dates and instants are proleptic Gregorian day numbers computed in numpy, checked as strictly
as Spark's parser checks them (2021-02-30 is no date; year 0 is, and is then not storable).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.standardize.values import NO_END_DATE_TOKENS, NOT_A_VALUE_TOKENS, RANGE_LIMITED_TYPES

#: Java's ``$`` (no MULTILINE): the end, or just before one final line terminator.
_FINAL_TERMINATOR = r"(?:\r\n|[\n\r\x{85}\x{2028}\x{2029}])?"
JAVA_END = _FINAL_TERMINATOR + "$"
#: Java's ``.`` (no DOTALL): any character but a line terminator.
JAVA_DOT = r"[^\n\r\x{85}\x{2028}\x{2029}]"
#: Java's ``\s`` inside a character class.
JAVA_SPACE = r"\t\n\x{0B}\f\r "

_FOLDED_SPACE = rf"[{JAVA_SPACE}\p{{Z}}\x{{200B}}-\x{{200D}}\x{{2060}}\x{{FEFF}}]+"
_NULL_TEXT = pa.scalar(None, pa.string())

# The lake stores years 1 to 9999 (see values.is_storable).
_FIRST_DAY, _LAST_DAY = -719162, 2932896
_FIRST_MICROS = -62135596800000000
_LAST_MICROS = 253402300799000000
_MICROS_PER_DAY = 86_400_000_000


def _string_array(values: pa.Array) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values if values.type == pa.string() else values.cast(pa.string())


def _mask(predicate: pa.Array) -> np.ndarray:
    """A boolean array as numpy booleans, NULL as False."""
    return pc.fill_null(predicate, False).to_numpy(zero_copy_only=False)


def _offsets_and_data(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.frombuffer(values.buffers()[1], np.int32)[
        values.offset : values.offset + len(values) + 1
    ]
    data_buffer = values.buffers()[2]
    data = (
        np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    )
    return offsets, data


def byte_lengths(values: pa.Array) -> np.ndarray:
    """UTF-8 length of each string (0 for NULL)."""
    offsets, _ = _offsets_and_data(values)
    return np.diff(offsets)


def fixed_width_bytes(values: pa.Array, rows: np.ndarray, width: int) -> np.ndarray:
    """The first ``width`` bytes of the strings at ``rows`` (each at least that long), as a
    ``len(rows) × width`` matrix: a fixed layout numpy reads without a kernel per field."""
    offsets, data = _offsets_and_data(values)
    return data[offsets[rows][:, None] + np.arange(width)]


def _rows_of_positions(offsets: np.ndarray, positions: np.ndarray, n: int) -> np.ndarray:
    """Which of ``n`` strings hold one of the byte ``positions`` (indexes into the data)."""
    rows = np.zeros(n, bool)
    rows[np.searchsorted(offsets, positions, side="right") - 1] = True
    return rows


def rows_with_bytes(values: pa.Array, flagged: np.ndarray) -> np.ndarray:
    """Which strings hold at least one byte that ``flagged`` (a 256-entry table) marks."""
    offsets, data = _offsets_and_data(values)
    positions = np.flatnonzero(flagged[data[offsets[0] : offsets[-1]]]) + offsets[0]
    return _rows_of_positions(offsets, positions, len(values))


def _digits(matrix: np.ndarray) -> np.ndarray:
    """The number the ASCII digits of each matrix row spell."""
    return (matrix.astype(np.int64) - 48) @ (10 ** np.arange(matrix.shape[1] - 1, -1, -1))


def _is_digit(matrix: np.ndarray) -> np.ndarray:
    return ((matrix >= 48) & (matrix <= 57)).all(axis=1)


def _with_subset(mask: np.ndarray, values: pa.Array, transform) -> pa.Array:
    """``values`` with ``transform`` applied to the rows ``mask`` marks only (the few that
    need an expensive kernel)."""
    if not mask.any():
        return values
    selected = pa.array(mask)
    return pc.replace_with_mask(values, selected, transform(values.filter(selected)))


_HALF_WIDTH_LEADS = np.zeros(256, bool)
_HALF_WIDTH_LEADS[[0xEF, 0xE3]] = True


def half_width(values: pa.Array) -> pa.Array:
    """Full-width ASCII (U+FF01…FF5E) and the ideographic space made ASCII, every other
    character kept (Spark's ``translate``; NFKC would change far more, ㎡ and ① included)."""
    values = _string_array(values)
    return _with_subset(rows_with_bytes(values, _HALF_WIDTH_LEADS), values, _half_width_bytes)


def _half_width_bytes(values: pa.Array) -> pa.Array:
    # On the UTF-8 bytes: each of these characters is three bytes (EF BC 81–BF, EF BD 80–9E,
    # E3 80 80) that become one ASCII byte.
    offsets, data = _offsets_and_data(values)
    data = data[: offsets[-1]]
    lead = np.flatnonzero((data[:-2] == 0xEF) | (data[:-2] == 0xE3))
    second, third = data[lead + 1], data[lead + 2]
    low = (data[lead] == 0xEF) & (second == 0xBC) & (third >= 0x81) & (third <= 0xBF)
    high = (data[lead] == 0xEF) & (second == 0xBD) & (third >= 0x80) & (third <= 0x9E)
    space = (data[lead] == 0xE3) & (second == 0x80) & (third == 0x80)
    found = low | high | space
    if not found.any():
        return values
    starts = lead[found]
    third = third[found]
    ascii_bytes = np.where(low[found], third - 0x60, np.where(high[found], third - 0x20, 0x20))
    out = data.copy()
    out[starts] = ascii_bytes.astype(np.uint8)
    keep = np.ones(len(data), bool)
    keep[starts + 1] = False
    keep[starts + 2] = False
    dropped_before = np.concatenate([[0], np.cumsum(~keep)])
    new_offsets = (offsets - dropped_before[offsets]).astype(np.int32)
    validity = pc.is_valid(values).buffers()[1] if values.null_count else None
    return pa.StringArray.from_buffers(
        len(values), pa.py_buffer(new_offsets), pa.py_buffer(out[keep]), validity, values.null_count
    )


# Bytes that may start a character the clean-up folds: ASCII white space and controls, and the
# lead bytes of U+00A0, U+1680, U+2000-U+206F and U+FEFF (Chinese text is E3-E9: left alone).
_FOLD_CANDIDATE = np.zeros(256, bool)
_FOLD_CANDIDATE[:0x21] = True
_FOLD_CANDIDATE[[0xC2, 0xE1, 0xE2, 0xEF]] = True


def _folded(text: pa.Array) -> pa.Array:
    return pc.utf8_trim(pc.replace_substring_regex(text, _FOLDED_SPACE, " "), " ")


def clean_text(values: pa.Array) -> pa.Array:
    """Half-width, runs of white space folded to one space, trimmed; '' → NULL."""
    text = half_width(values)
    text = _with_subset(rows_with_bytes(text, _FOLD_CANDIDATE), text, _folded)
    return pc.if_else(pc.equal(text, ""), _NULL_TEXT, text)


def is_blank(values: pa.Array) -> pa.Array:
    """True for NULL, '' and white space only."""
    return pc.is_null(clean_text(values))


@functools.cache
def _bmp_han_class() -> str:
    """RE2 class of the Han characters of the Basic Multilingual Plane. Java's look-behind
    ``(?<=\\p{IsHan})`` never matches after a supplementary character (𠀀), so the character
    before a removed space must be one of these."""
    codes = np.array([c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF])
    characters = pa.array([chr(c) for c in codes], pa.string())
    han = codes[_mask(pc.match_substring_regex(characters, r"^\p{Han}$"))]
    breaks = np.flatnonzero(np.diff(han) != 1)
    starts = np.concatenate([[han[0]], han[breaks + 1]])
    ends = np.concatenate([han[breaks], [han[-1]]])
    return (
        "["
        + "".join(rf"\x{{{a:04X}}}-\x{{{b:04X}}}" for a, b in zip(starts, ends, strict=True))
        + "]"
    )


def normalized_name(clean: pa.Array) -> pa.Array:
    """:func:`values.normalized_name` of clean text: no space between Chinese characters
    (张 三 → 张三), the middle dot of minority names unified."""
    pattern = rf"({_bmp_han_class()}) (\p{{Han}})"
    text = clean
    # A match consumes the character after the space, which may be the next one's left side
    # (张 三 丰): repeat until no space between two Chinese characters is left.
    while pc.any(pc.match_substring_regex(text, pattern)).as_py():
        text = pc.replace_substring_regex(text, pattern, r"\1\2")
    return pc.replace_substring_regex(text, r"[.·•‧・]", "·")


def phone_digits(clean: pa.Array) -> pa.Array:
    """:func:`values.phone_digits` of clean text: separators and a +86/0086 prefix removed."""
    digits = pc.replace_substring_regex(clean, rf"[{JAVA_SPACE}\-()（）+]", "")
    return pc.replace_substring_regex(
        digits, rf"^(?:0086|86)(1[3-9][0-9]{{9}}{_FINAL_TERMINATOR})$", r"\1"
    )


def phone_of_digits(digits: pa.Array) -> pa.Array:
    """The :func:`phone_digits` value when it is a mainland number, else NULL."""
    valid = pc.or_(
        pc.match_substring_regex(digits, rf"^1[3-9][0-9]{{9}}{JAVA_END}"),
        pc.match_substring_regex(digits, rf"^0[0-9]{{2,3}}[0-9]{{7,8}}{JAVA_END}"),
    )
    return pc.if_else(pc.fill_null(valid, False), digits, _NULL_TEXT)


# --- dates and instants -----------------------------------------------------------------------
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


def _is_token(text: pa.Array, tokens: tuple[str, ...]) -> pa.Array:
    """Whether each text is one of ``tokens``; NULL for NULL (as Spark's ``isin``)."""
    found = pc.is_in(text, pa.array(tokens, pa.string()))
    return pc.if_else(pc.is_valid(text), found, pa.scalar(None, pa.bool_()))


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


# --- numbers ----------------------------------------------------------------------------------
def number_text(clean: pa.Array) -> pa.Array:
    """:func:`values.number_text`: '1,234.50', '120万' → '1234.50' (万 is dropped, not applied)."""
    text = pc.replace_substring_regex(clean, rf"[,，{JAVA_SPACE}]", "")
    return pc.replace_substring_regex(
        text, rf"(?:万元|万|元|平方米|㎡|m2)({_FINAL_TERMINATOR})$", r"\1"
    )


_INTEGER_TYPES = {"int", "integer", "long", "bigint"}
_LONG_MAX = "9223372036854775807"


def _long_of(text: pa.Array, shaped: np.ndarray) -> pa.Array:
    """Integer texts as int64; NULL where Spark's cast overflows."""
    digits = pc.utf8_ltrim(pc.utf8_ltrim(text, "+-"), "0")
    limit = pc.if_else(pc.starts_with(text, "-"), "9223372036854775808", "9223372036854775807")
    length = pc.utf8_length(digits)
    fits = pc.or_(pc.less(length, 19), pc.and_(pc.equal(length, 19), pc.less_equal(digits, limit)))
    keep = pa.array(shaped & _mask(fits))
    # Without "+": the one integer shape Arrow's cast does not read.
    values = pc.cast(pc.utf8_ltrim(pc.if_else(keep, text, "0"), "+"), pa.int64())
    return pc.if_else(keep, values, pa.scalar(None, pa.int64()))


def _decimal_of(text: pa.Array, shaped: np.ndarray, precision: int, scale: int) -> pa.Array:
    """Decimal texts rounded half up to ``scale`` (as Spark casts); NULL where the rounded
    value has more than ``precision - scale`` integer digits."""
    parts = pc.extract_regex(
        pc.if_else(pa.array(shaped), text, "0"),
        r"^(?P<sign>[+-]?)(?P<int>[0-9]*)\.?(?P<frac>[0-9]*)$",
    )
    whole = pc.utf8_ltrim(pc.struct_field(parts, "int"), "0")
    fraction = pc.utf8_rpad(pc.struct_field(parts, "frac"), scale + 1, "0")
    unscaled_text = pc.binary_join_element_wise(
        whole, pc.utf8_slice_codeunits(fraction, 0, scale), ""
    )
    fits = shaped & (pc.utf8_length(whole).to_numpy(zero_copy_only=False) <= precision - scale)
    unscaled_text = pc.if_else(
        pc.and_(pa.array(fits), pc.not_equal(unscaled_text, "")), unscaled_text, "0"
    )
    # The sum of two decimal(37, 0) is a decimal(38, 0): room for any precision Spark allows.
    operand, whole_number = pa.decimal128(37, 0), pa.decimal128(38, 0)
    round_up = pc.greater_equal(pc.utf8_slice_codeunits(fraction, scale, scale + 1), "5")
    unscaled = pc.add(
        pc.cast(unscaled_text, operand), pc.cast(pc.cast(round_up, pa.int64()), operand)
    ).cast(whole_number)
    fits = fits & _mask(pc.less(unscaled, pa.scalar(10**precision, whole_number)))
    magnitude = unscaled.view(pa.decimal128(38, scale))
    signed = pc.if_else(
        pc.equal(pc.struct_field(parts, "sign"), "-"), pc.negate(magnitude), magnitude
    )
    typed = pc.if_else(pa.array(fits), signed, pa.scalar(None, pa.decimal128(38, scale)))
    return typed.cast(pa.decimal128(precision, scale))


def _double_of(text: pa.Array, shaped: np.ndarray) -> pa.Array:
    values = pc.cast(pc.if_else(pa.array(shaped), text, "0"), pa.float64())
    return pc.if_else(pa.array(shaped), values, pa.scalar(None, pa.float64()))


def parsed_number(clean: pa.Array, spark_type: str, text: pa.Array | None = None) -> pa.Array:
    """:func:`values.parsed_number`: a number of ``spark_type`` ('decimal(18,2)', 'double',
    'long'); NULL when the text is not one or the type cannot hold it.

    Args:
        clean: the clean text.
        spark_type: the Spark type name the value is cast to.
        text: its :func:`number_text`, when the caller computed it already.
    """
    text = number_text(clean) if text is None else text
    integer = spark_type in _INTEGER_TYPES
    pattern = r"^[+-]?[0-9]+$" if integer else r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"
    # A text that only matches Java's $ before a final line terminator does not cast: NULL.
    shaped = _mask(pc.match_substring_regex(text, pattern))
    if integer:
        return _long_of(text, shaped)
    if spark_type.startswith("decimal"):
        precision, scale = (int(x) for x in spark_type[len("decimal(") : -1].split(","))
        return _decimal_of(text, shaped, precision, scale)
    return _double_of(text, shaped)


# --- codes, booleans, what the lake stores ---------------------------------------------------
def mapped_code(clean: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    """:func:`values.mapped_code`: the standard code of a department's value; NULL when
    unmapped. An empty mapping keeps the text."""
    if not mapping:
        return clean
    keys = pa.array(list(mapping), pa.string())
    return pc.take(pa.array(list(mapping.values()), pa.string()), pc.index_in(clean, keys))


_TRUE = ("1", "true", "t", "y", "yes", "是")
_FALSE = ("0", "false", "f", "n", "no", "否")


def _lowered(clean: pa.Array) -> pa.Array:
    # Spark's lower() lowers every script; the tokens compared with are ASCII (and 是/否), and
    # no other character lowers to ASCII letters in them (İ lowers to i + a combining dot):
    # ASCII lowering gives the same comparisons.
    return pc.ascii_lower(clean)


def parsed_boolean(clean: pa.Array) -> pa.Array:
    """:func:`values.parsed_boolean` of clean text."""
    text = _lowered(clean)
    return pc.if_else(
        pc.is_in(text, pa.array(_TRUE)),
        True,
        pc.if_else(pc.is_in(text, pa.array(_FALSE)), False, pa.scalar(None, pa.bool_())),
    )


def is_not_a_value(clean: pa.Array) -> pa.Array:
    """:func:`values.is_not_a_value`: NaN, None, null, #N/A, Infinity in any case."""
    return _is_token(_lowered(clean), NOT_A_VALUE_TOKENS)


def is_storable(values: pa.Array, spark_type: str) -> pa.Array:
    """:func:`values.is_storable`: dates and instants within years 1 to 9999 (UTC), doubles
    finite; NULL counts as storable."""
    n = len(values)
    if spark_type not in RANGE_LIMITED_TYPES:
        return pa.array(np.ones(n, bool))
    if spark_type == "date":
        days = values.cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64)
        inside = (days >= _FIRST_DAY) & (days <= _LAST_DAY)
    elif spark_type == "timestamp":
        micros = values.cast(pa.int64()).fill_null(0).to_numpy()
        inside = (micros >= _FIRST_MICROS) & (micros <= _LAST_MICROS)
    else:
        inside = np.isfinite(values.fill_null(0.0).to_numpy())
    return pa.array(inside | ~_mask(pc.is_valid(values)))
