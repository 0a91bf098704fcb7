"""The dashboard in a real browser: headless Chromium (system package) driven by selenium.

EMOPLAY_DASHBOARD_SCREENSHOT=docs/bridge/dashboard.png makes the test write the screenshot the docs show.
"""

from __future__ import annotations

import http.server
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from tests.support import VIDEOS, require, require_module, require_shared
from tests.support.bridge import start_serve
from emoplay import EMOTIONS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 30


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    require(CHROMIUM is not None and CHROMEDRIVER is not None,
            "Chromium and its driver are not installed: apt-get install -y chromium chromium-driver")
    webdriver = require_module("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for get_log("browser")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    video = require_shared(VIDEOS / "talking_smiling.mp4")
    server = start_serve(tmp_path_factory.mktemp("serve"), "--source", str(video), "--realtime", "--loop")
    yield server
    assert server.stop() == 0, server.stderr()[-3000:]


def _wait(driver, script: str, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(lambda d: d.execute_script(script))
    except Exception as e:  # noqa: BLE001 - say what the page showed instead
        raise AssertionError(f"the dashboard did not show {what}; page text:\n"
                             f"{driver.find_element('tag name', 'body').text[:2000]}") from e


def test_the_dashboard_shows_live_events_from_a_video(browser, served, tmp_path):
    browser.get(served.dashboard)
    _wait(browser, "return document.querySelector('#connection').textContent === 'connected'", "connected")
    _wait(browser, "return document.querySelector('#indicator').classList.contains('state-capturing')",
          "the indicator in the capturing state")
    _wait(browser, "return document.querySelectorAll('#events li[data-type=EmotionChanged]').length >= 1",
          "an EmotionChanged event")
    _wait(browser, "return document.querySelectorAll('.face .bar .fill').length >= 7 && "
                   "[...document.querySelectorAll('.face .bar .fill')].some(f => parseFloat(f.style.width) > 30)",
          "a face's probability bars")
    emotion = browser.execute_script("return document.querySelector('.face .emotion').textContent")
    assert emotion in (*EMOTIONS, "unknown")
    assert browser.find_element("id", "indicator-label").text == "VIDEO CAPTURING"
    # The card says which number is which: the debounced emotion above the latest frame's bars.
    assert browser.execute_script("return document.querySelector('.face .caption').textContent") == "debounced"
    assert browser.execute_script("return document.querySelector('.face .latest').textContent") == "latest frame"
    assert browser.find_element("id", "source").text == "talking_smiling.mp4"  # its name, not the machine's path
    # Nothing went wrong in the console: no invalid Content-Security-Policy source, no missing favicon.
    problems = [entry["message"] for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert problems == []
    _wait(browser, "return document.querySelectorAll('#events li').length >= 3 || "
                   "performance.now() > 4000", "a few seconds of events")
    # Every asset came from the server itself: no CDN, no web font.
    origin = f"http://127.0.0.1:{served.port}/"
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(r => r.name)")
    assert resources and all(r.startswith(origin) for r in resources), resources
    docs_screenshot = os.environ.get("EMOPLAY_DASHBOARD_SCREENSHOT")
    if docs_screenshot:  # for the docs: let the timeline fill for a while
        _wait(browser, "return performance.now() > 20000", "20 s of the video")
    path = Path(docs_screenshot or tmp_path / "dashboard.png")
    assert browser.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_page_opened_while_a_face_is_in_view_outlines_the_primary_face_from_the_welcome(browser, served):
    browser.get(served.dashboard)
    _wait(browser, "return document.querySelectorAll('.face.primary').length === 1", "the primary face outlined")
    browser.refresh()  # a new connection: its welcome holds the faces in view and which one is primary
    _wait(browser, "return document.querySelector('#connection').textContent === 'connected' && "
                   "document.querySelectorAll('.face').length >= 1", "the faces of the welcome")
    # The welcome's cards are built in the same step as 'connected': no FaceFound has come since.
    assert browser.execute_script("return document.querySelectorAll('.face.primary').length") == 1


def test_a_primary_face_whose_card_comes_after_the_welcome_is_outlined(browser, served):
    """The welcome lists the faces that have an emotion; the primary face can be found but not yet classified
    then, and gets its card from a later message. That card must be outlined as the welcome said (a page
    opened in that moment showed no primary face until the primary changed). Messages go straight into the
    page's handler, in one script, so no live event comes between them."""
    browser.get(served.dashboard)
    _wait(browser, "return document.querySelector('#connection').textContent === 'connected'", "connected")
    outlined = browser.execute_script("""
        onMessage({type: "welcome", protocol: 1, camera_state: "capturing", source: "clip.mp4", faces: [],
                   primary_track_id: 990, events: [], emotions: null, probability_hz: 10});
        onMessage({type: "probabilities", track_id: 990, probabilities: {happy: 0.9, neutral: 0.1},
                   valence: 0.5, arousal: 0.3});
        const found = [...document.querySelectorAll('.face.primary')].map(c => c.dataset.track);
        onMessage({type: "FaceFound", track_id: 991, is_primary: false, timestamp: 1});
        onMessage({type: "FaceLost", track_id: 990, timestamp: 2});
        onMessage({type: "EmotionChanged", track_id: 990, previous: "unknown", current: "happy", confidence: 0.9,
                   probabilities: {happy: 0.9}, valence: 0.5, arousal: 0.3, timestamp: 3});
        return [found, [...document.querySelectorAll('.face.primary')].map(c => c.dataset.track)];
    """)
    # outlined from the welcome; once lost, a late message for that track makes an ordinary card
    assert outlined == [["990"], []]


def test_pause_and_resume_buttons_drive_the_sensor(browser, served):
    browser.get(served.dashboard)
    _wait(browser, "return !document.querySelector('#pause').disabled", "an enabled Pause button")
    browser.find_element("id", "pause").click()
    _wait(browser, "return document.querySelector('#indicator').classList.contains('state-paused')", "paused")
    _wait(browser, "return !document.querySelector('#resume').disabled", "an enabled Resume button")
    browser.find_element("id", "resume").click()
    _wait(browser, "return document.querySelector('#indicator').classList.contains('state-capturing')",
          "capturing again")


def test_a_wrong_token_in_the_link_shows_no_event(browser, served):
    browser.get("about:blank")  # a new document: changing only the fragment would not reload the page
    browser.get(served.dashboard.split("#")[0] + "#token=" + "x" * 43)
    _wait(browser, "return document.querySelector('#connection').textContent.startsWith('wrong token')",
          "the wrong-token message")
    assert browser.execute_script("return document.querySelectorAll('#events li').length") == 0
    # The video plays on, but this page cannot know: it must not say the camera is off.
    assert browser.find_element("id", "indicator-label").text == "NOT CONNECTED"
    browser.get("about:blank")
    browser.get(served.dashboard.split("#")[0])  # no token at all
    _wait(browser, "return document.querySelector('#connection').textContent.startsWith('no token')",
          "the no-token message")
    assert browser.find_element("id", "indicator-label").text == "NOT CONNECTED"


def test_the_token_leaves_the_address_bar_and_history_and_a_reload_still_pairs(browser, served):
    browser.get("about:blank")
    browser.get(served.dashboard)
    _wait(browser, "return document.querySelector('#connection').textContent === 'connected'", "connected")
    assert browser.current_url == f"http://127.0.0.1:{served.port}/"
    assert browser.execute_script("return location.hash") == ""
    browser.refresh()
    _wait(browser, "return document.querySelector('#connection').textContent === 'connected'", "connected again")
    browser.back()  # the entry before the dashboard; the dashboard's own entry holds no token
    browser.forward()
    assert "token" not in browser.current_url


def test_without_a_token_in_the_link_the_dashboard_asks_for_it(browser, served):
    browser.get("about:blank")
    browser.get(f"http://127.0.0.1:{served.port}/")
    browser.execute_script("sessionStorage.clear(); location.reload()")
    _wait(browser, "return !document.querySelector('#token-form').hidden && "
                   "document.querySelector('#connection').textContent.startsWith('no token')", "the token form")
    browser.find_element("id", "token-input").send_keys(served.token + "\n")
    _wait(browser, "return document.querySelector('#connection').textContent === 'connected' && "
                   "document.querySelector('#token-form').hidden", "connected after the token was pasted")
    assert browser.current_url == f"http://127.0.0.1:{served.port}/"


_ATTACK_PAGE = """<!doctype html><title>waiting</title><script>
const ws = new WebSocket("ws://127.0.0.1:%d/ws");
ws.onopen = () => { document.title = "open"; ws.send(JSON.stringify({type: "hello", token: "guess"})); };
ws.onmessage = () => { document.title = "message"; };
ws.onclose = (e) => { if (document.title !== "message") document.title = "closed " + e.code; };
</script>"""


def test_a_page_from_another_origin_cannot_open_the_socket(browser, served):
    page = (_ATTACK_PAGE % served.port).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as other:
        thread = threading.Thread(target=other.serve_forever, daemon=True)
        thread.start()
        try:
            browser.get(f"http://127.0.0.1:{other.server_address[1]}/")
            _wait(browser, "return document.title.startsWith('closed')", "the refused socket")
            assert browser.title == "closed 1006"  # the handshake failed (HTTP 403): never open, no message
        finally:
            other.shutdown()
    assert "refused a request from Origin" in served.stderr()


def test_the_open_dashboard_is_the_camera_indicator(browser, tmp_path):
    """With the indicator rule on, capture runs while the page is open and pauses when it is closed."""
    from emoplay.bridge.client import BridgeClient

    video = require_shared(VIDEOS / "talking_smiling.mp4")
    server = start_serve(tmp_path, "--source", str(video), "--realtime", "--loop", "--require-indicator")
    try:
        with BridgeClient.connect(server.websocket, server.token, events=["CameraStateChanged"]) as watcher:
            state, deadline = watcher.welcome["camera_state"], time.monotonic() + 10
            while state != "paused" and time.monotonic() < deadline:  # nobody shows the indicator yet
                message = watcher.receive(timeout=1)
                state = message["current"] if message else state
            assert state == "paused"
            browser.get(server.dashboard)
            _wait(browser, "return document.querySelector('#indicator').classList.contains('state-capturing')",
                  "capturing while the page shows the indicator")
            browser.get("about:blank")  # the dashboard is closed: no more heartbeats
            states = list(watcher.messages(timeout=3))
        paused = [m for m in states if m["current"] == "paused"]
        assert paused and "indicator not drawn" in paused[-1]["reason"], states
    finally:
        assert server.stop() == 0
