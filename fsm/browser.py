"""A headless Chromium for pictures of the portal: the browser tests (tests/browser) and the demo's
screenshots. Debian's ``chromium`` and ``chromium-driver`` (scripts/ensure_tools.sh installs them),
driven by Selenium (a test dependency, in the virtualenv ``make`` builds).

    driver = start_chromium()
    phone(driver)                      # a 390 px wide phone screen
    driver.get(url); screenshot(driver, path)
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("FSM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FSM_CHROMEDRIVER", "/usr/bin/chromedriver")
PHONE = (390, 844)
DESKTOP = (1280, 900)


class BrowserMissing(RuntimeError):
    """Chromium, its driver or Selenium is not installed."""


def start_chromium(
    width: int = DESKTOP[0], height: int = DESKTOP[1], capabilities: dict[str, Any] | None = None
) -> Any:
    """A headless Chromium (``--headless=new --no-sandbox``) at `width` × `height`, with extra
    WebDriver `capabilities` if given (e.g. ``goog:loggingPrefs`` to read the console)."""
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not os.access(tool, os.X_OK):
            raise BrowserMissing(
                f"{tool} not found: install Debian's chromium and chromium-driver (scripts/ensure_tools.sh)"
            )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise BrowserMissing(f"selenium is not installed ({exc}): make venv installs it") from None
    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--lang=zh-CN",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


def phone(driver: Any) -> None:
    """A 390 px wide phone screen (device metrics, mobile viewport)."""
    width, height = PHONE
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True}
    )


def desktop(driver: Any) -> None:
    """Back to a 1280 px desktop window."""
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.set_window_size(*DESKTOP)


def screenshot(driver: Any, path: str | os.PathLike[str], full_page: bool = True) -> Path:
    """The page as a PNG at `path`: its whole length unless `full_page` is False."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not full_page:
        driver.save_screenshot(str(path))
        return path
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
