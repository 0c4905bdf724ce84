"""The standardisation rules over Arrow arrays, for values standardised in-process (no Spark).

Twins of the Column helpers in :mod:`jobs.standardize.keys` and :mod:`jobs.standardize.values`,
for small inputs a request brings (the department service's 核验 claims): full-width forms made
half-width, white space folded, names without spaces between Chinese characters, dates in the
delivered shapes, citizen IDs upgraded from 15 digits, codes by name or alias. A value that
cannot be standardised becomes NULL. ``tests/standardize/test_arrow.py`` checks each against
its Spark twin on the same values.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from jobs.standardize.values import NO_END_DATE_TOKENS

# NFKC makes full-width ASCII and the ideographic space half-width (as keys/values translate
# them); the invisible format characters that ride along with copy-paste are removed outright.
_INVISIBLE = r"[\x{200B}-\x{200D}\x{2060}\x{180E}\x{FEFF}]"
_SPACE = r"[\s\p{Z}\x{1C}-\x{1F}\x{85}]+"
_ID_CHECK_CHARACTERS = "10X98765432"
_ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
_USCC_RE = r"^[0-9A-HJ-NPQRTUWXY]{18}$"


def clean_text(values: pa.Array) -> pa.Array:
    """Half-width, invisible characters removed, runs of white space folded to one space,
    trimmed; '' → NULL (:func:`jobs.standardize.values.clean_text`)."""
    text = pc.utf8_normalize(values.cast(pa.string()), "NFKC")
    text = pc.replace_substring_regex(text, _INVISIBLE, "")
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, _SPACE, " "))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def normalized_name(values: pa.Array) -> pa.Array:
    """Clean text without spaces between Chinese characters, the middle dot unified
    (:func:`jobs.standardize.values.normalized_name`)."""
    text = clean_text(values)
    for _ in range(2):  # 张 三 丰: a match consumes 三, the second pass joins 丰
        text = pc.replace_substring_regex(text, r"(\p{Han}) (\p{Han})", r"\1\2")
    return pc.replace_substring_regex(text, r"[.·•‧・]", "·")


def _without_spaces(values: pa.Array) -> pa.Array:
    text = pc.utf8_normalize(values.cast(pa.string()), "NFKC")
    return pc.replace_substring_regex(text, f"{_SPACE}|{_INVISIBLE}", "")


def _check_characters(first_17: pa.Array) -> pa.Array:
    """The MOD 11-2 check character of 17-digit strings (ISO 7064, GB 11643)."""
    total = pa.array([0] * len(first_17), pa.int64())
    for position, weight in enumerate(_ID_WEIGHTS):
        digit = pc.utf8_slice_codeunits(first_17, position, position + 1).cast(pa.int64())
        total = pc.add(total, pc.multiply(digit, weight))
    return pc.take(pa.array(list(_ID_CHECK_CHARACTERS)), pc.remainder(total, 11))


def normalized_citizen_id(values: pa.Array) -> pa.Array:
    """The ID in canonical form — half-width, no white space, ``x`` upper case, 15 digits
    upgraded to 18 with their check character — or NULL when it is not shaped as an ID (17
    digits and a digit or ``X``). The check character of an 18-character ID is not checked
    here (:func:`jobs.standardize.keys.normalized_citizen_id`)."""
    text = pc.utf8_upper(_without_spaces(values))
    short = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{15}$"), False)
    upgraded_17 = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, 0, 6), "19", pc.utf8_slice_codeunits(text, 6, 15), ""
    )
    check = _check_characters(pc.if_else(short, upgraded_17, "00000000000000000"))
    upgraded = pc.binary_join_element_wise(upgraded_17, check, "")
    shaped = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{17}[0-9X]$"), False)
    return pc.if_else(short, upgraded, pc.if_else(shaped, text, pa.scalar(None, pa.string())))


def normalized_uscc(values: pa.Array) -> pa.Array:
    """The USCC upper case without white space, or NULL when it is not 18 characters of its
    alphabet (:func:`jobs.standardize.keys.normalized_uscc`)."""
    text = pc.utf8_upper(_without_spaces(values))
    shaped = pc.fill_null(pc.match_substring_regex(text, _USCC_RE), False)
    return pc.if_else(shaped, text, pa.scalar(None, pa.string()))


def parsed_date(values: pa.Array) -> pa.Array:
    """A date from 2021年12月13日, 2021/12/13, 2021.12.13, 20211213 or 2021-12-13 00:00:00; NULL
    when absent, 长期-like or not a real day (2021-02-30) (:func:`jobs.standardize.values.parsed_date`)."""
    text = clean_text(values)
    text = pc.replace_substring_regex(text, r"[年月/.]", "-")
    text = pc.replace_substring_regex(text, "日", "")
    text = pc.replace_substring_regex(text, r"^(\d{4}-\d{1,2}-\d{1,2})[T ].*$", r"\1")
    text = pc.replace_substring_regex(text, r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3")
    parts = pc.extract_regex(text, r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$")
    canonical = pc.binary_join_element_wise(
        pc.struct_field(parts, "y"),
        pc.utf8_lpad(pc.struct_field(parts, "m"), 2, "0"),
        pc.utf8_lpad(pc.struct_field(parts, "d"), 2, "0"),
        "-",
    )
    stamp = pc.strptime(canonical, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime is lenient (2021-02-30 → March 2nd): keep a day only if it prints back the same
    real = pc.equal(pc.strftime(stamp, format="%Y-%m-%d"), canonical)
    no_end = pc.is_in(clean_text(values), pa.array(NO_END_DATE_TOKENS))
    keep = pc.and_(pc.fill_null(real, False), pc.invert(no_end))
    return pc.if_else(keep, stamp.cast(pa.date32()), pa.scalar(None, pa.date32()))


def normalized_phone(values: pa.Array) -> pa.Array:
    """Mainland numbers without separators or a +86/0086 prefix; anything else NULL
    (:func:`jobs.standardize.values.normalized_phone`)."""
    digits = pc.replace_substring_regex(
        pc.utf8_normalize(values.cast(pa.string()), "NFKC"), r"[\s\-()（）+]", ""
    )
    digits = pc.replace_substring_regex(digits, r"^(?:0086|86)(1[3-9]\d{9})$", r"\1")
    valid = pc.or_(
        pc.match_substring_regex(digits, r"^1[3-9]\d{9}$"),
        pc.match_substring_regex(digits, r"^0\d{2,3}\d{7,8}$"),
    )
    return pc.if_else(pc.fill_null(valid, False), digits, pa.scalar(None, pa.string()))


def mapped_code(values: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    """A code from a code or one of its names and aliases (:attr:`CodeTable.name_to_code`);
    NULL when the value is none of them."""
    text = clean_text(values)
    keys = pa.array(list(mapping), pa.string())
    return pc.take(pa.array(list(mapping.values()), pa.string()), pc.index_in(text, keys))


#: Text a person writes for yes and no (是/否 …).
_TRUE = ("是", "有", "true", "t", "yes", "y", "1")
_FALSE = ("否", "无", "false", "f", "no", "n", "0")


def parsed_boolean(values: pa.Array) -> pa.Array:
    """是/否, true/false, yes/no, 1/0 (any case) → boolean; anything else NULL."""
    text = pc.utf8_lower(clean_text(values))
    return pc.if_else(
        pc.is_in(text, pa.array(_TRUE)),
        True,
        pc.if_else(pc.is_in(text, pa.array(_FALSE)), False, pa.scalar(None, pa.bool_())),
    )
