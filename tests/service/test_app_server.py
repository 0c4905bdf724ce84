from __future__ import annotations

import httpx
import pytest

from tests.browser import needs_chromedriver
from tests.service.clicks import sign_in_as
from tests.service.server import running_server


@pytest.fixture
def base_url(app):
    with running_server(app) as url:
        yield url


def test_real_server_answers_and_refuses_without_a_session(base_url, identity):
    token = identity.token_for("mzj_app")

    anonymous = httpx.get(f"{base_url}/api/v1/datasets")
    with_token = httpx.get(
        f"{base_url}/api/v1/datasets", headers={"Authorization": f"Bearer {token}"}
    )

    assert anonymous.status_code == 401
    assert [d["name"] for d in with_token.json()["datasets"]] == ["population"]


def test_server_stops_when_the_block_ends(app):
    with running_server(app) as url:
        assert httpx.get(f"{url}/login").status_code == 200

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/login", timeout=2)


@needs_chromedriver
def test_department_officer_signs_in_and_sees_only_own_datasets(browser, base_url):
    from selenium.webdriver.common.by import By

    sign_in_as(browser, base_url, "mzj_officer")

    rows = browser.find_elements(By.CSS_SELECTOR, "#datasets tbody tr")
    assert browser.current_url == f"{base_url}/datasets"
    assert [r.get_attribute("data-dataset") for r in rows] == ["population"]
    assert "rsj.insured" not in browser.page_source
    assert "mzj" in browser.find_element(By.ID, "who").text


@needs_chromedriver
def test_wrong_password_in_the_browser_shows_the_login_error(browser, base_url):
    from selenium.webdriver.common.by import By

    sign_in_as(browser, base_url, "mzj_officer", "guess")

    assert "登录名或密码不正确" in browser.find_element(By.ID, "login-error").text
    assert browser.get_cookie("govlake_session") is None
