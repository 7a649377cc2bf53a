"""The playground in a real browser: headless Debian Chromium (Playwright), a fake mic
playing the bundled spoken question, the real offline brain and the built-in face.

One playground server and one browser for the module. Checks: the page connects, the
avatar video plays, the transcript shows the recognised question and an answer, the mic
audio really reached the server, an emotion change is visible in the frames, two pages get
two sessions and closing one ends its session; clear messages when the mic is refused or
the connection fails. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from tests.browser.harness import (
    ARTIFACTS,
    LoopThread,
    chromium_available,
    launch,
    make_fake_mic,
)

pytestmark = pytest.mark.e2e

TURN_TIMEOUT_MS = 90_000


def _plan() -> tuple[Any, str]:
    """The default playground plan (local brain, local face); the colour test face if the
    built-in face is not installed."""
    from avatarkit.composer import make_plan
    from avatarkit.config import load_config
    from avatarkit.errors import UsageError
    from avatarkit.registry import Registry

    registry = Registry.load()
    try:
        # a still head and no blinks, so frame differences measure the emotion, not idling
        cfg = load_config(brain="local", face="local", face_opts=["motion=0", "blink=false"],
                          environ={})
        return make_plan(cfg, registry), "local"
    except UsageError as exc:
        if "face" not in exc.message:
            pytest.skip(f"the offline brain is not usable here: {exc.message}")
        from tests.browser.faces import colour_plan

        local = make_plan(load_config(brain="local", face="none", environ={}), registry)
        return colour_plan(local.brain_cls), "colour"


@pytest.fixture(scope="module")
def playground() -> Iterator[SimpleNamespace]:
    reason = chromium_available()
    if reason:
        pytest.skip(reason)
    from avatarkit.playground.server import PlaygroundServer

    plan, face = _plan()
    server = PlaygroundServer(plan, port=0, max_sessions=4)
    server.prewarm()  # on the main thread, like the CLI
    loop = LoopThread()
    url = loop.run(server.start())
    yield SimpleNamespace(server=server, loop=loop, url=url, face=face)
    loop.run(server.stop(), timeout=90)
    loop.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("chromium")
    # 48 kHz mono PCM: 1.5 s of silence, the question once, then silence (%noloop)
    wav = make_fake_mic(tmp / "question-48k.wav", lead=1.5, tail=120)
    with sync_playwright() as pw:
        context = launch(pw, tmp / "profile", wav)
        yield context
        context.close()


def _watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _sessions(pg: SimpleNamespace) -> dict[str, Any]:
    return dict(pg.loop.call(lambda: {sid: p.transport.status()
                                      for sid, p in pg.server.peers.items()}))


def _lingering(pg: SimpleNamespace, sid: str) -> dict[str, Any] | None:
    """What a session is doing while it runs (None once it ended). A connection still
    "connected" with no end reason: the page's goodbye never came; an end reason: the
    session is still closing."""
    def look() -> dict[str, Any] | None:
        peer = pg.server.peers.get(sid)
        if peer is None:
            return None
        status = peer.transport.status()
        return {"ending": peer.transport.end_reason,
                **{k: status[k] for k in ("connection", "agent_state", "turns", "age")}}

    return pg.loop.call(look)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def talking_page(playground: SimpleNamespace, browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    page.errors = _watch(page)
    page.goto(playground.url)
    page.click("#start")
    page.wait_for_function("() => window.avatarkit.stats.connectedAt !== null", timeout=30_000)
    yield page
    page.close()


def _snapshot(page: Any) -> np.ndarray:
    """The current video frame, drawn on a canvas in the page, as an RGB array."""
    data_url = page.evaluate("""() => {
        const v = document.getElementById('avatar');
        const c = document.createElement('canvas');
        c.width = v.videoWidth; c.height = v.videoHeight;
        c.getContext('2d').drawImage(v, 0, 0);
        return c.toDataURL('image/png');
    }""")
    from PIL import Image

    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=np.float32)


def _block_diff(a: np.ndarray, b: np.ndarray, block: int = 8) -> np.ndarray:
    """|a - b| of grey levels averaged over block x block tiles (VP8 noise averages out)."""
    d = np.abs(a.mean(axis=2) - b.mean(axis=2))
    h, w = (d.shape[0] // block) * block, (d.shape[1] // block) * block
    return d[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def test_page_connects_and_the_avatar_answers_the_spoken_question(
        playground: SimpleNamespace, talking_page: Any) -> None:
    page = talking_page
    # the avatar video plays: a real size and time advancing
    page.wait_for_function("""() => { const v = document.getElementById('avatar');
        return v.videoWidth > 0 && v.currentTime > 0.5; }""", timeout=30_000)
    before = page.evaluate("document.getElementById('avatar').currentTime")
    time.sleep(1.0)
    after = page.evaluate("document.getElementById('avatar').currentTime")
    assert after - before > 0.5
    width = page.evaluate("document.getElementById('avatar').videoWidth")
    assert width == (512 if playground.face == "local" else 256)

    # the question is recognised and answered (real whisper + llama.cpp + TTS)
    page.wait_for_function("""() => window.avatarkit.stats.messages.some(
        m => m.role === 'assistant' && m.text.trim().length > 0)""", timeout=TURN_TIMEOUT_MS)
    messages = page.evaluate("window.avatarkit.stats.messages")
    heard = " ".join(m["text"] for m in messages if m["role"] == "user").lower()
    answer = next(m["text"] for m in messages if m["role"] == "assistant")
    assert "capital" in heard or "france" in heard, messages
    assert answer.strip()
    # the page shows text as HTML does: runs of whitespace (the LLM's blank lines) as one space
    shown = " ".join(page.inner_text("#transcript").split())
    assert " ".join(answer.split())[:20] in shown
    assert "capital" in shown.lower() or "France" in shown

    # state and per-turn latency are shown
    page.wait_for_function("() => window.avatarkit.stats.turns.length >= 1", timeout=30_000)
    assert page.get_attribute("#agent-state", "data-state") in (
        "listening", "thinking", "speaking")
    table = page.inner_text("#latency")
    assert "speech end -> agent audio" in table and "turn 1" in table
    turn = page.evaluate("window.avatarkit.stats.turns[0]")
    assert turn["latencies"]["e2e_latency"] > 0

    # the fake mic really carried speech to the server (a missing file is a silent mic)
    status = next(iter(_sessions(playground).values()))
    assert status["input"]["peak_rms"] > 0.05 and status["input"]["loud_frames"] > 50
    assert status["video_frames_sent"] > 50 and status["agent_audio_seconds"] > 0.3
    # every frame the face delivered was sent or counted as skipped (a few wait for their time)
    delivered = sum(status["video_put_per_second"])
    assert 0 <= delivered - status["video_frames_sent"] - status["video_frames_dropped"] <= 5
    assert sum(status["video_sent_per_second"]) == status["video_frames_sent"]
    # and the session's VAD ended the question after the mic went quiet (its silence window)
    mic_end = status["timings"][0]["speech_end"]
    assert any(-0.3 <= v - mic_end < 5 for v in status["vad_ends"]), status
    assert page.evaluate("window.avatarkit.stats.remotePeak") > 0.01  # the answer was heard

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground.png"))
    assert not page.errors, page.errors


def test_the_page_logs_its_frames_in_a_bounded_ring(talking_page: Any) -> None:
    """stats.frameLog (what benchmarks/pagebench.py computes fps from): one [time, frames
    presented, RTP timestamp, receive time] entry per frame callback, in order, the last
    frameLogMax of them; a frame is received before it is shown."""
    page = talking_page
    page.wait_for_function("() => window.avatarkit.stats.frameLog.length >= 20",
                           timeout=30_000)
    log, frames = page.evaluate(
        "() => [window.avatarkit.stats.frameLog, window.avatarkit.stats.frames]")
    times, counts = [e[0] for e in log], [e[1] for e in log]
    assert len(log) == min(frames, 7500)  # read together: one entry per frame callback
    assert times == sorted(times) and times[-1] > times[0]
    assert counts == sorted(counts) and counts[-1] - counts[0] >= len(log) - 1
    rtp = [e[2] for e in log]
    assert all(isinstance(ts, int) for ts in rtp) and len(set(rtp)) > len(log) // 2
    assert all(0 < received <= shown for shown, _, _, received in log)
    try:
        page.evaluate("window.avatarkit.stats.frameLogMax = 10")
        page.wait_for_function("() => window.avatarkit.stats.frameLog.length === 10",
                               timeout=10_000)
        time.sleep(0.5)  # more frames: the ring stays at its bound, newest last
        short = page.evaluate("window.avatarkit.stats.frameLog")
        assert len(short) == 10 and short[0][0] > times[-1]
    finally:
        page.evaluate("window.avatarkit.stats.frameLogMax = 7500")


def test_the_page_reports_webrtcs_video_and_audio_stats(talking_page: Any) -> None:
    """window.avatarkit.videoStats() and audioStats() (the benchmarks' freeze count and
    jitter buffers): the received video's and audio's inbound-rtp figures, growing while
    the avatar plays."""
    page = talking_page
    # WebRTC lists an inbound stream once its first packets came (run alone, this test
    # starts right after the connection)
    page.wait_for_function("() => window.avatarkit.stats.firstFrameAt !== null",
                           timeout=30_000)
    time.sleep(0.5)
    first = page.evaluate("window.avatarkit.videoStats()")
    first_audio = page.evaluate("window.avatarkit.audioStats()")
    time.sleep(1.0)
    later = page.evaluate("window.avatarkit.videoStats()")
    later_audio = page.evaluate("window.avatarkit.audioStats()")
    assert first is not None and later is not None
    assert later["framesDecoded"] - first["framesDecoded"] >= 10  # 25 fps, on busy cores
    assert later["framesReceived"] >= later["framesDecoded"] > 0
    assert isinstance(later["freezeCount"], int) and later["totalFreezesDuration"] >= 0
    assert later["jitterBufferEmittedCount"] > first["jitterBufferEmittedCount"]
    assert first_audio is not None and later_audio is not None
    # 48 kHz: at least half a second's samples in the second, on busy cores
    assert later_audio["totalSamplesReceived"] - first_audio["totalSamplesReceived"] >= 24_000
    assert later_audio["jitterBufferDelay"] > first_audio["jitterBufferDelay"] > 0


def test_an_emotion_change_is_visible_in_the_frames(talking_page: Any) -> None:
    page = talking_page
    page.wait_for_function("() => document.getElementById('avatar').videoWidth > 0")
    page.wait_for_selector("#emotions button[data-emotion=surprised]", timeout=30_000)
    # let a reply finish: compare frames while the avatar is listening
    page.wait_for_function("() => ['listening', 'idle'].includes("
                           "document.getElementById('agent-state').dataset.state)",
                           timeout=TURN_TIMEOUT_MS)
    base = [_snapshot(page)]
    for _ in range(3):
        time.sleep(0.4)
        base.append(_snapshot(page))
    noise = max(_block_diff(a, b).max() for a, b in zip(base, base[1:]))
    page.click("#emotions button[data-emotion=surprised]")
    page.wait_for_function("() => window.avatarkit.stats.controls.some("
                           "c => c.control === 'emotion' && c.ok)", timeout=10_000)
    time.sleep(1.5)  # the face eases into the new expression
    after = _snapshot(page)
    diff = _block_diff(base[-1], after)
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    Image.fromarray(base[-1].astype(np.uint8)).save(ARTIFACTS / "emotion-before.png")
    Image.fromarray(after.astype(np.uint8)).save(ARTIFACTS / "emotion-after.png")
    # codec noise is faint and spread out; a new expression is strong and local
    assert diff.max() > max(3.0 * noise, 20.0), (diff.max(), noise)
    assert (diff > 12).sum() >= 8, (diff > 12).sum()


def test_two_pages_get_two_sessions_and_closing_one_ends_it(
        playground: SimpleNamespace, browser: Any, talking_page: Any) -> None:
    pages = [browser.new_page(), browser.new_page()]
    try:
        for page in pages:
            page.goto(playground.url)
            page.click("#start")
        ids = []
        for page in pages:
            page.wait_for_function("() => window.avatarkit.stats.connectedAt !== null",
                                   timeout=30_000)
            page.wait_for_function("() => document.getElementById('avatar').videoWidth > 0",
                                   timeout=30_000)
            ids.append(page.evaluate("window.avatarkit.stats.session"))
        assert len(set(ids)) == 2
        active = _sessions(playground)
        assert set(ids) <= set(active)
        pages[0].close()  # closing the tab ends its session server side
        deadline = time.monotonic() + 20
        while (left := _lingering(playground, ids[0])) is not None:
            assert time.monotonic() < deadline, \
                f"the closed tab's session is still running: {left}"
            time.sleep(0.2)
        assert ids[1] in _sessions(playground)
        ended = playground.loop.call(lambda: list(playground.server.ended))
        record = next(e for e in ended if e["session"] == ids[0])
        assert record["error"] is None and record["reason"], ended
    finally:
        for page in pages:
            if not page.is_closed():
                page.close()


def test_a_muted_mic_still_sends_audio_so_the_session_stays(
        playground: SimpleNamespace, browser: Any, talking_page: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's mute box disables the mic track; Chromium then sends silence, so the
    server's "no audio from the page" watchdog (``mic.GONE_AFTER``) leaves it alone."""
    from avatarkit.playground import mic

    monkeypatch.setattr(mic, "GONE_AFTER", 3.0)  # read by each new session
    page = browser.new_page()
    try:
        page.goto(playground.url)
        page.click("#start")
        page.wait_for_function("() => window.avatarkit.stats.connectedAt !== null",
                               timeout=30_000)
        sid = page.evaluate("window.avatarkit.stats.session")
        page.check("#mute")
        time.sleep(0.5)
        before = _sessions(playground)[sid]["input"]["frames"]
        time.sleep(mic.GONE_AFTER + 2)
        now = _sessions(playground).get(sid)
        assert now is not None, "the muted page's session ended"
        assert now["input"]["frames"] - before >= 100 * (mic.GONE_AFTER + 1)  # 10 ms frames
    finally:
        page.close()


