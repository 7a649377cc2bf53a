"""`avatarkit serve`'s room page in headless Chromium: the vendored LiveKit client loads with
no console errors (no CDN), /token failures are shown clearly, and with credentials the
page gets a token and tries the configured LiveKit URL. (No LiveKit server here, so joining
a room end to end is not tested.)"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr
from tests.browser.harness import LoopThread, chromium_available, launch

from avatarkit.config import LiveKitSettings
from avatarkit.web import static_dir

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = chromium_available()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("room")
    with sync_playwright() as pw:
        context = launch(pw, tmp / "profile", None)
        yield context
        context.close()


def _serve(settings: LiveKitSettings) -> Iterator[SimpleNamespace]:
    from avatarkit.web.token_server import TokenServer

    loop = LoopThread()
    server = TokenServer(settings, port=0)
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
