"""`avatarkit serve`'s room page in headless Chromium: the vendored LiveKit client loads with
no console errors (no CDN), /token failures are shown clearly, with credentials the page
gets a token and tries the configured LiveKit URL, and against the real livekit-server with
a real `avatarkit run` worker it joins the room, plays the avatar's video and shows the
transcript."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr
from tests.browser.harness import LoopThread, chromium_available, launch, make_fake_mic

from avatarkit.config import LiveKitSettings
from avatarkit.web import static_dir
from livekit_server import LiveKitServer
from local_helpers import words
from room_worker import LOCAL_AGENT, WorkerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    reason = chromium_available()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def chromium(playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    context = launch(playwright, tmp_path_factory.mktemp("room") / "profile", None)
    yield context
    context.close()


def _serve(settings: LiveKitSettings, **options: Any) -> Iterator[SimpleNamespace]:
    from avatarkit.web.token_server import TokenServer

    loop = LoopThread()
    server = TokenServer(settings, port=0, **options)
    url = loop.run(server.start())
    try:
        yield SimpleNamespace(url=url, server=server)
    finally:
        loop.run(server.stop())
        loop.close()


@pytest.fixture
def unconfigured() -> Iterator[SimpleNamespace]:
    yield from _serve(LiveKitSettings())


@pytest.fixture
def configured() -> Iterator[SimpleNamespace]:
    with socket.socket() as s:  # a port nothing listens on: the LiveKit connect must fail
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    yield from _serve(LiveKitSettings(url=f"ws://127.0.0.1:{dead}", api_key=SecretStr("k"),
                                      api_secret=SecretStr("s" * 32)))


def _open(chromium: Any, url: str) -> tuple[Any, list[str], list[str]]:
    page = chromium.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    return page, errors, requests


def test_page_loads_the_vendored_client_without_errors(chromium: Any,
                                                       unconfigured: SimpleNamespace) -> None:
    page, errors, requests = _open(chromium, unconfigured.url + "?room=demo-7")
    try:
        version = json.loads((static_dir() / "vendor" / "livekit-client.json").read_text())
        assert page.evaluate("window.LivekitClient && window.LivekitClient.version") \
            == version["version"]
        assert page.evaluate("typeof window.LivekitClient.Room") == "function"
        assert page.inner_text("#client") == f"livekit-client {version['version']}"
        assert page.input_value("#room") == "demo-7"
        assert all(r.startswith(unconfigured.url) for r in requests), requests  # no CDN
        assert not errors, errors
    finally:
        page.close()


def test_token_failure_is_shown_clearly(chromium: Any, unconfigured: SimpleNamespace) -> None:
    page, errors, _ = _open(chromium, unconfigured.url)
    try:
        page.click("#join")
        page.wait_for_selector("#error:not([hidden])", timeout=10_000)
        text = page.inner_text("#error")
        assert "Could not get a join token" in text and "LIVEKIT_API_KEY" in text
        assert page.is_enabled("#join")
        assert page.inner_text("#conn") == "not connected"
        # only the expected 503 of /token is reported by the browser, nothing else
        assert all("503" in e for e in errors), errors
    finally:
        page.close()


def test_bad_room_name_is_refused_with_the_servers_reason(chromium: Any,
                                                          configured: SimpleNamespace) -> None:
    page, _, _ = _open(chromium, configured.url)
    try:
        page.fill("#room", "no spaces allowed")
        page.click("#join")
        page.wait_for_selector("#error:not([hidden])", timeout=10_000)
        assert "room must be" in page.inner_text("#error")
    finally:
        page.close()


def test_with_credentials_the_page_gets_a_token_and_connects_to_livekit(
        chromium: Any, configured: SimpleNamespace) -> None:
    page, _, _ = _open(chromium, configured.url)
    try:
        with page.expect_response("**/token") as info:
            page.click("#join")
        resp = info.value
        assert resp.status == 200
        body = resp.json()
        assert body["room"] == "avatarkit" and body["url"] == configured.server.livekit.url
        # no LiveKit server listens there: the page says so instead of hanging
        page.wait_for_selector("#error:not([hidden])", timeout=30_000)
        assert "Could not connect to LiveKit at " + body["url"] in page.inner_text("#error")
    finally:
        page.close()


# Samples the mouth region of the playing <video> ten times a second: how much it changed
# since the previous sample (mean absolute difference of grey levels, 0-255).
MOUTH_SAMPLER = """() => {
  const v = document.getElementById('avatar');
  const c = document.createElement('canvas');
  c.width = 22; c.height = 12;
  const g = c.getContext('2d', { willReadFrequently: true });
  window.mouthMotion = [];
  let last = null;
  setInterval(() => {
    if (!v.videoWidth) return;
    g.drawImage(v, 0.39 * v.videoWidth, 0.55 * v.videoHeight, 0.22 * v.videoWidth,
                0.12 * v.videoHeight, 0, 0, c.width, c.height);
    const px = g.getImageData(0, 0, c.width, c.height).data;
    const grey = [];
    for (let i = 0; i < px.length; i += 4) grey.push((px[i] + px[i + 1] + px[i + 2]) / 3);
    if (last) {
      let d = 0;
      for (let i = 0; i < grey.length; i++) d += Math.abs(grey[i] - last[i]);
      window.mouthMotion.push(d / grey.length);
    }
    last = grey;
  }, 100);
}"""


@pytest.mark.local_extra
@pytest.mark.room
def test_page_joins_the_real_room_plays_the_avatar_and_shows_the_transcript(
        playwright: Any, livekit_server: LiveKitServer, local_worker: WorkerProcess,
        tmp_path: Any) -> None:
    """The whole `serve` path: POST /token (dispatching the worker's agent name), the real
    room, the avatar's video playing, the question and the answer in the transcript."""
    settings = LiveKitSettings(url=livekit_server.url,
                               api_key=SecretStr(livekit_server.api_key),
                               api_secret=SecretStr(livekit_server.api_secret))
    # the question a few times: the first may come before the agent has joined
    mic = make_fake_mic(tmp_path / "mic.wav", lead=4.0, repeat=4, gap=15.0, tail=30.0)
    served = _serve(settings, agent_name=LOCAL_AGENT)
    web = next(served)
    try:
        context = launch(playwright, tmp_path / "profile", mic)
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(web.url + "?room=browser-room&name=Ada")
            with page.expect_response("**/token") as info:
                page.click("#join")
            assert info.value.status == 200
            assert info.value.json()["url"] == livekit_server.url
            page.wait_for_function(
                "document.getElementById('conn').textContent === 'in room browser-room'",
                timeout=30_000)
            page.evaluate(MOUTH_SAMPLER)
            # the avatar's video plays in the page
            page.wait_for_function(
                "() => { const v = document.getElementById('avatar');"
                " return v.videoWidth > 0 && !v.paused && v.currentTime > 0.5; }",
                timeout=240_000)
            frames = "document.getElementById('avatar').getVideoPlaybackQuality()" \
                     ".totalVideoFrames"
            before = page.evaluate(frames)
            # the transcript: the user's question (one the agent heard whole: the first may
            # start before it joined), then the avatar's answer
            page.wait_for_function(
                "() => { const t = window.avatarkitRoom.transcript;"
                " const i = t.findIndex(l => l.role === 'you' && /capital|france/i.test(l.text));"
                " return i >= 0 && t.slice(i + 1).some(l => l.role === 'avatar'"
                " && l.text.trim()); }", timeout=240_000)
            page.wait_for_timeout(1500)
            transcript = page.evaluate("window.avatarkitRoom.transcript")
            motion = page.evaluate("window.mouthMotion")
            assert page.evaluate(frames) > before
            shown = page.inner_text("#transcript")
            participants = page.inner_text("#participants")
            page.click("#leave")
            page.wait_for_function(
                "document.getElementById('conn').textContent === 'not connected'")
        finally:
            context.close()
    finally:
        next(served, None)
    questions = [line["text"] for line in transcript if line["role"] == "you"]
    answers = [line["text"] for line in transcript if line["role"] == "avatar"]
    assert any(words(q) & {"capital", "france"} for q in questions), transcript
    assert len(questions) <= 4, transcript  # one line per question, not one per stream
    assert answers and answers[0].strip() and answers[0] in shown, transcript
    assert "agent" in participants, participants
    print(f"mouth change per sample in the page: max {max(motion):.1f}, "
          f"median {sorted(motion)[len(motion) // 2]:.2f} over {len(motion)} samples")
    assert max(motion) > 3.0, motion  # the mouth moved with the answer
    assert not errors, errors
