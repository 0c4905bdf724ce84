"""Accounts, passwords, browser sessions, API tokens and login throttling.

Functions take the SQLAlchemy session of the caller's transaction (jobs.store.db.transaction)
and the instant to act at; they never commit. Secrets are never stored: passwords as argon2id
hashes, session ids and API tokens as SHA-256 digests (they are random 256-bit values, so a
plain digest is enough: nothing to guess). A token or session id is returned once, to be shown
or set as a cookie, and cannot be read back.

Sign-in refusals never say whether the login or the password was wrong. After
:data:`MAX_FAILED_LOGINS` failures for one login within :data:`THROTTLE_WINDOW`, that login is
refused without checking the password until the window has passed (and likewise after
:data:`MAX_FAILED_FROM_SOURCE` failures from one address, against guessing across logins).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from jobs.store.models import Account, AccountRole, ApiToken, Department, LoginAttempt, WebSession
from jobs.store.roles import BUREAU, BUREAU_ROLES, ROLES, SYSTEM_CLIENT, Actor

BUREAU_NAME, BUREAU_NAME_EN = "数据局", "Data Bureau"
MAX_FAILED_LOGINS = 5
MAX_FAILED_FROM_SOURCE = 20
THROTTLE_WINDOW = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=8)
TOKEN_LIFETIME = dt.timedelta(days=90)
MIN_PASSWORD_LENGTH = 12
TOKEN_MARK = "glk_"
TOKEN_PREFIX_LENGTH = 12  # "glk_" and 8 characters: enough to tell tokens apart, useless to guess
LOGIN_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
#: An e-mail address, plainly: one @, no spaces or angle brackets (a header cannot be injected).
EMAIL_PATTERN = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")


class AccountError(ValueError):
    """An account change the rules do not allow; the message says what to do."""


class AuthError(PermissionError):
    """A sign-in, token or session refused; the message is safe to show to the caller."""


# --- secrets ---------------------------------------------------------------------------------


#: argon2id parameters; empty: argon2-cffi's defaults (RFC 9106 low-memory: 64 MiB, t=3).
HASH_PARAMETERS: dict[str, int] = {}


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher(**HASH_PARAMETERS)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (with its salt and parameters)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher().hash(password)


def _password_matches(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        # An account without a password is checked against a throwaway hash: the answer takes
        # as long as for a real one, so timing does not tell which logins exist.
        return _hasher().verify(stored or _decoy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


_decoy: list[str] = []


def _decoy_hash() -> str:
    if not _decoy:
        _decoy.append(_hasher().hash(secrets.token_urlsafe(16)))
    return _decoy[0]


def digest(secret: str) -> str:
    """The stored form of a session id or API token (hex SHA-256)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --- departments and accounts ----------------------------------------------------------------


def sync_departments(session: Session, departments: Iterable[tuple[str, str, str]]) -> int:
    """Adds or renames departments ((code, name, name_en), e.g. from the catalog) and the
    bureau; returns how many rows changed. Departments are never removed: accounts keep theirs."""
    changed = 0
    for code, name, name_en in [(BUREAU, BUREAU_NAME, BUREAU_NAME_EN), *departments]:
        row = session.get(Department, code)
        if row is None:
            session.add(Department(code=code, name=name, name_en=name_en))
            changed += 1
        elif (row.name, row.name_en) != (name, name_en):
            row.name, row.name_en = name, name_en
            changed += 1
    session.flush()
    return changed


def catalog_departments(schemas_root: str) -> list[tuple[str, str, str]]:
    """(code, name, name_en) of every department in the catalog."""
    from jobs.catalog import load_catalog

    return [(d.code, d.name, d.name_en) for d in load_catalog(schemas_root).departments.values()]


def find_account(session: Session, login: str) -> Account:
    account = session.scalar(select(Account).where(Account.login == login))
    if account is None:
        raise AccountError(f"no account {login!r}; `govlake accounts list` shows them")
    return account


def _checked_email(email: str | None) -> str | None:
    email = (email or "").strip()
    if not email:
        return None
    if len(email) > 254 or not EMAIL_PATTERN.fullmatch(email):
        raise AccountError(f"{email!r} is not an e-mail address (name@host)")
    return email


