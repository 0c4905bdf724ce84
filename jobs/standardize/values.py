"""Column helpers that standardise delivered values: text, names, phones, dates, numbers, codes.

Each takes a Column of raw strings and returns a Column; none is a Python UDF. A value that cannot
be standardised becomes NULL here; callers pair each helper with its ``*_is_bad`` predicate to
give the row a reason code instead of silently losing the value.

``cleaned=True`` says the column already went through :func:`clean_text`: the pool job cleans
each delivered value once and hands the result to every helper and check of that field, instead
of each of them cleaning it again (clean-up was most of the per-row work).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column
from pyspark.sql import functions as F

# Full-width ASCII (Ｕ+FF01…FF5E) and the ideographic space, and their half-width twins.
_FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALF_WIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " "
_ANY_SPACE = r"[\s\p{Z}\x{200B}-\x{200D}\x{2060}\x{FEFF}]+"
_CJK = r"\p{IsHan}"

#: Date tokens departments write for "no end" (长期 = long-term): a valid empty value, not an error.
NO_END_DATE_TOKENS = ("长期", "永久", "长期有效", "无固定期限", "9999-12-31", "99991231")


def half_width(value: Column) -> Column:
    """Full-width letters, digits, punctuation and the ideographic space → ASCII."""
    return F.translate(value, _FULL_WIDTH, _HALF_WIDTH)


def clean_text(value: Column) -> Column:
    """Half-width, runs of any kind of white space folded to one space, trimmed; '' → NULL."""
    folded = F.trim(F.regexp_replace(half_width(value), _ANY_SPACE, " "))
    # nullif evaluates ``folded`` once; when(folded == "", NULL).otherwise(folded) evaluated it
    # twice per row (Spark does not share it across the branches): 2.4x the CPU.
    return F.nullif(folded, F.lit(""))


def is_blank(value: Column) -> Column:
    """True for NULL, '' and white space only (full-width space included)."""
    return clean_text(value).isNull()


def _clean(value: Column, cleaned: bool) -> Column:
    return value if cleaned else clean_text(value)


def normalized_name(value: Column, *, cleaned: bool = False) -> Column:
    """A person's or organisation's name: clean text, and no spaces between Chinese characters
    (张 三 → 张三) while Latin names keep theirs; the middle dot of minority names unified."""
    text = _clean(value, cleaned)
    text = F.regexp_replace(text, rf"(?<={_CJK}) (?={_CJK})", "")
    return F.regexp_replace(text, r"[.·•‧・]", "·")


def phone_digits(value: Column, *, cleaned: bool = False) -> Column:
    """A phone number without separators and without a +86/0086 prefix (not yet checked)."""
    digits = F.regexp_replace(value if cleaned else half_width(value), r"[\s\-()（）+]", "")
    return F.regexp_replace(digits, r"^(0086|86)(?=1[3-9]\d{9}$)", "")


def phone_of_digits(digits: Column) -> Column:
    """The :func:`phone_digits` value when it is a mainland number, else NULL.

    ``digits`` is read three times: pass a column computed in an earlier projection (as the
    pool job does), or Spark computes its regular expressions three times per row.
    """
    valid = digits.rlike(r"^1[3-9]\d{9}$") | digits.rlike(r"^0\d{2,3}\d{7,8}$")
    return F.when(valid, digits)


def normalized_phone(value: Column, *, cleaned: bool = False) -> Column:
    """Mainland numbers: 11-digit mobiles (1[3-9]…) or landlines with area code (0…);
    separators and a +86/0086 prefix removed. Anything else → NULL (see :func:`phone_is_bad`)."""
    return phone_of_digits(phone_digits(value, cleaned=cleaned))


def phone_is_bad(value: Column) -> Column:
    return ~is_blank(value) & normalized_phone(value).isNull()


def date_text(value: Column, *, cleaned: bool = False) -> Column:
    """2021年12月13日, 2021/12/13, 2021.12.13 and 2021-12-13 00:00:00 → 2021-12-13 (not padded)."""
    text = _clean(value, cleaned)
    text = F.regexp_replace(text, r"[年月/.]", "-")
    text = F.regexp_replace(text, r"日", "")
    # Drop a time part: '2021-12-13 00:00:00', '2021-12-13T08:00'.
    return F.regexp_replace(text, r"^(\d{4}-\d{1,2}-\d{1,2})[T ].*$", "$1")


def date_of_text(text: Column) -> Column:
    """A DateType from a :func:`date_text` value (``yyyyMMdd`` or ``yyyy-M-d``), else NULL.

    Spark's parser is strict: 2021-02-30 is NULL, not March 2nd. ``text`` is read up to four
    times: pass a column computed in an earlier projection, as the pool job does.
    """
    compact = F.to_date(text, "yyyyMMdd")
    dashed = F.to_date(text, "yyyy-M-d")
    return F.when(text.rlike(r"^\d{8}$"), compact).when(
        text.rlike(r"^\d{4}-\d{1,2}-\d{1,2}$"), dashed
    )


def parsed_date(value: Column, *, cleaned: bool = False, text: Column | None = None) -> Column:
    """A DateType from any of the delivered date formats; NULL when absent, 长期-like or invalid.

    Args:
        value: the delivered text (clean when ``cleaned``).
        text: its :func:`date_text`, when the caller computed it already.
    """
    text = date_text(value, cleaned=cleaned) if text is None else text
    return F.when(~is_no_end_date(value, cleaned=cleaned), date_of_text(text))


def is_no_end_date(value: Column, *, cleaned: bool = False) -> Column:
    return _clean(value, cleaned).isin(*NO_END_DATE_TOKENS)


def date_is_bad(value: Column) -> Column:
    """A value is present but is not a date (长期 and its kin are not bad)."""
    return ~is_blank(value) & ~is_no_end_date(value) & parsed_date(value).isNull()


def timestamp_text(value: Column, *, cleaned: bool = False) -> Column:
    """'2021年12月13日 08:30', '2021/12/13T08:30:00' → '2021-12-13 08:30' (not yet parsed)."""
    text = F.regexp_replace(_clean(value, cleaned), r"[年月/.]", "-")
    text = F.regexp_replace(F.regexp_replace(text, "日", " "), "T", " ")
    return F.trim(text)


def parsed_timestamp(value: Column, *, cleaned: bool = False, text: Column | None = None) -> Column:
    """A TimestampType from '2021-12-13 08:30:00', '2021-12-13T08:30:00', '20211213083000' or a
    bare date (midnight).

    Args:
        value: the delivered text (clean when ``cleaned``).
        text: its :func:`timestamp_text`, when the caller computed it already (it is read up to
            six times per row).
    """
    text = timestamp_text(value, cleaned=cleaned) if text is None else text
    return (
        F.when(text.rlike(r"^\d{14}$"), F.to_timestamp(text, "yyyyMMddHHmmss"))
        .when(
            text.rlike(r"^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}:\d{2}$"),
            F.to_timestamp(text, "yyyy-M-d H:mm:ss"),
        )
        .when(
            text.rlike(r"^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}$"),
            F.to_timestamp(text, "yyyy-M-d H:mm"),
        )
        .otherwise(parsed_date(value, cleaned=cleaned).cast("timestamp"))
    )


def timestamp_is_bad(value: Column) -> Column:
    return ~is_blank(value) & parsed_timestamp(value).isNull()


def number_text(value: Column, *, cleaned: bool = False) -> Column:
    """'1,234.50', '1 234.5', '120万' → '1234.50'. Units other than 万 are not guessed."""
    text = F.regexp_replace(_clean(value, cleaned), r"[,，\s]", "")
    return F.regexp_replace(text, r"(万元|万|元|平方米|㎡|m2)$", "")


def parsed_number(
    value: Column, spark_type: str, *, cleaned: bool = False, text: Column | None = None
) -> Column:
    """A number of ``spark_type`` ('decimal(18,2)', 'double', 'long', 'int'); NULL if not one.

    ``text`` is the value's :func:`number_text`, when the caller computed it already.
    """
    text = number_text(value, cleaned=cleaned) if text is None else text
    pattern = (
        r"^[+-]?\d+$"
        if spark_type in {"int", "integer", "long", "bigint"}
        else r"^[+-]?(\d+\.?\d*|\.\d+)$"
    )
    # try_cast: an out-of-range number ('9' * 30 as a long) is NULL whatever the ANSI setting.
    return F.when(text.rlike(pattern), text.try_cast(spark_type))


def number_is_bad(value: Column, spark_type: str) -> Column:
    return ~is_blank(value) & parsed_number(value, spark_type).isNull()


def mapped_code(value: Column, mapping: dict[str, str], *, cleaned: bool = False) -> Column:
    """The standard code for a department's value (after clean-up); NULL when unmapped."""
    text = _clean(value, cleaned)
    if not mapping:
        return text
    literal = F.create_map(*[F.lit(x) for pair in sorted(mapping.items()) for x in pair])
    return F.try_element_at(literal, text)


