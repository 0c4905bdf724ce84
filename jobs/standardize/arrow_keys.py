"""The key rules of :mod:`jobs.standardize.keys` over Arrow arrays, result for result.

Normalised keys and reason codes (the same vocabulary, checked in the same order) for citizen
IDs (公民身份号码), unified social credit codes (统一社会信用代码), parcel codes (宗地代码) and
real-estate unit numbers (不动产单元代码), and the region checks of
:mod:`jobs.standardize.regions`. ``tests/standardize/test_arrow_keys.py`` compares each with its
Spark twin, and the python-stdnum property tests run against both.

Check characters and birth dates are computed in numpy over the keys' bytes (a well-formed key
is ASCII, one byte a character); everything else is pyarrow.compute kernels. No per-row Python.
"""

from __future__ import annotations

import functools
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.standardize import keys
from jobs.standardize.arrow_dates import _days_of
from jobs.standardize.arrow_values import _mask, _with_subset, half_width, rows_with_bytes
from jobs.standardize.regions import _regions, known_region_codes

# keys._WHITESPACE_RE with Java's \s spelled out (RE2's has no \x0B).
_KEY_SPACE = r"[\t\n\x{0B}\f\r \p{Z}\x{1C}-\x{1F}\x{85}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]"
_NULL_TEXT = pa.scalar(None, pa.string())
_ID_WEIGHTS = np.array([2 ** (17 - i) % 11 for i in range(17)])
_USCC_WEIGHTS = np.array(keys._USCC_WEIGHTS)
_ORG_CODE_WEIGHTS = np.array(keys._ORG_CODE_WEIGHTS)
_FIRST_BIRTH_DAY = -25567  # 1900-01-01


def _byte_table(alphabet: str) -> np.ndarray:
    table = np.full(256, -1, np.int64)
    for index, character in enumerate(alphabet):
        table[ord(character)] = index
    return table


_USCC_VALUES = _byte_table(keys._USCC_ALPHABET)
_ORG_CODE_VALUES = _byte_table("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _bytes_of(values: pa.Array, rows: np.ndarray, width: int) -> np.ndarray:
    """The first ``width`` bytes of the strings at ``rows`` (each at least that long, ASCII),
    as a ``len(rows) × width`` matrix."""
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset :]
    data = np.frombuffer(values.buffers()[2], np.uint8)
    return data[offsets[rows][:, None] + np.arange(width)]


def _reasons(n: int, checks: list[tuple[str, np.ndarray]]) -> pa.Array:
    """The first reason whose mask is set, per row (NULL where none is): a CASE WHEN."""
    codes = [code for code, _ in checks]
    chosen = np.full(n, len(codes))
    for index in range(len(codes) - 1, -1, -1):
        chosen = np.where(checks[index][1], index, chosen)
    return pc.take(pa.array([*codes, None], pa.string()), pa.array(chosen))


# --- regions ----------------------------------------------------------------------------------
@functools.cache
def _known_codes(extra: frozenset[str] = frozenset()) -> pa.Array:
    return pa.array(sorted(known_region_codes() | extra), pa.string())


@functools.cache
def _abolished_codes() -> tuple[pa.Array, pa.Array]:
    ended = sorted((r.code, r.last_year) for r in _regions().values() if not r.is_current)
    return pa.array([c for c, _ in ended]), pa.array([y for _, y in ended], pa.int64())


def is_known_region(codes: pa.Array, extra_codes: frozenset[str] = frozenset()) -> pa.Array:
    """:func:`regions.is_known_region`: a GB/T 2260 code ever in use (false for NULL)."""
    return pc.fill_null(pc.is_in(codes, _known_codes(frozenset(extra_codes))), False)


def last_year_in_use(codes: pa.Array) -> pa.Array:
    """:func:`regions.last_year_in_use`: the last year of an abolished code, else NULL."""
    abolished, years = _abolished_codes()
    return pc.take(years, pc.index_in(codes, abolished))


