"""The service's default parts: accounts from the workflow store, data from the lake.

Adapters from :mod:`jobs.store` and :mod:`jobs.service.reads` to the protocols the app uses
(:mod:`jobs.service.ports`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jobs.service.errors import refusals
from jobs.service.ports import (
    DataAccess,
    DatasetView,
    Encoded,
    Grant,
    Identity,
    Principal,
    ReadRequest,
    Shares,
    SignInRefused,
    SignInThrottled,
)
from jobs.settings import Settings


class LakeAudit:
    """The lake's audit log (:mod:`jobs.audit.log`), newest first, for the auditor's view."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def newest(self, limit: int, action: str | None = None) -> list[dict[str, Any]]:
        from jobs.audit.log import read_entries
        from jobs.lake.registry import AUDIT_LOG
        from jobs.lake.tables import table_exists

        if not table_exists(AUDIT_LOG.uri(self.settings)):
            return []
        entries = [
            e for e in reversed(read_entries(self.settings)) if not action or e["action"] == action
        ]
        return [_shown_entry(e) for e in entries[:limit]]


def _shown_entry(entry: dict[str, Any]) -> dict[str, Any]:
    detail = entry.get("detail") or ""
    with contextlib.suppress(ValueError):  # older entries hold plain text
        detail = json.loads(detail)
    return {
        "seq": entry["seq"],
        "at": entry["at"].isoformat() if entry.get("at") else None,
        "action": entry["action"],
        "actor": entry["actor"],
        "target": entry["target"],
        "detail": detail,
    }


class LakeData:
    """:class:`~jobs.service.ports.DataAccess` over the governed reads (:mod:`jobs.service.reads`,
    :mod:`jobs.service.formats`): the principal's department is the consumer, its login the
    account every read is audited under."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def datasets(self, principal: Principal) -> list[DatasetView]:
        """One view per dataset the department holds an active grant for (fields of all its
        active grants together, the latest expiry)."""
        from jobs.catalog import load_catalog
        from jobs.lake.registry import BASE_TABLES
        from jobs.service.reads import kind_of
        from jobs.share.grants import is_active, read_grants

        today = self.settings.today()
        active = [
            g
            for g in read_grants(self.settings, [("consumer", "=", principal.department)])
            if is_active(g, today)
        ]
        resources = load_catalog(
            self.settings.schemas_root, self.settings.catalog_revisions_root
        ).resources
        bases = {t.name: t.grain for t in BASE_TABLES}
        views: dict[str, DatasetView] = {}
        for grant in sorted(active, key=lambda g: g["dataset"]):
            name = grant["dataset"]
            earlier = views.get(name)
            resource = resources.get(name)
            expiries = [str(e) for e in (grant["expires_on"], earlier and earlier.expires_on) if e]
            views[name] = DatasetView(
                name=name,
                title=resource.title if resource else f"基础库 base: {bases.get(name, name)}",
                fields=tuple(
                    dict.fromkeys([*(earlier.fields if earlier else ()), *grant["fields"]])
                ),
                verify_only=(earlier.verify_only if earlier else True) and kind_of(grant) != "read",
                expires_on=max(expiries) if expiries else None,
                purpose=earlier.purpose if earlier else grant["purpose"],
            )
        return list(views.values())

    def read(self, principal: Principal, request: ReadRequest) -> Any:
        from jobs.service.reads import Consumer, read_page

        return read_page(self.settings, Consumer(principal.department, principal.login), request)

    def encode(self, page: Any, fmt: str) -> Encoded:
        from jobs.service.formats import encode

        return encode(page, fmt)

    def verify(
        self, principal: Principal, dataset: str, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        from jobs.service.reads import Consumer
        from jobs.service.verify import verify_batch

        consumer = Consumer(principal.department, principal.login)
        return verify_batch(self.settings, consumer, dataset, items)


def lake_data(settings: Settings) -> DataAccess:
    return LakeData(settings)


# --- accounts: the workflow store ------------------------------------------------------------


class StoreIdentity:
    """:class:`~jobs.service.ports.Identity` over the workflow store (:mod:`jobs.store`): each
    call is one transaction, so a failed sign-in is recorded (and counts towards the throttle)
    even though it is refused."""

    def __init__(self, settings: Settings) -> None:
        from jobs.store.db import StoreCache

        self.settings = settings
        self._tokens = StoreCache()

    def sign_in(self, login: str, password: str, *, source: str) -> str:
        from jobs.store import accounts
        from jobs.store.db import transaction

        with transaction(self.settings) as session:
            outcome = accounts.sign_in(
                session, login, password, source=source, now=self.settings.now()
            )
            if not isinstance(outcome, accounts.AuthError):
                return accounts.start_session(session, outcome, now=self.settings.now())
        if str(outcome).startswith("too many"):
            raise SignInThrottled(int(accounts.THROTTLE_WINDOW.total_seconds()))
        raise SignInRefused

    def session_principal(self, session_id: str) -> Principal | None:
        from jobs.store import accounts
        from jobs.store.db import transaction

        with transaction(self.settings) as session:
            try:
                actor, _ = accounts.session_actor(session, session_id, self.settings.now())
            except accounts.AuthError:
                return None
            return _principal(session, actor, "session")

    def token_principal(self, token: str) -> Principal | None:
        """The token's account; kept while the store is unchanged (a token revoked or an
        account disabled is a commit, which the next call sees), its expiry checked every call.
        """
        from jobs.store.accounts import digest

        now = self.settings.now()
        known = self._tokens.get(
            self.settings, (self.settings.database_url, digest(token)), lambda: self._token(token)
        )
        if known is None or now >= known[1]:
            return None
        return known[0]

    def _token(self, token: str) -> tuple[Principal, dt.datetime] | None:
        from jobs.store import accounts
        from jobs.store.db import reading

        # Read only: a token's check writes nothing, and on SQLite a writing transaction
        # would queue every API call of every client behind one lock.
        with reading(self.settings) as session:
            try:
                actor = accounts.token_actor(session, token, self.settings.now())
            except accounts.AuthError:
                return None
            expires_at = accounts.token_expires_at(session, token)
            return _principal(session, actor, "token"), expires_at

    def sign_out(self, session_id: str) -> None:
        from jobs.store import accounts
        from jobs.store.db import transaction

        with transaction(self.settings) as session:
            accounts.end_session(session, session_id)


def _principal(session: Any, actor: Any, via: str) -> Principal:
    from jobs.store.accounts import find_account

    account = find_account(session, actor.login)
    return Principal(actor.login, account.display_name, actor.department, actor.roles, via)


def actor_of(principal: Principal) -> Any:
    """The store's :class:`~jobs.store.roles.Actor` that signs a principal's decisions."""
    from jobs.store.roles import Actor

    return Actor(principal.login, principal.department, principal.roles)


def store_identity(settings: Settings) -> Identity:
    return StoreIdentity(settings)


# --- share requests: jobs.share.grants, signed by the store's accounts ------------------------


def _refusals() -> contextlib.AbstractContextManager[None]:
    """The share rules' refusals as the service answers them."""
    from jobs.share.grants import GrantError
    from jobs.share.policy import SharePolicyError
    from jobs.store.roles import Forbidden

    return refusals(
        (Forbidden, 403, "forbidden", "ask an approver of the providing department"),
        (
            SharePolicyError,
            404,
            "unknown_dataset",
            "name a base (population) or a catalog resource id",
        ),
        (GrantError, 400, "share_refused", "correct the request and send it again"),
    )