def create_account(
    session: Session,
    *,
    login: str,
    department: str,
    display_name: str,
    roles: Iterable[str],
    password: str | None,
    now: dt.datetime,
    email: str | None = None,
) -> Account:
    """A new account. People sign in with a password; a system client (an application) has
    none and uses API tokens (:func:`issue_token`). ``email``: where notifications are mailed."""
    roles = sorted(set(roles))
    if not LOGIN_PATTERN.match(login):
        raise AccountError(
            f"login {login!r}: lowercase letters, digits, '.', '_' or '-', starting with a letter"
        )
    if session.scalar(select(Account.id).where(Account.login == login)) is not None:
        raise AccountError(f"login {login!r} is taken")
    if session.get(Department, department) is None:
        known = ", ".join(session.scalars(select(Department.code).order_by(Department.code)))
        raise AccountError(f"unknown department {department!r}; known: {known}")
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise AccountError(f"roles {unknown or '(none)'}: choose from {', '.join(ROLES)}")
    if department != BUREAU and BUREAU_ROLES & set(roles):
        raise AccountError(f"{', '.join(sorted(BUREAU_ROLES))}: only for the bureau ({BUREAU})")
    if SYSTEM_CLIENT in roles and (len(roles) > 1 or password is not None):
        raise AccountError("a system client holds no other role and no password (it uses tokens)")
    if SYSTEM_CLIENT not in roles and not password:
        raise AccountError("a person's account needs a password")
    account = Account(
        login=login,
        department_code=department,
        display_name=display_name.strip() or login,
        password_hash=hash_password(password) if password else None,
        disabled=False,
        created_at=now,
        roles=[AccountRole(role=r) for r in roles],
        email=_checked_email(email),
    )
    session.add(account)
    session.flush()
    return account


def set_password(session: Session, login: str, password: str) -> Account:
    """Replaces a person's password; its open sessions end."""
    account = find_account(session, login)
    if account.password_hash is None:
        raise AccountError(f"{login} is a system client: it signs in with tokens")
    account.password_hash = hash_password(password)
    session.execute(WebSession.__table__.delete().where(WebSession.account_id == account.id))
    return account


def set_email(session: Session, login: str, email: str | None) -> Account:
    """Sets (or, with none, clears) where an account's notifications are mailed."""
    account = find_account(session, login)
    account.email = _checked_email(email)
    return account


def disable_account(session: Session, login: str, now: dt.datetime) -> Account:
    """Disables an account: its sessions end and its tokens are revoked at once."""
    account = find_account(session, login)
    account.disabled, account.disabled_at = True, account.disabled_at or now
    session.execute(WebSession.__table__.delete().where(WebSession.account_id == account.id))
    session.execute(
        update(ApiToken)
        .where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.department_code, Account.login)))


def actor_of(account: Account) -> Actor:
    return Actor(account.login, account.department_code, account.role_names)


# --- passwords and throttling ----------------------------------------------------------------


def _failures_since(session: Session, column, value: str, since: dt.datetime) -> int:
    return session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(column == value, LoginAttempt.at > since, LoginAttempt.succeeded.is_(False))
    )


def sign_in(
    session: Session, login: str, password: str, *, source: str, now: dt.datetime
) -> Actor | AuthError:
    """The actor of ``login`` if ``password`` is right, else the refusal.

    The refusal is returned, not raised, so that the caller's transaction commits the recorded
    attempt (it counts towards the throttle) before the caller raises it.
    """
    since = now - THROTTLE_WINDOW
    if _failures_since(session, LoginAttempt.login, login, since) >= MAX_FAILED_LOGINS or (
        source != "cli"
        and _failures_since(session, LoginAttempt.source, source, since) >= MAX_FAILED_FROM_SOURCE
    ):
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        return AuthError(f"too many failed sign-ins; wait {minutes} minutes and try again")
    account = session.scalar(select(Account).where(Account.login == login))
    matches = _password_matches(account.password_hash if account else None, password)
    succeeded = bool(matches and account and not account.disabled)
    session.add(LoginAttempt(login=login[:64], at=now, succeeded=succeeded, source=source[:64]))
    if not succeeded or account is None or account.password_hash is None:
        return AuthError("wrong login or password, or the account is disabled")
    if _hasher().check_needs_rehash(account.password_hash):
        account.password_hash = _hasher().hash(password)
    return actor_of(account)


