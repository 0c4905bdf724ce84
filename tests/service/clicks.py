"""A person in a browser (the ``browser`` fixture): signing in, clicking, downloading."""

from __future__ import annotations

import time
from pathlib import Path

from tests.service.conftest import PASSWORD


def click_and_wait(browser, element) -> None:
    """Clicks a link or a form's button and waits until the next page has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(page))


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
