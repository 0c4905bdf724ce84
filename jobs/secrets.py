"""Keys kept apart from the lake: from the environment, a key file, or a public development key.

Where a key comes from, first match wins:

1. an environment variable (a deployment's secret store injects it);
2. a file named by a setting, e.g. a mounted secret, read as bytes with surrounding whitespace
   stripped;
3. a fixed **development key**, so that a laptop demo runs. It is public (it is in the source),
   its use logs a warning, :attr:`Secret.is_development` says so, and in
   production (``GOVLAKE_ENV=production``) it is refused, also when it is set explicitly (copied
   from the source into the environment or a key file).

A key object never shows its bytes: ``repr``/``str`` give the source and a fingerprint (the first
8 hex digits of SHA-256 over a derived value, not over the key itself).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)


class SecretError(ValueError):
    """The key file is missing or empty, or production would run on a development key."""


@dataclass(frozen=True)
class Secret:
    """A key; its bytes are kept out of repr, str and logs."""

    secret: bytes = field(repr=False)
    source: str
    is_development: bool = False

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.derive("fingerprint")).hexdigest()[:8]

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose, derived with HMAC-SHA256."""
        return hmac.new(self.secret, purpose.encode("utf-8"), hashlib.sha256).digest()

    def __str__(self) -> str:
        return f"{type(self).__name__}(source={self.source}, fingerprint={self.fingerprint})"

    __repr__ = __str__


SecretT = TypeVar("SecretT", bound=Secret)
_warned: set[str] = set()


def load_secret(
    kind: type[SecretT],
    *,
    env_var: str,
    key_file: str,
    development_key: bytes,
    production: bool,
    what: str,
    warn_once: bool = False,
) -> SecretT:
    """The key from ``env_var``, else from ``key_file``, else (flagged) ``development_key``.

    Args:
        kind: the :class:`Secret` subclass to return.
        key_file: the setting naming the key file ('' when unset).
        production: refuse the development key (raise) instead of warning.
        what: the key's name in messages ("share key", "audit key").
        warn_once: warn about the development key once per process, not on every use (a key
            loaded for every lake write would fill the log).

    Raises:
        SecretError: the key file cannot be read or is empty; or ``production`` and no key set.
    """
    value = os.environ.get(env_var, "")
    if value.strip():
        secret, source = value.strip().encode("utf-8"), f"env {env_var}"
    elif key_file:
        path = Path(key_file)
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise SecretError(f"cannot read the {what} file {path}: {exc.strerror}") from None
        if not secret:
            raise SecretError(f"the {what} file {path} is empty")
        source = f"file {path}"
    elif production:
        raise SecretError(
            f"no {what} in production: set {env_var} or {env_var}_FILE "
            "(the development key is public)"
        )
    else:
        secret, source = development_key, "development default"
    is_development = hmac.compare_digest(secret, development_key)
    if not is_development:
        return kind(secret, source=source)
    if production:
        raise SecretError(
            f"the {what} from {source} is the public development key: in production set "
            f"{env_var} or {env_var}_FILE to a key of your own"
        )
    if not (warn_once and what in _warned):
        _warned.add(what)
        log.warning(
            "the %s is the public DEVELOPMENT key: set %s or its key file before real use",
            what,
            env_var,
        )
    return kind(secret, source=source, is_development=True)


#: New files and folders: read and write for the owner, read for its group, nothing for other
#: local users (the lake, landing copies and backups hold personal data).
PRIVATE_UMASK = 0o027


def keep_files_private() -> None:
    """Sets the process's umask to :data:`PRIVATE_UMASK` (at least as strict as it was).

    Called at the edges (the CLI, task callables, the Spark session's start) before anything is
    written: Spark's JVM and its Python workers, and delta-rs inside them, inherit the umask.
    """
    current = os.umask(PRIVATE_UMASK)
    os.umask(current | PRIVATE_UMASK)
