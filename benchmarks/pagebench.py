"""Shared by the playground benchmarks: the playground in process, headless Chromium pages
with the fake mic, and what to read from them.

- :class:`Playground`: ``avatarkit playground``'s server on its own loop thread, loading its
  models in the background as the CLI does;
- :func:`open_page` / :func:`press_start` / :func:`wait_turns`: a page per session (a failed
  or stuck page raises :class:`BenchError` with what the page and the server said);
- :func:`turn_rows`: a session's figures per turn (page, server, the session's own stages);
- :func:`frame_rates`: fps the page presented, from ``stats.frameLog`` (its frame callbacks).

Chromium's fake mic (``--use-file-for-fake-audio-capture``) restarts its file for every
``getUserMedia`` (checked: two pages of one browser, the second opened 4 s after the
first, each hear the file's first sound 2.03 s after their own ``getUserMedia``), so
every page of one browser asks its questions on its own schedule from when Start is pressed.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from avatarkit.report import TURN_STAGES

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.browser.harness: Chromium flags, fake mic, loop

Rows = list[tuple[str, list[float | None]]]


class BenchError(RuntimeError):
    """A page or the server failed: the message says which and what they reported."""


class Sessions(Protocol):
    """What a page's server can say of its sessions (:class:`Playground` and
    ``playground_processes.PlaygroundProcesses``)."""

    def statuses(self) -> dict[str, dict[str, Any]]: ...


@dataclass
class Playground:
    """The playground server in this process (same code as ``avatarkit playground``)."""

    server: Any
    loop: Any
    url: str

    @classmethod
    def start(cls, brain: str = "local", face: str = "local",
              face_opts: Sequence[str] = (), max_sessions: int = 4) -> Playground:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from tests.browser.harness import LoopThread

        from avatarkit.composer import Composer, make_plan
        from avatarkit.config import load_config
        from avatarkit.playground.server import PlaygroundServer

        plan = make_plan(load_config(brain=brain, face=face, face_opts=list(face_opts)))
        server = PlaygroundServer(plan, port=0, max_sessions=max_sessions)
        Composer(plan).import_plugins()  # on the main thread (LiveKit's rule), as the CLI does
        loop = LoopThread()
        url = loop.run(server.start())
        loop.call(server.prewarm_in_background)
        return cls(server, loop, url)

    def url_for(self, k: int) -> str:
        """Page ``k``'s playground: the one server for every page."""
        return self.url

    def wait_ready(self, timeout: float = 600.0) -> float:
        """Seconds until the models are loaded; BenchError if loading failed or timed out."""
        readiness = self.server.readiness

        def ready() -> bool:
            if readiness.error is not None:
                raise BenchError(f"the playground could not get ready: "
                                 f"{readiness.to_dict()['error']}")
            return bool(readiness.ready)

        return poll_until(ready, timeout, lambda: f"the playground was not ready after "
                          f"{timeout:g} s (loading: {readiness.to_dict()['loading']})")

    def statuses(self) -> dict[str, dict[str, Any]]:
        """Every session's ``status()`` by session id: active ones and ended ones."""
        def collect() -> dict[str, dict[str, Any]]:
            out = {e["session"]: e["status"] for e in self.server.ended}
            out.update({sid: p.transport.status() for sid, p in self.server.peers.items()})
            return out

        return dict(self.loop.call(collect))

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until no session runs (closed pages say bye; the server ends their sessions)."""
        wait_no_sessions(lambda: self.loop.call(lambda: len(self.server.peers)), timeout)

    def stop(self) -> None:
        try:
            self.loop.run(self.server.stop(), timeout=90)
        finally:
            self.loop.close()


def poll_until(done: Callable[[], bool], timeout: float, late: Callable[[], str]) -> float:
    """Seconds until ``done()`` (polled every 0.2 s; it may raise BenchError itself);
    BenchError with ``late()`` after ``timeout`` s."""
    t0 = time.monotonic()
    while not done():
        if time.monotonic() - t0 > timeout:
            raise BenchError(late())
        time.sleep(0.2)
    return time.monotonic() - t0


def wait_no_sessions(active: Callable[[], int], timeout: float) -> None:
    """Until ``active()`` (the sessions running) is 0; BenchError after ``timeout`` s."""
    poll_until(lambda: not active(), timeout,
               lambda: f"sessions still running {timeout:g} s after their pages closed")


def fake_mic(tmp: Path, turns: int, gap: float, lead: float = 3.0,
             tail: float = 30.0) -> Path:
    """The bundled question ``turns`` times, ``gap`` s apart, after ``lead`` s (48 kHz)."""
    from tests.browser.harness import make_fake_mic

    return make_fake_mic(tmp / "mic.wav", lead=lead, repeat=turns, gap=gap, tail=tail)


def mic_seconds(turns: int, gap: float, lead: float = 3.0) -> float:
    """When the last question of :func:`fake_mic` has been said (from getUserMedia)."""
    from avatarkit.demo import bundled_question
    from avatarkit.transports.audio_files import INPUT_RATE, load_speech

    question = len(load_speech(bundled_question())) / INPUT_RATE
    return lead + turns * question + (turns - 1) * gap


class Browsers:
    """Where the pages open: one headless Chromium for all, each page in a window of its own
    (default: as each user's tab is the front one; the fake mic restarts per page anyway)
    or, with ``per_page``, a Chromium of its own for each page (its own processes, decoder
    and network stack: to tell a browser limit from a server one).

    Not tabs of one window: Chromium calls a background tab's video frame callbacks about
    once a second, so its page would see the reply's first frame up to a second late
    (:func:`tests.browser.harness.launch_browser`)."""

    def __init__(self, playwright: Any, tmp: Path, mic: Path, per_page: bool = False) -> None:
        self.playwright, self.tmp, self.mic, self.per_page = playwright, tmp, mic, per_page
        self._shared: Any = None
        self._own: list[Any] = []  # per-page browsers, or the shared one's page windows
        self._made = 0

    def _launch(self) -> Any:
        from tests.browser.harness import launch

        self._made += 1
        return launch(self.playwright, self.tmp / f"profile-{self._made}", self.mic)

    def new_page(self, url: str, name: str) -> Any:
        if self.per_page:
            self._own.append(self._launch())
        else:
            from tests.browser.harness import VIEWPORT, launch_browser

            if self._shared is None:
                self._shared = launch_browser(self.playwright, self.mic)
            self._own.append(self._shared.new_context(viewport=VIEWPORT))
        return open_page(self._own[-1], url, name)

    def close_own(self) -> None:
        """Close the phase's browsers or windows (their pages closed first, see
        :func:`close_page`)."""
        for context in self._own:
            with contextlib.suppress(Exception):
                context.close()
        self._own = []

    def close(self) -> None:
        self.close_own()
        if self._shared is not None:
            with contextlib.suppress(Exception):
                self._shared.close()
            self._shared = None


def renice_browser(niceness: int) -> int:
    """Lower the CPU priority of every Chromium process this one started (call after pages
    open: each page gets new renderer processes); how many were reniced. A diagnostic:
    with a user's browser on the same 2 cores as the server, its decoding competes with
    the turn; at a lower priority it only takes what the server leaves.

    Playwright starts Chromium in a session of its own. Where the kernel groups a session's
    threads for scheduling (Linux autogroup, ``/proc/sys/kernel/sched_autogroup_enabled``),
    a process's nice value only ranks it *inside* its group, and the group competes with the
    server's at its own nice value: so that one is set as well."""
    import psutil
    from tests.browser.harness import browser_processes

    count = 0
    groups: set[str] = set()
    for proc in browser_processes():
        with contextlib.suppress(psutil.Error):
            proc.nice(niceness)
            count += 1
            groups.add(_set_autogroup_nice(proc.pid, niceness))
    if groups - {""}:
        print(f"  (autogroups {', '.join(sorted(groups - {''}))} at nice {niceness})",
              file=sys.stderr)
    return count


