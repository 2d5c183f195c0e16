"""A real browser for the web client's tests: Debian's Chromium driven by its ChromeDriver.

``scripts/services-up`` installs both (packages ``chromium`` and ``chromium-driver``); a test that
needs them fails when they are missing, it never skips. Chromium runs headless with a new empty
profile and without its background connections (this machine's network is closed, and they would
only add noise to the console log the tests read).

Screenshots go to ``$MEDBOOK_SCREENSHOTS`` (default ``build/screenshots``); ``scripts/test``
prints that folder after the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(os.environ.get("MEDBOOK_SCREENSHOTS", "build/screenshots")).resolve()

#: Chromium's flags: headless, no sandbox (CI runs as root), nothing it does on its own.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1280,800",
)


def start_browser(language: str = "en-GB") -> webdriver.Chrome:
    """A headless Chromium whose preferred language is ``language``."""
    for path in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(path), f"{path} is missing: run scripts/services-up (it installs it)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--lang={language}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def set_viewport(browser: webdriver.Chrome, width: int, height: int) -> None:
    """The page's viewport exactly ``width`` by ``height`` CSS pixels (a phone below 600)."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def screenshot(browser: webdriver.Chrome, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert browser.save_screenshot(str(path)), path
    return path


def wait_for(
    browser: webdriver.Chrome, condition: Callable[[Any], Any], timeout: float = 10
) -> Any:
    return WebDriverWait(browser, timeout).until(condition)


def visible(browser: webdriver.Chrome, css: str, timeout: float = 10) -> WebElement:
    found: WebElement = wait_for(
        browser, ec.visibility_of_element_located((By.CSS_SELECTOR, css)), timeout
    )
    return found


def text_in(browser: webdriver.Chrome, css: str, text: str, timeout: float = 10) -> None:
    wait_for(browser, ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text), timeout)


def link(browser: webdriver.Chrome, text: str) -> WebElement:
    found: WebElement = wait_for(browser, ec.element_to_be_clickable((By.PARTIAL_LINK_TEXT, text)))
    return found


def button(browser: webdriver.Chrome, text: str) -> WebElement:
    """The button whose text is ``text``, once it can be clicked."""
    found: WebElement = wait_for(
        browser, ec.element_to_be_clickable((By.XPATH, f"//button[normalize-space()='{text}']"))
    )
    return found


def console_errors(
    browser: webdriver.Chrome, expected_statuses: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """The console's errors since the last call, less the failed requests a test meant to make
    (Chromium logs every 4xx answer to a fetch as an error: "... status of 409 ...")."""
    expected = tuple(f"status of {status} " for status in expected_statuses)
    return [
        entry
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE"
        and not (entry.get("source") == "network" and any(s in entry["message"] for s in expected))
    ]


#: axe-core, vendored for these tests only (vendor/README.txt).
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
#: The rules of WCAG 2.0 and 2.1, levels A and AA.
WCAG_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")


def accessibility_violations(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    """What axe-core finds on the page as it is now against WCAG 2.1 AA: each rule broken, its
    impact (minor, moderate, serious, critical) and the elements that break it."""
    if not browser.execute_script("return typeof window.axe === 'object'"):
        browser.execute_script(AXE.read_text())
    found: Any = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: arguments[0]}})
          .then((result) => done(result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(" ")),
          }))))
          .catch((error) => done({error: String(error)}));
        """,
        list(WCAG_AA),
    )
    assert isinstance(found, list), found
    return found


def reset(browser: webdriver.Chrome, base_url: str) -> None:
    """A fresh visitor: nobody logged in, no saved language, the page loaded anew."""
    browser.get(base_url + "/")
    browser.execute_script("sessionStorage.clear(); localStorage.clear();")
    browser.get(base_url + "/#/")
    browser.refresh()