def code_is_unknown(value: Column, mapping: dict[str, str]) -> Column:
    return ~is_blank(value) & mapped_code(value, mapping).isNull()


def parsed_boolean(value: Column, *, cleaned: bool = False) -> Column:
    text = F.lower(_clean(value, cleaned))
    return F.when(text.isin("1", "true", "t", "y", "yes", "是"), True).when(
        text.isin("0", "false", "f", "n", "no", "否"), False
    )


# --- what the lake can store ------------------------------------------------------------------
# Spark and Arrow hold dates and instants far beyond years 1 to 9999 (Spark parses 0000-01-01 as
# the year before 1 AD), but Python's datetime does not: the Delta bridge's file statistics, every
# reader that converts to Python and Delta's own statistics JSON stop there. A value outside is
# not storable, so it must cost its row (quarantine), never the write.
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FIRST_DAY = (dt.date(1, 1, 1) - _EPOCH.date()).days
_LAST_DAY = (dt.date(9999, 12, 31) - _EPOCH.date()).days
# Instants are compared in UTC: 0001-01-01 00:00 in Beijing is still year 0 in UTC. The last
# second is left out because the bridge rounds a maximum up to the next millisecond.
_FIRST_MICROS = (dt.datetime(1, 1, 1, tzinfo=dt.UTC) - _EPOCH) // dt.timedelta(microseconds=1)
_LAST_MICROS = (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC) - _EPOCH) // dt.timedelta(
    microseconds=1
)