def _set_autogroup_nice(pid: int, niceness: int) -> str:
    """Set the nice value of ``pid``'s autogroup; its name ("" without autogroups)."""
    path = Path(f"/proc/{pid}/autogroup")
    try:
        group = path.read_text().split()[0]
        path.write_text(str(niceness))
    except (OSError, IndexError):
        return ""
    return group


def open_page(context: Any, url: str, name: str) -> Any:
    """A new page on the playground, not started yet; page errors are kept on it."""
    page = context.new_page()
    page.bench_name = name
    page.bench_errors = []
    page.on("pageerror", lambda e: page.bench_errors.append(str(e)))
    page.on("console", lambda m: page.bench_errors.append(m.text) if m.type == "error"
            else None)
    page.goto(url)
    return page


def press_start(page: Any, ready_timeout: float = 600.0) -> float:
    """Press Start once the page enables it (the server is ready); the monotonic time."""
    try:
        page.click("#start", timeout=ready_timeout * 1000)
    except Exception as exc:  # noqa: BLE001 - Playwright's timeout: say what the page shows
        raise BenchError(f"{page.bench_name}: Start was not enabled within {ready_timeout:g} s "
                         f"({_page_state(page)})") from exc
    return time.monotonic()


def wait_turns(page: Any, turns: int, deadline: float, pg: Sessions | None = None) -> None:
    """Until the page has ``turns`` turn records, or BenchError at ``deadline`` (monotonic)
    or as soon as the page shows an error or the session ends (with what the page and,
    given ``pg``, the server say of the session)."""
    check = f"""() => {{ const s = window.avatarkit.stats;
        return s.turns.length >= {turns} || s.ended !== null ||
               s.events.some(e => e.type === 'page_error' || e.type === 'error'); }}"""
    remaining = max(1.0, deadline - time.monotonic())
    try:
        page.wait_for_function(check, timeout=remaining * 1000, polling=500)
    except Exception as exc:  # noqa: BLE001 - Playwright's timeout
        raise BenchError(f"{page.bench_name}: not {turns} turns after {remaining:.0f} s "
                         f"({_page_state(page)}{_server_state(page, pg)})") from exc
    got = page.evaluate("window.avatarkit.stats.turns.length")
    if got < turns:
        raise BenchError(f"{page.bench_name}: the session stopped after {got} of {turns} turns "
                         f"({_page_state(page)}{_server_state(page, pg)})")


