"""Headless Chromium for tests that check what a person would see in a generated page.

Chromium comes from the system (``scripts/ensure_test_packages.sh`` installs Debian's package);
tests that need it skip with a clear reason when it is missing. The flags keep it from reaching
the network (the build machines have none: without them it retries Google hosts at every
start) and a fresh profile per run keeps runs independent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _first_on_path(names: tuple[str, ...]) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


def chromium_path() -> str | None:
    return _first_on_path(CHROMIUM_NAMES)


# `make test` installs Chromium first, so in CI a missing browser is a failure, not a skip: a
# skipped browser test would let a broken report pass unseen.
needs_chromium = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="no headless Chromium on this machine (scripts/ensure_test_packages.sh installs it)",
)


CHROMEDRIVER_NAMES = ("chromedriver", "chromium.chromedriver")


def chromedriver_path() -> str | None:
    return _first_on_path(CHROMEDRIVER_NAMES)


# Selenium drives the system's chromedriver (Debian's chromium-driver): never Selenium Manager,
# which would try to download a browser. Missing in CI is a failure, as for Chromium.
needs_chromedriver = pytest.mark.skipif(
    (chromium_path() is None or chromedriver_path() is None) and not os.environ.get("CI"),
    reason="no chromium or chromedriver here (scripts/ensure_test_packages.sh installs them)",
)


@contextlib.contextmanager
def chromium_driver(
    width: int = 1280, height: int = 1000, download_dir: Path | None = None
) -> Iterator[object]:
    """A headless Chromium under selenium, with a fresh profile, quit on exit; downloads are
    saved in ``download_dir`` without asking."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_binary = chromium_path(), chromedriver_path()
    assert browser and driver_binary, "Chromium or chromedriver is not installed"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    with tempfile.TemporaryDirectory(prefix="govlake-selenium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        if download_dir is not None:
            options.add_experimental_option(
                "prefs",
                {
                    "download.default_directory": str(download_dir),
                    "download.prompt_for_download": False,
                },
            )
        driver = webdriver.Chrome(service=Service(executable_path=driver_binary), options=options)
        try:
            driver.set_page_load_timeout(60)
            if download_dir is not None:
                driver.execute_cdp_cmd(
                    "Browser.setDownloadBehavior",
                    {"behavior": "allow", "downloadPath": str(download_dir)},
                )
            yield driver
        finally:
            driver.quit()


def _run(args: list[str], timeout: int) -> str:
    browser = chromium_path()
    assert browser, "Chromium is not installed (scripts/ensure_test_packages.sh)"
    with tempfile.TemporaryDirectory(prefix="govlake-chromium-") as profile:
        return subprocess.run(
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        ).stdout


def dump_dom(page: Path | str, timeout: int = 120) -> str:
    """The DOM after Chromium loaded the page and ran its scripts (``--dump-dom``)."""
    url = page.as_uri() if isinstance(page, Path) else page
    return _run(["--dump-dom", url], timeout)


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 2000) -> Path:
    """Renders the page to a PNG (for a person to look at, or to check it is not blank)."""
    _run([f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri()], 120)
    return png


class PageReader(HTMLParser):
    """What a reader sees in a DOM: text outside ``<style>``/``<script>``/``<title>``, and the
    shapes of each inline SVG chart (by the chart's ``aria-label``)."""

    _HIDDEN = frozenset({"style", "script", "title", "head"})

    def __init__(self) -> None:
        super().__init__()
        self.text_parts: list[str] = []
        self.charts: list[dict] = []  # {"label": str, "shapes": [(tag, classes), ...]}
        self.links: list[str] = []
        self._hidden_depth = 0
        self._svg: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "svg":
            self._svg = {"label": attrs.get("aria-label", ""), "shapes": []}
            self.charts.append(self._svg)
        elif self._svg is not None and tag in {"rect", "circle", "polyline", "line"}:
            self._svg["shapes"].append((tag, tuple((attrs.get("class") or "").split())))

    def handle_endtag(self, tag):
        if tag in self._HIDDEN:
            self._hidden_depth -= 1
        if tag == "svg":
            self._svg = None

    def handle_data(self, data):
        if self._hidden_depth == 0 and data.strip():
            self.text_parts.append(data.strip())

    @property
    def text(self) -> str:
        # Whitespace collapsed as the browser lays it out.
        return " ".join(" ".join(self.text_parts).split())

    def chart(self, label_start: str) -> dict:
        matches = [c for c in self.charts if c["label"].startswith(label_start)]
        assert len(matches) == 1, f"{len(matches)} charts labelled {label_start!r}"
        return matches[0]

    def count(self, chart: dict, tag: str, css: str) -> int:
        return sum(1 for t, classes in chart["shapes"] if t == tag and css in classes)


def read_page(dom: str) -> PageReader:
    reader = PageReader()
    reader.feed(dom)
    return reader
