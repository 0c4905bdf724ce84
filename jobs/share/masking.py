"""Masks (脱敏) and keyed tokens as Spark Column expressions.

DESIGN §7: name 张*, ID 1101**********002X, phone 138****1234; identifiers become keyed hashes.
Every helper takes and returns a Column; NULL stays NULL.

Tokens are HMAC-SHA256 (RFC 2104) built from Spark's ``sha2``, so they run as Column
expressions in the JVM, no Python UDF::

    HMAC(K, m) = SHA256((K ⊕ opad) ‖ SHA256((K ⊕ ipad) ‖ m))

``K`` is the consumer's derived key (:meth:`jobs.share.keys.ShareKey.for_consumer`), never the
master key: the padded key is a literal in the Spark plan, and a plan can be printed.
"""

from __future__ import annotations

import hashlib
import hmac

from pyspark.sql import Column
from pyspark.sql import functions as F

_BLOCK = 64  # SHA-256 block size in bytes


def _padded(key: bytes, pad: int) -> bytes:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    return bytes(b ^ pad for b in key.ljust(_BLOCK, b"\0"))


def hmac_sha256_hex(value: Column, key: bytes) -> Column:
    """HMAC-SHA256 of the value's UTF-8 text, as 64 lowercase hex digits (Column expression)."""
    inner = F.sha2(
        F.concat(F.lit(_padded(key, 0x36)), F.encode(value.cast("string"), "UTF-8")), 256
    )
    return F.sha2(F.concat(F.lit(_padded(key, 0x5C)), F.unhex(inner)), 256)


def hmac_sha256_hex_py(value: str, key: bytes) -> str:
    """The same token computed in Python (for lookups and tests)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def mask_first_character(name: Column) -> Column:
    """张三 → 张*, 欧阳娜娜 → 欧***: the first character, then one * per hidden character."""
    text = name.cast("string")
    return F.when(
        text.isNotNull(),
        F.concat(
            F.substring(text, 1, 1), F.repeat(F.lit("*"), F.greatest(F.length(text) - 1, F.lit(1)))
        ),
    )


def mask_citizen_id(person_id: Column) -> Column:
    """11010119900307002X → 1101**********002X: region prefix and the last four kept."""
    text = person_id.cast("string")
    keep = F.length(text) >= 8
    return F.when(
        text.isNotNull(),
        F.when(
            keep,
            F.concat(
                F.substring(text, 1, 4),
                F.repeat(F.lit("*"), F.length(text) - 8),
                F.substring(text, -4, 4),
            ),
        ).otherwise(F.repeat(F.lit("*"), F.length(text))),
    )


def mask_phone(phone: Column) -> Column:
    """13812341234 → 138****1234; a number shorter than 8 digits is hidden whole."""
    text = phone.cast("string")
    return F.when(
        text.isNotNull(),
        F.when(
            F.length(text) >= 8,
            F.concat(
                F.substring(text, 1, 3),
                F.repeat(F.lit("*"), F.length(text) - 7),
                F.substring(text, -4, 4),
            ),
        ).otherwise(F.repeat(F.lit("*"), F.length(text))),
    )


def mask_address_prefix(address: Column) -> Column:
    """The first six characters (province, city, district), then ****."""
    text = address.cast("string")
    return F.when(text.isNotNull(), F.concat(F.substring(text, 1, 6), F.lit("****")))


def mask_year(day: Column) -> Column:
    """A date → the first day of its year (the type stays date)."""
    return F.trunc(day, "year")


#: Mask names in schemas/share/masking.yaml → Column helper.
MASKS = {
    "first_character": mask_first_character,
    "citizen_id": mask_citizen_id,
    "phone": mask_phone,
    "address_prefix": mask_address_prefix,
    "year": mask_year,
}