def _server_state(page: Any, pg: Sessions | None) -> str:
    if pg is None:
        return ""
    try:
        status = pg.statuses().get(page.evaluate("window.avatarkit.stats.session"))
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        return f"; server unreadable: {exc}"
    if status is None:
        return "; server: no such session"
    keep = ("connection", "agent_state", "turns", "input", "video_frames_sent",
            "agent_audio_seconds", "ended")
    return (f"; server: { {k: status.get(k) for k in keep} }, "
            f"speech ends heard {len(status.get('timings', []))}")


def _page_state(page: Any) -> str:
    try:
        state = page.evaluate("""() => { const s = window.avatarkit.stats;
            return {connected: s.connectedAt !== null, frames: s.frames, turns: s.turns.length,
                    speechEnds: s.speechEnds.length, micPeak: s.micPeak, ended: s.ended,
                    agent: (document.getElementById('agent-state') || {dataset: {}})
                           .dataset.state, messages: s.messages.slice(-4),
                    errors: s.events.filter(e => e.type === 'page_error' || e.type === 'error')
                            .map(e => e.text || e.message),
                    shown: (document.getElementById('error') || {}).textContent || ''}; }""")
    except Exception as exc:  # noqa: BLE001 - the page itself is gone
        return f"page unreadable: {exc}"
    return f"page: {state}; console errors: {page.bench_errors[-3:]}"


def close_page(page: Any) -> None:
    """Stop the page's session (it says bye: the server ends it now, not when ICE consent
    runs out ~30 s after a browser vanishes), then close the page."""
    with contextlib.suppress(Exception):  # a crashed page: closing it is all there is
        page.evaluate("window.avatarkit.stop()")
    page.close()


