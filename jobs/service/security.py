"""Session cookies and CSRF tokens of the department service.

A browser holds one random session id in an HttpOnly, SameSite=Lax cookie (Secure unless the
service is reached on localhost); the store keeps only its hash. Every form carries a CSRF token,
an HMAC of the session id under the session secret, checked on every POST/PUT/PATCH/DELETE made
with the cookie. The login form, before any session, is bound the same way to a short-lived
random cookie of its own. Requests with ``Authorization: Bearer`` carry no cookie a third-party
page could ride on, so they need no token.

The session secret comes from ``GOVLAKE_SESSION_SECRET`` or the file named by
``GOVLAKE_SESSION_SECRET_FILE`` (:mod:`jobs.secrets`); production refuses to start without one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from jobs.secrets import Secret, load_secret
from jobs.settings import Settings

SESSION_COOKIE = "govlake_session"
LOGIN_COOKIE = "govlake_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SECRET_ENV = "GOVLAKE_SESSION_SECRET"
#: Development only: public (it is in this file); refused in production.
DEVELOPMENT_SECRET = b"govlake-development-session-secret--public--never-in-production"


class SessionSecret(Secret):
    """The key of the service's CSRF tokens; its bytes are kept out of repr, str and logs."""


def load_session_secret(settings: Settings) -> SessionSecret:
    """The secret from ``GOVLAKE_SESSION_SECRET``, the ``session_secret_file`` setting, or
    (outside production, warned) the public development secret.

    Raises:
        jobs.secrets.SecretError: production without a secret, or an unreadable file (the
            message names the variable).
    """
    return load_secret(
        SessionSecret,
        env_var=SECRET_ENV,
        key_file=settings.session_secret_file,
        development_key=DEVELOPMENT_SECRET,
        production=settings.is_production,
        what="session secret",
        warn_once=True,
    )


def new_random_id() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def csrf_token(secret: SessionSecret, bound_to: str, purpose: str = "session") -> str:
    """The form token for a session id (or the login cookie, ``purpose="login"``)."""
    key = secret.derive(f"csrf:{purpose}")
    return hmac.new(key, bound_to.encode("utf-8"), hashlib.sha256).hexdigest()


def csrf_matches(
    secret: SessionSecret, bound_to: str, token: str, purpose: str = "session"
) -> bool:
    """Whether ``token`` is the form token of ``bound_to`` (compared in constant time)."""
    if not bound_to or not token:
        return False
    return hmac.compare_digest(csrf_token(secret, bound_to, purpose), token)


def cookie_is_secure(hostname: str | None) -> bool:
    """Secure cookies everywhere but on localhost (plain HTTP there is the developer's laptop)."""
    return (hostname or "").strip("[]") not in LOCAL_HOSTS