def test_stop_ends_the_session_and_start_makes_a_new_one(playground: SimpleNamespace,
                                                         browser: Any) -> None:
    page = browser.new_page()
    errors = _watch(page)
    try:
        page.goto(playground.url)
        ids = []
        for _ in range(2):
            page.click("#start")
            page.wait_for_function("() => window.avatarkit.stats.connectedAt !== null && "
                                   "document.getElementById('stop').disabled === false",
                                   timeout=30_000)
            page.wait_for_function("(n) => window.avatarkit.stats.events.filter("
                                   "e => e.type === 'ready').length >= n", arg=len(ids) + 1,
                                   timeout=30_000)
            ids.append(page.evaluate("window.avatarkit.stats.session"))
            assert ids[-1] in _sessions(playground)
            page.evaluate("window.avatarkit.stats.connectedAt = null")  # for the next round
            page.click("#stop")
            deadline = time.monotonic() + 20
            while ids[-1] in _sessions(playground):
                assert time.monotonic() < deadline, "Stop did not end the session"
                time.sleep(0.2)
            assert page.is_enabled("#start") and page.inner_text("#conn") == "not connected"
        assert ids[0] != ids[1]
        assert not errors, errors
    finally:
        page.close()


def test_refused_microphone_gives_a_clear_message(playground: SimpleNamespace,
                                                  browser: Any) -> None:
    page = browser.new_page()
    before = set(_sessions(playground))
    try:
        page.add_init_script("""navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));""")
        page.goto(playground.url)
        page.click("#start")
        page.wait_for_selector("#error:not([hidden])", timeout=10_000)
        assert "Microphone access was refused" in page.inner_text("#error")
        assert page.is_enabled("#start")  # can try again
        assert set(_sessions(playground)) <= before  # no session was started for it
    finally:
        page.close()


