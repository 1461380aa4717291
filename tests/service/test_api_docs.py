"""The API documentation page at /docs: Swagger UI from the npm package swagger-ui-dist (in
ASSETS_DIR, default node_modules), its assets served with their content types, a clear error
when they are not installed, and a real browser (Debian's headless Chromium) that renders the
operations of /openapi.json."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Platform

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = Path("/tmp/fsm-api-docs.png")


@pytest.fixture
def gateway(runner_factory, service_config):
    """The gateway alone: the documentation needs no service behind it."""
    from services.gateway.service import GatewayService

    runner = runner_factory(service_config, GatewayService)
    runner.start()
    yield Platform(runner, service_config)


def test_docs_page_and_its_assets_are_served(gateway):
    page = gateway.get("/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html"), page.text[:300]
    linked = re.findall(r'(?:href|src)="([^"]+)"', page.text)
    assert {"docs/assets/swagger-ui.css", "docs/assets/swagger-ui-bundle.js", "docs/init.js"} <= set(linked), linked
    kinds = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
    for url in linked:
        r = gateway.get("/" + url)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
        assert r.headers["Content-Type"].startswith(kinds[Path(url).suffix]), (url, r.headers["Content-Type"])
    # the very bytes npm installed (nothing copied into the repository)
    bundle = gateway.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.content == (ROOT / "node_modules/swagger-ui-dist/swagger-ui-bundle.js").read_bytes()
    assert "openapi.json" in gateway.get("/docs/init.js").text
    # only files of the package, and a missing one is the JSON 404
    for wrong in ("/docs/assets/../package.json", "/docs/assets/%2e%2e/%2e%2e/pyproject.toml", "/docs/assets/nope.js"):
        r = gateway.get(wrong)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (wrong, r.status_code, r.text[:200])


@pytest.fixture
def gateway_without_assets(runner_factory, service_config, tmp_path):
    from services.gateway.service import GatewayService

    config = dict(service_config, ASSETS_DIR=str(tmp_path / "node_modules"))
    runner = runner_factory(config, GatewayService)
    runner.start()
    yield Platform(runner, config)


def test_missing_assets_are_a_clear_error(gateway_without_assets):
    """An image or a checkout without `npm ci`: /docs says what is missing and how to install it;
    the API and its document still answer."""
    p = gateway_without_assets
    r = p.get("/docs")
    assert r.status_code == 500, r.text
    err = r.json()["error"]
    assert err["code"] == "assets_missing" and "swagger-ui-dist" in err["message"], err
    assert "npm ci" in err["message"] and "FSM_ASSETS_DIR" in err["message"], err
    assert str(Path(p.config["ASSETS_DIR"]) / "swagger-ui-dist") in err["fields"]["ASSETS_DIR"][0], err
    assert p.get("/docs/assets/swagger-ui.css").json()["error"]["code"] == "assets_missing"
    assert p.get("/openapi.json").status_code == 200


def test_a_browser_renders_the_operations(gateway):
    """Headless Chromium opens /docs: Swagger UI loads the document and shows every tag's
    operations, the create-ticket call among them (its id is the operationId)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from fsm.browser import start_chromium

    # Chromium or its driver missing: BrowserMissing fails the test (scripts/ensure_tools.sh installs them)
    driver = start_chromium(1366, 900, capabilities={"goog:loggingPrefs": {"browser": "SEVERE"}})
    try:
        driver.get(gateway.base_url + "/docs")
        wait = WebDriverWait(driver, 30)
        create = wait.until(ec.presence_of_element_located((By.ID, "operations-tickets-create_ticket")))
        assert "/api/v1/tickets" in create.text and "POST" in create.text, create.text
        assert driver.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("Field-service platform API")
        # the page keeps in its DOM only the operations near the viewport (seen with swagger-ui-dist
        # 5.35 once the document passed ~120 paths): read them screen by screen down the page
        shown, tags = set(), set()
        height = driver.execute_script("return document.body.scrollHeight")
        for top in range(0, height + 900, 450):
            driver.execute_script("window.scrollTo(0, arguments[0])", top)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))
            ops, tagged = driver.execute_script(
                "return [Array.from(document.querySelectorAll('.opblock[id^=\"operations-\"]'), e => e.id),"
                " Array.from(document.querySelectorAll('.opblock-tag'), e => e.dataset.tag)]"
            )
            shown |= set(ops)
            tags |= set(tagged)
        driver.execute_script("window.scrollTo(0, 0)")
        assert len(shown) >= 80, f"{len(shown)} operations shown"
        assert {"tickets", "dispatch", "parts", "settlement", "qa", "certification", "returns", "notify"} <= tags, tags
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors  # no asset failed to load, no script error
        # the block was left out of the DOM while the page was read further down: found again
        create = wait.until(ec.presence_of_element_located((By.ID, "operations-tickets-create_ticket")))
        create.find_element(By.CSS_SELECTOR, ".opblock-summary").click()  # the example of the main call
        wait.until(lambda d: "武汉精工机械有限公司" in create.text)
        driver.save_screenshot(str(SCREENSHOT))
    finally:
        driver.quit()
