"""Key normalisation and validation as Spark Column expressions (no Python UDFs).

Every record in the lake is keyed by one of four national codes. This module turns a raw string
column into the normalised key and says, as a reason code, why a key is rejected, so that ingest
can move the row to quarantine with that reason. All row logic is Column expressions: it runs in
the JVM, in the same stage as the rest of a transform, on millions of rows.

Keys:

* citizen ID (公民身份号码, GB 11643-1999): 18 characters, region code (GB/T 2260) + birth date
  + 3-digit sequence + ISO 7064 MOD 11-2 check character (0-9 or X). Old 15-digit IDs (two-digit
  year, no check character) are upgraded by inserting "19" and appending the check character.
* unified social credit code, USCC (统一社会信用代码, GB 32100-2015): 18 characters from
  0-9 A-Z without I O Z S V; registering authority (登记管理部门) + entity type (机构类别)
  + region code + organisation code (组织机构代码, GB 11714, own check character)
  + MOD 31 check character.
* parcel code (宗地代码, GB/T 37346-2019): 19 characters, see :func:`parcel_code_problem`.
* real-estate unit number (不动产单元代码): 28 characters, see :func:`unit_number_problem`.

Normalisation only changes presentation: full-width to half-width, whitespace removed anywhere,
case. A key is never "repaired" by changing, adding or dropping a digit; the one exception the
standard defines is the 15→18 upgrade of a citizen ID, which adds digits that are fully
determined by the old number. Excel damage (``4.10105E+17``, or the last three digits turned to
``000`` by its 15-significant-digit limit) is detected and quarantined, never guessed back.

Reason codes are NULL for a valid key, otherwise one string, the first problem in the documented
order, so each row has exactly one reason and the order tells the most useful one.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.standardize.regions import is_known_region, last_year_in_use

# ---------------------------------------------------------------------------------------------
# Reason codes (shared vocabulary with quarantine/ and the quality reports)
# ---------------------------------------------------------------------------------------------
MISSING = "missing"
EXCEL_DAMAGED = "excel_damaged"
BAD_LENGTH = "bad_length"
BAD_CHARACTERS = "bad_characters"
BAD_REGION = "bad_region"
BAD_BIRTH_DATE = "bad_birth_date"
BAD_CHECK_CHARACTER = "bad_check_character"
REGION_ABOLISHED_BEFORE_BIRTH = "region_abolished_before_birth"
BAD_REGISTERING_AUTHORITY = "bad_registering_authority"
BAD_ENTITY_TYPE = "bad_entity_type"
BAD_ORGANIZATION_CODE = "bad_organization_code"
BAD_PARCEL_FEATURE_CODE = "bad_parcel_feature_code"
BAD_PARCEL_SEQUENCE = "bad_parcel_sequence"
BAD_FIXTURE_CODE = "bad_fixture_code"
BAD_FIXTURE_NUMBER = "bad_fixture_number"

#: Reason codes per key kind, in the order they are checked.
REASON_CODES: dict[str, tuple[str, ...]] = {
    "id": (
        MISSING,
        EXCEL_DAMAGED,
        BAD_LENGTH,
        BAD_CHARACTERS,
        BAD_REGION,
        BAD_BIRTH_DATE,
        BAD_CHECK_CHARACTER,
        REGION_ABOLISHED_BEFORE_BIRTH,
    ),
    "uscc": (
        MISSING,
        BAD_LENGTH,
        BAD_CHARACTERS,
        BAD_REGISTERING_AUTHORITY,
        BAD_ENTITY_TYPE,
        BAD_REGION,
        BAD_ORGANIZATION_CODE,
        BAD_CHECK_CHARACTER,
    ),
    "parcel": (
        MISSING,
        BAD_LENGTH,
        BAD_CHARACTERS,
        BAD_REGION,
        BAD_PARCEL_FEATURE_CODE,
        BAD_PARCEL_SEQUENCE,
    ),
    "unit": (
        MISSING,
        BAD_LENGTH,
        BAD_CHARACTERS,
        BAD_REGION,
        BAD_PARCEL_FEATURE_CODE,
        BAD_PARCEL_SEQUENCE,
        BAD_FIXTURE_CODE,
        BAD_FIXTURE_NUMBER,
    ),
}

# ---------------------------------------------------------------------------------------------
# Presentation clean-up shared by all keys
# ---------------------------------------------------------------------------------------------
# Full-width forms U+FF01..U+FF5E are ASCII U+0021..U+007E shifted by 0xFEE0 (Chinese input
# methods type ０１２…, ＡＢＣ… and ＋．); the ideographic space U+3000 becomes a plain space.
_FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALF_WIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " "

# Patterns end in \z, not $: in Java, $ also matches before a final line break, so
# "110105199003070017\n" would pass a $-anchored shape test with the newline still in it.

# Whitespace anywhere: everything Python's str.isspace() accepts (\s, the separators \p{Z}
# including NBSP and U+3000, the information separators U+001C-U+001F and NEL U+0085), plus the
# invisible format characters that ride along with copy-paste: zero-width space/joiners, word
# joiner, Mongolian vowel separator, and the byte-order mark that starts many UTF-8 files.
_WHITESPACE_RE = r"[\s\p{Z}\x{1C}-\x{1F}\x{85}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]"


def _clean(raw: Column) -> Column:
    # Most delivered keys are already plain ASCII letters and digits: one cheap regex match lets
    # them skip the character-by-character translate and the replace (measured: about half the
    # cost of cleaning every row).
    return F.when(raw.rlike(r"^[0-9A-Za-z]*\z"), raw).otherwise(
        F.regexp_replace(F.translate(raw, _FULL_WIDTH, _HALF_WIDTH), _WHITESPACE_RE, "")
    )


def _is_missing(normalized: Column) -> Column:
    # NULL exactly when the raw value is NULL. Written with coalesce, whose first argument is
    # always evaluated, so Spark's common-subexpression elimination computes the normalised
    # value once per row for the whole CASE WHEN (an OR would make it conditional, recomputed).
    return F.coalesce(normalized, F.lit("")) == F.lit("")


def _as_column(value: Column | str) -> Column:
    return F.col(value) if isinstance(value, str) else value


def _char_at(value: Column, position: int) -> Column:
    # 1-based, like the standards number the positions.
    return F.substring(value, position, 1)


# ---------------------------------------------------------------------------------------------
# Citizen ID (公民身份号码, GB 11643)
# ---------------------------------------------------------------------------------------------
# ISO 7064 MOD 11-2: weights 2^(18-i) mod 11 for positions 1..17 (7, 9, 10, 5, 8, 4, 2, 1, 6,
# 3, 7, 9, 10, 5, 8, 4, 2); the check character is "10X98765432"[sum mod 11].
_ID_CHECK_CHARACTERS = "10X98765432"

# What Excel (or pandas) makes of a long number: 4.10105E+17, 4.10105e17, 410105199001011000.0.
# After normalisation (whitespace gone, full-width + and . made ASCII) these are the shapes.
_NUMBER_RENDERING_RE = r"^[0-9]+(\.[0-9]*)?[eE][+]?[0-9]+\z|^[0-9]+\.[0-9]*\z"


def _id_check_character(first_17: Column) -> Column:
    """Column: the MOD 11-2 check character of 17 digits (only meaningful for 17 digits)."""
    # S = sum of d_i * 2^(18-i) over i = 1..17. Because 13 = 2 (mod 11), reading the 17 digits
    # as one base-13 number V gives S = 2V (mod 11): one conv() instead of 17 substrings, which
    # keeps the expression small when the input is itself a large expression. 13^17 < 2^63.
    value = F.conv(first_17, 13, 10).try_cast("long")
    return F.lit(_ID_CHECK_CHARACTERS).substr((value % 11) * 2 % 11 + 1, F.lit(1))


def normalized_citizen_id(raw: Column | str) -> Column:
    """Column: the citizen ID in its one canonical form, or the cleaned string if it has none.

    Full-width digits and letters become half-width, whitespace of any kind (spaces, tabs, NBSP,
    ideographic space, zero-width characters) is removed wherever it is, lowercase ``x`` becomes
    ``X``, and a 15-digit ID is upgraded to 18 (``"19"`` inserted before the two-digit year, the
    MOD 11-2 check character appended). Nothing else changes: pair it with
    :func:`citizen_id_problem` to know whether the result is a valid key.
    """
    half_width = _clean(_as_column(raw))
    # contains() is a byte search; translate() walks every character, so only pay it when needed.
    cleaned = F.when(half_width.contains("x"), F.translate(half_width, "x", "X")).otherwise(
        half_width
    )
    upgraded_17 = F.concat(F.substring(cleaned, 1, 6), F.lit("19"), F.substring(cleaned, 7, 9))
    return F.when(
        cleaned.rlike(r"^[0-9]{15}\z"),
        F.concat(upgraded_17, _id_check_character(upgraded_17)),
    ).otherwise(cleaned)


def _reference_date(reference_date: Column | datetime.date | str | None) -> Column:
    if reference_date is None:
        return F.current_date()
    if isinstance(reference_date, Column):
        return reference_date
    return F.lit(reference_date).cast("date")


def _id_birth_date(normalized: Column) -> Column:
    # try_make_timestamp_ntz gives NULL for 1990-02-30 whatever spark.sql.ansi.enabled says.
    return F.try_make_timestamp_ntz(
        years=F.substring(normalized, 7, 4).try_cast("int"),
        months=F.substring(normalized, 11, 2).try_cast("int"),
        days=F.substring(normalized, 13, 2).try_cast("int"),
        hours=F.lit(0),
        mins=F.lit(0),
        secs=F.lit(0),
    ).cast("date")


def _citizen_id_problem_of_normalized(normalized: Column, reference_date: Column) -> Column:
    birth_date = _id_birth_date(normalized)
    check = _id_check_character(F.substring(normalized, 1, 17))
    well_formed = normalized.rlike(r"^[0-9]{17}[0-9X]\z")
    excel_damaged = (
        # A number rendering has a "." or an "e", which a well-formed ID never has: test the
        # cheap shape first so the backtracking pattern only runs on the few that need it.
        (~well_formed & normalized.rlike(_NUMBER_RENDERING_RE))
        # Excel keeps 15 significant digits: an 18-digit ID comes back with "000" at the end.
        # Only when the check then fails do we know it is damage, not a real ...000 ID.
        | (well_formed & normalized.endswith("000") & (check != F.lit("0")))
    )
    return (
        F.when(_is_missing(normalized), F.lit(MISSING))
        .when(excel_damaged, F.lit(EXCEL_DAMAGED))
        .when(F.length(normalized) != 18, F.lit(BAD_LENGTH))
        .when(~well_formed, F.lit(BAD_CHARACTERS))
        .when(~is_known_region(F.substring(normalized, 1, 6)), F.lit(BAD_REGION))
        .when(
            ~F.coalesce(
                (birth_date >= F.lit(datetime.date(1900, 1, 1))) & (birth_date <= reference_date),
                F.lit(False),
            ),
            F.lit(BAD_BIRTH_DATE),
        )
        .when(_char_at(normalized, 18) != check, F.lit(BAD_CHECK_CHARACTER))
        # Checked last: only a well-formed ID says reliably which code and which birth year.
        .when(
            last_year_in_use(F.substring(normalized, 1, 6)) < F.year(birth_date),
            F.lit(REGION_ABOLISHED_BEFORE_BIRTH),
        )
    )


def citizen_id_problem(
    raw: Column | str, reference_date: Column | datetime.date | str | None = None
) -> Column:
    """Column: NULL when the citizen ID is valid, else the first reason code that applies.

    Checked in this order (on the :func:`normalized_citizen_id` value):

    ``missing``
        NULL, empty or only whitespace.
    ``excel_damaged``
        a number rendering (``4.10105E+17``, ``4.10105e17``, ``410105199001011000.0``) or 18
        digits ending in ``000`` whose check character fails (Excel's 15-significant-digit
        truncation). Quarantined, never guessed back.
    ``bad_length``
        not 18 characters (after the 15→18 upgrade).
    ``bad_characters``
        not 17 digits followed by a digit or X.
    ``bad_region``
        first 6 digits are not a GB/T 2260 code (historical codes count as known, see
        ``region_abolished_before_birth``).
    ``bad_birth_date``
        digits 7-14 are not a calendar date, or the date is before 1900-01-01 or after
        ``reference_date``.
    ``bad_check_character``
        the MOD 11-2 check character does not match.
    ``region_abolished_before_birth``
        the region code was abolished before the birth year. The code is the place of issue,
        which may be later than birth (a code created after the birth year is fine) but never
        earlier.

    Args:
        raw: the column as delivered.
        reference_date: "today" for the future-birth-date check; ``current_date()`` when None.
            Pass the batch's delivery date to make a re-run give the same answer.
    """
    return _citizen_id_problem_of_normalized(
        normalized_citizen_id(raw), _reference_date(reference_date)
    )


def _when_valid_id(
    raw: Column | str, reference_date: Column | datetime.date | str | None, value: Callable
) -> Column:
    normalized = normalized_citizen_id(raw)
    problem = _citizen_id_problem_of_normalized(normalized, _reference_date(reference_date))
    return F.when(problem.isNull(), value(normalized))


def birth_date_of(
    raw: Column | str, reference_date: Column | datetime.date | str | None = None
) -> Column:
    """Column (DateType): the birth date inside a valid citizen ID, NULL for an invalid one.

    A damaged key yields nothing rather than a plausible wrong date, so a conflict check
    ("birth date disagrees with the ID") never fires on a key that is itself wrong.
    """
    return _when_valid_id(raw, reference_date, _id_birth_date)


def gender_of(
    raw: Column | str, reference_date: Column | datetime.date | str | None = None
) -> Column:
    """Column: GB/T 2261.1 gender code of a valid citizen ID, ``"1"`` male, ``"2"`` female.

    The 17th character is odd for men and even for women. NULL for an invalid ID.
    """
    return _when_valid_id(
        raw,
        reference_date,
        lambda n: F.when(_char_at(n, 17).try_cast("int") % 2 == 1, F.lit("1")).otherwise(
            F.lit("2")
        ),
    )


def region_of(
    raw: Column | str, reference_date: Column | datetime.date | str | None = None
) -> Column:
    """Column: the 6-digit GB/T 2260 region code of a valid citizen ID (where it was issued).

    It is the region of first registration, not the current domicile. NULL for an invalid ID.
    """
    return _when_valid_id(raw, reference_date, lambda n: F.substring(n, 1, 6))


# ---------------------------------------------------------------------------------------------
# Unified social credit code (统一社会信用代码, GB 32100)
# ---------------------------------------------------------------------------------------------
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE = r"^[0-9A-HJ-NPQRTUWXY]{18}\z"

#: Registering authority (登记管理部门, position 1) → (name, {entity type (机构类别, position 2):
#: name}), GB 32100-2015 Annex A with amendment No. 1 (2016: A 军队, N 农业).
REGISTERING_AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": (
        "机构编制",
        {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    ),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": (
        "旅游",
        {
            "1": "外国旅游部门常驻代表机构",
            "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
            "9": "其他",
        },
    ),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    # The standard says 工商; market regulation (市场监管) took the function over, the code stayed.
    "9": ("市场监管", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": (
        "农业",
        {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    ),
    "Y": ("其他", {"1": "其他"}),
}

#: Region codes a USCC may carry besides GB/T 2260: 100000 = registered at national level
#: (State Council bodies, national social organisations, centrally registered enterprises).
USCC_EXTRA_REGION_CODES: frozenset[str] = frozenset({"100000"})


def _is_uscc_region(code: Column) -> Column:
    # Positions 3-8 are the code of the registering office (登记管理机关行政区划码). Offices in
    # development zones carry a code their prefecture assigned under its own prefix (苏州工业园区
    # registers as 320594), which GB/T 2260 does not list; accept a code when it, or its
    # prefecture's xxxx00, is known, so real registrations are not quarantined.
    prefecture = F.concat(F.substring(code, 1, 4), F.lit("00"))
    return is_known_region(code, USCC_EXTRA_REGION_CODES) | is_known_region(prefecture)


# Organisation code (组织机构代码, GB 11714): 8 body characters (digits = 0-9, A-Z = 10-35),
# check = 11 - (sum mod 11), with 10 → X and 11 → 0.
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_CHECK_CHARACTERS = "0123456789X0"  # index 11 - (sum mod 11), 1..11


def normalized_uscc(raw: Column | str) -> Column:
    """Column: the USCC in canonical form (half-width, no whitespace anywhere, uppercase)."""
    return F.upper(_clean(_as_column(raw)))


def _uscc_value(character: Column) -> Column:
    # Position in the 31-character alphabet; instr is 1-based and 0 when absent.
    return F.instr(F.lit(_USCC_ALPHABET), character) - 1


def _uscc_check_character(normalized: Column) -> Column:
    total = None
    for position, weight in enumerate(_USCC_WEIGHTS, start=1):
        term = _uscc_value(_char_at(normalized, position)) * weight
        total = term if total is None else total + term
    return F.lit(_USCC_ALPHABET).substr(((F.lit(31) - total % 31) % 31) + 1, F.lit(1))


def _org_code_value(character: Column) -> Column:
    # 0-9 → 0-9, A-Z → 10-35 (GB 11714 uses the full Latin alphabet).
    return F.instr(F.lit("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"), character) - 1


def _org_code_check_character(body_8: Column) -> Column:
    total = None
    for position, weight in enumerate(_ORG_CODE_WEIGHTS, start=1):
        term = _org_code_value(_char_at(body_8, position)) * weight
        total = term if total is None else total + term
    return F.lit(_ORG_CODE_CHECK_CHARACTERS).substr(F.lit(11) - total % 11 + 1, F.lit(1))


def uscc_problem(raw: Column | str) -> Column:
    """Column: NULL when the USCC is valid, else the first reason code that applies.

    Checked in this order (on the :func:`normalized_uscc` value):

    ``missing``
        NULL, empty or only whitespace.
    ``bad_length``
        not 18 characters.
    ``bad_characters``
        a character outside 0-9 A-Z without I O Z S V.
    ``bad_registering_authority``
        position 1 is not in GB 32100 Annex A (1-9, A, N, Y).
    ``bad_entity_type``
        position 2 is not an entity type of that authority (e.g. 94, 54, Y2).
    ``bad_region``
        positions 3-8 are neither a GB/T 2260 code (historical included), nor under a known
        prefecture (xxxx00, for development-zone offices), nor 100000 (national registration).
    ``bad_organization_code``
        positions 9-17 are not a GB 11714 organisation code (its own check character fails).
    ``bad_check_character``
        the MOD 31 check character (position 18) does not match.
    """
    normalized = normalized_uscc(raw)
    authority = _char_at(normalized, 1)
    authority_and_type = F.substring(normalized, 1, 2)
    entity_types = sorted(a + t for a, (_, types) in REGISTERING_AUTHORITIES.items() for t in types)
    return (
        F.when(_is_missing(normalized), F.lit(MISSING))
        .when(F.length(normalized) != 18, F.lit(BAD_LENGTH))
        .when(~normalized.rlike(_USCC_RE), F.lit(BAD_CHARACTERS))
        .when(~authority.isin(sorted(REGISTERING_AUTHORITIES)), F.lit(BAD_REGISTERING_AUTHORITY))
        .when(~authority_and_type.isin(entity_types), F.lit(BAD_ENTITY_TYPE))
        .when(~_is_uscc_region(F.substring(normalized, 3, 6)), F.lit(BAD_REGION))
        .when(
            _char_at(normalized, 17) != _org_code_check_character(F.substring(normalized, 9, 8)),
            F.lit(BAD_ORGANIZATION_CODE),
        )
        .when(
            _char_at(normalized, 18) != _uscc_check_character(normalized),
            F.lit(BAD_CHECK_CHARACTER),
        )
    )


def registering_authority_of(raw: Column | str) -> Column:
    """Column: registering authority code (登记管理部门) of a valid USCC, NULL for an invalid one.

    ``"1"`` 机构编制, ``"5"`` 民政, ``"9"`` 市场监管 …; names in :data:`REGISTERING_AUTHORITIES`.
    It tells which department is the authoritative source for the entity (一数一源): 9 →
    market regulation's enterprise register, 5 → civil affairs' social-organisation register.
    """
    normalized = normalized_uscc(raw)
    return F.when(uscc_problem(raw).isNull(), _char_at(normalized, 1))


def entity_type_of(raw: Column | str) -> Column:
    """Column: the two-character authority + entity type (机构类别) of a valid USCC, e.g. ``"91"``.

    NULL for an invalid USCC. Names in :data:`REGISTERING_AUTHORITIES`.
    """
    normalized = normalized_uscc(raw)
    return F.when(uscc_problem(raw).isNull(), F.substring(normalized, 1, 2))


# ---------------------------------------------------------------------------------------------
# Real estate (不动产单元设定与代码编制规则, GB/T 37346-2019)
# ---------------------------------------------------------------------------------------------
#: 宗地（宗海）特征码 position 1: ownership. G 国家所有, J 集体所有, Z 所有权未确定或有争议.
PARCEL_OWNERSHIP_CODES: dict[str, str] = {
    "G": "国家土地（海域）所有权",
    "J": "集体土地所有权",
    "Z": "土地（海域）所有权未确定或有争议",
}
#: 宗地（宗海）特征码 position 2: the right the parcel (宗地) or sea area (宗海) is set up for.
PARCEL_RIGHT_CODES: dict[str, str] = {
    "A": "集体土地所有权宗地",
    "B": "建设用地使用权宗地（地表）",
    "S": "建设用地使用权宗地（地上）",
    "X": "建设用地使用权宗地（地下）",
    "C": "宅基地使用权宗地",
    "D": "土地承包经营权宗地（耕地）",
    "E": "土地承包经营权宗地（林地）",
    "F": "土地承包经营权宗地（草地）",
    "L": "林地使用权宗地（承包经营以外的）",
    "N": "农用地的使用权宗地（承包经营以外的、非林地）",
    "H": "海域使用权宗海",
    "G": "无居民海岛使用权海岛",
    "W": "使用权未确定或有争议的土地",
    "Y": "其他土地使用权宗地",
}
#: 定着物特征码 (position 20 of the unit number): what stands on the parcel.
FIXTURE_CODES: dict[str, str] = {
    "F": "房屋等建筑物、构筑物",
    "L": "森林或林木",
    "Q": "其他类型的定着物",
    "W": "无定着物",
}

_PARCEL_RE = r"^[0-9]{12}[A-Z]{2}[0-9]{5}\z"
_UNIT_RE = r"^[0-9]{12}[A-Z]{2}[0-9]{5}[A-Z][0-9]{8}\z"


def normalized_real_estate_code(raw: Column | str) -> Column:
    """Column: a parcel code or unit number in canonical form (half-width, no whitespace, upper).

    Registers print unit numbers in groups (``340123 002004 GB00011 F00010001``); the spaces
    are presentation, so they go.
    """
    return F.upper(_clean(_as_column(raw)))


def _parcel_part_problem(normalized: Column) -> Column:
    """Reasons shared by the parcel code and the unit number's first 19 characters."""
    ownership = _char_at(normalized, 13)
    right = _char_at(normalized, 14)
    return (
        F.when(~is_known_region(F.substring(normalized, 1, 6)), F.lit(BAD_REGION))
        .when(
            ~ownership.isin(sorted(PARCEL_OWNERSHIP_CODES))
            | ~right.isin(sorted(PARCEL_RIGHT_CODES))
            # A collective-ownership parcel (A) can only be owned collectively (J).
            | ((right == F.lit("A")) & (ownership != F.lit("J"))),
            F.lit(BAD_PARCEL_FEATURE_CODE),
        )
        .when(F.substring(normalized, 15, 5) == F.lit("00000"), F.lit(BAD_PARCEL_SEQUENCE))
    )


