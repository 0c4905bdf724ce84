from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from jobs.store import accounts
from jobs.store.accounts import AccountError, AuthError
from jobs.store.db import transaction
from jobs.store.models import Account, ApiToken, LoginAttempt, WebSession
from jobs.store.roles import APPROVER, BUREAU_STEWARD, SYSTEM_CLIENT
from tests.store.conftest import NOW, PASSWORD


def sign_in(settings, login, password, *, source="10.0.0.7", now=NOW):
    with transaction(settings) as session:
        return accounts.sign_in(session, login, password, source=source, now=now)


def test_stores_an_argon2id_hash_and_never_the_password(people):
    with transaction(people) as session:
        account = accounts.find_account(session, "mzj.wang")
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash


def test_signs_in_with_the_right_password_as_the_accounts_actor(people):
    actor = sign_in(people, "mzj.wang", PASSWORD)
    assert (actor.login, actor.department, actor.roles) == ("mzj.wang", "mzj", {APPROVER})


def test_wrong_password_and_unknown_login_get_the_same_refusal(people):
    wrong = sign_in(people, "mzj.wang", "not the password")
    unknown = sign_in(people, "nobody", PASSWORD)
    assert isinstance(wrong, AuthError) and str(wrong) == str(unknown)
    with transaction(people) as session:
        attempts = session.scalars(select(LoginAttempt.succeeded)).all()
    assert attempts == [False, False]


def test_a_system_client_cannot_sign_in_with_a_password(people):
    assert isinstance(sign_in(people, "mzj.app", ""), AuthError)


def test_brute_force_is_throttled_even_with_the_right_password(people):
    for _ in range(accounts.MAX_FAILED_LOGINS):
        assert isinstance(sign_in(people, "mzj.wang", "guess"), AuthError)
    refused = sign_in(people, "mzj.wang", PASSWORD)
    assert isinstance(refused, AuthError) and "too many" in str(refused)
    later = NOW + accounts.THROTTLE_WINDOW + dt.timedelta(seconds=1)
    assert sign_in(people, "mzj.wang", PASSWORD, now=later).login == "mzj.wang"


def test_guessing_across_logins_from_one_address_is_throttled(people):
    for n in range(accounts.MAX_FAILED_FROM_SOURCE):
        sign_in(people, f"user{n}", "guess", source="10.6.6.6")
    refused = sign_in(people, "mzj.wang", PASSWORD, source="10.6.6.6")
    assert "too many" in str(refused)
    assert sign_in(people, "mzj.wang", PASSWORD, source="10.0.0.8").login == "mzj.wang"


def test_disabled_account_cannot_sign_in_and_its_tokens_and_sessions_end(people):
    officer = sign_in(people, "mzj.li", PASSWORD)
    with transaction(people) as session:
        token, _ = accounts.issue_token(session, "mzj.app", now=NOW)
        session_id = accounts.start_session(session, officer, now=NOW)
    with transaction(people) as session:
        accounts.disable_account(session, "mzj.app", NOW)
        accounts.disable_account(session, "mzj.li", NOW)
    assert isinstance(sign_in(people, "mzj.li", PASSWORD), AuthError)
    with transaction(people) as session, pytest.raises(AuthError):
        accounts.token_actor(session, token, NOW)
    with transaction(people) as session, pytest.raises(AuthError):
        accounts.session_actor(session, session_id, NOW)


def test_token_is_shown_once_and_stored_only_as_its_digest(people):
    with transaction(people) as session:
        token, row = accounts.issue_token(session, "mzj.app", now=NOW)
    assert token.startswith(accounts.TOKEN_MARK) and len(token) > 40
    assert row.prefix == token[: accounts.TOKEN_PREFIX_LENGTH]
    with transaction(people) as session:
        stored = session.scalars(select(ApiToken)).one()
        assert token not in (stored.token_hash, stored.prefix)
        assert accounts.token_actor(session, token, NOW).roles == {SYSTEM_CLIENT}


def test_expired_revoked_and_rotated_tokens_are_refused(people):
    with transaction(people) as session:
        old, _ = accounts.issue_token(session, "mzj.app", now=NOW, lifetime=dt.timedelta(days=1))
    with transaction(people) as session, pytest.raises(AuthError, match="expired"):
        accounts.token_actor(session, old, NOW + dt.timedelta(days=1))
    with transaction(people) as session:
        new, _ = accounts.rotate_token(session, "mzj.app", now=NOW)
    with transaction(people) as session:
        with pytest.raises(AuthError):
            accounts.token_actor(session, old, NOW)
        assert accounts.token_actor(session, new, NOW).login == "mzj.app"
        accounts.revoke_token(session, new[: accounts.TOKEN_PREFIX_LENGTH], NOW)
    with transaction(people) as session, pytest.raises(AuthError):
        accounts.token_actor(session, new, NOW)


def test_tokens_are_only_for_system_clients(people):
    with transaction(people) as session, pytest.raises(AccountError, match="not a system client"):
        accounts.issue_token(session, "mzj.wang", now=NOW)


def test_session_holds_until_it_expires_and_ends_on_sign_out(people):
    actor = sign_in(people, "mzj.li", PASSWORD)
    with transaction(people) as session:
        session_id = accounts.start_session(session, actor, now=NOW)
    with transaction(people) as session:
        assert accounts.session_actor(session, session_id, NOW)[0] == actor
        with pytest.raises(AuthError, match="expired"):
            accounts.session_actor(session, session_id, NOW + accounts.SESSION_LIFETIME)
        accounts.end_session(session, session_id)
    with transaction(people) as session, pytest.raises(AuthError):
        accounts.session_actor(session, session_id, NOW)


def test_new_password_ends_the_accounts_sessions(people):
    actor = sign_in(people, "mzj.li", PASSWORD)
    with transaction(people) as session:
        session_id = accounts.start_session(session, actor, now=NOW)
        accounts.set_password(session, "mzj.li", "another long password")
    with transaction(people) as session, pytest.raises(AuthError):
        accounts.session_actor(session, session_id, NOW)
    assert sign_in(people, "mzj.li", "another long password").login == "mzj.li"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"login": "Mzj Li"}, "lowercase"),
        ({"login": "mzj.li"}, "taken"),
        ({"department": "xyz"}, "unknown department"),
        ({"roles": ["admin"]}, "choose from"),
        ({"roles": [BUREAU_STEWARD]}, "only for the bureau"),
        ({"roles": [SYSTEM_CLIENT]}, "no password"),
        ({"password": "short"}, "at least"),
        ({"password": None}, "needs a password"),
    ],
)
def test_refuses_accounts_the_rules_do_not_allow(people, change, message):
    fields = {
        "login": "mzj.new",
        "department": "mzj",
        "display_name": "新人",
        "roles": [APPROVER],
        "password": PASSWORD,
        **change,
    }
    with transaction(people) as session, pytest.raises(AccountError, match=message):
        accounts.create_account(session, now=NOW, **fields)
    with transaction(people) as session:
        assert session.scalar(select(Account).where(Account.login == "mzj.new")) is None


def test_a_new_session_clears_the_expired_ones(people):
    actor = sign_in(people, "mzj.li", PASSWORD)
    later = NOW + accounts.SESSION_LIFETIME + dt.timedelta(minutes=1)
    with transaction(people) as session:
        accounts.start_session(session, actor, now=NOW)
    with transaction(people) as session:
        accounts.start_session(session, actor, now=later)
    with transaction(people) as session:
        assert [s.created_at for s in session.scalars(select(WebSession))] == [later]
