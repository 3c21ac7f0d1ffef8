"""The web UI in a real browser (the distribution's Chromium, headless, driven by Selenium) on the
walkthrough's registry: every page, time travel, the diff, a promotion through the form, hostile text, a
protected stage requested by one maintainer and approved by another through the forms.

One browser and one server for the module (SQLite; the same pages over HTTP on both backends are in
tests/integration/test_ui_http.py). Screenshots of each page go to a temporary folder, or to
``$MODELOG_UI_SCREENSHOTS`` when set: ``MODELOG_UI_SCREENSHOTS=docs/ui`` refreshes the ones README shows.
Under CI (``CI=true``) a missing chromium or chromedriver fails these tests instead of skipping them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modelog.application.local import connect

from tests.server_support import ServerProcess, issue_token
from tests.ui_support import HOSTILE, seed_hostile

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "model_control_plane"

pytestmark = pytest.mark.skipif(not (EXAMPLE / "train.py").exists(), reason="examples not present")


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None or importlib.util.find_spec("selenium") is None:
        why = "chromium, chromedriver (apt-get install chromium chromium-driver) and selenium are needed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run under CI: {why}")
        pytest.skip(why)
    return chromium, driver


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The walkthrough's registry (train once, predict twice) plus the hostile models, served."""
    _browser_paths()
    base = tmp_path_factory.mktemp("ui-browser")
    home, db_url = base / "home", f"sqlite:///{base}/registry.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELOG_")}
    env.update(MODELOG_HOME=str(home), MODELOG_DATABASE_URL=db_url, MODELOG_ACTOR="alice")
    for script in ("train.py", "predict.py", "predict.py"):
        done = subprocess.run([sys.executable, script], cwd=EXAMPLE, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode == 0, done.stderr
    seed_hostile(db_url, home)
    # the server signs (its audit page shows a signed checkpoint); once it has appended, so must this process
    from modelog.registry.signing import generate_key_file

    key = base / "signing.pem"
    generate_key_file(key)
    before = os.environ.get("MODELOG_SIGNING_KEY")
    os.environ["MODELOG_SIGNING_KEY"] = str(key)
    server = ServerProcess(db_url, home, extra_env={"MODELOG_SIGNING_KEY": str(key)})
    try:
        yield server
    finally:
        server.stop()
        if before is None:
            os.environ.pop("MODELOG_SIGNING_KEY", None)
        else:
            os.environ["MODELOG_SIGNING_KEY"] = before


@pytest.fixture(scope="module")
def browser(served: ServerProcess) -> Iterator[Any]:
    """A signed-in headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    chromium, driver_path = _browser_paths()
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1200,1400"):
        options.add_argument(flag)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.get(served.url + "/ui/models/demo")  # sent to the login page, then back
        driver.find_element(By.ID, "token").send_keys(served.token)
        _go(driver, driver.find_element(By.CSS_SELECTOR, "form.login button"))
        assert driver.current_url.endswith("/ui/models/demo"), driver.current_url
        yield driver
    finally:
        driver.quit()


def _go(browser: Any, element: Any) -> None:
    """Click ``element`` (a link or a form's button) and wait for the page it loads: reading the new page before
    the old one is gone finds the old page's elements, stale a moment later."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(_by().TAG_NAME, "html")

    def left(_: Any) -> bool:  # any error about the old page's root (stale, or mid-navigation) means it is gone
        try:
            page.is_enabled()
        except WebDriverException:
            return True
        return False

    element.click()
    WebDriverWait(browser, 30).until(left)
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda b: b.execute_script("return document.readyState") == "complete")


def _by() -> Any:
    from selenium.webdriver.common.by import By
    return By


def _open(browser: Any, served: ServerProcess, path: str) -> None:
    browser.get(served.url + path)
    _nothing_ran(browser)


def _nothing_ran(browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - an open alert would be a script that ran
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    violations = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert violations == []  # the pages themselves need nothing the policy forbids


_SHOTS: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _screenshots(tmp_path_factory: pytest.TempPathFactory) -> None:
    wanted = os.environ.get("MODELOG_UI_SCREENSHOTS")
    _SHOTS[:] = [Path(wanted) if wanted else tmp_path_factory.mktemp("ui-screenshots")]


def _shot(browser: Any, name: str) -> None:
    folder = _SHOTS[0]
    folder.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(folder / f"{name}.png"))


def test_models_model_version_run_and_audit_pages(browser: Any, served: ServerProcess) -> None:
    by = _by()
    _open(browser, served, "/ui/models")
    row = browser.find_element(by.XPATH, "//table[@id='models']//tr[td/a[text()='demo']]")
    assert "v1" in row.find_element(by.CSS_SELECTOR, ".stage-production").text
    _shot(browser, "models")
    _go(browser, row.find_element(by.LINK_TEXT, "demo"))
    assert browser.find_element(by.ID, "model-name").text == "demo"
    lanes = browser.find_elements(by.CSS_SELECTOR, "svg.timeline g.lane")
    with connect(served.db_url, home=served.home) as registry:
        created = [e for e in registry.history("demo") if e.event_type == "ModelVersionCreated"]
    assert len(lanes) == len(created) == 1
    assert browser.find_elements(by.CSS_SELECTOR, "svg.timeline rect.stage-production")
    _shot(browser, "model")
    _go(browser, browser.find_element(by.LINK_TEXT, "v1"))
    kinds = [n.get_attribute("data-kind") for n in browser.find_elements(by.CSS_SELECTOR, "svg.lineage g.node")]
    assert kinds.count("dataset") == 2 and kinds.count("version") == 1 and kinds.count("run") == 3
    assert kinds.count("product") == 2 and kinds.count("object") == 1  # predictions v1, v2; the classifier
    _shot(browser, "version")
    _go(browser, browser.find_element(by.CSS_SELECTOR, "#runs a"))
    assert browser.find_element(by.ID, "run-status").text == "completed"
    assert browser.find_elements(by.CSS_SELECTOR, "#steps tbody tr")
    _shot(browser, "run")
    _go(browser, browser.find_element(by.LINK_TEXT, "Audit"))
    _go(browser, browser.find_element(by.ID, "verify-now"))
    assert "Everything verified" in browser.find_element(by.ID, "verification").text
    assert browser.find_element(by.ID, "checkpoint").text  # the server signs
    _shot(browser, "audit")
    _nothing_ran(browser)


def test_time_travel_to_before_the_promotion(browser: Any, served: ServerProcess) -> None:
    by = _by()
    with connect(served.db_url, home=served.home) as registry:
        promoted = [e.position for e in registry.history("demo")
                    if e.event_type == "ModelVersionStageChanged" and e.data["to_stage"] == "production"][0]
    _open(browser, served, "/ui/models/demo")
    assert browser.find_elements(by.CSS_SELECTOR, "#versions .stage-production")
    browser.find_element(by.CSS_SELECTOR, "details.travel summary").click()
    slider = browser.find_element(by.ID, "at_position")
    browser.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))",
                           slider, promoted - 1)
    assert browser.find_element(by.ID, "position-value").text == str(promoted - 1)  # ui.js ran
    _go(browser, slider.find_element(by.XPATH, "following-sibling::button"))
    assert f"at_position={promoted - 1}" in browser.current_url
    assert "You are looking at the past" in browser.find_element(by.ID, "past-banner").text
    assert browser.find_elements(by.CSS_SELECTOR, "#versions .stage-production") == []
    _shot(browser, "past")
    _go(browser, browser.find_element(by.LINK_TEXT, "Back to now"))
    assert browser.find_elements(by.CSS_SELECTOR, "#versions .stage-production")


