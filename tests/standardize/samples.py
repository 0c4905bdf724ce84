"""Delivered values for the twin tests of the Arrow rules: good ones first, then what goes
wrong in deliveries (full-width forms, invisible characters, 15-digit and Excel-damaged IDs, wrong
check characters, future birth dates, unknown regions, 长期, renderings of nothing, huge numbers,
Java's line-terminator corners)."""

from __future__ import annotations

from jobs.standardize import keys


def check_id(first_17: str) -> str:
    """A citizen ID with its MOD 11-2 check character."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first_17))
    return first_17 + keys._ID_CHECK_CHARACTERS[total % 11]


def check_uscc(authority_type: str, region: str, organization_body: str) -> str:
    """A USCC with its organisation-code and MOD 31 check characters."""
    values = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    total = sum(
        values.index(c) * w for c, w in zip(organization_body, keys._ORG_CODE_WEIGHTS, strict=True)
    )
    first_17 = (
        authority_type
        + region
        + organization_body
        + keys._ORG_CODE_CHECK_CHARACTERS[11 - total % 11]
    )
    alphabet = keys._USCC_ALPHABET
    total = sum(alphabet.index(c) * w for c, w in zip(first_17, keys._USCC_WEIGHTS, strict=True))
    return first_17 + alphabet[(31 - total % 31) % 31]


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


KEY_BLANKS = [None, "", "  ", "\u3000", "\u200b", "\x1c", "NaN", "null"]
GOOD_ID = check_id("11010119900307002")
GOOD_USCC = check_uscc("91", "110108", "60003734")
IDS = [
    GOOD_ID,
    full_width(GOOD_ID.lower()),
    f" {GOOD_ID[:6]}\t{GOOD_ID[6:14]}\u200b{GOOD_ID[14:]}\x85",
    "110101900307002",
    "１１０１０１９００３０７００２",
    GOOD_ID[:15] + "000",
    "4.10105E+17",
    "4.10105e17",
    "410105199001011000.0",
    "1101",
    "11010119900307002A",
    "11010119900307002x",
    check_id("99999919900307002"),
    check_id("11999919900307002"),
    check_id("11010120250101001"),
    check_id("11010120240630001"),
    check_id("11010120240701001"),
    check_id("11010118991231001"),
    check_id("11010119000101001"),
    check_id("11010119900230001"),
    GOOD_ID[:17] + ("1" if GOOD_ID[17] != "1" else "2"),
    check_id("11010320120101001"),
    check_id("11010320100101001"),
    check_id("11011219900101001"),
    "ß" * 18,
    "١١٠١٠١١٩٩٠٠٣٠٧٠٠٢X",
    *KEY_BLANKS,
]
USCCS = [
    GOOD_USCC,
    f"{GOOD_USCC[:4]} {GOOD_USCC[4:8]} {GOOD_USCC[8:]}".lower(),
    full_width(GOOD_USCC.lower()),
    check_uscc("Y1", "110108", "MA01234X"),
    check_uscc("94", "110108", "60003734"),
    check_uscc("01", "110108", "60003734"),
    check_uscc("91", "999999", "60003734"),
    check_uscc("91", "320594", "60003734"),
    GOOD_USCC[:16] + ("0" if GOOD_USCC[16] != "0" else "1") + GOOD_USCC[17],
    GOOD_USCC[:17] + ("0" if GOOD_USCC[17] != "0" else "1"),
    "Y1110108MA01234X0",
    "94110108600037341L",
    "01110108600037341L",
    "91999999600037341L",
    "91320594600037341L",
    "91110108600037342L",
    "91110108600037341A",
    "91110108I00037341L",
    "ﬀ" * 9,
    "ß" * 18,
    "9111010860003734",
    *KEY_BLANKS,
]
PARCELS = [
    "110101001001GB00001",
    " 110101 001001 gb00001 ",
    "110101001001GA00001",
    "110101001001JA00001",
    "110101001001GB00000",
    "999999001001GB00001",
    "110101001001G100001",
    "110101001001QB00001",
    "1101010010",
    *KEY_BLANKS,
]
UNITS = [
    "110101001001GB00001F00010001",
    "110101 001001 GB00001 F00010001",
    "110101001001GB00001W00000000",
    "110101001001GB00001W00010001",
    "110101001001GB00001F00000000",
    "110101001001GB00001X00010001",
    "110101001001GB00000F00010001",
    "110101001001GA00001F00010001",
    "110101001001GB00001F0001",
    *KEY_BLANKS,
]

BLANKS = [None, "", " ", "\u3000", "\t\n", "\x0b", "\u00a0", "\u200b", "\ufeff"]
NOT_VALUES = ["NaN", "nan", "None", "NULL", "#N/A", "Infinity", "-inf", "Ｎａｎ", "İNF", "ınf"]
TEXTS = [
    *BLANKS,
    *NOT_VALUES,
    "  hello   world ",
    "Ｓｔｒｅｅｔ\u00a01",
    "a\u180eb",
    "x\x01y\x1b",
    "é\u2028",
    "line\x85",
    "张 三",
    "欧阳\u3000娜娜 ",
    "阿依古丽.买买提",
    "Zhang  San",
    "张 三 丰 李 四",
    "\U00020000 \U00020000",
    "张 \U00020000",
    "〇 〇",
]
DATES = [
    "1990年3月7日",
    "1990/3/7",
    "19900307",
    "1990.03.07",
    "1990-03-07 00:00:00",
    "2021-1-5T08:00",
    "２０２１－０１－０５",
    "2021-02-30",
    "2000-02-29",
    "1900-02-29",
    "2021-13-01",
    "长期",
    "永久",
    "9999-12-31",
    "99991231",
    "00000101",
    "0000-02-29",
    "0001-01-01",
    "2021-12-13\x85",
    "2021-12-13 x\x85",
    "2021-001-5",
    "x",
    *BLANKS,
]
TIMESTAMPS = [
    "2021-12-13 08:30:00",
    "2021-12-13T08:30",
    "20211213083000",
    "2021年12月13日 08:30",
    "2021年12月13日08:30:15",
    "2021.12.13 8:30",
    "1986-5-4 2:30:00",
    "1986-9-14 1:30:00",
    "1900-12-31 23:59:59",
    "1901-1-1 0:00:00",
    "2021-12-13 25:00:00",
    "2021-12-13 23:60:00",
    "2021-12-13 23:59:60",
    "20211213240000",
    "2021T12T13 08:30:00",
    "2021-12-13",
    "2021-12-13\r",
    "00010101000000",
    "99991231235959",
    "长期",
    "x",
    *DATES,
]
NUMBERS = [
    "1,234.50",
    "1 234.5",
    "１２３",
    "120万",
    "120万元",
    "88.5平方米",
    "12㎡",
    "1.005",
    "-1.005",
    "1.00005",
    "+3",
    ".5",
    "5.",
    "-0",
    "007",
    "9" * 16,
    "9" * 17,
    "9999999999999999.995",
    "9" * 30,
    "9" * 400,
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "12345678.9",
    "0.0001",
    "1e5",
    "1.5.2",
    "123\x85",
    "x",
    *BLANKS,
    *NOT_VALUES,
]
PHONES = [
    "138-1234-1234",
    "+86 13812341234",
    "0086 13812341234",
    "86-138-1234-1234",
    "010-12345678",
    "(0755)1234-5678",
    "（010）12345678",
    "12345",
    "8613812341234\x85",
    "1381234123４",
    *BLANKS,
]
BOOLEANS = ["是", "否", "Y", "n", "TRUE", "False", "1", "0", "yes", "Ｙｅｓ", "有", "x", *BLANKS]
