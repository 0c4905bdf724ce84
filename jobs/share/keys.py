"""The tokenisation key (密钥): a secret kept outside the lake, never logged, never written.

Loaded by :func:`jobs.secrets.load_secret`: the environment variable ``GOVLAKE_SHARE_KEY``, else
the file named by the setting ``share_key_file`` (``GOVLAKE_SHARE_KEY_FILE``), else the public
development key (flagged on every use, refused in production).

Each consumer gets its own derived key (HMAC of the master key with the consumer name), so
tokens of one consumer cannot be joined with another's.
"""

from __future__ import annotations

from jobs.secrets import Secret, SecretError, load_secret
from jobs.settings import Settings

KEY_ENV = "GOVLAKE_SHARE_KEY"
#: Development only: public, flagged on every use. Never use it with real data.
DEVELOPMENT_KEY = b"govlake-development-share-key--not-secret--do-not-use-in-production"

#: The key file is missing or empty (the name share code and tests know).
ShareKeyError = SecretError


class ShareKey(Secret):
    """The master tokenisation key; its bytes are kept out of repr, str and logs."""

    def for_consumer(self, consumer: str) -> bytes:
        return self.derive(f"token/{consumer}")


def load_share_key(settings: Settings) -> ShareKey:
    """The key from the environment, the key file, or (flagged) the development key."""
    return load_secret(
        ShareKey,
        env_var=KEY_ENV,
        key_file=settings.share_key_file,
        development_key=DEVELOPMENT_KEY,
        production=settings.is_production,
        what="share key",
    )