def test_the_diff(browser: Any, served: ServerProcess) -> None:
    by = _by()
    _open(browser, served, "/ui/models/demo")
    browser.find_element(by.ID, "before").clear()
    browser.find_element(by.ID, "before").send_keys("0")
    _go(browser, browser.find_element(by.XPATH, "//button[text()='Diff']"))
    assert browser.find_element(by.ID, "created").text == "v1"
    assert "(new) → production" in browser.find_element(by.ID, "stage-moves").text
    assert "predictions" in browser.find_element(by.ID, "links").text
    _shot(browser, "diff")


def test_hostile_text_never_runs(browser: Any, served: ServerProcess) -> None:
    by = _by()
    for key, text in HOSTILE.items():
        for path in (f"/ui/models/x-{key}", f"/ui/models/x-{key}/versions/1", f"/ui/models?name=x-{key}"):
            _open(browser, served, path)
        _open(browser, served, f"/ui/models/x-{key}")
        shown = browser.find_element(by.CSS_SELECTOR, "p.description").text
        assert shown == text.replace("\u202e", "<U+202E>").replace("\x1b", "<U+001B>").replace("\x07", "<U+0007>")
        hrefs = [a.get_attribute("href") or "" for a in browser.find_elements(by.TAG_NAME, "a")]
        assert not [h for h in hrefs if h.startswith("javascript:")]
    _open(browser, served, "/ui/models/x-img")
    _shot(browser, "hostile")


