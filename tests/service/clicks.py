"""A person in a browser (the ``browser`` fixture): signing in, clicking, downloading."""

from __future__ import annotations

import time
from pathlib import Path

from tests.service.conftest import PASSWORD


def click_and_wait(browser, element) -> None:
    """Clicks a link or a form's button and waits until the next page has loaded in its place.

    The old page is marked with a property of its ``window``; a new document starts without it.
    Waiting for the old ``<html>`` element to go stale instead is racy: while Chromium swaps
    documents the driver may answer "node does not belong to the document" rather than stale.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__govlakeOldPage = true;")
    element.click()

    def next_page_loaded(driver) -> bool:
        try:
            return driver.execute_script(
                "return window.__govlakeOldPage === undefined"
                " && document.readyState === 'complete';"
            )
        except WebDriverException:  # the document is being replaced: ask again
            return False

    WebDriverWait(browser, 60).until(next_page_loaded)


def sign_in_as(browser, base_url: str, login: str, password: str = PASSWORD) -> None:
    """Fills the login form and waits for the page after it (signed in, or the error)."""
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/login")
    browser.find_element(By.ID, "login").send_keys(login)
    browser.find_element(By.ID, "password").send_keys(password)
    click_and_wait(browser, browser.find_element(By.ID, "sign-in"))


def sign_out(browser) -> None:
    from selenium.webdriver.common.by import By

    click_and_wait(browser, browser.find_element(By.ID, "logout"))


def table_cells(browser, css: str) -> list[list[str]]:
    """The text of every cell of the rows ``css`` selects."""
    from selenium.webdriver.common.by import By

    return [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in browser.find_elements(By.CSS_SELECTOR, css)
    ]


def wait_for_file(folder: Path, pattern: str, timeout: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {pattern} downloaded in {timeout} s")
