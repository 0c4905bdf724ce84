"""The service's app with real accounts in a throw-away workflow store (:data:`PEOPLE`: two
departments' officers, applications and approvers, and the bureau's auditor and steward).

The HTTP tests of sessions, CSRF, names and errors hand the app small in-memory datasets and
share requests (the protocols of jobs.service.ports), so they run without Spark; the tests over
the real governed reads use the lake of :mod:`tests.service.lake`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pytest

from jobs.service.ports import (
    DatasetView,
    Encoded,
    Principal,
    ReadRequest,
    Refusal,
)
from jobs.service.wiring import StoreIdentity
from jobs.store import accounts, db
from jobs.store.db import reading, transaction
from jobs.store.roles import (
    APPROVER,
    AUDITOR,
    BUREAU,
    BUREAU_STEWARD,
    DATA_OFFICER,
    SYSTEM_CLIENT,
    Actor,
)
from tests.service.lake import service_lake, small_pages  # noqa: F401  (the data tests' lake)

PASSWORD = "correct horse battery staple"


#: The accounts of every service test: two departments' officers, applications and approvers,
#: and the bureau's auditor and steward (login, department, roles).
PEOPLE: tuple[tuple[str, ...], ...] = (
    ("mzj_officer", "mzj", DATA_OFFICER),
    ("rsj_officer", "rsj", DATA_OFFICER),
    ("mzj_app", "mzj", SYSTEM_CLIENT),
    ("rsj_app", "rsj", SYSTEM_CLIENT),
    ("auditor", BUREAU, AUDITOR),
    ("rsj_approver", "rsj", APPROVER),
    ("mzj_approver", "mzj", APPROVER),
    ("steward", BUREAU, BUREAU_STEWARD),
)


class StoreAccounts(StoreIdentity):
    """The service's identity over a real workflow store, with the bureau operator's verbs
    (``govlake accounts create`` and ``token issue``) for tests to make accounts and tokens."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        with transaction(settings) as session:
            accounts.sync_departments(session, accounts.catalog_departments(settings.schemas_root))

    def add(self, login: str, department: str, *roles: str) -> None:
        self.add_all([(login, department, *roles)])

    def add_all(self, people: Iterable[Sequence[str]]) -> None:
        """Creates ``(login, department, *roles)`` accounts in one transaction; people sign in
        with :data:`PASSWORD`, applications (``system_client``) with a token only."""
        with transaction(self.settings) as session:
            for login, department, *roles in people:
                accounts.create_account(
                    session,
                    login=login,
                    department=department,
                    display_name=login.title(),
                    roles=roles,
                    password=None if SYSTEM_CLIENT in roles else PASSWORD,
                    now=self.settings.now(),
                )

    def token_for(self, login: str) -> str:
        with transaction(self.settings) as session:
            token, _ = accounts.issue_token(session, login, now=self.settings.now())
        return token

    def bearer(self, login: str) -> dict[str, str]:
        """The header of an API call with a new token of ``login`` (an application's)."""
        return {"Authorization": f"Bearer {self.token_for(login)}"}

    def actor(self, login: str) -> Actor:
        """The account as the rules' :class:`~jobs.store.roles.Actor`, for steps a test takes
        without the app."""
        with reading(self.settings) as session:
            account = accounts.find_account(session, login)
            return Actor(login, account.department_code, account.role_names)


@dataclass(frozen=True)
class MemoryPage:
    table: pa.Table
    next_cursor: str | None = None


class MemoryData:
    def __init__(self) -> None:
        self.grants: dict[str, dict[str, DatasetView]] = {}
        self.tables: dict[str, pa.Table] = {}
        self.reads: list[tuple[str, str]] = []

    def datasets(self, principal: Principal) -> list[DatasetView]:
        return list(self.grants.get(principal.department, {}).values())

    def _view(self, principal: Principal, dataset: str) -> DatasetView:
        view = self.grants.get(principal.department, {}).get(dataset)
        if view is None:
            raise Refusal(403, "not_granted", f"no grant for {dataset}", "request a share")
        return view

    def read(self, principal: Principal, request: ReadRequest) -> MemoryPage:
        view = self._view(principal, request.dataset)
        fields = request.fields or view.fields
        if set(fields) - set(view.fields):
            raise Refusal(403, "not_granted", "a field outside the grant", "ask for it")
        table = self.tables[request.dataset].select(list(fields))
        rows = [r for r in table.to_pylist() if all(r[k] == v for k, v in request.filters.items())]
        self.reads.append((principal.login, request.dataset))
        return MemoryPage(pa.Table.from_pylist(rows[: request.limit], schema=table.schema))

    def encode(self, page: MemoryPage, fmt: str) -> Encoded:
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(page.table.column_names)
            writer.writerows(r.values() for r in page.table.to_pylist())
            return Encoded(out.getvalue().encode(), "text/csv; charset=utf-8", "rows.csv")
        body = json.dumps({"rows": page.table.to_pylist()}, ensure_ascii=False).encode()
        return Encoded(body, "application/json", "rows.json")

    def verify(self, principal: Principal, dataset: str, items: list) -> list[dict]:
        self._view(principal, dataset)
        stored = {r["person_id"]: r for r in self.tables[dataset].to_pylist()}
        results = []
        for item in items:
            row = stored.get(item["id"])
            results.append(
                {
                    "id": item["id"],
                    "found": row is not None,
                    "fields": {
                        f: "not_found" if row is None else ("match" if row[f] == v else "no_match")
                        for f, v in item["claims"].items()
                    },
                }
            )
        return results