def test_readable_at_360_pixels(browser: Any, served: ServerProcess) -> None:
    browser.set_window_size(360, 800)
    try:
        for path in ("/ui/models", "/ui/models/demo", "/ui/models/demo/versions/1"):
            _open(browser, served, path)
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= 360, f"{path} is {width} px wide"
        _shot(browser, "narrow")
    finally:
        browser.set_window_size(1200, 1400)


def test_promotion_through_the_form(browser: Any, served: ServerProcess) -> None:
    by = _by()
    with connect(served.db_url, home=served.home) as registry:
        registry.create_version("demo")
    _open(browser, served, "/ui/models/demo/versions/2")
    browser.find_element(by.CSS_SELECTOR, "#stage option[value='production']").click()
    _go(browser, browser.find_element(by.ID, "stage-submit"))
    assert "held by version 1" in browser.find_element(by.ID, "problem").text
    _go(browser, browser.find_element(by.ID, "confirm-force"))
    assert browser.find_element(by.ID, "stage-badge").text == "production"
    _open(browser, served, "/ui/models/demo/versions/1")
    assert browser.find_element(by.ID, "stage-badge").text == "archived"


def test_promotion_refused_with_a_viewer_token(browser: Any, served: ServerProcess) -> None:
    by = _by()
    viewer = issue_token(served.db_url, served.home, "viewer-vic", role="viewer")
    browser.delete_all_cookies()
    browser.get(served.url + "/ui/login")
    browser.find_element(by.ID, "token").send_keys(viewer)
    _go(browser, browser.find_element(by.CSS_SELECTOR, "form.login button"))
    _open(browser, served, "/ui/models/demo/versions/1")
    browser.find_element(by.CSS_SELECTOR, "#stage option[value='staging']").click()
    _go(browser, browser.find_element(by.ID, "stage-submit"))
    assert browser.find_element(by.TAG_NAME, "h1").text == "Not allowed"
    _open(browser, served, "/ui/models/demo/versions/1")
    assert browser.find_element(by.ID, "stage-badge").text != "staging"


def _sign_in(browser: Any, served: ServerProcess, token: str) -> None:
    by = _by()
    browser.delete_all_cookies()
    browser.get(served.url + "/ui/login")
    browser.find_element(by.ID, "token").send_keys(token)
    _go(browser, browser.find_element(by.CSS_SELECTOR, "form.login button"))


def test_a_protected_stage_requested_and_approved_through_the_forms(browser: Any, served: ServerProcess) -> None:
    by = _by()
    requester = issue_token(served.db_url, served.home, "maria", role="maintainer")
    approver = issue_token(served.db_url, served.home, "mahmoud", role="maintainer")
    with connect(served.db_url, home=served.home) as registry:
        registry.set_stage_policy("staging", 1, model="demo")
        number = registry.create_version("demo").number
    path = f"/ui/models/demo/versions/{number}"
    _sign_in(browser, served, requester)
    _open(browser, served, path)
    assert browser.find_elements(by.CSS_SELECTOR, "#stage option[value='staging']") == []
    browser.find_element(by.CSS_SELECTOR, "#request-stage option[value='staging']").click()
    _go(browser, browser.find_element(by.ID, "request-submit"))
    assert "Stage change requested" in browser.find_element(by.CSS_SELECTOR, "p.notice").text
    row = browser.find_element(by.CSS_SELECTOR, "#stage-requests tr.stage-request")
    assert "maria" in row.text and "0 of 1" in row.text
    _open(browser, served, "/ui/models/demo")
    assert browser.find_elements(by.CSS_SELECTOR, "#stage-requests tr.stage-request")
    _open(browser, served, path)
    _shot(browser, "request")
    _go(browser, browser.find_element(by.CSS_SELECTOR, "#stage-requests button.approve"))
    assert "cannot approve it" in browser.find_element(by.ID, "problem").text  # not one's own request
    _sign_in(browser, served, approver)
    _open(browser, served, path)
    _go(browser, browser.find_element(by.CSS_SELECTOR, "#stage-requests button.approve"))
    assert "Request approved" in browser.find_element(by.CSS_SELECTOR, "p.notice").text
    assert browser.find_element(by.ID, "stage-badge").text == "staging"
    assert browser.find_elements(by.CSS_SELECTOR, "#stage-requests tr.stage-request") == []
    _nothing_ran(browser)