# --- browser sessions ------------------------------------------------------------------------


def start_session(
    session: Session, actor: Actor, *, now: dt.datetime, lifetime: dt.timedelta = SESSION_LIFETIME
) -> str:
    """A new browser session for a signed-in actor; returns its id (for the cookie) once.
    Sessions that have expired are deleted on the way (nobody can use them again)."""
    session.execute(WebSession.__table__.delete().where(WebSession.expires_at <= now))
    account = find_account(session, actor.login)
    session_id = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id_hash=digest(session_id),
            account_id=account.id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return session_id


def session_actor(session: Session, session_id: str, now: dt.datetime) -> tuple[Actor, WebSession]:
    """The actor and session row behind a cookie's session id, while it has not expired and the
    account is enabled."""
    row = session.get(WebSession, digest(session_id))
    if row is None or row.expires_at <= now:
        raise AuthError("not signed in, or the session expired: sign in again")
    account = session.get(Account, row.account_id)
    if account is None or account.disabled:
        raise AuthError("the account is disabled")
    return actor_of(account), row


def end_session(session: Session, session_id: str) -> None:
    session.execute(WebSession.__table__.delete().where(WebSession.id_hash == digest(session_id)))


# --- API tokens ------------------------------------------------------------------------------


def issue_token(
    session: Session, login: str, *, now: dt.datetime, lifetime: dt.timedelta = TOKEN_LIFETIME
) -> tuple[str, ApiToken]:
    """A new API token for a system client: the token (shown once) and its row."""
    account = find_account(session, login)
    if SYSTEM_CLIENT not in account.role_names:
        raise AccountError(f"{login} is not a system client; people sign in with a password")
    if account.disabled:
        raise AccountError(f"{login} is disabled")
    token = TOKEN_MARK + secrets.token_urlsafe(32)
    row = ApiToken(
        account_id=account.id,
        prefix=token[:TOKEN_PREFIX_LENGTH],
        token_hash=digest(token),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return token, row


def revoke_tokens(session: Session, login: str, now: dt.datetime) -> int:
    """Revokes every active token of ``login``; returns how many."""
    account = find_account(session, login)
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount


def rotate_token(
    session: Session, login: str, *, now: dt.datetime, lifetime: dt.timedelta = TOKEN_LIFETIME
) -> tuple[str, ApiToken]:
    """Revokes ``login``'s tokens and issues a new one (shown once)."""
    revoke_tokens(session, login, now)
    return issue_token(session, login, now=now, lifetime=lifetime)


def revoke_token(session: Session, prefix: str, now: dt.datetime) -> ApiToken:
    """Revokes the one token whose shown prefix is ``prefix``."""
    rows = list(session.scalars(select(ApiToken).where(ApiToken.prefix == prefix)))
    if len(rows) != 1:
        raise AccountError(f"no token {prefix!r}" if not rows else f"{prefix!r} is ambiguous")
    rows[0].revoked_at = rows[0].revoked_at or now
    return rows[0]


def list_tokens(session: Session, login: str | None = None) -> list[tuple[str, ApiToken]]:
    """(owner login, token row) of every token, or of ``login``'s."""
    query = select(Account.login, ApiToken).join(Account).order_by(ApiToken.created_at)
    if login:
        query = query.where(Account.login == login)
    return [(owner, token) for owner, token in session.execute(query)]


def token_expires_at(session: Session, token: str) -> dt.datetime | None:
    """When an API token expires (None: no such token)."""
    return session.scalar(select(ApiToken.expires_at).where(ApiToken.token_hash == digest(token)))


def token_actor(session: Session, token: str, now: dt.datetime) -> Actor:
    """The actor of an API token that is known, not revoked, not expired, of an enabled account."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise AuthError("unknown, revoked or expired token: ask the bureau for a new one")
    account = session.get(Account, row.account_id)
    if account is None or account.disabled:
        raise AuthError("the token's account is disabled")
    return actor_of(account)