class MemoryShares:
    def __init__(self, data: MemoryData) -> None:
        self.data = data
        self.grants: list[dict] = []

    def of_department(self, principal: Principal) -> list[dict]:
        return [g for g in self.grants if g["consumer"] == principal.department]

    def to_decide(self, principal: Principal) -> list[dict]:
        return [
            g
            for g in self.grants
            if g["status"] == "pending" and PROVIDERS[g["dataset"]] == principal.department
        ]

    def to_coordinate(self, principal: Principal) -> list[dict]:
        return []

    def request(self, principal, dataset, fields, purpose, expires_on, *, legal_basis="") -> dict:
        if dataset not in PROVIDERS:
            raise Refusal(404, "unknown_dataset", f"no dataset {dataset}", "check the name")
        grant = {
            "request_id": f"{len(self.grants) + 1:016x}",
            "consumer": principal.department,
            "dataset": dataset,
            "fields": list(fields),
            "purpose": purpose,
            "status": "pending",
            "requested_by": principal.login,
            "decided_by": None,
            "expires_on": expires_on,
        }
        self.grants.append(grant)
        return grant

    def decide(self, principal, request_id, approve, why, expires_on) -> dict:
        grant = next(g for g in self.grants if g["request_id"] == request_id)
        if PROVIDERS[grant["dataset"]] != principal.department:
            raise Refusal(403, "forbidden", "another department's dataset", "ask its approver")
        grant.update(status="granted" if approve else "denied", decided_by=principal.login)
        if approve:
            view = DatasetView(grant["dataset"], grant["dataset"], tuple(grant["fields"]))
            self.data.grants.setdefault(grant["consumer"], {})[grant["dataset"]] = view
        return grant


class MemoryAudit:
    def __init__(self, data: MemoryData) -> None:
        self.data = data

    def newest(self, limit: int, action: str | None = None) -> list[dict]:
        entries = [
            {"seq": i, "at": "", "action": "read", "actor": who, "target": what, "detail": ""}
            for i, (who, what) in enumerate(self.data.reads, start=1)
        ]
        return list(reversed(entries))[:limit]


PROVIDERS = {"population": "bureau", "rsj.insured": "rsj"}

PERSONS = pa.table(
    {
        "person_id": ["110101199003070017", "110101198512120028", None],
        "name": ["张三", "李四", "王五"],
        "birth_date": ["1990-03-07", "1985-12-12", None],
    }
)


@pytest.fixture
def identity(lake_settings):
    identity = StoreAccounts(lake_settings)
    identity.add_all(PEOPLE)
    yield identity
    db.dispose_engines()


@pytest.fixture
def data() -> MemoryData:
    data = MemoryData()
    data.tables["population"] = PERSONS
    data.tables["rsj.insured"] = PERSONS
    data.grants["mzj"] = {
        "population": DatasetView(
            "population", "人口基础库", ("person_id", "name", "birth_date"), purpose="低保核验"
        )
    }
    data.grants["rsj"] = {
        "rsj.insured": DatasetView("rsj.insured", "参保人员", ("person_id", "name"))
    }
    return data


@pytest.fixture
def shares(data) -> MemoryShares:
    return MemoryShares(data)


@pytest.fixture
def app(lake_settings, identity, data, shares):
    from jobs.service.app import create_app

    return create_app(
        lake_settings, identity=identity, data=data, shares=shares, audit=MemoryAudit(data)
    )


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://localhost") as client:
        yield client


@pytest.fixture
def downloads(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(downloads):
    """Headless Chromium under selenium (tests.browser), saving downloads in ``downloads``."""
    from tests.browser import chromium_driver

    with chromium_driver(download_dir=downloads) as driver:
        yield driver
