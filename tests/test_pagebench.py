"""The arithmetic of benchmarks/pagebench.py, on figures made here: fps (what the concurrency
benchmark reports as frame starvation) from frame logs [presentation ms, frames presented so
far, RTP timestamp, receive ms], how long frames were held, and the uplink/downlink split of
a turn between the page's clock and the server's."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "pagebench.py"


@pytest.fixture(scope="module")
def pagebench() -> ModuleType:
    return _load("pagebench", register=True)  # its dataclass looks itself up there


def _load(name: str, *, register: bool = False) -> ModuleType:
    """A script of benchmarks/ as a module (``register``: also in ``sys.modules``, where the
    scripts that import ``pagebench`` find it: their tests take the ``pagebench`` fixture)."""
    spec = importlib.util.spec_from_file_location(name, PATH.parent / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _log(start_ms: float, seconds: float, fps: float, first: int = 0) -> list[list[float]]:
    step = 1000 / fps
    return [[start_ms + i * step, first + i + 1] for i in range(int(seconds * fps))]


def _stats(log: list[list[float]], now: float | None = None,
           replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"frameLog": log, "now": now if now is not None else log[-1][0],
            "replies": replies or []}


def test_a_steady_stream_is_its_rate(pagebench: ModuleType) -> None:
    fps = pagebench.frame_rates(_stats(_log(1000, 12, 25)))
    assert fps["mean"] == pytest.approx(25, abs=0.5)
    assert fps["min_1s"] == pytest.approx(25, abs=1)
    assert fps["min_1s_turns"] is None  # no reply: no turn windows


def test_a_stall_and_a_frozen_end_are_seen(pagebench: ModuleType) -> None:
    # 25 fps for 6 s, nothing for 2 s, 25 fps for 4 s, then frozen for 3 s until read
    log = _log(0, 6, 25)
    log += _log(8000, 4, 25, first=int(log[-1][1]))
    fps = pagebench.frame_rates(_stats(log, now=15000))
    assert fps["min_1s"] == 0 and 5000 < fps["min_1s_at"] < 8000  # in the stall
    assert fps["mean"] < 20  # 250 frames over 13 s after the 2 s skip
    steady = pagebench.frame_rates(_stats(log, now=log[-1][0]))
    assert steady["mean"] > fps["mean"]


def test_turn_windows_are_the_busy_ones(pagebench: ModuleType) -> None:
    # 25 fps, except 12 fps from 9 s to 11 s; a reply: speech end 8 s, first frame 9 s
    log = _log(0, 9, 25)
    log += _log(9000, 2, 12, first=int(log[-1][1]))
    log += _log(11000, 9, 25, first=int(log[-1][1]))
    reply = {"speechEnd": 8000.0, "frameAt": 9000.0, "audioAt": 8990.0}
    fps = pagebench.frame_rates(_stats(log, replies=[reply]))
    assert fps["min_1s_turns"] == pytest.approx(12, abs=1)
    quiet = pagebench.frame_rates(_stats(_log(0, 20, 25), replies=[reply]))
    assert quiet["min_1s_turns"] == pytest.approx(25, abs=1)


def test_presented_counts_count_frames_the_callbacks_skipped(pagebench: ModuleType) -> None:
    # one callback per two frames (presentedFrames grows by 2): still 25 fps
    log = [[i * 80.0, 2 * (i + 1)] for i in range(150)]
    fps = pagebench.frame_rates(_stats(log))
    assert fps["mean"] == pytest.approx(25, abs=0.5)
    assert pagebench.frame_rates(_stats([[0.0, 1]])) == {
        "mean": None, "min_1s": None, "min_1s_turns": None, "min_1s_at": None, "held": None}


def test_held_is_the_median_from_arrival_to_display(pagebench: ModuleType) -> None:
    log = [[t, n, 3600 * n, t - (0.060 if n % 2 else 0.500) * 1000]
           for t, n in _log(0, 10, 25)]
    assert pagebench.frame_rates(_stats(log))["held"] == pytest.approx(0.28, abs=0.001)
    assert pagebench.frame_rates(_stats(_log(0, 10, 25)))["held"] is None  # older pages


def test_uplink_and_downlink_pair_each_server_turn_with_the_nearest_page_turn(
        pagebench: ModuleType) -> None:
    origin_ms, clock = 1_000_000.0, 900.0  # page epoch origin; server epoch - monotonic
    def server_s(page_ms: float) -> float:
        return (origin_ms + page_ms) / 1000 - clock

    # the page marked a speech end at 5 s the server never saw (a pause mid-question)
    replies = [{"speechEnd": 5000.0, "audioAt": 5400.0, "frameAt": 5450.0},
               {"speechEnd": 10000.0, "audioAt": 11500.0, "frameAt": 11600.0},
               {"speechEnd": 30000.0, "audioAt": 31300.0, "frameAt": 31400.0}]
    timings = [{"speech_end": server_s(10050.0), "first_frame": server_s(11300.0),
                "speech_end_to_first_frame": 1.25},
               {"speech_end": server_s(30020.0), "first_frame": server_s(31000.0),
                "speech_end_to_first_frame": 0.98}]
    stats = {"replies": replies, "turns": [], "timeOrigin": origin_ms}
    rows = dict(pagebench.turn_rows(stats, {"timings": timings}, 3, server_clock=clock))
    assert rows[pagebench.UPLINK] == pytest.approx([0.05, 0.02], abs=1e-6)
    assert rows[pagebench.DOWNLINK] == pytest.approx([0.3, 0.4], abs=1e-6)
    assert pagebench.UPLINK not in dict(pagebench.turn_rows(stats, {"timings": timings}, 3))


def test_browsers_open_each_page_in_a_window_of_its_own(pagebench: ModuleType,
                                                         tmp_path: Path) -> None:
    """Three pages of one Chromium, as the concurrency benchmark opens them: each in a
    window (context) of its own, not tabs of one (Chromium throttles a background tab's
    video frame callbacks to about one a second). Headless tabs all say "visible", so the
    windows are checked by their contexts. (Opening the second page once raised
    UnboundLocalError: the benchmark's 3-page phase could not start.)"""
    from tests.browser.harness import chromium_available

    reason = chromium_available()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browsers = pagebench.Browsers(pw, tmp_path, mic=None)
        try:
            pages = [browsers.new_page("about:blank", f"page {k}") for k in range(3)]
            assert len({p.context for p in pages}) == 3
        finally:
            browsers.close()


def test_the_vad_lag_pairs_each_server_turn_with_the_next_vad_end(pagebench: ModuleType) -> None:
    """The session's VAD ends the user's speech after its silence window, later when audio
    waits in front of it; a VAD end that belongs to no server turn (a pause the mic did not
    count) is not anyone's, and a turn with no VAD end in 5 s has no figure."""
    timings = [{"speech_end": at, "first_frame": at + 1.0, "speech_end_to_first_frame": 1.0}
               for at in (100.0, 120.0, 140.0)]
    vad_ends = [95.0, 100.48, 100.9, 121.3, 150.0]
    rows = dict(pagebench.turn_rows({"replies": [], "turns": []},
                                    {"timings": timings, "vad_ends": vad_ends}, 3))
    assert rows[pagebench.VAD_END] == pytest.approx([0.48, 1.3, None])
    # a server without the marks (an older one): no figures, no error
    older = dict(pagebench.turn_rows({"replies": [], "turns": []}, {"timings": timings}, 3))
    assert older[pagebench.VAD_END] == [None, None, None]


def test_a_page_figure_below_the_servers_is_not_taken_for_a_pass(pagebench: ModuleType) -> None:
    """The page hears the question end before the server does and shows the reply after
    the server sent it, so a page median below the server's means the page paired a
    question with the wrong reply (seen on an overloaded machine): the concurrency
    benchmark names that page instead of judging the page's ratio."""
    bench = _load("playground_concurrency")

    def page(name: str, page_s: list[float], server_s: list[float]) -> dict[str, Any]:
        return {"name": name, "turns_asked": len(page_s),
                "rows": {pagebench.PAGE_FRAME: page_s, pagebench.SERVER_FRAME: server_s}}

    good = page("page 1/3", [3.5, 4.1, 4.4, 3.9], [2.1, 3.2, 3.1, 3.0])
    wrong = page("page 2/3", [3.5, 0.58, 0.78, 0.44], [2.1, 7.1, 4.0, 3.8])
    assert bench.page_marks_amiss([good]) == []
    assert bench.page_marks_amiss([good, wrong]) == [
        "page 2/3 (0.580 s < 4.000 s at the server)"]


def test_sessions_of_several_playgrounds_merge(pagebench: ModuleType) -> None:
    """``--processes``: each process's ``GET /sessions`` lists its own sessions; the
    benchmark looks any of them up by id (an ended one's status sits under "status")."""
    processes = _load("playground_processes")
    one = {"active": [{"session": "a", "turns": 2}],
           "ended": [{"session": "b", "status": {"session": "b", "turns": 4}}]}
    two = {"active": [{"session": "c", "turns": 1}], "ended": []}
    merged = processes.merge_sessions([one, two])
    assert merged == {"a": {"session": "a", "turns": 2}, "b": {"session": "b", "turns": 4},
                      "c": {"session": "c", "turns": 1}}


@pytest.mark.local_extra
def test_playground_processes_serve_apart_and_stop(pagebench: ModuleType,
                                                   tmp_path: Path) -> None:
    """Two real ``avatarkit playground`` processes sharing one llama.cpp server: each is
    ready on a port of its own, and stopping leaves no playground and no llama.cpp."""
    processes = _load("playground_processes")
    pg = processes.PlaygroundProcesses(2, tmp_path, face="none")
    try:
        pg.wait_ready(timeout=300)
        assert len({pg.url_for(0), pg.url_for(1)}) == 2
        assert pg.statuses() == {}
        pg.wait_idle(timeout=5)
        assert pg.llama.ready
    finally:
        pg.stop()
    assert all(proc.poll() is not None for proc in pg.procs)
    assert pg.llama.pid is None
    assert "ready" in pg.logs[0].read_text()


def test_the_fewest_frames_sent_skip_the_start_and_the_partial_last_second(
        pagebench: ModuleType) -> None:
    """The server's side of the page's lowest 1 s window: whole seconds only, after the
    first 2 (as the page skips its first 2 s)."""
    bench = _load("playground_concurrency")
    status = {"video_sent_per_second": [3, 24, 25, 19, 25, 25, 7]}
    assert bench.sent_low({"status": status}) == 19
    assert bench.sent_low({"status": {"video_sent_per_second": [25, 25, 25]}}) is None
    assert bench.sent_low({"status": None}) is None


def test_the_jitter_buffer_mean_is_the_delay_over_what_was_emitted(
        pagebench: ModuleType) -> None:
    """WebRTC sums every emitted frame's (sample's) wait in ``jitterBufferDelay``."""
    assert pagebench.buffered({"jitterBufferDelay": 45.0,
                               "jitterBufferEmittedCount": 100}) == pytest.approx(0.45)
    assert pagebench.buffered({"jitterBufferDelay": 0.0, "jitterBufferEmittedCount": 0}) is None
    assert pagebench.buffered(None) is None
    assert pagebench.buffered({"freezeCount": 0}) is None