def parcel_code_problem(raw: Column | str) -> Column:
    """Column: NULL when the 19-character parcel code (宗地代码) is valid, else a reason code.

    Structure (GB/T 37346-2019 §8): county-level region code (6 digits, GB/T 2260) + cadastral
    district (地籍区, 3 digits) + cadastral sub-district (地籍子区, 3 digits) + parcel feature
    code (宗地特征码, 2 letters) + parcel sequence number (宗地顺序号, 5 digits, 00001-99999).
    The code has no check character, so only structure and code tables can be checked:

    ``missing``; ``bad_length`` (not 19); ``bad_characters`` (not 12 digits, 2 letters,
    5 digits); ``bad_region`` (first 6 digits not a GB/T 2260 code, historical included);
    ``bad_parcel_feature_code`` (ownership not G/J/Z, right not in A B S X C D E F L N H G W Y,
    or A without J); ``bad_parcel_sequence`` (00000).

    Cadastral district and sub-district are only checked to be digits: 000 is what sea areas
    (宗海) and transitional codes carry, so rejecting it would reject real registrations.
    """
    normalized = normalized_real_estate_code(raw)
    return (
        F.when(_is_missing(normalized), F.lit(MISSING))
        .when(F.length(normalized) != 19, F.lit(BAD_LENGTH))
        .when(~normalized.rlike(_PARCEL_RE), F.lit(BAD_CHARACTERS))
        .otherwise(_parcel_part_problem(normalized))
    )


