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

Dates and instants are in :mod:`jobs.standardize.arrow_dates`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.standardize.values import NOT_A_VALUE_TOKENS, RANGE_LIMITED_TYPES

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


def _is_token(text: pa.Array, tokens: tuple[str, ...]) -> pa.Array:
    """Whether each text is one of ``tokens``; NULL for NULL (as Spark's ``isin``)."""
    found = pc.is_in(text, pa.array(tokens, pa.string()))
    return pc.if_else(pc.is_valid(text), found, pa.scalar(None, pa.bool_()))


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
