"""The departments' walk in a real browser against the real server, store, lake and grants."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.share.refresh import refresh_shares
from jobs.store.roles import APPROVER, AUDITOR, BUREAU_STEWARD, DATA_OFFICER
from tests.browser import needs_chromedriver
from tests.service.clicks import (
    click_and_wait,
    sign_in_as,
    sign_out,
    table_cells,
    wait_for_file,
)
from tests.service.conftest import StoreAccounts
from tests.service.lake import SHARE_KEY, TODAY
from tests.service.server import running_server

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture
def people(lake_settings):
    people = StoreAccounts(lake_settings)
    people.add("jyj.li", "jyj", DATA_OFFICER)
    people.add("rsj.zhao", "rsj", APPROVER)
    people.add("auditor", "bureau", AUDITOR)
    people.add("wjw.chen", "wjw", DATA_OFFICER)
    people.add("steward", "bureau", BUREAU_STEWARD)
    return people


@pytest.fixture
def base_url(service_lake, people):
    from jobs.service.app import create_app

    with running_server(create_app(service_lake, identity=people)) as url:
        yield url


@needs_chromedriver
def test_request_approve_download_verify_and_audit_as_the_departments_would(
    browser, base_url, downloads, spark, service_lake, tmp_path
):
    from selenium.webdriver.common.by import By

    shots = Path(os.environ.get("GOVLAKE_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)

    # The education bureau's officer sees its own grant only, and asks for the insured.
    browser.get(f"{base_url}/login")
    browser.save_screenshot(str(shots / "login.png"))
    sign_in_as(browser, base_url, "jyj.li")
    own_before = [
        r.get_attribute("data-dataset")
        for r in browser.find_elements(By.CSS_SELECTOR, "#datasets tbody tr")
    ]
    browser.save_screenshot(str(shots / "datasets.png"))
    click_and_wait(browser, browser.find_element(By.ID, "request-share"))
    browser.find_element(By.ID, "request-dataset").send_keys("rsj.insured")
    browser.find_element(By.ID, "request-fields").send_keys("full_name,insurance_status")
    browser.find_element(By.ID, "request-purpose").send_keys("学生资助核对")
    click_and_wait(browser, browser.find_element(By.ID, "request-submit"))
    requested = table_cells(browser, "#requests tbody tr")
    sign_out(browser)

    # The providing department's approver (another account) approves it.
    sign_in_as(browser, base_url, "rsj.zhao")
    row = browser.find_element(By.CSS_SELECTOR, "#to-decide tbody tr")
    row.find_element(By.NAME, "why").send_keys("依申请，用于学生资助核对")
    expires = row.find_element(By.NAME, "expires_on")
    browser.execute_script("arguments[0].value = '2025-12-31'", expires)
    browser.save_screenshot(str(shots / "approve.png"))
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "button.approve"))
    sign_out(browser)
    refresh_shares(spark, service_lake, today=TODAY, key=SHARE_KEY)  # the share DAG's next run

    # The officer previews and downloads the new share, then runs a 核验 batch.
    sign_in_as(browser, base_url, "jyj.li")
    own_after = [
        r.get_attribute("data-dataset")
        for r in browser.find_elements(By.CSS_SELECTOR, "#datasets tbody tr")
    ]
    browser.get(f"{base_url}/datasets/rsj.insured")
    preview = table_cells(browser, "#rows tbody tr")
    browser.save_screenshot(str(shots / "preview.png"))
    browser.find_element(By.ID, "download-csv").click()
    downloaded = wait_for_file(downloads, "*.csv").read_text(encoding="utf-8-sig")
    browser.get(f"{base_url}/datasets/population/verify")
    browser.find_element(By.ID, "batch").send_keys(
        "id,gender\n11010119900307002X,男\n110101198512120017,1\n110101200001010000,1"
    )
    click_and_wait(browser, browser.find_element(By.ID, "verify"))
    answers = table_cells(browser, "#results tbody tr")
    browser.save_screenshot(str(shots / "verify.png"))
    sign_out(browser)

    # The auditor sees the reads and the 核验, and no dataset.
    sign_in_as(browser, base_url, "auditor")
    audit = table_cells(browser, "#audit tbody tr")
    browser.save_screenshot(str(shots / "audit.png"))

    assert own_before == ["population"]
    assert [r[4] for r in requested if r[1] == "rsj.insured"] == ["pending"]
    assert own_after == ["population", "rsj.insured"]
    assert {r[0] for r in preview} == {"张*", "欧***", "李*", "王*", "赵*", "钱*"}
    assert "张三" not in downloaded and "张*" in downloaded
    assert answers == [
        ["11010119900307002X", "match"],
        ["110101198512120017", "no_match"],
        ["110101200001010000", "not_found"],
    ]
    by_jyj = [(r[2], r[4].rpartition("/")[2]) for r in audit if r[3] == "jyj.li"]
    assert by_jyj.count(("read", "rsj.insured")) == 2
    assert by_jyj.count(("verify", "population")) == 1
    assert browser.find_elements(By.ID, "nav-datasets") == []


@needs_chromedriver
def test_a_refused_request_goes_to_the_bureau_which_grants_it_as_the_departments_would(
    browser, base_url
):
    from selenium.webdriver.common.by import By

    def row_of(table: str):
        """The table's row of this walk's request (the officer's department has other grants)."""
        rows = browser.find_elements(By.CSS_SELECTOR, f"{table} tbody tr")
        (row,) = [r for r in rows if "rsj.insured" in r.text]
        return row

    def status() -> str:
        browser.get(f"{base_url}/shares")
        return row_of("#requests").find_element(By.CLASS_NAME, "status").text

    # The health commission's officer asks for the insured, saying on what legal basis.
    sign_in_as(browser, base_url, "wjw.chen")
    browser.get(f"{base_url}/shares")
    browser.find_element(By.ID, "request-dataset").send_keys("rsj.insured")
    browser.find_element(By.ID, "request-fields").send_keys("full_name")
    browser.find_element(By.ID, "request-purpose").send_keys("出生医学证明核对")
    browser.find_element(By.ID, "request-legal-basis").send_keys("母婴保健法 第二十三条")
    click_and_wait(browser, browser.find_element(By.ID, "request-submit"))
    sign_out(browser)

    # The provider's approver finds it in the inbox and refuses it, with the reason.
    sign_in_as(browser, base_url, "rsj.zhao")
    browser.get(f"{base_url}/inbox")
    inbox = table_cells(browser, "#inbox tbody tr")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#inbox a.share-answer"))
    row_of("#to-decide").find_element(By.NAME, "why").send_keys("超出履职所需范围")
    click_and_wait(browser, row_of("#to-decide").find_element(By.CSS_SELECTOR, "button.deny"))
    sign_out(browser)

    # The officer asks the bureau to coordinate (协调).
    sign_in_as(browser, base_url, "wjw.chen")
    refused = status()
    row_of("#requests").find_element(By.NAME, "why").send_keys("出生登记核对必需")
    click_and_wait(
        browser, row_of("#requests").find_element(By.CSS_SELECTOR, "button.ask-coordination")
    )
    coordinating = status()
    sign_out(browser)

    # The bureau's steward grants it; that decision stands.
    sign_in_as(browser, base_url, "steward")
    browser.get(f"{base_url}/inbox")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#inbox a.share-answer"))
    row = row_of("#to-coordinate")
    row.find_element(By.NAME, "why").send_keys("依法履职所需，准予共享")
    browser.execute_script(
        "arguments[0].value = '2025-12-31'", row.find_element(By.NAME, "expires_on")
    )
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "button.grant"))
    sign_out(browser)
    sign_in_as(browser, base_url, "wjw.chen")

    assert [(r[1], r[2]) for r in inbox] == [("share", "pending")]
    assert (refused, coordinating, status()) == ("denied", "coordinating", "granted")
