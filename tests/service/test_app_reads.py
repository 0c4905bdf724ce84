"""The app over the real governed reads: a lake with curated shares, read through HTTP."""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pyarrow.parquet as pq
import pytest

from jobs.audit import log as audit
from jobs.share import grants
from jobs.store.roles import DATA_OFFICER, SYSTEM_CLIENT
from tests.actors import STEWARD
from tests.service.forms import sign_in

pytestmark = pytest.mark.spark


@pytest.fixture
def lake_client(service_lake, identity):
    from fastapi.testclient import TestClient

    from jobs.service.app import create_app

    identity.add("jyj_app", "jyj", SYSTEM_CLIENT)
    identity.add("jyj_officer", "jyj", DATA_OFFICER)
    app = create_app(service_lake, identity=identity)
    with TestClient(app, base_url="http://localhost") as client:
        yield client


def _entries(settings, action: str, actor: str) -> list[dict]:
    return [
        e for e in audit.read_entries(settings) if e["action"] == action and e["actor"] == actor
    ]


def test_token_reads_a_granted_dataset_masked(lake_client, identity):
    response = lake_client.get(
        "/api/v1/datasets/population/rows",
        params={"fields": "person_name,phone_number", "filter": "gender:1"},
        headers=identity.bearer("mzj_app"),
    )

    assert response.status_code == 200
    assert response.json()["rows"] == [{"person_name": "张*", "phone_number": "138****1234"}]
    assert "张三" not in response.text


def test_lists_only_the_departments_active_grants(lake_client, identity):
    response = lake_client.get("/api/v1/datasets", headers=identity.bearer("mzj_app"))

    names = [d["name"] for d in response.json()["datasets"]]
    assert names == ["legal_entity", "population", "rsj.insured"]


def test_department_without_a_grant_is_403_and_gets_nothing(lake_client, identity):
    response = lake_client.get(
        "/api/v1/datasets/rsj.insured/rows", headers=identity.bearer("rsj_app")
    )

    assert response.status_code == 403
    assert response.json()["error"] == "not_granted"
    assert "张" not in response.text


def test_every_successful_read_appears_exactly_once_in_the_audit_log(
    lake_client, identity, service_lake
):
    headers = identity.bearer("mzj_app")
    before = len(_entries(service_lake, "read", "mzj_app"))
    refused_before = len(_entries(service_lake, "read_refused", "mzj_app"))

    lake_client.get("/api/v1/datasets/population/rows", headers=headers)
    lake_client.get("/api/v1/datasets/population/rows?format=csv", headers=headers)
    lake_client.get("/api/v1/datasets/rsj.insured/rows?format=parquet", headers=headers)
    lake_client.get("/api/v1/datasets/population/rows?fields=domicile_address", headers=headers)

    assert len(_entries(service_lake, "read", "mzj_app")) == before + 3
    assert len(_entries(service_lake, "read_refused", "mzj_app")) == refused_before + 1
    assert audit.verify(service_lake)[0] == []


def test_concurrent_reads_and_verifies_are_each_audited_once_in_a_verified_chain(
    service_lake, identity
):
    import httpx

    from jobs.service.app import create_app
    from tests.service.server import running_server

    headers = identity.bearer("mzj_app")
    before = {a: len(_entries(service_lake, a, "mzj_app")) for a in ("read", "verify")}
    claims = [{"id": "11010119900307002X", "claims": {"person_name": "张三"}}]

    def call(number: int) -> tuple[str, int]:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            if number % 2:
                response = http.post("/api/v1/datasets/population/verify", json={"items": claims})
                return "verify", response.status_code
            return "read", http.get("/api/v1/datasets/population/rows").status_code

    app = create_app(service_lake, identity=identity)
    with running_server(app) as url, ThreadPoolExecutor(max_workers=16) as pool:
        calls = list(pool.map(call, range(40)))

    assert calls == [("verify" if n % 2 else "read", 200) for n in range(40)]
    after = {a: len(_entries(service_lake, a, "mzj_app")) for a in ("read", "verify")}
    assert after == {"read": before["read"] + 20, "verify": before["verify"] + 20}
    assert audit.verify(service_lake)[0] == []