# --- presentation clean-up --------------------------------------------------------------------
#: The bytes a :data:`_KEY_SPACE` character starts with: ASCII white space and separators, and
#: every non-ASCII lead (the Unicode spaces); a key without any needs no regular expression.
_KEY_SPACE_LEADS = np.zeros(256, bool)
_KEY_SPACE_LEADS[[*range(0x09, 0x0E), *range(0x1C, 0x21), *range(0x80, 0x100)]] = True


def _clean(raw: pa.Array) -> pa.Array:
    text = half_width(raw)
    return _with_subset(
        rows_with_bytes(text, _KEY_SPACE_LEADS),
        text,
        lambda spaced: pc.replace_substring_regex(spaced, _KEY_SPACE, ""),
    )


@functools.cache
def _expanding_upper_cases() -> dict[str, str]:
    """Characters whose upper case is longer (ß → SS, ﬀ → FF): Java's toUpperCase expands
    them, Arrow's utf8_upper keeps them."""
    return {
        c: c.upper()
        for c in map(chr, range(sys.maxunicode + 1))
        if not 0xD800 <= ord(c) <= 0xDFFF and len(c.upper()) > 1
    }


def _upper(text: pa.Array) -> pa.Array:
    """Spark's ``upper`` (Java's full case mapping)."""
    expanding = _expanding_upper_cases()
    pattern = "[" + "".join(expanding) + "]"
    has = _mask(pc.match_substring_regex(text, pattern))
    if has.any():
        subset = text.filter(pa.array(has))
        for character, upper in expanding.items():
            subset = pc.replace_substring(subset, character, upper)
        text = pc.replace_with_mask(text, pa.array(has), subset)
    return pc.utf8_upper(text)


def _is_missing(normalized: pa.Array) -> np.ndarray:
    return _mask(pc.equal(pc.fill_null(normalized, ""), ""))


def _matches(values: pa.Array, pattern: str) -> np.ndarray:
    return _mask(pc.match_substring_regex(values, pattern))


def _length(values: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.utf8_length(values), 0).to_numpy()


# --- citizen ID -------------------------------------------------------------------------------
def _id_check_indexes(values: pa.Array, rows: np.ndarray) -> np.ndarray:
    """MOD 11-2 sums mod 11 of the first 17 digits of the strings at ``rows``."""
    digits = _bytes_of(values, rows, 17).astype(np.int64) - 48
    return (digits @ _ID_WEIGHTS) % 11


def normalized_citizen_id(raw: pa.Array) -> pa.Array:
    """:func:`keys.normalized_citizen_id`: half-width, no white space, ``x`` → ``X``, 15 digits
    upgraded to 18; any other text stays as cleaned."""
    cleaned = pc.replace_substring(_clean(raw), "x", "X")
    short = _matches(cleaned, r"^[0-9]{15}$")
    if not short.any():
        return cleaned
    upgraded_17 = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(cleaned, 0, 6), "19", pc.utf8_slice_codeunits(cleaned, 6, 15), ""
    )
    rows = np.flatnonzero(short)
    check = np.zeros(len(cleaned), np.int64)
    check[rows] = _id_check_indexes(upgraded_17, rows)
    characters = pc.take(pa.array(list(keys._ID_CHECK_CHARACTERS)), pa.array(check))
    upgraded = pc.binary_join_element_wise(upgraded_17, characters, "")
    return pc.if_else(pa.array(short), upgraded, cleaned)