def page_stats(page: Any) -> dict[str, Any]:
    """``window.avatarkit.stats`` plus the page's time origin (ms since the epoch), ``now``
    (ms, the clock of the stats' times) and ``video``: WebRTC's inbound video statistics
    (``freezeCount``, ``totalFreezesDuration`` in s, ``framesDecoded``, ``framesDropped``,
    ``jitterBufferDelay``...), which Chromium keeps off the page's main thread, and ``audio``:
    the same for the received audio (``jitterBufferDelay``, ``concealedSamples``...)."""
    return dict(page.evaluate("async () => ({...window.avatarkit.stats, "
                              "video: await window.avatarkit.videoStats(), "
                              "audio: await window.avatarkit.audioStats(), "
                              "timeOrigin: performance.timeOrigin, now: performance.now()})"))


def buffered(webrtc: dict[str, Any] | None) -> float | None:
    """Mean seconds a received frame (video) or sample (audio) waited in the browser's
    jitter buffer over the session, from WebRTC's ``jitterBufferDelay`` (a sum over every
    one emitted) and ``jitterBufferEmittedCount``; None when the browser gave neither."""
    webrtc = webrtc or {}
    total, count = webrtc.get("jitterBufferDelay"), webrtc.get("jitterBufferEmittedCount")
    return total / count if total is not None and count else None


SESSION_STAGES = TURN_STAGES  # the session's own stages, as the demo's table prints them
PAGE_FRAME = "page: speech end -> first avatar frame shown"
SERVER_FRAME = "server: speech end -> first reply frame sent"
UPLINK = "uplink: speech end at the page -> at the server"
DOWNLINK = "downlink: first reply frame sent -> shown"
VAD_END = "server: speech end -> the VAD's end of speech"


def turn_rows(stats: dict[str, Any], status: dict[str, Any] | None, turns: int,
              server_clock: float | None = None) -> Rows:
    """One session's figures per turn (seconds): page, server, then the session's stages.

    ``server_clock``: ``time.time() - time.monotonic()`` of the server's process (the
    benchmarks run it in theirs). With it, two more rows split the page's figure from the
    server's: the uplink (speech end at the page's mic -> the same at the server, after
    Chromium's capture and encoding, the network and aiortc's receive path) and the
    downlink (the reply's first frame sent -> shown: network, jitter buffer, decoding).
    """
    replies = [r for r in stats["replies"] if r.get("frameAt")][:turns]
    timings = [t for t in (status or {}).get("timings", []) if t.get("first_frame")][:turns]
    records = stats["turns"][:turns]
    rows: Rows = [
        (PAGE_FRAME, [(r["frameAt"] - r["speechEnd"]) / 1000 for r in replies]),
        ("page: speech end -> agent audio heard",
         [(r["audioAt"] - r["speechEnd"]) / 1000 for r in replies]),
        (SERVER_FRAME, [t["speech_end_to_first_frame"] for t in timings]),
        (VAD_END, vad_lags(timings, (status or {}).get("vad_ends", []))),
    ]
    if server_clock is not None:
        def page_s(ms: float) -> float:  # a page time as server-monotonic seconds
            return (stats["timeOrigin"] + ms) / 1000 - server_clock

        # each server turn with the page's reply whose speech end is nearest (within 3 s):
        # either side may have marked a speech end the other did not
        pairs = []
        for t in timings:
            gap, r = min(((abs(page_s(r["speechEnd"]) - t["speech_end"]), r) for r in replies),
                         key=lambda pair: pair[0], default=(None, None))
            if r is not None and gap is not None and gap < 3.0:
                pairs.append((r, t))
        rows += [(UPLINK, [t["speech_end"] - page_s(r["speechEnd"]) for r, t in pairs]),
                 (DOWNLINK, [page_s(r["frameAt"]) - t["first_frame"] for r, t in pairs])]
    rows += [(f"session: {label}", [t["latencies"].get(key) for t in records])
             for label, key in SESSION_STAGES]
    return rows