def test_read_whose_audit_entry_cannot_be_committed_is_503_and_returns_nothing(
    lake_client, identity, service_lake, monkeypatch
):
    def failing(settings, records):
        raise OSError("the lake's disk is full")

    monkeypatch.setattr(audit, "_append", failing)
    headers = identity.bearer("mzj_app")
    read = lake_client.get("/api/v1/datasets/population/rows", headers=headers)
    claims = [{"id": "11010119900307002X", "claims": {"person_name": "张三"}}]
    verify = lake_client.post(
        "/api/v1/datasets/population/verify", json={"items": claims}, headers=headers
    )
    monkeypatch.undo()

    for response in (read, verify):
        assert response.status_code == 503
        assert response.json()["error"] == "audit_unavailable"
        assert "rows" not in response.json() and "results" not in response.json()
        assert "张" not in response.text
    assert audit.verify(service_lake)[0] == []


def test_revoked_grant_is_403_on_the_next_call(lake_client, identity, service_lake):
    headers = identity.bearer("jyj_app")
    first = lake_client.get("/api/v1/datasets/population/rows", headers=headers)
    (held,) = [g for g in grants.read_grants(service_lake) if g["consumer"] == "jyj"]
    grants.revoke_grant(service_lake, held["request_id"], by=STEWARD, why="用途已结束")

    after = lake_client.get("/api/v1/datasets/population/rows", headers=headers)

    assert first.status_code == 200
    assert after.status_code == 403
    assert "revoked" in after.json()["message"]


def test_csv_download_neutralises_formulas(lake_client, identity):
    response = lake_client.get(
        "/api/v1/datasets/rsj.insured/rows",
        params={"fields": "employer_name", "format": "csv"},
        headers=identity.bearer("mzj_app"),
    )

    assert response.headers["content-disposition"].startswith("attachment")
    values = {row[0] for row in list(csv.reader(io.StringIO(response.text)))[1:]}
    assert '\'=HYPERLINK("http://x","点")' in values
    assert not [v for v in values if v[:1] in ("=", "+", "-", "@")]


def test_parquet_download_is_the_typed_page(lake_client, identity):
    response = lake_client.get(
        "/api/v1/datasets/population/rows",
        params={"fields": "gender,birth_date", "format": "parquet"},
        headers=identity.bearer("mzj_app"),
    )

    table = pq.read_table(io.BytesIO(response.content))
    assert table.column_names == ["gender", "birth_date"]
    assert str(table.schema.field("birth_date").type) == "date32[day]"


def test_pages_follow_the_next_cursor(small_pages, identity):
    from fastapi.testclient import TestClient

    from jobs.service.app import create_app

    headers = identity.bearer("mzj_app")
    rows, cursor = [], ""
    with TestClient(create_app(small_pages, identity=identity)) as client:
        for _ in range(5):
            page = client.get(
                "/api/v1/datasets/population/rows",
                params={"fields": "gender", "limit": 2, "cursor": cursor},
                headers=headers,
            ).json()
            rows += page["rows"]
            cursor = page["next_cursor"]
            if not cursor:
                break

    assert len(rows) == 3


def test_preview_page_reads_through_the_session_and_is_audited(lake_client, service_lake):
    before = len(_entries(service_lake, "read", "mzj_officer"))
    sign_in(lake_client, "mzj_officer")

    page = lake_client.get("/datasets/population")

    assert page.status_code == 200
    assert "张*" in page.text and "张三" not in page.text
    (entry,) = _entries(service_lake, "read", "mzj_officer")[before:]
    assert json.loads(entry["detail"])["department"] == "mzj"


def test_auditor_page_shows_the_reads(lake_client, identity, service_lake):
    lake_client.get("/api/v1/datasets/population/rows", headers=identity.bearer("mzj_app"))
    sign_in(lake_client, "auditor")

    page = lake_client.get("/audit?action=read")

    assert page.status_code == 200
    assert "mzj_app" in page.text


def test_verify_answers_per_field_without_stored_values(lake_client, identity, service_lake):
    items = [{"id": "11010119900307002X", "claims": {"person_name": "李四", "gender": "男"}}]
    before = len(_entries(service_lake, "verify", "mzj_app"))

    response = lake_client.post(
        "/api/v1/datasets/population/verify",
        json={"items": items},
        headers=identity.bearer("mzj_app"),
    )

    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["fields"] == {"person_name": "no_match", "gender": "match"}
    assert "张三" not in response.text
    assert len(_entries(service_lake, "verify", "mzj_app")) == before + 1


def test_verify_only_grant_is_listed_as_such_and_reads_no_rows(lake_client, identity):
    headers = identity.bearer("rsj_app")
    views = lake_client.get("/api/v1/datasets", headers=headers).json()["datasets"]
    rows = lake_client.get("/api/v1/datasets/population/rows", headers=headers)

    assert [(v["name"], v["verify_only"]) for v in views] == [("population", True)]
    assert rows.status_code == 403 and "verify only" in rows.json()["message"]
