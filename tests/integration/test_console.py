"""The web console in a real browser: Debian's Chromium driven by selenium against a real `visage serve`.

`make browser` (run by `make test`) installs chromium and chromium-driver with apt-get when they are
absent. Screenshots go to out/console/ (gitignored); docs/console.md shows a few of them.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests_support import flat_png, free_port, start_server

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = Path(__file__).resolve().parents[2] / "out" / "console"
ADMIN_KEY, READ_KEY = "console-admin-key", "console-read-key"
MAX_IMAGE_BYTES = 2_000_000


def _need_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.skip(f"browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} missing): "
                    "`make browser` installs them with apt-get as root; it failed or was not run")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("browser tests need selenium (pip install -e '.[test]')")


def _port() -> int:
    """A free port in the console's range (18850-18899) when one is free, else any free port."""
    for port in range(18850, 18900):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    _need_browser()
    home = tmp_path_factory.mktemp("console-home")
    env = {"VISAGE_PIPELINE": "fast", "VISAGE_API_KEYS": f"{ADMIN_KEY}:admin,{READ_KEY}",
           "VISAGE_STORE_URL": f"sqlite:///{home / 'store.db'}", "VISAGE_MAX_IMAGE_BYTES": str(MAX_IMAGE_BYTES)}
    proc, base = start_server(env, port=_port())
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except Exception:
            proc.kill()


@pytest.fixture(scope="module")
def browser(server) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="visage-console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1250"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(condition: Callable[[], object], timeout: float = 90, what: str = "condition") -> object:
    deadline = time.time() + timeout
    last_error: Exception | None = None
    while time.time() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # the DOM changes under us while a request runs
            last_error = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f" ({last_error})" if last_error else ""))


def shot(driver, name: str, element=None) -> None:
    """A screenshot of the page (or of one element) into out/console/."""
    path = SHOTS / f"{name}.png"
    if element is not None:
        element.screenshot(str(path))
    else:
        driver.save_screenshot(str(path))


