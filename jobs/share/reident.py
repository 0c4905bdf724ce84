"""Re-identification data (再识别数据, 000 §27(四)) encrypted at rest, and the one way to open it.

A share's re-identification table (:func:`jobs.share.curate.reidentification_df`) holds, per
tokenised value, the token and the original value **sealed** with AES-256-GCM. The key is kept
apart from the lake and from the tokenisation key: ``GOVLAKE_REIDENT_KEY``, else the file named
by ``GOVLAKE_REIDENT_KEY_FILE`` (a mounted secret), else the public development key (warned
about, refused in production; :mod:`jobs.secrets`). A copy of the table (a backup, a stolen
disk) without the key holds no ID.

Sealing runs in Spark (``aes_encrypt`` in GCM mode: a fresh random 12-byte nonce per value, the
ciphertext, then the 16-byte tag); :func:`reidentify`, the steward's look-up, opens the few
values asked for with ``cryptography``'s AES-GCM and records an audit entry. The associated
data binds each sealed value to its consumer, dataset, column and token: a value copied into
another row or table fails to open instead of naming the wrong person.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.secrets import Secret, load_secret
from jobs.settings import Settings

KEY_ENV = "GOVLAKE_REIDENT_KEY"
#: Development only: public, warned about, refused in production. Never use it with real data.
DEVELOPMENT_KEY = b"govlake-development-reidentification-key--public--never-in-production"

NONCE_BYTES = 12  # the GCM nonce Spark's aes_encrypt puts in front of the ciphertext


class ReidentError(ValueError):
    """A sealed value does not open: another key, or the data was altered or moved."""


class ReidentKey(Secret):
    """The key of re-identification data; its bytes are kept out of repr, str and logs."""

    @property
    def aes_key(self) -> bytes:
        """The AES-256 key (derived, so the master key itself never reaches a Spark plan)."""
        return self.derive("reidentification/aes-256-gcm")


def load_reident_key(settings: Settings) -> ReidentKey:
    """The key from the environment, the key file, or (flagged) the development key.

    Raises:
        jobs.secrets.SecretError: production without a key of its own (the message names
            ``GOVLAKE_REIDENT_KEY``), or an unreadable or empty key file.
    """
    return load_secret(
        ReidentKey,
        env_var=KEY_ENV,
        key_file=settings.reident_key_file,
        development_key=DEVELOPMENT_KEY,
        production=settings.is_production,
        what="re-identification key",
    )


def _associated(consumer: str, dataset: str, column: str, token: str) -> bytes:
    return f"{consumer}/{dataset}/{column}/{token}".encode()


def sealed(
    original: Column, token: Column, column: Column, *, key: ReidentKey, consumer: str, dataset: str
) -> Column:
    """``original`` (as UTF-8 text) encrypted with AES-256-GCM, bound to its row (binary).

    Args:
        token, column: the row's token and the name of the column it tokenises (the associated
            data, with ``consumer`` and ``dataset``).
    """
    associated = F.encode(
        F.concat_ws("/", F.lit(consumer), F.lit(dataset), column, token.cast("string")), "UTF-8"
    )
    return F.aes_encrypt(
        F.encode(original.cast("string"), "UTF-8"),
        F.lit(key.aes_key),
        F.lit("GCM"),
        F.lit("DEFAULT"),
        F.lit(b""),  # no nonce given: Spark draws a random one per value
        associated,
    )


def open_sealed(
    value: bytes, *, key: ReidentKey, consumer: str, dataset: str, column: str, token: str
) -> str:
    """The original text of one sealed value.

    Raises:
        ReidentError: the key is not the one it was sealed with, or the value was altered or
            belongs to another row (GCM's tag does not verify; nothing is guessed).
    """
    try:
        plain = AESGCM(key.aes_key).decrypt(
            value[:NONCE_BYTES], value[NONCE_BYTES:], _associated(consumer, dataset, column, token)
        )
    except InvalidTag:
        raise ReidentError(
            f"the re-identification value of token {token[:12]}… in {consumer}/{dataset} does "
            f"not open with {key}: {KEY_ENV} is not the key the share was refreshed with, or "
            "the value was altered"
        ) from None
    return plain.decode("utf-8")


def reidentify(
    settings: Settings,
    consumer: str,
    dataset: str,
    tokens: Iterable[str],
    *,
    actor: str,
    purpose: str,
    key: ReidentKey | None = None,
) -> dict[str, dict[str, str]]:
    """The original values behind tokens of one consumer's share (token → column → original).

    The only place re-identification data is decrypted. Every call is an audit entry
    (``reidentified``: who, why, which tokens, how many resolved; never the originals). Tokens
    that are not in the share are left out of the answer.

    Raises:
        ReidentError: a value does not open (wrong key or altered data).
        jobs.secrets.SecretError: no usable key (see :func:`load_reident_key`).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from jobs.audit import log as audit
    from jobs.lake.ledger import read_arrow
    from jobs.lake.registry import REIDENTIFICATION

    key = key or load_reident_key(settings)
    wanted = sorted(set(tokens))
    # Filtered here, not pushed down: the files' statistics keep no maximum for 64-character
    # tokens, and delta-rs then skips every file for an equality or IN filter on the token.
    table = read_arrow(REIDENTIFICATION.uri(settings, consumer, dataset))
    rows = []
    if table is not None:
        asked = pa.array(wanted, type=table.schema.field("token").type)
        rows = table.filter(pc.is_in(table["token"], value_set=asked)).to_pylist()
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        found.setdefault(row["token"], {})[row["column"]] = open_sealed(
            row["sealed"],
            key=key,
            consumer=consumer,
            dataset=dataset,
            column=row["column"],
            token=row["token"],
        )
    detail: dict[str, Any] = {
        "purpose": purpose,
        "tokens": wanted,
        "resolved": len(found),
        "key": key.fingerprint,
    }
    audit.record(
        settings, "reidentified", actor=actor, target=f"reid:{consumer}/{dataset}", detail=detail
    )
    return found