@pytest.mark.parametrize("how, expected", [
    ("refused", "The playground refused the session: the playground is full"),
    ("unreachable", "Cannot reach the playground server"),
    ("no-media", "did not come up within 3 s"),
])
def test_connection_failures_give_clear_messages(playground: SimpleNamespace, browser: Any,
                                                 how: str, expected: str) -> None:
    page = browser.new_page()
    try:
        def route(r: Any) -> None:
            if how == "refused":
                r.fulfill(status=503, json={"error": "the playground is full"})
            elif how == "unreachable":
                r.abort("connectionrefused")
            else:  # a real answer with the wrong ICE password: connectivity checks fail
                resp = r.fetch()
                data = resp.json()
                data["sdp"] = re.sub(r"a=ice-pwd:\S+", "a=ice-pwd:" + "x" * 24, data["sdp"])
                r.fulfill(response=resp, json=data)

        page.route("**/offer", route)
        page.goto(playground.url + "?connect_timeout=3")
        page.click("#start")
        page.wait_for_selector("#error:not([hidden])", timeout=20_000)
        assert expected in page.inner_text("#error")
        assert page.is_enabled("#start")
    finally:
        page.close()


def test_artifact_dir_is_ignored_by_git() -> None:
    root = Path(__file__).resolve().parents[1]
    assert "/test-artifacts/" in (root / ".gitignore").read_text()


