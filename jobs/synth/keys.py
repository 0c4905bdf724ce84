"""Keys with correct check characters, and the ways real exports damage them.

Generation: citizen IDs (公民身份号码, GB 11643, ISO 7064 MOD 11-2 via stdnum), unified social
credit codes (统一社会信用代码, GB 32100, MOD 31 via stdnum, with a GB 11714 organisation code
that carries its own check character), parcel codes (宗地代码, 19 characters) and real-estate
unit numbers (不动产单元号, 28 characters, GB/T 37346).

Damage: each function here turns a valid key into what a department's export really contains
(a wrong check character, a 15-digit ID, Excel's 4.10105E+17 …). The strict validators are what
the tests use to prove that every invalid key in the output is a recorded defect.
"""

from __future__ import annotations

import datetime
import re

import numpy as np
from stdnum.cn import ric, uscc

#: Characters allowed in a USCC (GB 32100): digits and capitals without I, O, Z, S, V.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# re.ASCII: without it \d also matches full-width digits, which are a (normalisable) defect
_ID_RE = re.compile(r"^\d{17}[\dX]$", re.ASCII)
_USCC_RE = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{18}$")
_PARCEL_RE = re.compile(r"^\d{12}[GJZ][ABSXCDEFLNHGWY]\d{5}$", re.ASCII)
_UNIT_RE = re.compile(r"^\d{12}[GJZ][ABSXCDEFLNHGWY]\d{5}[FLQW]\d{8}$", re.ASCII)
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
#: ISO 7064 MOD 11-2 weights 2^(17-i) mod 11; the check is (1 - Σ dᵢwᵢ) mod 11, 10 → X.
_ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], np.int64)
_ID_CHECKS = "0123456789X"
_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


# --- citizen ID (GB 11643) ---------------------------------------------------------------------


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits of a citizen ID."""
    # stdnum's function takes the whole number and ignores its last character.
    return ric.calc_check_digit(first17 + "0")


def citizen_id(region: str, birth: datetime.date, sequence: int) -> str:
    """An 18-character citizen ID; ``sequence`` (顺序码) is odd for men and even for women."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + id_check_char(body)


def citizen_ids(regions: list[str], birth: np.ndarray, sequence: np.ndarray) -> list[str]:
    """Many citizen IDs at once (vectorised MOD 11-2); same result as :func:`citizen_id`."""
    if not len(regions):
        return []
    days = (np.asarray(birth, np.int64) - _EPOCH_ORDINAL).astype("datetime64[D]")
    dates = np.datetime_as_string(days, unit="D")
    bodies = [
        f"{region}{date[:4]}{date[5:7]}{date[8:10]}{seq:03d}"
        for region, date, seq in zip(regions, dates.tolist(), sequence.tolist(), strict=True)
    ]
    digits = np.frombuffer("".join(bodies).encode("ascii"), np.uint8).reshape(-1, 17) - 48
    checks = (1 - digits.astype(np.int64) @ _ID_WEIGHTS) % 11
    return [body + _ID_CHECKS[c] for body, c in zip(bodies, checks.tolist(), strict=True)]


def id_15_digit(id18: str) -> str:
    """The pre-1999 15-digit form of an ID of someone born in the 1900s: no century, no check."""
    return id18[:6] + id18[8:17]


def is_clean_citizen_id(value: str) -> bool:
    """Strictly valid as delivered: 18 characters, uppercase X, check, birth date and region.

    Stricter than stdnum, which first strips spaces and upper-cases: a key that needs those
    normalisations is a (normalisable) defect here and must be in the manifest.
    """
    return bool(_ID_RE.match(value)) and ric.is_valid(value)


# --- USCC (GB 32100) and organisation code (GB 11714) ------------------------------------------


def org_code_check(body8: str) -> str:
    """GB 11714 check character of an 8-character organisation code body (0-9 or X)."""
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_code(authority: str, entity_type: str, region: str, org_body8: str) -> str:
    """A USCC: registering authority (登记管理部门) + entity type (机构类别) + region code
    + organisation code with its own check character + the MOD 31 check character."""
    body = f"{authority}{entity_type}{region}{org_body8}{org_code_check(org_body8)}"
    return body + uscc.calc_check_digit(body)


def is_clean_uscc(value: str) -> bool:
    """Strictly valid as delivered: alphabet, MOD 31 check and organisation-code check."""
    return (
        bool(_USCC_RE.match(value))
        and uscc.is_valid(value)
        and org_code_check(value[8:16]) == value[16]
    )


# --- real estate (GB/T 37346) ------------------------------------------------------------------


def parcel_code(county: str, district: int, subdistrict: int, feature: str, sequence: int) -> str:
    """宗地代码: county (6) + 地籍区 (3) + 地籍子区 (3) + 宗地特征码 (2) + 宗地顺序号 (5)."""
    return f"{county}{district:03d}{subdistrict:03d}{feature}{sequence:05d}"


def unit_number(parcel: str, fixture: str, building: int, unit: int) -> str:
    """不动产单元号: parcel code (19) + 定着物特征码 (1) + 幢号 (4) + 户号 (4)."""
    return f"{parcel}{fixture}{building:04d}{unit:04d}"


def is_clean_parcel_code(value: str) -> bool:
    return bool(_PARCEL_RE.match(value)) and value[14:19] != "00000"


def is_clean_unit_number(value: str) -> bool:
    return bool(_UNIT_RE.match(value)) and is_clean_parcel_code(value[:19])


# --- damage ------------------------------------------------------------------------------------


def with_wrong_check_char(key: str, alphabet: str, pick: float) -> str:
    """The key with a different (wrong) last character from the key's own alphabet."""
    choices = [c for c in alphabet if c != key[-1]]
    return key[:-1] + choices[int(pick * len(choices))]


def with_wrong_org_code_check(code: str, pick: float) -> str:
    """A USCC whose organisation-code check is wrong but whose MOD 31 check is recomputed, so
    only the GB 11714 check finds it (stdnum's USCC validation does not)."""
    choices = [c for c in "0123456789X" if c != code[16]]
    body = code[:16] + choices[int(pick * len(choices))]
    return body + uscc.calc_check_digit(body)


def lowercase_x(key: str) -> str:
    return key[:-1] + key[-1].lower()


def fullwidth(key: str) -> str:
    """Full-width digits and letters (０-９, Ａ-Ｚ), as typed with a Chinese input method."""
    return "".join(_FULLWIDTH.get(c, c) for c in key)


_WHITESPACE_FORMS = (" {} ", "{} ", "\t{}", "{}\t", " {}\t", "{}  ")


def with_whitespace(key: str, pick: float) -> str:
    """The key with stray spaces or tabs around it."""
    return _WHITESPACE_FORMS[int(pick * len(_WHITESPACE_FORMS))].format(key)


def excel_scientific(key: str) -> str:
    """What Excel shows for an 18-digit number: six significant digits, 4.10105E+17."""
    return f"{float(key):.5E}"


def excel_truncated(key: str) -> str:
    """What Excel stores for an 18-digit number: 15 significant digits, the rest zeros."""
    return key[:15] + "000"