#: Spark types whose values can lie outside what the lake stores (see :func:`is_storable`).
RANGE_LIMITED_TYPES = frozenset({"date", "timestamp", "double", "float"})

#: How spreadsheets, pandas and JSON write "no value" or a non-number: never a key.
NOT_A_VALUE_TOKENS = ("nan", "inf", "-inf", "infinity", "-infinity", "none", "null", "#n/a")


def is_storable(value: Column, spark_type: str) -> Column:
    """Whether a typed value can be written to and read back from the lake: dates and instants
    within years 1 to 9999 (UTC), floating-point numbers finite. NULL counts as storable.

    Args:
        value: a column of ``spark_type``.
        spark_type: the column's Spark type name (``date``, ``timestamp``, ``double`` …); other
            types are always storable (a decimal or integer that overflows is already NULL).
    """
    if spark_type not in RANGE_LIMITED_TYPES:
        return F.lit(True)
    if spark_type == "date":
        inside = F.unix_date(value).between(_FIRST_DAY, _LAST_DAY)
    elif spark_type == "timestamp":
        inside = F.unix_micros(value).between(_FIRST_MICROS, _LAST_MICROS)
    else:
        inside = ~F.isnan(value) & (F.abs(value) != F.lit(float("inf")))
    return value.isNull() | inside


def is_not_a_value(value: Column, *, cleaned: bool = False) -> Column:
    """A rendering of "nothing" (``NaN``, ``None``, ``null``, ``#N/A``, ``Infinity``), any case."""
    return F.lower(_clean(value, cleaned)).isin(*NOT_A_VALUE_TOKENS)