def unit_number_problem(raw: Column | str) -> Column:
    """Column: NULL when the 28-character real-estate unit number is valid, else a reason code.

    Structure: the 19-character parcel code (see :func:`parcel_code_problem`, same reasons)
    + fixture feature code (定着物特征码, 1 letter: F 房屋等建筑物构筑物, L 森林或林木,
    Q 其他, W 无定着物) + fixture unit number (定着物单元编号, 8 digits; for F the building
    number 幢号 and the unit 户号, 4 digits each).

    ``missing``; ``bad_length`` (not 28); ``bad_characters`` (not 12 digits, 2 letters,
    5 digits, 1 letter, 8 digits); ``bad_region``; ``bad_parcel_feature_code``;
    ``bad_parcel_sequence``; ``bad_fixture_code`` (not F/L/Q/W); ``bad_fixture_number``
    (W must be followed by 00000000 — no fixture, no fixture number — and F/L/Q by a number
    other than 00000000).
    """
    normalized = normalized_real_estate_code(raw)
    fixture = _char_at(normalized, 20)
    fixture_number = F.substring(normalized, 21, 8)
    return (
        F.when(_is_missing(normalized), F.lit(MISSING))
        .when(F.length(normalized) != 28, F.lit(BAD_LENGTH))
        .when(~normalized.rlike(_UNIT_RE), F.lit(BAD_CHARACTERS))
        .otherwise(
            F.coalesce(
                _parcel_part_problem(normalized),
                F.when(~fixture.isin(sorted(FIXTURE_CODES)), F.lit(BAD_FIXTURE_CODE)).when(
                    (fixture == F.lit("W")) != (fixture_number == F.lit("00000000")),
                    F.lit(BAD_FIXTURE_NUMBER),
                ),
            )
        )
    )


