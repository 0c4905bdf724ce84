from __future__ import annotations

import logging

import pytest

from jobs.service.ports import Refusal
from tests.service.forms import as_person, form_token, sign_in


def test_api_without_session_is_401(client):
    response = client.get("/api/v1/datasets")

    assert response.status_code == 401
    assert response.json()["error"] == "not_signed_in"
    assert "/login" in response.json()["what_to_do"]


def test_unknown_bearer_token_is_401(client):
    response = client.get("/api/v1/whoami", headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 401
    assert "unknown, expired or revoked" in response.json()["message"]


def test_basic_auth_instead_of_a_bearer_token_is_401(client):
    response = client.get("/api/v1/whoami", headers={"Authorization": "Basic bXpqOnB3"})

    assert response.status_code == 401


def test_page_without_session_redirects_to_login(client):
    response = client.get("/datasets", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/datasets"


def test_other_departments_dataset_is_403_and_returns_no_rows(client, identity):
    token = identity.token_for("mzj_app")

    response = client.get(
        "/api/v1/datasets/rsj.insured/rows", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 403
    assert set(response.json()) == {"error", "message", "what_to_do"}
    assert "张三" not in response.text


def test_field_outside_the_grant_is_403(client, identity, data):
    token = identity.token_for("rsj_app")

    response = client.get(
        "/api/v1/datasets/rsj.insured/rows?fields=birth_date",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 403
    assert data.reads == []


def test_auditor_cannot_read_datasets(client):
    as_person(client, "auditor")

    response = client.get("/api/v1/datasets")

    assert response.status_code == 403
    assert "data_officer or system_client" in response.json()["message"]


def test_reader_cannot_see_the_audit_log(client, identity):
    token = identity.token_for("mzj_app")

    response = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 403


def test_post_without_csrf_token_is_refused(client):
    sign_in(client, "mzj_officer")

    response = client.post("/datasets/population/verify", data={"batch": "id,name\n1,张三"})

    assert response.status_code == 403
    assert "security token" in response.text


def test_post_with_another_sessions_csrf_token_is_refused(client, app):
    from fastapi.testclient import TestClient

    sign_in(client, "mzj_officer")
    with TestClient(app, base_url="http://localhost") as other:
        sign_in(other, "rsj_officer")
        foreign_token = form_token(other.get("/datasets").text)

    response = client.post("/logout", data={"csrf_token": foreign_token})

    assert response.status_code == 403
    assert client.get("/api/v1/whoami").status_code == 200


def test_login_form_posted_from_another_site_is_refused(client):
    response = client.post(
        "/login", data={"login": "mzj_officer", "password": "x", "csrf_token": "forged"}
    )

    assert response.status_code == 403


def test_bearer_token_post_needs_no_csrf_token(client, identity):
    token = identity.token_for("mzj_app")

    response = client.post(
        "/api/v1/datasets/population/verify",
        json={"items": [{"id": "110101199003070017", "claims": {"name": "张三"}}]},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200
    assert response.json()["results"][0]["fields"] == {"name": "match"}


def test_wrong_password_is_401_without_saying_which_part_was_wrong(client):
    wrong_password = sign_in(client, "mzj_officer", "guess")
    unknown_login = sign_in(client, "nobody", "guess")

    assert wrong_password.status_code == unknown_login.status_code == 401
    assert "登录名或密码不正确" in wrong_password.text
    assert "govlake_session" not in wrong_password.cookies


def test_brute_force_login_is_throttled_with_retry_after(client):
    statuses = [sign_in(client, "mzj_officer", f"guess{i}").status_code for i in range(6)]
    right_password_now = sign_in(client, "mzj_officer")

    assert statuses == [401] * 5 + [429]
    assert right_password_now.status_code == 429
    assert int(right_password_now.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    "dataset",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "population;DROP TABLE grants",
        "population' OR '1'='1",
        "populat\u0456on",  # Cyrillic і
        "ｐopulation",  # full-width p
        "population\u200b",  # zero-width space
        "Population",
    ],
)
def test_dataset_name_injection_is_400_with_a_clear_message(client, identity, dataset):
    token = identity.token_for("mzj_app")

    response = client.get(
        f"/api/v1/datasets/{dataset}/rows", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code in (400, 404)  # a path with a slash matches no route at all
    if response.status_code == 400:
        assert "is not a dataset name" in response.json()["message"]
        assert "rsj.insured" in response.json()["what_to_do"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filter": "name' OR 1=1 --:x"}, "is not a field name"),
        ({"filter": "name:张三\u202e"}, "invisible or control character"),
        ({"filter": "name:\x00"}, "invisible or control character"),
        ({"filter": "person_id:１１０１０１"}, "full-width"),
        ({"fields": "name,../secret"}, "is not a field name"),
        ({"filter": "name"}, "has no ':'"),
        ({"format": "html"}, "is not offered"),
        ({"limit": "abc"}, "not of the right kind: limit"),
    ],
)
def test_filter_injection_is_400_with_a_clear_message(client, identity, data, params, message):
    token = identity.token_for("mzj_app")

    response = client.get(
        "/api/v1/datasets/population/rows",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 400
    assert message in response.json()["message"]
    assert data.reads == []


def test_internal_error_shows_no_stack_trace_or_secret(client, identity, data, caplog):
    def failing_read(principal, request):
        raise RuntimeError("key=s3cr3t-key at /lake/base/population/part-0.parquet")

    data.read = failing_read
    token = identity.token_for("mzj_app")
    sign_in(client, "mzj_officer")

    with caplog.at_level(logging.INFO):
        api = client.get(
            "/api/v1/datasets/population/rows", headers={"Authorization": f"Bearer {token}"}
        )
        page = client.get("/datasets/population")

    assert api.status_code == page.status_code == 500
    assert "incident" in api.json()["message"]
    for shown in (api.text, page.text, caplog.text):
        assert "s3cr3t" not in shown
        assert "Traceback" not in shown
        assert "part-0.parquet" not in shown
    assert "RuntimeError" in caplog.text


def test_session_cookie_is_httponly_and_samesite_lax_and_not_secure_on_localhost(client):
    response = sign_in(client, "mzj_officer")

    cookie = response.headers["set-cookie"]
    assert response.status_code == 303
    assert "govlake_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_away_from_localhost(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="https://data.bureau.example") as remote:
        response = sign_in(remote, "mzj_officer")

    assert "Secure" in response.headers["set-cookie"]


def test_sign_in_does_not_redirect_to_another_site(client):
    token = form_token(client.get("/login").text)

    response = client.post(
        "/login",
        data={
            "login": "mzj_officer",
            "password": "correct horse battery staple",
            "csrf_token": token,
            "next": "//evil.example/phish",
        },
        follow_redirects=False,
    )

    assert response.headers["location"] == "/"


def test_logout_ends_the_session_on_the_server(client):
    sign_in(client, "mzj_officer")
    cookie = client.cookies.get("govlake_session")
    token = form_token(client.get("/datasets").text)

    client.post("/logout", data={"csrf_token": token})
    client.cookies.set("govlake_session", cookie)

    assert client.get("/api/v1/whoami").status_code == 401


def test_production_refuses_to_start_without_a_session_secret(lake_settings, monkeypatch):
    from dataclasses import replace

    from jobs.secrets import SecretError
    from jobs.service.app import create_app

    monkeypatch.delenv("GOVLAKE_SESSION_SECRET", raising=False)

    with pytest.raises(SecretError, match="GOVLAKE_SESSION_SECRET"):
        create_app(replace(lake_settings, env="production"))


def test_responses_forbid_framing_and_sniffing(client):
    response = client.get("/login")

    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_refusal_is_a_page_for_browsers(client):
    sign_in(client, "mzj_officer")

    response = client.get("/datasets/rsj.insured")

    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert "无法完成请求" in response.text
    assert Refusal.__name__ not in response.text


def test_revoked_token_is_401_on_the_next_call(client, identity):
    from jobs.store import accounts
    from jobs.store.db import transaction

    token = identity.token_for("mzj_app")
    before = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    with transaction(identity.settings) as session:
        accounts.revoke_tokens(session, "mzj_app", identity.settings.now())

    after = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})

    assert before.status_code == 200
    assert after.status_code == 401


def test_disabled_account_is_signed_out_at_once(client, identity):
    from jobs.store import accounts
    from jobs.store.db import transaction

    sign_in(client, "mzj_officer")
    with transaction(identity.settings) as session:
        accounts.disable_account(session, "mzj_officer", identity.settings.now())

    assert client.get("/api/v1/whoami").status_code == 401
    assert sign_in(client, "mzj_officer").status_code == 401


def test_session_id_is_stored_only_hashed(client, identity):
    from sqlalchemy import select

    from jobs.store.db import transaction
    from jobs.store.models import WebSession

    sign_in(client, "mzj_officer")
    cookie = client.cookies.get("govlake_session")
    with transaction(identity.settings) as session:
        stored = list(session.scalars(select(WebSession.id_hash)))

    assert len(stored) == 1
    assert cookie not in stored[0]


def _app_with(lake_settings, identity, data, shares, **settings):
    from dataclasses import replace

    from jobs.service.app import create_app
    from tests.service.conftest import MemoryAudit

    return create_app(
        replace(lake_settings, **settings),
        identity=identity,
        data=data,
        shares=shares,
        audit=MemoryAudit(data),
    )


def _sign_in_from(client, login, password, **headers):
    """The login form's round trip with the login cookie sent by hand (a Secure cookie that the
    test client would keep back over http, as a browser does)."""
    from tests.service.forms import form_token

    page = client.get("/login", headers=headers)
    login_cookie = page.cookies.get("govlake_login") or ""
    client.cookies.clear()
    return client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": form_token(page.text)},
        headers={**headers, "Cookie": f"govlake_login={login_cookie}"},
        follow_redirects=False,
    )


def test_sign_in_over_plain_http_in_production_is_refused_with_a_page_saying_what_to_do(
    lake_settings, identity, data, shares, monkeypatch
):
    from fastapi.testclient import TestClient

    from tests.service.conftest import PASSWORD

    monkeypatch.setenv("GOVLAKE_SESSION_SECRET", "s3ssion-secret-of-our-own-5c1d")
    monkeypatch.setenv("GOVLAKE_AUDIT_KEY", "aud1t-key-of-our-own-6e20")
    app = _app_with(lake_settings, identity, data, shares, env="production")
    with TestClient(app, base_url="http://data.bureau.example") as plain:
        page = plain.get("/login")
        response = _sign_in_from(plain, "mzj_officer", PASSWORD)

    assert "请通过 HTTPS 登录" in page.text and "GOVLAKE_COOKIE_SECURE" in page.text
    assert response.status_code == 400
    assert "GOVLAKE_TRUSTED_PROXIES" in response.text
    assert "govlake_session" not in response.headers.get("set-cookie", "")


def test_sign_in_through_a_trusted_tls_proxy_sets_a_secure_session_cookie(
    lake_settings, identity, data, shares
):
    from fastapi.testclient import TestClient

    from tests.service.conftest import PASSWORD

    app = _app_with(
        lake_settings, identity, data, shares, cookie_secure="true", trusted_proxies="10.0.0.2"
    )
    proxied = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    with TestClient(app, base_url="http://serve:8800", client=("10.0.0.2", 40000)) as proxy:
        response = _sign_in_from(proxy, "mzj_officer", PASSWORD, **proxied)

    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_plain_http_on_a_closed_test_network_signs_in_with_cookie_secure_false(
    lake_settings, identity, data, shares
):
    from fastapi.testclient import TestClient

    app = _app_with(lake_settings, identity, data, shares, cookie_secure="false")
    with TestClient(app, base_url="http://serve:8800") as plain:
        response = sign_in(plain, "mzj_officer")

    assert response.status_code == 303
    assert "Secure" not in response.headers["set-cookie"]


def test_forged_x_forwarded_for_does_not_escape_the_per_address_throttle(
    lake_settings, identity, data, shares
):
    from fastapi.testclient import TestClient

    from jobs.store.accounts import MAX_FAILED_FROM_SOURCE

    app = _app_with(lake_settings, identity, data, shares)  # no trusted proxy
    with TestClient(app, base_url="http://localhost", client=("198.51.100.9", 5000)) as attacker:
        statuses = [
            _sign_in_from(
                attacker, f"guess{i}", "wrong", **{"X-Forwarded-For": f"192.0.2.{i}"}
            ).status_code
            for i in range(MAX_FAILED_FROM_SOURCE + 1)
        ]

    assert statuses == [401] * MAX_FAILED_FROM_SOURCE + [429]


def test_one_client_guessing_behind_a_trusted_proxy_does_not_lock_out_the_others(
    lake_settings, identity, data, shares
):
    from fastapi.testclient import TestClient

    from jobs.store.accounts import MAX_FAILED_FROM_SOURCE
    from tests.service.conftest import PASSWORD

    app = _app_with(lake_settings, identity, data, shares, trusted_proxies="10.0.0.0/24")
    attacker = {"X-Forwarded-For": "198.51.100.9, 10.0.0.3"}  # through two trusted proxies
    colleague = {"X-Forwarded-For": "203.0.113.7"}
    with TestClient(app, base_url="http://localhost", client=("10.0.0.2", 5000)) as proxy:
        guesses = [
            _sign_in_from(proxy, f"guess{i}", "wrong", **attacker).status_code
            for i in range(MAX_FAILED_FROM_SOURCE + 1)
        ]
        colleague_signs_in = _sign_in_from(proxy, "mzj_officer", PASSWORD, **colleague)

    assert guesses[-1] == 429
    assert colleague_signs_in.status_code == 303
