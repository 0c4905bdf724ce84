"""Who applies for open data on request (依申请开放, 004 §22): a natural person or an
organisation, with the contact details the department answers at.

Personal data: :mod:`jobs.govern.open_requests` keeps them in the workflow store only, and
those who answer see the document number masked (:func:`as_shown`). Checking them needs nothing
heavy, so the service's request bodies are built from :class:`Applicant` at import time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stdnum.cn import ric, uscc

#: Who applies: a natural person (自然人) or a legal person or other organisation (法人或其他组织).
APPLICANT_KINDS = {"person": "自然人", "organisation": "法人或其他组织"}
#: Identity documents a person applies with; an organisation gives its USCC.
ID_TYPES = {
    "resident_id": "居民身份证",
    "passport": "护照",
    "hk_macao_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
    "foreign_permanent_residence": "外国人永久居留身份证",
    "uscc": "统一社会信用代码",
}
_ID_NUMBER = {
    "resident_id": re.compile(r"\d{17}[\dX]"),
    "uscc": re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}"),
}
#: Numbers whose check characters are verified: GB 11643 (ISO 7064 MOD 11-2) and GB 32100.
_CHECKED = {"resident_id": ric.is_valid, "uscc": uscc.is_valid}
_OTHER_ID = re.compile(r"[0-9A-Z]{5,20}")
_PHONE = re.compile(r"\+?[0-9][0-9-]{6,19}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 100


class ApplicantError(ValueError):
    """A contact detail is missing or malformed; the message names which, never its value."""


@dataclass(frozen=True)
class Applicant:
    """Who applies, and how to answer them (personal data: kept in the store only)."""

    kind: str
    name: str
    id_type: str
    id_number: str
    phone: str = ""
    email: str = ""
    #: 004 §22: an applicant who asks for a written answer (书面答复) gets one.
    wants_written_reply: bool = False


def checked_applicant(applicant: Applicant) -> Applicant:
    """``applicant`` with its values trimmed (an ID in upper case), or an error saying which
    value is wrong (never the value itself: it is personal data)."""
    clean = Applicant(
        kind=applicant.kind,
        name=" ".join(applicant.name.split()),
        id_type=applicant.id_type,
        id_number=applicant.id_number.strip().upper(),
        phone=applicant.phone.strip(),
        email=applicant.email.strip(),
        wants_written_reply=bool(applicant.wants_written_reply),
    )
    if clean.kind not in APPLICANT_KINDS:
        raise ApplicantError(f"the applicant is a {' or an '.join(APPLICANT_KINDS)}")
    if (clean.id_type == "uscc") != (clean.kind == "organisation") or clean.id_type not in ID_TYPES:
        raise ApplicantError(
            "an organisation gives its USCC (uscc); a person one of: "
            + ", ".join(t for t in ID_TYPES if t != "uscc")
        )
    if not clean.name or len(clean.name) > MAX_NAME_CHARS:
        raise ApplicantError(f"give the applicant's name, at most {MAX_NAME_CHARS} characters")
    has_check = _CHECKED.get(clean.id_type)
    if not _ID_NUMBER.get(clean.id_type, _OTHER_ID).fullmatch(clean.id_number) or (
        has_check and not has_check(clean.id_number)
    ):
        raise ApplicantError(f"the {ID_TYPES[clean.id_type]} number is not well formed")
    if not (clean.phone or clean.email):
        raise ApplicantError("give a phone number or an e-mail address to be answered at")
    if clean.phone and not _PHONE.fullmatch(clean.phone):
        raise ApplicantError("the phone number is not well formed")
    if clean.email and (len(clean.email) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(clean.email)):
        raise ApplicantError("the e-mail address is not well formed")
    return clean


def masked_id_number(id_type: str, number: str) -> str:
    """The document number as those who answer an application see it (minimum disclosure, PIPL
    §6: they answer the purpose, they need not hold the number): a resident ID as the share
    masks mask one (DESIGN §7, ``schemas/share/masking.yaml``: 11010119900307002X →
    1101**********002X), any other personal document with its last four characters only (a
    passport's first four and last four would be eight of its nine); an organisation's USCC
    whole (a public registration, not personal data)."""
    if id_type == "uscc":
        return number
    if id_type == "resident_id" and len(number) >= 8:
        return number[:4] + "*" * (len(number) - 8) + number[-4:]
    shown = 4 if len(number) >= 8 else 0
    return "*" * (len(number) - shown) + number[len(number) - shown :]


def as_shown(applicant: dict[str, Any]) -> dict[str, Any]:
    """A stored applicant (:class:`Applicant` as a dict) with its document number masked
    (:func:`masked_id_number`): the name and contact details stay whole, the department
    answers at them."""
    return {
        **applicant,
        "id_number": masked_id_number(applicant["id_type"], applicant["id_number"]),
    }