def birth_days(normalized: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers of the birth dates (digits 7-14) of the well-formed IDs at ``rows``, and
    whether each is a calendar date."""
    matrix = _bytes_of(normalized, rows, 14).astype(np.int64) - 48
    year = matrix[:, 6:10] @ np.array([1000, 100, 10, 1])
    month = matrix[:, 10:12] @ np.array([10, 1])
    day = matrix[:, 12:14] @ np.array([10, 1])
    return _days_of(year, month, day)


def citizen_id_problem(normalized: pa.Array, reference_days: np.ndarray) -> pa.Array:
    """:func:`keys.citizen_id_problem` of :func:`normalized_citizen_id` values: NULL for a
    valid ID, else the first reason code.

    Args:
        normalized: the normalised IDs.
        reference_days: the day number (per row, or one for all) after which a birth date is
            in the future.
    """
    n = len(normalized)
    reference_days = np.broadcast_to(np.asarray(reference_days, np.int64), (n,))
    well_formed = _matches(normalized, r"^[0-9]{17}[0-9X]$")
    rows = np.flatnonzero(well_formed)
    check_ok = np.zeros(n, bool)
    birth_ok = np.zeros(n, bool)
    birth_year = np.full(n, np.iinfo(np.int64).max)
    check_is_0 = np.zeros(n, bool)
    if len(rows):
        check_index = _id_check_indexes(normalized, rows)
        expected = np.frombuffer(keys._ID_CHECK_CHARACTERS.encode(), np.uint8)[check_index]
        check_ok[rows] = _bytes_of(normalized, rows, 18)[:, 17] == expected
        check_is_0[rows] = expected == ord("0")
        days, real = birth_days(normalized, rows)
        birth_ok[rows] = real & (days >= _FIRST_BIRTH_DAY) & (days <= reference_days[rows])
        birth_year[rows] = _bytes_year(normalized, rows)
    # A number rendering (4.10105E+17), or Excel's 15 significant digits: 18 digits ending in
    # 000 whose check character fails.
    excel_damaged = (~well_formed & _matches(normalized, keys._NUMBER_RENDERING_RE)) | (
        well_formed & _mask(pc.ends_with(normalized, "000")) & ~check_is_0
    )
    region = pc.utf8_slice_codeunits(normalized, 0, 6)
    last_year = pc.fill_null(last_year_in_use(region), np.iinfo(np.int64).max).to_numpy()
    return _reasons(
        n,
        [
            (keys.MISSING, _is_missing(normalized)),
            (keys.EXCEL_DAMAGED, excel_damaged),
            (keys.BAD_LENGTH, _length(normalized) != 18),
            (keys.BAD_CHARACTERS, ~well_formed),
            (keys.BAD_REGION, ~_mask(is_known_region(region))),
            (keys.BAD_BIRTH_DATE, ~birth_ok),
            (keys.BAD_CHECK_CHARACTER, ~check_ok),
            (keys.REGION_ABOLISHED_BEFORE_BIRTH, last_year < birth_year),
        ],
    )


def _bytes_year(normalized: pa.Array, rows: np.ndarray) -> np.ndarray:
    matrix = _bytes_of(normalized, rows, 10).astype(np.int64) - 48
    return matrix[:, 6:10] @ np.array([1000, 100, 10, 1])


# --- USCC -------------------------------------------------------------------------------------
def normalized_uscc(raw: pa.Array) -> pa.Array:
    """:func:`keys.normalized_uscc`: half-width, no white space, upper case."""
    return _upper(_clean(raw))


@functools.cache
def _entity_types() -> pa.Array:
    return pa.array(
        sorted(a + t for a, (_, types) in keys.REGISTERING_AUTHORITIES.items() for t in types)
    )


def uscc_problem(normalized: pa.Array) -> pa.Array:
    """:func:`keys.uscc_problem` of :func:`normalized_uscc` values: NULL for a valid USCC."""
    n = len(normalized)
    shaped = _matches(normalized, keys._USCC_RE)
    rows = np.flatnonzero(shaped)
    organization_ok = np.zeros(n, bool)
    check_ok = np.zeros(n, bool)
    if len(rows):
        matrix = _bytes_of(normalized, rows, 18)
        body = _ORG_CODE_VALUES[matrix[:, 8:16]] @ _ORG_CODE_WEIGHTS
        organization = np.frombuffer(keys._ORG_CODE_CHECK_CHARACTERS.encode(), np.uint8)
        organization_ok[rows] = matrix[:, 16] == organization[11 - body % 11]
        total = _USCC_VALUES[matrix[:, :17]] @ _USCC_WEIGHTS
        alphabet = np.frombuffer(keys._USCC_ALPHABET.encode(), np.uint8)
        check_ok[rows] = matrix[:, 17] == alphabet[(31 - total % 31) % 31]
    region = pc.utf8_slice_codeunits(normalized, 2, 8)
    prefecture = pc.binary_join_element_wise(pc.utf8_slice_codeunits(normalized, 2, 6), "00", "")
    region_ok = _mask(is_known_region(region, keys.USCC_EXTRA_REGION_CODES)) | _mask(
        is_known_region(prefecture)
    )
    authority = pc.utf8_slice_codeunits(normalized, 0, 1)
    authority_and_type = pc.utf8_slice_codeunits(normalized, 0, 2)
    return _reasons(
        n,
        [
            (keys.MISSING, _is_missing(normalized)),
            (keys.BAD_LENGTH, _length(normalized) != 18),
            (keys.BAD_CHARACTERS, ~shaped),
            (
                keys.BAD_REGISTERING_AUTHORITY,
                ~_mask(pc.is_in(authority, pa.array(sorted(keys.REGISTERING_AUTHORITIES)))),
            ),
            (keys.BAD_ENTITY_TYPE, ~_mask(pc.is_in(authority_and_type, _entity_types()))),
            (keys.BAD_REGION, ~region_ok),
            (keys.BAD_ORGANIZATION_CODE, ~organization_ok),
            (keys.BAD_CHECK_CHARACTER, ~check_ok),
        ],
    )


# --- real estate ------------------------------------------------------------------------------
def normalized_real_estate_code(raw: pa.Array) -> pa.Array:
    """:func:`keys.normalized_real_estate_code`: half-width, no white space, upper case."""
    return _upper(_clean(raw))


def _parcel_part_checks(normalized: pa.Array) -> list[tuple[str, np.ndarray]]:
    ownership = pc.utf8_slice_codeunits(normalized, 12, 13)
    right = pc.utf8_slice_codeunits(normalized, 13, 14)
    feature_bad = (
        ~_mask(pc.is_in(ownership, pa.array(sorted(keys.PARCEL_OWNERSHIP_CODES))))
        | ~_mask(pc.is_in(right, pa.array(sorted(keys.PARCEL_RIGHT_CODES))))
        | (_mask(pc.equal(right, "A")) & _mask(pc.not_equal(ownership, "J")))
    )
    region = pc.utf8_slice_codeunits(normalized, 0, 6)
    return [
        (keys.BAD_REGION, ~_mask(is_known_region(region))),
        (keys.BAD_PARCEL_FEATURE_CODE, feature_bad),
        (
            keys.BAD_PARCEL_SEQUENCE,
            _mask(pc.equal(pc.utf8_slice_codeunits(normalized, 14, 19), "00000")),
        ),
    ]


def parcel_code_problem(normalized: pa.Array) -> pa.Array:
    """:func:`keys.parcel_code_problem` of normalised codes: NULL for a valid parcel code."""
    return _reasons(
        len(normalized),
        [
            (keys.MISSING, _is_missing(normalized)),
            (keys.BAD_LENGTH, _length(normalized) != 19),
            (keys.BAD_CHARACTERS, ~_matches(normalized, keys._PARCEL_RE)),
            *_parcel_part_checks(normalized),
        ],
    )


def unit_number_problem(normalized: pa.Array) -> pa.Array:
    """:func:`keys.unit_number_problem` of normalised numbers: NULL for a valid unit number."""
    fixture = pc.utf8_slice_codeunits(normalized, 19, 20)
    fixture_is_none = _mask(pc.equal(fixture, "W"))
    number_is_none = _mask(pc.equal(pc.utf8_slice_codeunits(normalized, 20, 28), "00000000"))
    return _reasons(
        len(normalized),
        [
            (keys.MISSING, _is_missing(normalized)),
            (keys.BAD_LENGTH, _length(normalized) != 28),
            (keys.BAD_CHARACTERS, ~_matches(normalized, keys._UNIT_RE)),
            *_parcel_part_checks(normalized),
            (
                keys.BAD_FIXTURE_CODE,
                ~_mask(pc.is_in(fixture, pa.array(sorted(keys.FIXTURE_CODES)))),
            ),
            (keys.BAD_FIXTURE_NUMBER, fixture_is_none != number_is_none),
        ],
    )
