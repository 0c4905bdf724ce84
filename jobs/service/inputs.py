"""Checks on what a caller names: dataset and field names, filter values, ID lists.

Names are checked against a strict pattern before anything looks them up, so ``../``, SQL
fragments, quotes and look-alike characters never reach a path or a query; the answer is a 400
that says what a good name looks like. Values are data (filters are equalities on Arrow columns,
never SQL) but still refused when they hold control or invisible format characters (zero-width
spaces, bidi overrides) or compatibility forms (full-width digits) that would make a value look
like another.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from jobs.service.ports import Refusal

#: ``population``, ``rsj.insured``: a base name or a department's resource id.
DATASET_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}(?:\.[a-z][a-z0-9_]{0,63})?")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_VALUE_CHARS = 200
MAX_FILTERS = 10
MAX_IDS = 10_000
#: Rows of one 核验 batch.
MAX_VERIFY_ITEMS = 10_000
#: Unicode categories never in a name, an ID or a code: controls, format (zero-width, bidi),
#: surrogates, private use, unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def bad_request(message: str, what_to_do: str) -> Refusal:
    return Refusal(400, "bad_request", message, what_to_do)


def shown(text: str) -> str:
    """The caller's text for a message: quoted, cut short, invisible characters escaped (pages
    escape HTML themselves)."""
    cut = text[:40] + ("…" if len(text) > 40 else "")
    visible = "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in _REFUSED_CATEGORIES else c for c in cut
    )
    return f"'{visible}'"


def dataset_name(text: str) -> str:
    """The dataset name, if it is one.

    Raises:
        Refusal: 400, naming what a dataset name looks like.
    """
    if not DATASET_NAME.fullmatch(text):
        raise bad_request(
            f"{shown(text)} is not a dataset name",
            "use a name from /api/v1/datasets: a base such as population, or a resource id "
            "such as rsj.insured (lower-case letters, digits, _ and one dot)",
        )
    return text


def field_names(texts: Iterable[str]) -> tuple[str, ...]:
    """Field names, without duplicates, in the order given."""
    names: list[str] = []
    for text in texts:
        if not FIELD_NAME.fullmatch(text):
            raise bad_request(
                f"{shown(text)} is not a field name",
                "use field names listed for the dataset in /api/v1/datasets "
                "(lower-case letters, digits and _)",
            )
        if text not in names:
            names.append(text)
    return tuple(names)


def free_text(text: str, what: str) -> str:
    """Text as given (a purpose, a reason), if it holds no control or invisible character."""
    if text.isprintable():  # no character of the refused categories (the common case, fast)
        return text
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise bad_request(
                f"the {what} holds an invisible or control character "
                f"(U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})",
                "remove it: values are compared exactly as typed",
            )
    return text


def value(text: str, what: str) -> str:
    """A filter value or ID as given, if it is plain text: no invisible characters, and no
    full-width or other look-alike forms of ASCII letters and digits (１１０１ for 1101)."""
    if len(text) > MAX_VALUE_CHARS:
        raise bad_request(
            f"the {what} is longer than {MAX_VALUE_CHARS} characters",
            f"send a {what} of at most {MAX_VALUE_CHARS} characters",
        )
    free_text(text, what)
    for char in text:
        plain = unicodedata.normalize("NFKC", char)
        if plain != char and plain.isascii() and plain.isalnum():
            raise bad_request(
                f"the {what} {shown(text)} holds full-width or look-alike letters or digits",
                "send half-width digits and letters (e.g. 110101… rather than １１０１０１…)",
            )
    return text


def filters(pairs: Iterable[str]) -> dict[str, str]:
    """``field:value`` pairs (equality on a granted field) as a mapping."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, text = pair.partition(":")
        if not sep:
            raise bad_request(
                f"the filter {shown(pair)} has no ':'",
                "write a filter as field:value, e.g. filter=gender_code:1",
            )
        (name,) = field_names([name])
        if name in result:
            raise bad_request(f"two filters on {name}", "give one value per field")
        result[name] = value(text, "filter value")
    if len(result) > MAX_FILTERS:
        raise bad_request(f"more than {MAX_FILTERS} filters", "narrow the read in several calls")
    return result


def ids(texts: Iterable[str]) -> tuple[str, ...]:
    """An ID list (comma-separated items allowed), at most :data:`MAX_IDS`."""
    items = [item.strip() for text in texts for item in text.split(",") if item.strip()]
    if len(items) > MAX_IDS:
        raise bad_request(f"{len(items)} IDs in one call", f"send at most {MAX_IDS} per call")
    return tuple(value(item, "ID") for item in items)