def vad_lags(timings: list[dict[str, Any]], vad_ends: Sequence[float],
             window: float = 5.0) -> list[float | None]:
    """Per server turn: from its speech end (the mic went quiet, as received) to the
    session's VAD ending the user's speech (its silence window, and any time the audio and
    the VAD's events waited on the event loop), the first VAD end within ``window`` s; None
    if there was none."""
    lags: list[float | None] = []
    for t in timings:
        after = [v - t["speech_end"] for v in vad_ends
                 if -0.3 <= v - t["speech_end"] < window]
        lags.append(min(after, default=None))
    return lags


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_ms(seconds: float | None) -> str:
    """Seconds as whole milliseconds ("-" for None)."""
    return fmt(None if seconds is None else seconds * 1000, 0)


def print_turn_table(title: str, rows: Rows) -> None:
    """Rows x turns, then the median of turns 2.. (warm) and turn 1 on its own."""
    print(title)
    columns = max((len(v) for _, v in rows), default=0)
    width = max(len(label) for label, _ in rows)
    print(" " * width + "".join(f"  turn {i + 1:<4}" for i in range(columns))
          + "  warm median")
    for label, values in rows:
        cells = "".join(f"  {fmt(v):<9}" for v in values) + "           " * (columns - len(values))
        print(f"{label:<{width}}{cells}  {fmt(median(values[1:]))}")


def frame_rates(stats: dict[str, Any], *, skip: float = 2.0, window: float = 1.0,
                busy: float = 5.0) -> dict[str, float | None]:
    """The fps the page presented, from ``stats.frameLog`` ([ms shown, frames presented,
    RTP timestamp, ms received]).

    ``mean``: frames presented from ``skip`` s after the first one (connection start) to
    when the stats were read (``now``: a video that froze counts as 0 fps to the end);
    ``min_1s``: the lowest fps over consecutive ``window``-s windows of that span;
    ``min_1s_turns``: the lowest over the windows that overlap a turn's busy time, from the
    page's speech end to ``busy`` s after the reply's first frame (STT, LLM, TTS and the
    start of the lip-synced reply all run then); ``min_1s_at``: where the lowest window
    starts (ms, the page's clock); ``held``: the median time (s) from a frame's last packet
    arriving to its being shown (Chromium's jitter buffer, decoding and compositing).
    """
    log = stats.get("frameLog") or []
    if len(log) < 2:
        return {"mean": None, "min_1s": None, "min_1s_turns": None, "min_1s_at": None,
                "held": None}
    start = log[0][0] + skip * 1000
    log = [e for e in log if e[0] >= start] or log[-2:]
    t0, t1 = log[0][0], max(log[-1][0], stats.get("now") or 0.0)
    mean = (log[-1][1] - log[0][1]) / ((t1 - t0) / 1000) if t1 > t0 else None
    busy_spans = [(r["speechEnd"], r["frameAt"] + busy * 1000)
                  for r in stats.get("replies", []) if r.get("frameAt")]
    rates: list[tuple[float, float]] = []  # (window start ms, fps)
    i = 0
    w0 = t0
    while w0 + window * 1000 <= t1:
        w1 = w0 + window * 1000
        before = _presented_by(log, w0, i)
        i = before[1]
        after = _presented_by(log, w1, i)
        rates.append((w0, max(0, after[0] - before[0]) / window))
        w0 = w1
    turns = [fps for w, fps in rates
             if any(w < end and w + window * 1000 > begin for begin, end in busy_spans)]
    lowest = min(rates, key=lambda r: r[1], default=None)
    held = [(e[0] - e[3]) / 1000 for e in log if len(e) > 3 and e[3]]
    return {"mean": mean, "min_1s": None if lowest is None else lowest[1],
            "min_1s_turns": min(turns, default=None),
            "min_1s_at": None if lowest is None else lowest[0], "held": median(held)}


def _presented_by(log: list[list[float]], at: float, start: int) -> tuple[float, int]:
    """Frames presented by time ``at`` (the last entry at or before it) and its index."""
    i = start
    while i + 1 < len(log) and log[i + 1][0] <= at:
        i += 1
    return log[i][1], i


def machine_line(load0: Sequence[float], load1: Sequence[float]) -> str:
    """Load average (1, 5 min) before -> after and the core count."""
    return (f"load avg (1 min) {load0[0]:.2f} -> {load1[0]:.2f}, (5 min) {load0[1]:.2f} -> "
            f"{load1[1]:.2f}; {os.cpu_count()} cores")
