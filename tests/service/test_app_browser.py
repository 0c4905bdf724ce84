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
    people.add_all(
        [
            ("jyj.li", "jyj", DATA_OFFICER),
            ("rsj.zhao", "rsj", APPROVER),
            ("auditor", "bureau", AUDITOR),
            ("rsj.li", "rsj", DATA_OFFICER),
            ("wjw.chen", "wjw", DATA_OFFICER),
            ("steward", "bureau", BUREAU_STEWARD),
        ]
    )
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


def _answer(browser, base_url, ticket_id: str, action: str, why: str, value: str = "") -> None:
    """Opens the inbox, fills the row's form of ``ticket_id`` and presses ``action``."""
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/inbox")
    row = browser.find_element(By.CSS_SELECTOR, f'#inbox tr[data-request="{ticket_id}"]')
    row.find_element(By.NAME, "why").send_keys(why)
    if value:
        row.find_element(By.NAME, "value").send_keys(value)
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, f'button[value="{action}"]'))


def _states(browser, base_url) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/inbox")
    return {
        row.get_attribute("data-request"): row.find_element(By.CLASS_NAME, "state").text
        for row in browser.find_elements(By.CSS_SELECTOR, "#inbox tbody tr")
    }


@needs_chromedriver
def test_a_ticket_extended_by_the_bureau_then_corrected_as_the_departments_would(
    browser, base_url, service_lake
):
    from jobs.govern import tickets
    from tests.govern.test_tickets import issue, policy

    today, now = service_lake.today(), service_lake.now()
    tickets.sync_tickets(
        [issue("t1")], service_lake, build_id="b1", today=today, now=now, policy=policy()
    )

    # The insurance bureau's officer asks for the extension from its inbox.
    sign_in_as(browser, base_url, "rsj.li")
    _answer(browser, base_url, "t1", "extend", "档案在库房")
    asked = _states(browser, base_url)
    sign_out(browser)
    # The bureau's steward finds it in its own inbox and approves it.
    sign_in_as(browser, base_url, "steward")
    _answer(browser, base_url, "t1", "approve_extension", "同意延期")
    sign_out(browser)
    # The officer corrects its value: the next build reads it as the bureau's observation.
    sign_in_as(browser, base_url, "rsj.li")
    extended = _states(browser, base_url)
    _answer(browser, base_url, "t1", "correct", "按户籍更正", value="张三")
    corrected = _states(browser, base_url)

    assert (asked, extended, corrected) == ({"t1": "open"}, {"t1": "extended"}, {"t1": "corrected"})
    assert [e["by"] for e in tickets.read_events(service_lake, "t1")] == [
        "system",
        "rsj.li",
        "steward",
        "rsj.li",
    ]
    assert tickets.read_corrections(service_lake).column("value").to_pylist() == ["张三"]


@needs_chromedriver
def test_a_citizen_applies_for_open_data_the_provider_grants_and_the_citizen_downloads(
    browser, base_url, downloads, people, service_lake
):
    import pyarrow as pa
    from selenium.webdriver.common.by import By

    from jobs.lake import ledger
    from jobs.lake.registry import OPEN_DATASET

    licences = "scjgj.business_licence"
    published = pa.table({"uscc": ["91110000100000000A"], "entity_name": ["某某科技有限公司"]})
    ledger.append_arrow(OPEN_DATASET.uri(service_lake, licences), published, write_id="browser")
    people.add("scjgj.sun", "scjgj", APPROVER)

    # A citizen, without an account, finds the dataset on the public list and applies.
    browser.get(f"{base_url}/open")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-dataset="{licences}"]')
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "a.apply"))
    for field, value in {
        "apply-name": "柳如是",
        "apply-id-number": "11010119900307002X",
        "apply-phone": "13912345678",
        "apply-purpose": "研究本市市场主体分布",
    }.items():
        browser.find_element(By.ID, field).send_keys(value)
    click_and_wait(browser, browser.find_element(By.ID, "apply-submit"))
    receipt = browser.find_element(By.ID, "receipt-number").text
    secret = browser.find_element(By.ID, "receipt-secret").text

    # The providing department's approver grants it from its page.
    sign_in_as(browser, base_url, "scjgj.sun")
    click_and_wait(browser, browser.find_element(By.ID, "nav-open-requests"))
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-request="{receipt}"]')
    applicant = row.find_elements(By.TAG_NAME, "td")[2].text
    row.find_element(By.NAME, "why").send_keys("同意开放，仅限所述用途")
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "button.grant"))
    sign_out(browser)

    # The citizen checks the answer with the receipt and the secret, and downloads the data.
    browser.get(f"{base_url}/open")
    browser.find_element(By.ID, "status-receipt").send_keys(receipt)
    browser.find_element(By.ID, "status-secret").send_keys(secret)
    click_and_wait(browser, browser.find_element(By.ID, "status-submit"))
    state = browser.find_element(By.ID, "status-state").text
    browser.find_element(By.ID, "download").click()
    downloaded = wait_for_file(downloads, "*.csv").read_text(encoding="utf-8-sig")

    assert applicant.startswith("柳如是")
    assert state.startswith("同意开放")
    assert downloaded.splitlines() == ["uscc,entity_name", "91110000100000000A,某某科技有限公司"]


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

    assert [(r[1], r[2]) for r in inbox if r[1] == "share"] == [("share", "pending")]
    assert (refused, coordinating, status()) == ("denied", "coordinating", "granted")