def test_page_says_getting_ready_until_the_models_are_loaded(browser: Any) -> None:
    """Served at once: while a model still loads the page shows "Getting ready" with what
    is loading and keeps Start disabled; once loaded, Start is enabled and the note goes."""
    import threading

    from tests.browser.faces import colour_plan, null_brain_class

    from avatarkit.playground.server import PlaygroundServer
    from avatarkit.progress import loading

    reason = chromium_available()
    if reason:
        pytest.skip(reason)
    from livekit.plugins import openai  # noqa: F401 - the null brain's LLM: main thread only

    release = threading.Event()

    class SlowBrain(null_brain_class()):  # type: ignore[misc]
        def prewarm(self) -> None:
            with loading("test model"):
                assert release.wait(60)

    server = PlaygroundServer(colour_plan(SlowBrain), port=0)
    loop = LoopThread()
    page = browser.new_page()
    try:
        url = loop.run(server.start())
        task = loop.call(server.prewarm_in_background)
        page.goto(url)
        page.wait_for_function("() => document.getElementById('ready-text').textContent"
                               ".includes('loading test model')", timeout=15_000)
        assert page.is_visible("#getting-ready") and page.is_disabled("#start")
        page.screenshot(path=str(ARTIFACTS / "playground-getting-ready.png"))
        release.set()
        page.wait_for_function("() => !document.getElementById('start').disabled",
                               timeout=15_000)
        assert not page.is_visible("#getting-ready")
        assert task.done() and page.evaluate("window.avatarkitReady.ready") is True
    finally:
        release.set()
        page.close()
        loop.run(server.stop(), timeout=30)
        loop.close()
