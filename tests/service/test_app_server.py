from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.browser import chromium_driver, needs_chromedriver
from tests.service.conftest import PASSWORD
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


@pytest.fixture
def downloads(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(downloads):
    with chromium_driver(download_dir=downloads) as driver:
        yield driver


def sign_in_as(browser, base_url: str, login: str, password: str = PASSWORD) -> None:
    """Fills the login form and waits for the page after it (signed in, or the error)."""
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/login")
    browser.find_element(By.ID, "login").send_keys(login)
    browser.find_element(By.ID, "password").send_keys(password)
    click_and_wait(browser, browser.find_element(By.ID, "sign-in"))


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


def click_and_wait(browser, element) -> None:
    """Clicks a link or a form's button and waits until the next page has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(page))


def sign_out(browser) -> None:
    from selenium.webdriver.common.by import By

    click_and_wait(browser, browser.find_element(By.ID, "logout"))


def wait_for_file(folder, pattern: str, timeout: float = 30.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {pattern} downloaded in {timeout} s")


@needs_chromedriver
def test_request_approve_download_verify_and_audit_as_the_departments_would(
    browser, base_url, downloads, tmp_path
):
    from selenium.webdriver.common.by import By

    shots = Path(os.environ.get("GOVLAKE_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)

    sign_in_as(browser, base_url, "mzj_officer")
    browser.save_screenshot(str(shots / "datasets.png"))
    click_and_wait(browser, browser.find_element(By.ID, "request-share"))
    browser.find_element(By.ID, "request-dataset").send_keys("rsj.insured")
    browser.find_element(By.ID, "request-fields").send_keys("name")
    browser.find_element(By.ID, "request-purpose").send_keys("低保核验")
    click_and_wait(browser, browser.find_element(By.ID, "request-submit"))
    status = browser.find_element(By.CSS_SELECTOR, "#requests tbody tr .status").text
    browser.save_screenshot(str(shots / "shares.png"))
    sign_out(browser)

    sign_in_as(browser, base_url, "rsj_approver")
    row = browser.find_element(By.CSS_SELECTOR, "#to-decide tbody tr")
    row.find_element(By.NAME, "why").send_keys("依申请，用于低保核验")
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "button.approve"))
    sign_out(browser)

    sign_in_as(browser, base_url, "mzj_officer")
    granted = [
        r.get_attribute("data-dataset")
        for r in browser.find_elements(By.CSS_SELECTOR, "#datasets tbody tr")
    ]
    browser.get(f"{base_url}/datasets/population")
    browser.save_screenshot(str(shots / "preview.png"))
    browser.find_element(By.ID, "download-csv").click()
    downloaded = wait_for_file(downloads, "*.csv")
    browser.get(f"{base_url}/datasets/population/verify")
    browser.find_element(By.ID, "batch").send_keys(
        "id,name,birth_date\n110101199003070017,张三,1990-03-07\n110101198512120028,王五,1985-12-12"
    )
    click_and_wait(browser, browser.find_element(By.ID, "verify"))
    results = [
        [c.text for c in r.find_elements(By.TAG_NAME, "td")]
        for r in browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
    ]
    browser.save_screenshot(str(shots / "verify.png"))
    sign_out(browser)

    sign_in_as(browser, base_url, "auditor")
    audit_rows = [
        [c.text for c in r.find_elements(By.TAG_NAME, "td")]
        for r in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")
    ]
    browser.save_screenshot(str(shots / "audit.png"))

    assert status == "pending"
    assert granted == ["population", "rsj.insured"]
    assert "张三" in downloaded.read_text(encoding="utf-8")
    assert results == [
        ["110101199003070017", "match", "match"],
        ["110101198512120028", "no_match", "match"],
    ]
    reads = [(r[2], r[3], r[4]) for r in audit_rows if r[2] == "read"]
    assert reads == [("read", "mzj_officer", "population")] * 2
    assert browser.find_elements(By.ID, "nav-datasets") == []