def parcel_code_of(raw: Column | str) -> Column:
    """Column: the 19-character parcel code of a valid unit number, NULL for an invalid one.

    Joins real-estate units (不动产登记) to their parcels (宗地).
    """
    return F.when(
        unit_number_problem(raw).isNull(), F.substring(normalized_real_estate_code(raw), 1, 19)
    )


# ---------------------------------------------------------------------------------------------
# One entry point per kind, for ingest and the command line
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyKind:
    """How one kind of key is normalised and checked."""

    name: str
    description: str
    normalize: Callable[[Column], Column]
    problem: Callable[[Column], Column]


def _id_problem_today(raw: Column) -> Column:
    return citizen_id_problem(raw)


KEY_KINDS: dict[str, KeyKind] = {
    "id": KeyKind("id", "citizen ID (公民身份号码)", normalized_citizen_id, _id_problem_today),
    "uscc": KeyKind(
        "uscc", "unified social credit code (统一社会信用代码)", normalized_uscc, uscc_problem
    ),
    "parcel": KeyKind(
        "parcel", "parcel code (宗地代码)", normalized_real_estate_code, parcel_code_problem
    ),
    "unit": KeyKind(
        "unit",
        "real-estate unit number (不动产单元代码)",
        normalized_real_estate_code,
        unit_number_problem,
    ),
}


def with_checked_key(
    keyed_df: DataFrame,
    column: str,
    kind: str,
    reference_date: Column | datetime.date | str | None = None,
) -> DataFrame:
    """Adds ``<column>_normalized`` and ``<column>_problem`` for a key column of ``kind``.

    The raw column stays as delivered (bronze keeps the evidence); downstream uses the
    normalised key of rows whose problem is NULL and quarantines the others with the reason.

    Args:
        keyed_df: any DataFrame with ``column``.
        column: the raw key column.
        kind: ``id``, ``uscc``, ``parcel`` or ``unit``.
        reference_date: only for ``id``: the date after which a birth date is "in the future".
    """
    key_kind = KEY_KINDS[kind]
    raw = F.col(column)
    problem = citizen_id_problem(raw, reference_date) if kind == "id" else key_kind.problem(raw)
    return keyed_df.withColumn(f"{column}_normalized", key_kind.normalize(raw)).withColumn(
        f"{column}_problem", problem
    )
