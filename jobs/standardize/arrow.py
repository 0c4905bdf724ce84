"""The standardisation rules over Arrow arrays, for values standardised in-process one field at a
time: the department service's 核验 claims.

Each is the pool's rule for that kind of value, composed from the Arrow twins
(:mod:`jobs.standardize.arrow_values`, :mod:`jobs.standardize.arrow_dates`, :mod:`jobs.standardize.arrow_keys`) exactly as
:mod:`jobs.ingest.standardize_arrow` composes them, so a claim is standardised as the delivered
value it is compared with was. A value that cannot be standardised becomes NULL.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from jobs.standardize import arrow_dates, arrow_keys, arrow_values, keys

_NULL_TEXT = pa.scalar(None, pa.string())


def clean_text(values: pa.Array) -> pa.Array:
    """Half-width, white space folded and trimmed; '' → NULL."""
    return arrow_values.clean_text(values)


def normalized_name(values: pa.Array) -> pa.Array:
    """Clean text without spaces between Chinese characters, the middle dot unified."""
    return arrow_values.normalized_name(clean_text(values))


def _shaped(normalized: pa.Array, pattern: str) -> pa.Array:
    shaped = pc.fill_null(pc.match_substring_regex(normalized, pattern), False)
    return pc.if_else(shaped, normalized, _NULL_TEXT)


def normalized_citizen_id(values: pa.Array) -> pa.Array:
    """The ID in canonical form (half-width, no white space, ``X``, 15 digits upgraded to 18),
    or NULL when it is not shaped as one (17 digits and a digit or ``X``); the check character
    is not checked here."""
    return _shaped(arrow_keys.normalized_citizen_id(values), r"^[0-9]{17}[0-9X]$")


def normalized_uscc(values: pa.Array) -> pa.Array:
    """The USCC upper case without white space, or NULL when it is not 18 characters of its
    alphabet."""
    return _shaped(arrow_keys.normalized_uscc(values), keys._USCC_RE)


def parsed_date(values: pa.Array) -> pa.Array:
    """A date from any delivered shape; NULL when absent, 长期-like or not a real day."""
    return arrow_dates.parsed_date(clean_text(values))


def normalized_phone(values: pa.Array) -> pa.Array:
    """Mainland numbers without separators or a +86/0086 prefix; anything else NULL."""
    return arrow_values.phone_of_digits(arrow_values.phone_digits(clean_text(values)))


def mapped_code(values: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    """A code from a code or one of its names and aliases (:attr:`CodeTable.name_to_code`);
    NULL when the value is none of them."""
    return arrow_values.mapped_code(clean_text(values), mapping)


def parsed_boolean(values: pa.Array) -> pa.Array:
    """是/否, true/false, yes/no, y/n, 1/0 (any case) → boolean; anything else NULL."""
    return arrow_values.parsed_boolean(clean_text(values))
