"""Session cookies and CSRF tokens of the department service.

A browser holds one random session id in an HttpOnly, SameSite=Lax cookie (Secure in
production, elsewhere unless the service is reached on localhost; ``GOVLAKE_COOKIE_SECURE``);
the store keeps only its hash. A browser does not send a Secure cookie back over plain HTTP, so
a sign-in that arrives that way is refused with a page that says so (:func:`needs_https`). Every form carries a CSRF token,
an HMAC of the session id under the session secret, checked on every POST/PUT/PATCH/DELETE made
with the cookie. The login form, before any session, is bound the same way to a short-lived
random cookie of its own. Requests with ``Authorization: Bearer`` carry no cookie a third-party
page could ride on, so they need no token.

Behind a reverse proxy every request comes from the proxy's address: the client's own address
(what failed sign-ins are throttled by) and whether it used HTTPS are read from
X-Forwarded-For and X-Forwarded-Proto only when the request comes from one of
``GOVLAKE_TRUSTED_PROXIES`` (:func:`request_origin`); from anyone else those headers are ignored,
so a client cannot name itself a fresh address per guess.

The session secret comes from ``GOVLAKE_SESSION_SECRET`` or the file named by
``GOVLAKE_SESSION_SECRET_FILE`` (:mod:`jobs.secrets`); production refuses to start without one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

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


def cookie_is_secure(settings: Settings, hostname: str | None) -> bool:
    """Whether the service's cookies are Secure: as ``GOVLAKE_COOKIE_SECURE`` says; by default
    always in production, elsewhere everywhere but on localhost (the developer's laptop)."""
    if settings.cookie_secure != "auto":
        return settings.cookie_secure == "true"
    return settings.is_production or (hostname or "").strip("[]") not in LOCAL_HOSTS


@dataclass(frozen=True)
class Origin:
    """Where a request comes from: the client's address and whether it used HTTPS."""

    address: str
    is_https: bool


def _networks(trusted_proxies: str) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(n, strict=False) for n in trusted_proxies.split(",") if n)


def _is_within(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def request_origin(
    peer: str | None,
    scheme: str,
    forwarded_for: str | None,
    forwarded_proto: str | None,
    trusted_proxies: str,
) -> Origin:
    """The client's address and scheme, through the trusted proxies only.

    Args:
        peer: the address the connection comes from (``None``: unknown).
        scheme: the scheme the service itself was reached with.
        forwarded_for, forwarded_proto: the request's X-Forwarded-For and X-Forwarded-Proto.
        trusted_proxies: the ``trusted_proxies`` setting (addresses or networks).

    X-Forwarded-For is read from the right, the hop the nearest proxy added, past every trusted
    proxy: the first address not among them is the client (a client may put anything on the
    left; the proxies append what they saw).
    """
    networks = _networks(trusted_proxies)
    if not peer or not _is_within(peer, networks):
        return Origin(peer or "unknown", scheme == "https")
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        client = hop
        if not _is_within(hop, networks):
            break
    proto = (forwarded_proto or "").split(",")[-1].strip().lower() or scheme
    return Origin(client, proto == "https")


#: What a sign-in over plain HTTP is told when the cookies are Secure.
NEEDS_HTTPS = (
    "请通过 HTTPS 登录 (sign in over HTTPS): the session cookie is Secure and a browser does not "
    "send it back over plain HTTP. Open the service through its TLS reverse proxy (and set "
    "GOVLAKE_TRUSTED_PROXIES to the proxy's address), or, on a closed test network only, set "
    "GOVLAKE_COOKIE_SECURE=false."
)


def needs_https(settings: Settings, hostname: str | None, origin: Origin) -> bool:
    """Whether a sign-in must be refused: Secure cookies, reached over plain HTTP."""
    return cookie_is_secure(settings, hostname) and not origin.is_https