class LakeShares:
    """:class:`~jobs.service.ports.Shares` over :mod:`jobs.share.grants` (the lake's grant
    table), every request and decision signed by the principal's store account."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def of_department(self, principal: Principal) -> list[Grant]:
        from jobs.share.grants import list_grants

        grants = list_grants(self.settings)
        return [g for g in reversed(grants) if g["consumer"] == principal.department]

    def to_decide(self, principal: Principal) -> list[Grant]:
        from jobs.share.grants import PENDING, list_grants, provider_of

        def waits_for(grant: Grant) -> list[str]:
            return grant["acting"] or [provider_of(self.settings, grant["dataset"])]

        return [
            g
            for g in list_grants(self.settings)
            if g["state"] == PENDING and principal.department in waits_for(g)
        ]

    def to_coordinate(self, principal: Principal) -> list[Grant]:
        from jobs.share.grants import list_grants
        from jobs.share.share_requests import COORDINATING

        return [g for g in list_grants(self.settings) if g["procedure"] == COORDINATING]

    def request(
        self,
        principal: Principal,
        dataset: str,
        fields: Sequence[str],
        purpose: str,
        expires_on: dt.date | None,
        *,
        legal_basis: str = "",
    ) -> Grant:
        from jobs.share.grants import request_share

        with _refusals():
            return request_share(
                self.settings,
                consumer=principal.department,
                dataset_id=dataset,
                fields=list(fields),
                purpose=purpose,
                by=actor_of(principal),
                expires_on=expires_on,
                legal_basis=legal_basis,
            )

    def history(self, principal: Principal, request_id: str) -> dict[str, Any]:
        from jobs.share.grants import request_history

        with _refusals():
            return request_history(self.settings, request_id, by=actor_of(principal))

    def ask_coordination(self, principal: Principal, request_id: str, why: str) -> Grant:
        from jobs.share.grants import ask_coordination

        with _refusals():
            return ask_coordination(self.settings, request_id, by=actor_of(principal), why=why)

    def coordinate(
        self,
        principal: Principal,
        request_id: str,
        approve: bool,
        why: str,
        expires_on: dt.date | None,
    ) -> Grant:
        from jobs.share.grants import coordinate

        return self._decided(coordinate, principal, request_id, approve, why, expires_on)

    def decide(
        self,
        principal: Principal,
        request_id: str,
        approve: bool,
        why: str,
        expires_on: dt.date | None,
    ) -> Grant:
        from jobs.share.grants import decide_request

        return self._decided(decide_request, principal, request_id, approve, why, expires_on)

    def _decided(
        self,
        decision: Callable[..., Grant],
        principal: Principal,
        request_id: str,
        approve: bool,
        why: str,
        expires_on: dt.date | None,
    ) -> Grant:
        """A decision of the providing department (``decide_request``) or of the bureau
        coordinating (``coordinate``), signed by the principal's account."""
        with _refusals():
            return decision(
                self.settings,
                request_id,
                approve,
                by=actor_of(principal),
                why=why,
                expires_on=expires_on,
            )


def lake_shares(settings: Settings) -> Shares:
    return LakeShares(settings)