def csp_violations(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def open_console(driver, base: str, key: str | None = ADMIN_KEY, tab: str = "analyze") -> None:
    """Load the console (a fresh tab state) and enter ``key`` when it asks for one."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/console/#{tab}")
    driver.execute_script("sessionStorage.clear()")
    driver.get(f"{base}/console/#{tab}")
    driver.refresh()
    dialog = driver.find_element(By.ID, "key-dialog")
    wait_for(lambda: dialog.is_displayed(), 20, "the key dialog")
    if key is None:
        return
    driver.find_element(By.ID, "key-input").send_keys(key)
    driver.find_element(By.ID, "key-submit").click()
    wait_for(lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true", 20, "the console")


def test_root_redirects_and_page_sets_a_strict_csp(server) -> None:
    import httpx

    r = httpx.get(f"{server}/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"] == "/console/"
    page = httpx.get(f"{server}/console", follow_redirects=True)
    assert page.status_code == 200 and "visage console" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert "<script>" not in page.text and " on" not in page.text.split("<body", 1)[1].split(">", 1)[0]
    assert httpx.get(f"{server}/console/js/main.js").headers["content-type"].startswith(("text/javascript",
                                                                                          "application/javascript"))


def test_keys_prompt_and_read_only_key_hides_admin_actions(server, browser) -> None:
    from selenium.webdriver.common.by import By

    open_console(browser, server, key=None, tab="collections")
    browser.find_element(By.ID, "key-input").send_keys("not-a-key")
    browser.find_element(By.ID, "key-submit").click()
    error = browser.find_element(By.ID, "key-error")
    wait_for(lambda: error.is_displayed() and "not accepted" in error.text, 20, "the rejected-key message")
    shot(browser, "keys_prompt", browser.find_element(By.CSS_SELECTOR, "#key-dialog .modal-box"))
    browser.find_element(By.ID, "key-input").send_keys(READ_KEY)
    browser.find_element(By.ID, "key-submit").click()
    info = browser.find_element(By.ID, "key-info")
    wait_for(lambda: info.text == "read-only key", 20, "the read-only badge")
    assert browser.execute_script("return sessionStorage.getItem('visage.apiKey')") == READ_KEY
    assert not browser.find_element(By.ID, "collection-create-form").is_displayed()
    assert browser.find_element(By.ID, "collections-table").is_displayed()
    shot(browser, "collections_read_only")
    # An admin key shows the admin actions again.
    browser.find_element(By.ID, "key-forget").click()
    wait_for(lambda: browser.find_element(By.ID, "key-dialog").is_displayed(), 20, "the key dialog again")
    browser.find_element(By.ID, "key-input").send_keys(ADMIN_KEY)
    browser.find_element(By.ID, "key-submit").click()
    wait_for(lambda: info.text == "admin key", 20, "the admin badge")
    assert browser.find_element(By.ID, "collection-create-form").is_displayed()
    assert csp_violations(browser) == []


def test_analyze_two_people_draws_two_boxes_with_cards(server, browser, faces_dir) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    open_console(browser, server)
    browser.find_element(By.ID, "analyze-input").send_keys(str(faces_dir / "two_people.jpg"))
    result = wait_for(lambda: browser.find_element(By.CSS_SELECTOR, ".result[data-state='done']"), 120, "analysis")
    boxes = result.find_elements(By.CSS_SELECTOR, "rect[data-face-index]")
    assert len(boxes) == 2
    cards = result.find_elements(By.CSS_SELECTOR, ".face-card")
    assert len(cards) == 2 and all("age" in c.text and "gender" in c.text for c in cards)
    # Rekognition's 30 named landmarks per face, and head-pose axes.
    assert len(result.find_elements(By.CSS_SELECTOR, ".keypoints circle")) == 60
    assert len(result.find_elements(By.CSS_SELECTOR, ".pose line")) == 6
    assert "/v1/analyze" in result.find_element(By.CSS_SELECTOR, ".curl code").text
    assert "detect" in result.find_element(By.CSS_SELECTOR, ".timings").text
    # Hovering a face highlights its card.
    ActionChains(browser).move_to_element(boxes[1]).perform()
    wait_for(lambda: "hl" in cards[1].get_attribute("class"), 10, "the hovered face's card")
    assert "hl" not in cards[0].get_attribute("class")
    shot(browser, "analyze_two_people")
    assert csp_violations(browser) == []


def test_pasting_a_photo_analyzes_it(server, browser, faces_dir) -> None:
    import base64

    from selenium.webdriver.common.by import By

    open_console(browser, server)
    photo = base64.b64encode((faces_dir / "obama_small.jpg").read_bytes()).decode()
    browser.execute_script("""
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], "image.png", { type: "image/jpeg" }));
        document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true }));
    """, photo)
    pasted = ".result[data-file='pasted-1.png'][data-state='done']"
    result = wait_for(lambda: browser.find_element(By.CSS_SELECTOR, pasted), 120, "the pasted photo's analysis")
    assert len(result.find_elements(By.CSS_SELECTOR, "rect[data-face-index]")) == 1


def test_bad_and_oversized_files_show_clear_errors(server, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    bad = tmp_path / "not_a_photo.jpg"
    bad.write_bytes(b"this is not an image")
    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff\xd8\xff" + os.urandom(MAX_IMAGE_BYTES + 1000))
    open_console(browser, server)
    browser.find_element(By.ID, "analyze-input").send_keys(f"{bad}\n{big}")
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".result[data-state='error']")) == 2, 60, "errors")
    codes = {e.get_attribute("data-error-code") for e in browser.find_elements(By.CSS_SELECTOR, ".result .error")}
    assert "invalid_image" in codes and codes & {"image_too_large", "request_too_large"}
    errors = browser.find_elements(By.CSS_SELECTOR, ".result .error")
    assert all(e.is_displayed() and "HTTP 4" in e.text for e in errors)
    shot(browser, "analyze_errors", browser.find_element(By.ID, "analyze-results"))


def _verify(browser, a: Path, b: Path) -> object:
    from selenium.webdriver.common.by import By

    result = browser.find_element(By.ID, "verify-result")
    browser.find_element(By.ID, "verify-input-a").send_keys(str(a))
    browser.find_element(By.ID, "verify-input-b").send_keys(str(b))
    wait_for(lambda: result.get_attribute("data-verdict") in ("match", "no-match", "error"), 120, "the verdict")
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#verify-figure-b rect[data-face-index]")) > 0,
             30, "the compared faces outlined")
    return result


def test_verify_same_person_matches_and_other_person_does_not(server, browser, faces_dir, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    people = faces_dir / "people"
    open_console(browser, server, tab="verify")
    result = _verify(browser, people / "obama/obama.jpg", people / "obama/obama2.jpg")
    assert result.get_attribute("data-verdict") == "match"
    assert "Same person" in result.text
    meaning = browser.find_element(By.ID, "verify-meaning")
    assert "impostor pairs" in meaning.text and meaning.get_attribute("data-far") is not None
    assert len(browser.find_elements(By.CSS_SELECTOR, "#verify-figure-a .face.used")) == 1
    shot(browser, "verify_match")
    result = _verify(browser, people / "obama/obama.jpg", people / "biden/biden.jpg")
    wait_for(lambda: result.get_attribute("data-verdict") == "no-match", 60, "no match for obama vs biden")
    assert "Different people" in result.text
    shot(browser, "verify_no_match")
    # A photo without a face: verify answers 422 no_face and the page says so.
    blank = tmp_path / "blank.png"
    blank.write_bytes(flat_png(240))
    browser.find_element(By.ID, "verify-input-b").send_keys(str(blank))
    error = wait_for(lambda: browser.find_element(By.CSS_SELECTOR, "#verify-errors .error"), 60, "the no-face error")
    assert error.get_attribute("data-error-code") == "no_face" and "No face" in error.text and "HTTP 422" in error.text
    assert result.get_attribute("data-verdict") == "error"
    assert csp_violations(browser) == []


def test_enrol_people_folder_then_search_a_scene(server, browser, faces_dir) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_console(browser, server, tab="collections")
    browser.find_element(By.ID, "collection-new-id").send_keys("console-people")
    browser.find_element(By.ID, "collection-create").click()
    wait_for(lambda: browser.find_element(By.ID, "collection-title").text == "console-people", 20, "the new collection")
    photos = sorted(p for p in (faces_dir / "people").rglob("*") if p.is_file())
    browser.find_element(By.ID, "enrol-folder-input").send_keys(str(faces_dir / "people"))
    progress = browser.find_element(By.ID, "enrol-progress")
    wait_for(lambda: progress.get_attribute("data-done") == "true", 240, "the enrolment")
    assert int(progress.get_attribute("max")) == len(photos)
    assert progress.get_attribute("value") == progress.get_attribute("max")
    assert "100.0%" in browser.find_element(By.ID, "enrol-progress-text").text
    assert browser.find_elements(By.CSS_SELECTOR, "#enrol-report .enrol-failure") == []
    summary = browser.find_element(By.ID, "collection-summary")
    wait_for(lambda: int(summary.get_attribute("data-faces") or 0) >= len(photos), 20, "the face count")
    users = {r.get_attribute("data-user") for r in browser.find_elements(By.CSS_SELECTOR, "#users-table tr[data-user]")}
    assert users == {p.name for p in (faces_dir / "people").iterdir() if p.is_dir()}
    shot(browser, "collections_enrolled")

    browser.find_element(By.ID, "search-input").send_keys(str(faces_dir / "scenes/obama_and_biden.jpg"))
    results = browser.find_element(By.ID, "search-results")
    wait_for(lambda: results.find_elements(By.CSS_SELECTOR, ".search-result"), 120, "the search")
    # The two people, and whatever else the detector finds (a box per face it returned, each with a card).
    cards = results.find_elements(By.CSS_SELECTOR, ".face-card")
    assert len(results.find_elements(By.CSS_SELECTOR, "rect[data-face-index]")) == len(cards) >= 2
    best = [card.find_elements(By.CSS_SELECTOR, "[data-match='0'] .who") for card in cards]
    assert [b[0].text.split(":")[0] for b in best[:2] if b] in (["obama", "biden"], ["biden", "obama"])
    assert len(results.find_elements(By.CSS_SELECTOR, "[data-match]")) >= 2
    shot(browser, "collections_search")

    # Users by hand: delete one (two clicks), make another and give it that person's faces by ExternalImageId.
    def user_row(name: str):
        return browser.find_elements(By.CSS_SELECTOR, f"#users-table tr[data-user='{name}']")

    user_row("alex_lacamoire")[0].find_element(By.CSS_SELECTOR, "button.danger").click()
    user_row("alex_lacamoire")[0].find_element(By.CSS_SELECTOR, "button.danger").click()
    wait_for(lambda: not user_row("alex_lacamoire"), 30, "the deleted user to go")
    browser.find_element(By.ID, "user-new-id").send_keys("alex")
    browser.find_element(By.CSS_SELECTOR, "#user-create-form button").click()
    wait_for(lambda: user_row("alex"), 30, "the new user")
    browser.find_element(By.ID, "associate-prefix").send_keys("alex_lacamoire:")
    Select(browser.find_element(By.ID, "associate-user")).select_by_value("alex")
    browser.find_element(By.CSS_SELECTOR, "#user-associate-form button").click()
    status = browser.find_element(By.ID, "associate-status")
    wait_for(lambda: "associated with alex" in status.text, 30, "the association")
    assert status.text.startswith("1 face associated")
    wait_for(lambda: user_row("alex")[0].find_elements(By.CSS_SELECTOR, "td")[1].text == "1", 30, "alex's face count")
    assert csp_violations(browser) == []


def test_error_box_explains_throttling(server, browser) -> None:
    """A 429 (hard to provoke on purpose in a shared test server) renders with its meaning and Retry-After."""
    open_console(browser, server)
    text = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all([import('/console/js/api.js'), import('/console/js/ui.js')]).then(([api, ui]) => {
          const box = ui.errorBox(new api.ApiError(429, 'throttled', 'too many requests in flight', 'abc123', '2'));
          done(box.textContent + '|' + box.dataset.errorCode);
        });
    """)
    assert "busy" in text and "Retry after 2 s" in text and "HTTP 429" in text and text.endswith("|throttled")
