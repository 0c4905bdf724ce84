"""The tokenisation key (密钥): a secret kept outside the lake, never logged, never written.

Where it comes from, first match wins:

1. the environment variable ``GOVLAKE_SHARE_KEY`` (a deployment's secret store injects it);
2. the file named by the setting ``share_key_file`` (``GOVLAKE_SHARE_KEY_FILE``), e.g. a
   mounted secret, read as bytes with surrounding whitespace stripped;
3. a fixed **development key**, so that a laptop demo runs; it is public (it is in this file),
   every use logs a warning, and :attr:`ShareKey.is_development` lets a production check
   refuse it.

The key object never shows its bytes: ``repr``/``str`` give the source and a fingerprint (the
first 8 hex digits of SHA-256 over a derived value, not over the key itself).
Each consumer gets its own derived key (HMAC of the master key with the consumer name), so
tokens of one consumer cannot be joined with another's.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from jobs.settings import Settings

log = logging.getLogger(__name__)

KEY_ENV = "GOVLAKE_SHARE_KEY"
#: Development only: public, flagged on every use. Never use it with real data.
DEVELOPMENT_KEY = b"govlake-development-share-key--not-secret--do-not-use-in-production"


class ShareKeyError(ValueError):
    """The key file is missing or empty."""


@dataclass(frozen=True)
class ShareKey:
    """The master tokenisation key; its bytes are kept out of repr, str and logs."""

    secret: bytes = field(repr=False)
    source: str
    is_development: bool = False

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.derive("fingerprint")).hexdigest()[:8]

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (``token/<consumer>``), derived with HMAC-SHA256."""
        return hmac.new(self.secret, purpose.encode("utf-8"), hashlib.sha256).digest()

    def for_consumer(self, consumer: str) -> bytes:
        return self.derive(f"token/{consumer}")

    def __str__(self) -> str:
        return f"ShareKey(source={self.source}, fingerprint={self.fingerprint})"

    __repr__ = __str__


def load_share_key(settings: Settings) -> ShareKey:
    """The key from the environment, the key file, or (flagged) the development key."""
    value = os.environ.get(KEY_ENV, "")
    if value.strip():
        return ShareKey(value.strip().encode("utf-8"), source=f"env {KEY_ENV}")
    if settings.share_key_file:
        path = Path(settings.share_key_file)
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise ShareKeyError(f"cannot read the share key file {path}: {exc.strerror}") from None
        if not secret:
            raise ShareKeyError(f"the share key file {path} is empty")
        return ShareKey(secret, source=f"file {path}")
    log.warning(
        "share tokens use the public DEVELOPMENT key: set %s or GOVLAKE_SHARE_KEY_FILE "
        "before sharing real data",
        KEY_ENV,
    )
    return ShareKey(DEVELOPMENT_KEY, source="development default", is_development=True)
