"""Helpers for the real-browser tests: Debian Chromium via Playwright, a fake mic file, and
an in-process server on its own event loop thread."""

from __future__ import annotations

import asyncio
import shutil
import threading
import wave
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
QUESTION = ROOT / "src" / "avatarkit" / "assets" / "question.wav"


def chromium_available() -> str | None:
    """None if Chromium and Playwright are usable, else why not (a skip reason)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return "Debian chromium is not installed (scripts/setup.sh installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed: pip install 'avatarkit[test]'"
    return None


def make_fake_mic(path: Path, *, lead: float = 1.0, tail: float = 20.0, repeat: int = 1,
                  gap: float = 20.0, rate: int = 48000) -> Path:
    """Write ``question.wav`` as 48 kHz mono 16-bit PCM: ``lead`` s of silence, the question
    ``repeat`` times ``gap`` s apart, then ``tail`` s of silence.

    Chromium reads the file with ``--use-file-for-fake-audio-capture=PATH%noloop`` (played
    once, silence afterwards)."""
    import av
    import numpy as np

    chunks = []
    with av.open(str(QUESTION)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    speech = np.concatenate(chunks).astype(np.int16)
    parts = [np.zeros(int(lead * rate), np.int16)]
    for i in range(repeat):
        if i:
            parts.append(np.zeros(int(gap * rate), np.int16))
        parts.append(speech)
    parts.append(np.zeros(int(tail * rate), np.int16))
    samples = np.concatenate(parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def chromium_args(fake_mic: Path | None, *, loop: bool = False) -> list[str]:
    """The flags from LIVEKIT-NOTES for headless tests with a fake mic."""
    args = [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
    ]
    if fake_mic is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_mic}{'' if loop else '%noloop'}")
    return args


VIEWPORT = {"width": 1100, "height": 800}


DISABLED_FEATURES = ("ChromeWideEchoCancellation",)
"""Chromium features off in every test browser. ``ChromeWideEchoCancellation`` runs the mic's
echo canceller in the audio service with *all* of the browser's sound as its reference, so
one page's avatar voice is cancelled from another page's mic: measured (one Chromium, a
page playing speech, another capturing the fake mic's question), 0.38-0.52 s of the
question's 1.02-1.04 s came through. With the feature off, 1.00-1.02 s did, as with the
separate browsers of separate users (``tests/test_browser_harness.py``)."""


def _options(fake_mic: Path | None, loop: bool, playwright: Any) -> dict[str, Any]:
    """Playwright's launch options: this machine's Chromium, never a downloaded browser.
    Chromium keeps only the last ``--disable-features`` it is given, so Playwright's own
    list is taken off and given again with :data:`DISABLED_FEATURES` added."""
    own = playwright_disabled_features(playwright)
    features = ",".join([*(f for f in own.split(",") if f), *DISABLED_FEATURES])
    return {"executable_path": CHROMIUM, "headless": True,
            "args": [*chromium_args(fake_mic, loop=loop), f"--disable-features={features}"],
            "ignore_default_args": ["--mute-audio", f"--disable-features={own}"]}


_playwright_features: list[str] = []


def playwright_disabled_features(playwright: Any) -> str:
    """The ``--disable-features`` value Playwright gives Chromium (read once, from the
    command line of a browser launched for it)."""
    if not _playwright_features:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--headless=new", "--no-sandbox"])
        try:
            lines = [p.cmdline() for p in browser_processes()]
        finally:
            browser.close()
        values = [arg.split("=", 1)[1] for line in lines for arg in line
                  if arg.startswith("--disable-features=")
                  and not any(f in arg for f in DISABLED_FEATURES)]  # not a harness browser
        _playwright_features.append(values[0] if values else "")
    return _playwright_features[0]


def launch(playwright: Any, user_data_dir: Path, fake_mic: Path | None, *,
           loop: bool = False) -> Any:
    """A persistent Chromium context (fresh profile dir), its pages tabs of one window."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), viewport=VIEWPORT, **_options(fake_mic, loop, playwright))


def launch_browser(playwright: Any, fake_mic: Path | None, *, loop: bool = False) -> Any:
    """A headless Chromium (same flags as :func:`launch`) for pages in windows of their own:
    ``browser.new_context().new_page()`` each. Tabs of one window are not alike: Chromium
    fires ``requestVideoFrameCallback`` for the front tab's video on every frame and for the
    others' about once a second (checked: 105 callbacks in 5 s against 14 and 26), so a
    page measuring when frames are shown must be the front page of its window."""
    return playwright.chromium.launch(**_options(fake_mic, loop, playwright))


def browser_processes() -> list[Any]:
    """The Chromium processes this process started (through Playwright), as psutil objects."""
    import psutil

    return [p for p in psutil.Process().children(recursive=True)
            if "chrom" in p.name().lower() or "headless_shell" in p.name()]


class LoopThread:
    """An asyncio loop on a daemon thread: run server coroutines from synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="test-server-loop")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 120.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        async def wrapper() -> Any:
            return fn()

        return self.run(wrapper(), timeout)

    def close(self) -> None:
        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(drain(), 30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
