from __future__ import annotations

import dataclasses
import datetime as dt

from jobs.settings import pinned_clock
from jobs.store import accounts
from jobs.store.db import transaction


def test_a_kept_token_is_refused_once_it_expires(identity):
    token = identity.token_for("mzj_app")
    assert identity.token_principal(token).login == "mzj_app"
    later = identity.settings.now() + accounts.TOKEN_LIFETIME + dt.timedelta(seconds=1)
    identity.settings = identity.settings.with_clock(pinned_clock(later))

    assert identity.token_principal(token) is None


def test_a_kept_token_follows_its_account_renamed_disabled_and_tokens_revoked(identity):
    token = identity.token_for("mzj_app")
    assert identity.token_principal(token).display_name == "Mzj_App"
    with transaction(identity.settings) as session:
        accounts.find_account(session, "mzj_app").display_name = "民政局低保核验系统"
    assert identity.token_principal(token).display_name == "民政局低保核验系统"
    with transaction(identity.settings) as session:
        accounts.revoke_tokens(session, "mzj_app", identity.settings.now())

    assert identity.token_principal(token) is None


def test_tokens_of_two_stores_are_never_mixed(identity, tmp_path):
    from jobs.service.wiring import StoreIdentity

    token = identity.token_for("mzj_app")
    other_store = dataclasses.replace(identity.settings, db_url=f"sqlite:///{tmp_path / 'o.db'}")
    other = StoreIdentity(other_store)
    other._tokens = identity._tokens  # one cache, as one process with two apps would share

    assert identity.token_principal(token) is not None
    assert other.token_principal(token) is None
